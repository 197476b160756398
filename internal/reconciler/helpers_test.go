package reconciler

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/internal/reconciler/clock"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestMain(m *testing.M) {
	// Git runs hermetically: no user or system configuration.
	os.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Setenv("GIT_AUTHOR_NAME", "Alice Example")
	os.Setenv("GIT_AUTHOR_EMAIL", "alice@example.com")
	os.Setenv("GIT_COMMITTER_NAME", "Alice Example")
	os.Setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
	goleak.VerifyTestMain(m)
}

// adminToken is a canary: it must never appear in logs, status, metrics or
// the audit log.
const adminToken = "canary-token-7f3a9c2e51d04b6f"

// opsToken is a person's own admin token, for edits behind the
// reconciler's back.
const opsToken = "ops-token-for-hand-edits"

var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// --- the gateway: the emulator over HTTP on loopback ---

type gateway struct {
	em  *emulator.Emulator
	srv *switchable
}

func newGateway(t testing.TB, opts ...emulator.Option) *gateway {
	t.Helper()
	em, err := emulator.New(append([]emulator.Option{
		emulator.WithAdminToken(adminToken), emulator.WithToken("ops", opsToken, emulator.RoleAdmin),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{em: em, srv: newSwitchable(t, em)}
	t.Cleanup(em.Close)
	return g
}

func (g *gateway) URL() string { return g.srv.URL() }

// do sends an Admin API request with the admin token, as a person would
// with curl, and returns the status.
func (g *gateway) do(t testing.TB, method, path string, body any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", opsToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, msg)
	}
	return resp.StatusCode
}

// editRoute changes a route's description behind the reconciler's back.
func (g *gateway) editRoute(t testing.TB, id, desc string) {
	t.Helper()
	if code := g.do(t, http.MethodPatch, "/apisix/admin/routes/"+id, map[string]any{"desc": desc}); code != http.StatusOK {
		t.Fatalf("PATCH route %s: %d", id, code)
	}
}

// writes counts successful writes and deletes so far.
func (g *gateway) writes() int {
	c := g.em.Counters()
	return c.Writes + c.Deletes
}

// switchable serves a handler on a fixed loopback address and can be taken
// down (connections are refused) and brought back up.
type switchable struct {
	t    testing.TB
	h    http.Handler
	addr string

	mu  sync.Mutex
	srv *http.Server
	wg  sync.WaitGroup
}

func newSwitchable(t testing.TB, h http.Handler) *switchable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switchable{t: t, h: h, addr: ln.Addr().String()}
	s.serve(ln)
	t.Cleanup(s.down)
	return s
}

func (s *switchable) URL() string { return "http://" + s.addr }

func (s *switchable) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	s.wg.Go(func() { _ = srv.Serve(ln) })
}

// down closes the listener and every connection.
func (s *switchable) down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		s.wg.Wait()
	}
}

// up listens again on the same address.
func (s *switchable) up() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

// --- Git: repositories built with the git CLI ---

type repo struct {
	t    testing.TB
	root string
	name string
	bare string
	work string
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	root := t.TempDir()
	r := &repo{t: t, root: root, name: "gateway.git", bare: filepath.Join(root, "gateway.git"), work: filepath.Join(t.TempDir(), "work")}
	runGit(t, "", "init", "-q", "--bare", "-b", "main", r.bare)
	runGit(t, "", "init", "-q", "-b", "main", r.work)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func (r *repo) git(args ...string) string { r.t.Helper(); return runGit(r.t, r.work, args...) }

// commit writes files (an empty content removes one), commits everything
// and force-pushes; it returns the commit hash.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	r.git("push", "-q", "-f", "origin", "HEAD:refs/heads/main")
	return r.git("rev-parse", "HEAD")
}

func (r *repo) fileURL() string { return "file://" + r.bare }

// gitServer serves a repository root through git http-backend (smart HTTP)
// and can fail every request with a status.
type gitServer struct {
	*httptest.Server
	status   atomic.Int32
	token    string
	infoRefs atomic.Int32 // reference advertisements
	packs    atomic.Int32 // upload-pack requests
}

