package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "webhook-secret-canary-5b1e"

type fakeDaemon struct {
	mu        sync.Mutex
	statuses  []reconciler.Status
	ready     bool
	triggered []string
}

func (d *fakeDaemon) Statuses() []reconciler.Status { return d.statuses }
func (d *fakeDaemon) Has(name string) bool {
	for _, s := range d.statuses {
		if s.Name == name {
			return true
		}
	}
	return false
}

func (d *fakeDaemon) Trigger(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.triggered = append(d.triggered, name)
	return d.Has(name)
}

func (d *fakeDaemon) Ready() (bool, []string) {
	if d.ready {
		return true, nil
	}
	return false, []string{"prod"}
}

func (d *fakeDaemon) triggers() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.triggered...)
}

func newTestServer(t *testing.T, d Daemon) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Build{Version: "v1", Revision: "abc", GoVersion: "go"})
	m.InitTarget("prod", false)
	h := Handler(Options{
		Daemon:   d,
		Gatherer: reg,
		WebhookSecretFile: func(target string) string {
			if target == "prod" {
				return secretFile
			}
			return ""
		},
		MaxBody: 4096,
		Version: "v1",
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func sample() reconciler.Status {
	return reconciler.Status{
		Name: "prod", Mode: reconciler.ModeApply, Observed: true, Revision: "main@sha1:0123456789abcdef",
		Commit:     reconciler.Commit{Author: "Alice <alice@example.com>", Message: "route: <script>alert(1)</script>"},
		Conditions: []reconciler.Condition{{Reason: metrics.ReasonFetchFailed, Message: "fetch: 503", Since: time.Unix(1700000000, 0)}},
		Drift: []reconciler.Item{{
			Kind: model.KindRoute, Key: "route/abc", Name: "orders-list", Action: diff.ActionUpdate, Type: reconciler.Drift,
			Fields: []reconciler.Field{{Path: "/description", Old: "by hand", New: "list orders"}, {Path: "/plugins/key-auth/key", Old: "[redacted]", New: "[redacted]", Secret: true}},
			State:  reconciler.StateCorrected,
		}},
		Warnings: []reconciler.Warning{{
			File: "consumers.yaml", Line: 4, Resource: `consumer_credential "app/c0"`, Field: "config.key",
			Message: "config.key is a secret written in plain text",
		}},
		History: []reconciler.Cycle{{Number: 1, Result: reconciler.ResultSuccess, Trigger: reconciler.TriggerStart}},
		Leader:  true,
	}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestEndpoints(t *testing.T) {
	d := &fakeDaemon{statuses: []reconciler.Status{sample()}}
	srv := newTestServer(t, d)

	if code, body, _ := get(t, srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body, _ := get(t, srv.URL+"/readyz"); code != 503 || !strings.Contains(body, "prod") {
		t.Errorf("/readyz before the first read = %d %q", code, body)
	}
	d.ready = true
	if code, _, _ := get(t, srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	code, body, hdr := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `reconciler_build_info{goversion="go",revision="abc",version="v1"} 1`) ||
		!strings.Contains(body, `reconciler_condition{reason="FetchFailed",target="prod"} 0`) {
		t.Errorf("/metrics = %d %s", code, body)
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}

	code, body, hdr = get(t, srv.URL+"/status")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/status = %d %s", code, hdr.Get("Content-Type"))
	}
	var doc StatusDocument
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Ready || len(doc.Targets) != 1 || doc.Targets[0].Drift[0].Fields[0].Old != "by hand" ||
		doc.Targets[0].Conditions[0].Reason != metrics.ReasonFetchFailed || doc.Targets[0].Commit.Author == "" ||
		len(doc.Targets[0].Warnings) != 1 || doc.Targets[0].Warnings[0].Field != "config.key" {
		t.Errorf("/status = %s", body)
	}

	code, body, hdr = get(t, srv.URL+"/")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("/ = %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"orders-list", "FetchFailed", "main@sha1:0123456789abcdef", "/description", "&#34;by hand&#34;", "[redacted]", "Alice", "consumers.yaml:4", "config.key is a secret written in plain text"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "<script ") {
		t.Error("the page holds an unescaped script element")
	}
	if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("no CSP on the page")
	}
	if code, _, _ := get(t, srv.URL+"/nope"); code != 404 {
		t.Errorf("/nope = %d", code)
	}
}

func TestWebhook(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main","after":"0123"}`)
	sha256sig := func(b []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		return hex.EncodeToString(m.Sum(nil))
	}
	sha512sig := func(b []byte) string {
		m := hmac.New(sha512.New, []byte(secret))
		m.Write(b)
		return hex.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name    string
		target  string
		method  string
		headers map[string]string
		body    []byte
		want    int
	}{
		{"github", "prod", "POST", map[string]string{"X-Hub-Signature-256": "sha256=" + sha256sig(body), "X-GitHub-Event": "push"}, body, 202},
		{"github bad", "prod", "POST", map[string]string{"X-Hub-Signature-256": "sha256=" + sha256sig([]byte("other"))}, body, 401},
		{"github no prefix", "prod", "POST", map[string]string{"X-Hub-Signature-256": sha256sig(body)}, body, 401},
		{"github not hex", "prod", "POST", map[string]string{"X-Hub-Signature-256": "sha256=zz"}, body, 401},
		{"gitlab", "prod", "POST", map[string]string{"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}, body, 202},
		{"gitlab bad", "prod", "POST", map[string]string{"X-Gitlab-Token": secret + "x"}, body, 401},
		{"gitea", "prod", "POST", map[string]string{"X-Gitea-Signature": sha256sig(body)}, body, 202},
		{"forgejo", "prod", "POST", map[string]string{"X-Forgejo-Signature": sha256sig(body)}, body, 202},
		{"gitea bad", "prod", "POST", map[string]string{"X-Gitea-Signature": sha256sig(append(body, ' '))}, body, 401},
		{"generic sha256", "prod", "POST", map[string]string{"X-Signature": "sha256=" + sha256sig(body)}, body, 202},
		{"generic sha512", "prod", "POST", map[string]string{"X-Signature": "sha512=" + sha512sig(body)}, body, 202},
		{"generic sha1 refused", "prod", "POST", map[string]string{"X-Signature": "sha1=abcd"}, body, 401},
		{"missing signature", "prod", "POST", nil, body, 401},
		{"body too large", "prod", "POST", map[string]string{"X-Gitlab-Token": secret}, bytes.Repeat([]byte("x"), 5000), 413},
		{"unknown target", "nope", "POST", map[string]string{"X-Gitlab-Token": secret}, body, 404},
		{"target without webhooks", "staging", "POST", map[string]string{"X-Gitlab-Token": secret}, body, 404},
		{"GET", "prod", "GET", nil, nil, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			staging := sample()
			staging.Name = "staging"
			d := &fakeDaemon{statuses: []reconciler.Status{sample(), staging}}
			srv := newTestServer(t, d)
			req, err := http.NewRequest(tt.method, srv.URL+"/webhook/"+tt.target, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, msg, tt.want)
			}
			if strings.Contains(string(msg), secret) {
				t.Error("the answer holds the secret")
			}
			triggered := d.triggers()
			if (tt.want == 202) != (len(triggered) == 1) {
				t.Errorf("triggered %v", triggered)
			}
			if tt.want == 202 && !strings.Contains(string(msg), `"leader":true`) {
				t.Errorf("answer %s does not say the replica leads", msg)
			}
		})
	}
}

// A webhook that reaches a replica standing by for the target triggers its
// cycle (a fetch, a report) and says that this replica does not write.
func TestWebhookOnStandby(t *testing.T) {
	st := sample()
	st.Leader = false
	d := &fakeDaemon{statuses: []reconciler.Status{st}}
	srv := newTestServer(t, d)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhook/prod", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Gitlab-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || !strings.Contains(string(msg), `"leader":false`) || len(d.triggers()) != 1 {
		t.Errorf("%d %s, triggered %v", resp.StatusCode, msg, d.triggers())
	}
}

// lease is a fencer whose lease the test hands out and takes back.
type lease struct{ held atomic.Bool }

func (l *lease) IsLeader() bool { return l.held.Load() }

func (l *lease) Fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !l.held.Load() {
		return nil, nil, errors.New("not the leader")
	}
	c, cancel := context.WithCancel(ctx)
	return c, cancel, nil
}

