// Package server is the daemon's HTTP surface: /metrics, /healthz,
// /readyz, /status (JSON), / (an HTML page of the same status) and
// POST /webhook/{target}. It uses its own ServeMux and a server with
// timeouts on every phase.
package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
)

// Daemon is what the server shows and triggers. *reconciler.Daemon
// satisfies it.
type Daemon interface {
	Statuses() []reconciler.Status
	Trigger(target string) bool
	Has(target string) bool
	Ready() (bool, []string)
}

// DefaultMaxBody bounds a webhook's body.
const DefaultMaxBody = 1 << 20

// Options configure the handler.
type Options struct {
	Daemon   Daemon
	Gatherer prometheus.Gatherer
	// WebhookSecretFile names the file holding a target's webhook secret;
	// "" means the target accepts no webhook. The file is read for each
	// request, so a rotated secret applies at once.
	WebhookSecretFile func(target string) string
	// MaxBody bounds a webhook body (default 1 MiB).
	MaxBody int64
	Logger  *zap.Logger
	// Version is shown on the status page.
	Version string
	// Now is the clock of the status page (default time.Now).
	Now func() time.Time
}

// Handler returns the routes.
func Handler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.WebhookSecretFile == nil {
		o.WebhookSecretFile = func(string) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &srv{o: o, log: o.Logger.Named("http")}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, Timeout: 10 * time.Second,
	}))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("POST /webhook/{target}", s.webhook)
	return secure(mux)
}

// New returns a server for h with timeouts on every phase.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

type srv struct {
	o   Options
	log *zap.Logger
}

func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// healthz is liveness: the process answers. It never depends on the
// gateway or Git.
func (s *srv) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// readyz is readiness: every target has compared its gateway with a
// desired state once.
func (s *srv) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ready, waiting := s.o.Daemon.Ready()
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "waiting for the first read of:")
		for _, t := range waiting {
			_, _ = io.WriteString(w, " "+t)
		}
		_, _ = io.WriteString(w, "\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// StatusDocument is the JSON of /status.
type StatusDocument struct {
	Time    time.Time           `json:"time"`
	Ready   bool                `json:"ready"`
	Targets []reconciler.Status `json:"targets"`
}

func (s *srv) document() StatusDocument {
	ready, _ := s.o.Daemon.Ready()
	return StatusDocument{Time: s.o.Now().UTC(), Ready: ready, Targets: s.o.Daemon.Statuses()}
}

func (s *srv) status(w http.ResponseWriter, _ *http.Request) {
	b, err := json.MarshalIndent(s.document(), "", "  ")
	if err != nil {
		s.log.Error("encode status", zap.Error(err))
		http.Error(w, "cannot encode the status", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

func (s *srv) webhook(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("target")
	if !s.o.Daemon.Has(target) {
		http.Error(w, "no such target", http.StatusNotFound)
		return
	}
	file := s.o.WebhookSecretFile(target)
	if file == "" {
		http.Error(w, "webhooks are not enabled for this target", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.o.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	secret, err := readSecret(file)
	if err != nil {
		s.log.Error("webhook secret unavailable", zap.String("target", target), zap.Error(err))
		http.Error(w, "webhook secret unavailable", http.StatusServiceUnavailable)
		return
	}
	provider, err := verify(r.Header, body, secret)
	if err != nil {
		s.log.Warn("webhook refused", zap.String("target", target), zap.String("provider", provider), zap.Error(err))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.o.Daemon.Trigger(target)
	// With leader election the webhook may reach a replica that stands by
	// for this target: its cycle fetches and reports, and the replica that
	// writes picks the commit up at its next interval. Say so, to the
	// sender and in the log.
	leader := true
	for _, st := range s.o.Daemon.Statuses() {
		if st.Name == target {
			leader = st.Leader
		}
	}
	if leader {
		s.log.Info("webhook: cycle triggered", zap.String("target", target), zap.String("provider", provider))
	} else {
		s.log.Info("webhook: cycle triggered on a replica that stands by for this target; the leader applies the commit at its next interval",
			zap.String("target", target), zap.String("provider", provider))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]any{"target": target, "triggered": true, "leader": leader})
}