func newGitServer(t testing.TB, root, token string) *gitServer {
	t.Helper()
	execPath := runGit(t, "", "--exec-path")
	backend := &cgi.Handler{
		Path: filepath.Join(execPath, "git-http-backend"),
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
	}
	s := &gitServer{token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if st := s.status.Load(); st != 0 {
			http.Error(w, "injected failure", int(st))
			return
		}
		if s.token != "" && subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch {
		case strings.HasSuffix(req.URL.Path, "/info/refs"):
			s.infoRefs.Add(1)
		case strings.HasSuffix(req.URL.Path, "/git-upload-pack"):
			s.packs.Add(1)
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}

// --- desired state ---

// routesConfig declares one service with n routes.
func routesConfig(n int, desc string) string {
	var b strings.Builder
	b.WriteString("services:\n  - name: shop\n    upstream:\n      nodes:\n        - host: 10.0.0.1\n          port: 80\n          weight: 1\n    routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - name: r%03d\n        uris: [/r%03d]\n        description: %s\n", i, i, desc)
	}
	return b.String()
}

func routeID(i int) string { return model.RouteID("shop", fmt.Sprintf("r%03d", i)) }

// --- the harness: one target over real parts ---

type harness struct {
	t       testing.TB
	gw      *gateway
	repo    *repo
	client  *api7.Client
	reg     *prometheus.Registry
	m       *metrics.Metrics
	clk     *clock.Fake
	target  *Target
	logs    *syncBuffer
	audit   *Audit
	auditF  string
	cycles  chan Cycle
	tokFile string
}

type harnessOpts struct {
	emu       []emulator.Option
	source    func(h *harness) Source
	files     map[string]string // the first commit
	configure func(cfg *TargetConfig)
	client    func(cfg *api7.Config)
	tokenDir  bool // the token lives behind a ..data symlink, as in a Kubernetes Secret volume
	rand      func() float64
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Sync() error { return nil }

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, gw: newGateway(t, o.emu...), repo: newRepo(t), cycles: make(chan Cycle, 100)}
	files := o.files
	if files == nil {
		files = map[string]string{"routes.yaml": routesConfig(3, "v1")}
	}
	h.repo.commit("first", files)

	h.tokFile = writeTokenFile(t, adminToken, o.tokenDir)
	h.logs = &syncBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), h.logs, zap.DebugLevel))
	h.reg = prometheus.NewRegistry()
	h.m = metrics.New(h.reg, metrics.Build{Version: "test", Revision: "test", GoVersion: "go"})
	h.clk = clock.NewFake(start)

	var tgt atomic.Pointer[Target]
	ccfg := api7.Config{
		Server: h.gw.URL(), TokenFile: h.tokFile, Logger: log,
		Retry: api7.RetryPolicy{MaxRetries: -1},
		Hooks: api7.Hooks{
			TokenReloaded: func() {
				if t := tgt.Load(); t != nil {
					t.TokenChanged()
				}
			},
		},
	}
	if o.client != nil {
		o.client(&ccfg)
	}
	c, err := api7.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	h.client = c

	h.auditF = filepath.Join(t.TempDir(), "audit.jsonl")
	h.audit, err = OpenAudit(h.auditF, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.audit.Close() })

	var src Source
	if o.source != nil {
		src = o.source(h)
	} else {
		gs, err := git.New(git.Options{URL: h.repo.fileURL(), Ref: "main", Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		src = gitSource{gs}
	}
	cfg := TargetConfig{
		Name: "prod", Source: src, Gateway: c, Mode: ModeApply, Interval: time.Minute,
		Policy: apply.DefaultPolicy(), TokenWatched: true,
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	rnd := o.rand
	if rnd == nil {
		rnd = func() float64 { return 0.5 }
	}
	tg, err := NewTarget(cfg, Deps{
		Clock: h.clk, Rand: rnd, Metrics: h.m, Audit: h.audit, Logger: log,
		OnCycle: func(_ string, c Cycle) {
			select {
			case h.cycles <- c:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tgt.Store(tg)
	h.target = tg
	t.Cleanup(h.assertNoTokenLeak)
	return h
}

// once runs one cycle and drains its record from the channel.
func (h *harness) once() Cycle {
	h.t.Helper()
	c := h.target.Once(context.Background())
	<-h.cycles
	return c
}

// run starts the target's loop; the returned function stops it and waits.
func (h *harness) run() (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.target.Run(ctx, ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// next waits for the loop's next cycle record. The timeout only guards
// against a hang; nothing waits for time to pass.
func (h *harness) next() Cycle {
	h.t.Helper()
	select {
	case c := <-h.cycles:
		return c
	case <-time.After(20 * time.Second):
		h.t.Fatal("no cycle within 20s")
		return Cycle{}
	}
}

// step waits until the loop sleeps, moves the fake clock to its timer and
// returns the cycle that follows, with the delay it waited.
func (h *harness) step() (Cycle, time.Duration) {
	h.t.Helper()
	if !h.clk.BlockUntil(1, nil) {
		h.t.Fatal("the loop never slept")
	}
	d, _ := h.clk.Next()
	h.clk.Advance(d)
	return h.next(), d
}

func writeTokenFile(t testing.TB, tok string, kube bool) string {
	t.Helper()
	dir := t.TempDir()
	if !kube {
		p := filepath.Join(dir, "token")
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The kubelet's layout: token -> ..data/token, ..data -> ..<timestamp>.
	swapToken(t, dir, tok, "..v1")
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "token")
}

// swapToken writes tok into a new version directory and swaps the ..data
// symlink to it atomically, as the kubelet does.
func swapToken(t testing.TB, dir, tok, version string) {
	t.Helper()
	vd := filepath.Join(dir, version)
	if err := os.Mkdir(vd, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vd, "token"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// gauge reads a metric of the target.
func (h *harness) gauge(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue metric
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// drift sums reconciler_drift_resources of the target.
func (h *harness) drift() float64 {
	h.t.Helper()
	n, err := testutil.GatherAndCount(h.reg, "reconciler_drift_resources")
	if err != nil || n == 0 {
		h.t.Fatalf("no drift series: %v", err)
	}
	mfs, _ := h.reg.Gather()
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "reconciler_drift_resources" {
			for _, m := range mf.GetMetric() {
				total += m.GetGauge().GetValue()
			}
		}
	}
	return total
}

func (h *harness) condition(r metrics.Reason) float64 {
	return h.gauge("reconciler_condition", "target", "prod", "reason", string(r))
}

func (h *harness) auditEvents() []AuditEvent {
	h.t.Helper()
	data, err := os.ReadFile(h.auditF)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []AuditEvent
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev AuditEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			h.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

// gitSource adapts pkg/git as cmd/reconciler does.
type gitSource struct{ s *git.Source }

func (g gitSource) Fetch(ctx context.Context) (Snapshot, error) {
	r, err := g.s.Fetch(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{
		Revision: r.Commit.Revision, Files: r.Files, Unchanged: r.Unchanged, Rewritten: r.Rewritten,
		Commit: Commit{Hash: r.Commit.Hash, Author: r.Commit.Author.Name + " <" + r.Commit.Author.Email + ">",
			Message: r.Commit.Message, Date: r.Commit.Date},
	}, nil
}

func hasReason(c Cycle, r metrics.Reason) bool {
	for _, x := range c.Reasons {
		if x == r {
			return true
		}
	}
	return false
}