// unused is a source and a gateway that no cycle reaches: the daemon is not
// run.
type unused struct{}

func (unused) Fetch(context.Context) (reconciler.Snapshot, error) {
	return reconciler.Snapshot{}, errors.New("unused")
}
func (unused) List(context.Context) (model.Inventory, error) {
	return model.Inventory{}, errors.New("unused")
}
func (unused) Defaults(context.Context) (model.Defaults, error) {
	return model.Defaults{}, errors.New("unused")
}
func (unused) Put(context.Context, model.Resource) error    { return errors.New("unused") }
func (unused) Delete(context.Context, model.Resource) error { return errors.New("unused") }

// With leader election, /status and the webhook's reply say what the
// elector knows, from a real daemon: a replica that has not acquired the
// lease (before its first cycle too) does not lead; once it holds the lease
// it does, at once.
func TestLeaderBeforeTheFirstCycle(t *testing.T) {
	l := &lease{}
	tgt, err := reconciler.NewTarget(reconciler.TargetConfig{
		Name: "prod", Source: unused{}, Gateway: unused{}, Mode: reconciler.ModeApply, Fencer: l,
	}, reconciler.Deps{Metrics: metrics.New(prometheus.NewRegistry(), metrics.Build{Version: "v1", Revision: "abc", GoVersion: "go"})})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reconciler.NewDaemon([]*reconciler.Target{tgt}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, d)
	check := func(want bool) {
		t.Helper()
		code, body, _ := get(t, srv.URL+"/status")
		var doc StatusDocument
		if err := json.Unmarshal([]byte(body), &doc); code != 200 || err != nil || len(doc.Targets) != 1 || doc.Targets[0].Leader != want {
			t.Errorf("/status = %d %s (%v), want leader %v", code, body, err, want)
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhook/prod", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Gitlab-Token", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if wantJSON := fmt.Sprintf(`"leader":%v`, want); resp.StatusCode != 202 || !strings.Contains(string(msg), wantJSON) {
			t.Errorf("webhook = %d %s, want %s", resp.StatusCode, msg, wantJSON)
		}
	}
	check(false)
	l.held.Store(true)
	check(true)
	l.held.Store(false)
	check(false)
}

func TestServerTimeouts(t *testing.T) {
	s := New(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("server without timeouts: %+v", s)
	}
	if s.Handler == http.DefaultServeMux || s.Handler == nil {
		t.Error("the default mux is used")
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("X-Hub-Signature-256", "sha256=00", []byte("{}"))
	f.Add("X-Signature", "sha512=ab", []byte("x"))
	f.Add("X-Gitlab-Token", secret, []byte(""))
	f.Fuzz(func(t *testing.T, header, value string, body []byte) {
		h := http.Header{}
		h.Set(header, value)
		_, err := verify(h, body, []byte(secret))
		if err != nil {
			return
		}
		// Accepted: the value must be a correct signature or the token.
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		m5 := hmac.New(sha512.New, []byte(secret))
		m5.Write(body)
		want512 := hex.EncodeToString(m5.Sum(nil))
		if !strings.EqualFold(strings.TrimPrefix(strings.TrimPrefix(value, "sha256="), "sha512="), want) &&
			!strings.EqualFold(strings.TrimPrefix(value, "sha512="), want512) && value != secret {
			t.Fatalf("accepted %s: %q", header, value)
		}
	})
}

// The page shows the first line of a commit message, cut on a character
// boundary: a long message of non-ASCII text stays valid UTF-8.
func TestPageCommitMessage(t *testing.T) {
	st := sample()
	st.Commit.Message = strings.Repeat("a", 79) + "é and more words to pass eighty bytes\n\nthe body, not shown"
	srv := newTestServer(t, &fakeDaemon{statuses: []reconciler.Status{st}, ready: true})
	code, body, _ := get(t, srv.URL+"/")
	if code != 200 || !utf8.ValidString(body) {
		t.Fatalf("/ = %d, valid UTF-8 %v", code, utf8.ValidString(body))
	}
	if !strings.Contains(body, strings.Repeat("a", 79)+"é…") || strings.Contains(body, "the body") {
		t.Errorf("page shows the commit message as %q", body[strings.Index(body, "aaaa"):][:120])
	}
	st.Commit.Message = "orders: v2\n\nlonger explanation"
	srv = newTestServer(t, &fakeDaemon{statuses: []reconciler.Status{st}, ready: true})
	if _, body, _ := get(t, srv.URL+"/"); !strings.Contains(body, "orders: v2</td>") {
		t.Errorf("page lacks the subject line alone")
	}
}
