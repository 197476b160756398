package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// daemonToken is the daemon's Admin API token in these tests: a canary.
const daemonToken = "daemon-canary-token-4c1f9e"

// handToken is a person's admin token, for edits behind the daemon's back.
const handToken = "hand-edit-token-2b7d"

// dGateway is an emulator on loopback that counts POSTs that create
// objects (there must be none) and can run a hook on writes.
type dGateway struct {
	em    *emulator.Emulator
	srv   *httptest.Server
	posts atomic.Int32

	mu     sync.Mutex
	onPut  func(n int)
	puts   int
	writes []string // METHOD path of every write, in order
}

func startGateway(t testing.TB, opts ...emulator.Option) *dGateway {
	t.Helper()
	g := &dGateway{}
	hook := func(c emulator.Call) *emulator.Reply {
		if c.Method == http.MethodGet {
			return nil
		}
		if c.Method == http.MethodPost && c.Path != "/apisix/admin/configs/validate" {
			g.posts.Add(1)
		}
		g.mu.Lock()
		g.writes = append(g.writes, c.Method+" "+c.Path)
		var f func(int)
		if c.Method == http.MethodPut && c.Token == emulator.TokenNameAdmin {
			g.puts++
			f = g.onPut
		}
		n := g.puts
		g.mu.Unlock()
		if f != nil {
			f(n)
		}
		return nil
	}
	em, err := emulator.New(append([]emulator.Option{
		emulator.WithAdminToken(daemonToken), emulator.WithToken("hand", handToken, emulator.RoleAdmin), emulator.WithHook(hook),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	g.em = em
	g.srv = httptest.NewServer(em)
	t.Cleanup(func() {
		em.Close()
		g.srv.Close()
	})
	return g
}

func (g *dGateway) setOnPut(f func(n int)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onPut = f
}

func (g *dGateway) writeLog() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.writes...)
}

// handEdit changes a route's description as a person would with curl.
func (g *dGateway) handEdit(t testing.TB, id, desc string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, g.srv.URL+"/apisix/admin/routes/"+id, strings.NewReader(fmt.Sprintf(`{"desc":%q}`, desc)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", handToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("hand edit: %d", resp.StatusCode)
	}
}

// dRepo is a bare repository with a work tree, built with the git CLI.
type dRepo struct {
	t          testing.TB
	root, bare string
	work       string
}

func newDRepo(t testing.TB) *dRepo {
	t.Helper()
	root := t.TempDir()
	r := &dRepo{t: t, root: root, bare: filepath.Join(root, "gateway.git"), work: filepath.Join(t.TempDir(), "work")}
	gitCLI(t, "", "init", "-q", "--bare", "-b", "main", r.bare)
	gitCLI(t, "", "init", "-q", "-b", "main", r.work)
	gitCLI(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

func gitCLI(t testing.TB, dir string, args ...string) string {
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

func (r *dRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	gitCLI(r.t, r.work, "add", "-A")
	gitCLI(r.t, r.work, "commit", "-q", "--allow-empty", "-m", msg)
	gitCLI(r.t, r.work, "push", "-q", "-f", "origin", "HEAD:refs/heads/main")
	return gitCLI(r.t, r.work, "rev-parse", "HEAD")
}

func (r *dRepo) fileURL() string { return "file://" + r.bare }

// serveGit serves the repository's root over smart HTTP (git http-backend).
func serveGit(t testing.TB, r *dRepo) string {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(gitCLI(t, "", "--exec-path"), "git-http-backend"),
		Root: "/",
		Env:  []string{"GIT_PROJECT_ROOT=" + r.root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
	}
	srv := httptest.NewServer(backend)
	t.Cleanup(srv.Close)
	return srv.URL + "/gateway.git"
}

// shopRoutes declares one service with n routes described desc.
func shopRoutes(n int, desc string) string {
	var b strings.Builder
	b.WriteString("services:\n  - name: shop\n    upstream:\n      nodes:\n        - host: 10.0.0.1\n          port: 80\n          weight: 1\n    routes:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - name: r%03d\n        uris: [/r%03d]\n        description: %s\n", i, i, desc)
	}
	return b.String()
}

func shopRouteID(i int) string { return model.RouteID("shop", fmt.Sprintf("r%03d", i)) }

func tempFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// noEnv is an environment without variables: no HOME, so Git objects
// stay in memory.
func noEnv(string) (string, bool) { return "", false }

// inProcess runs `reconciler run args…` in this process. It returns the
// daemon's address, a channel of its cycles and a function that stops it
// (as SIGTERM does) and returns run's error.
type inProcess struct {
	addr   string
	cycles chan targetCycle
	stop   func() error
	stderr *lockedBuffer
	seen   map[string][]reconciler.Cycle // received, not yet matched; used by the test goroutine only
}

type targetCycle struct {
	target string
	c      reconciler.Cycle
}

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	notify chan struct{} // closed at the next write
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	return l.b.Write(p)
}

// waitFor waits until the buffer holds s; false when it did not within d.
func (l *lockedBuffer) waitFor(s string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		l.mu.Lock()
		if strings.Contains(l.b.String(), s) {
			l.mu.Unlock()
			return true
		}
		if l.notify == nil {
			l.notify = make(chan struct{})
		}
		ch := l.notify
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startInProcess(t testing.TB, args ...string) *inProcess {
	t.Helper()
	return startInProcessWith(t, &daemonHooks{}, args...)
}

// startInProcessWith is startInProcess with hooks (its listener and onCycle
// are set here).
func startInProcessWith(t testing.TB, hooks *daemonHooks, args ...string) *inProcess {
	t.Helper()
	return startInProcessEnv(t, hooks, noEnv, args...)
}

// startInProcessEnv is startInProcessWith with an environment.
func startInProcessEnv(t testing.TB, hooks *daemonHooks, env lookupEnv, args ...string) *inProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &inProcess{addr: ln.Addr().String(), cycles: make(chan targetCycle, 1000), stderr: &lockedBuffer{}}
	hooks.listener = ln
	hooks.onCycle = func(target string, c reconciler.Cycle) {
		select {
		case p.cycles <- targetCycle{target, c}:
		default:
		}
	}
	var stdout lockedBuffer
	cmd := newRunCmdWith(streams{in: strings.NewReader(""), out: &stdout, err: p.stderr}, env, hooks)
	cmd.SetArgs(append([]string{"--log-level", "debug"}, args...))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var once sync.Once
	var runErr error
	p.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("run did not return within 30s of the stop")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = p.stop() })
	return p
}

// waitCycle waits for the next cycle of target (after those already
// returned) that satisfies ok. The timeout only guards against a hang.
func (p *inProcess) waitCycle(t testing.TB, target string, ok func(reconciler.Cycle) bool) reconciler.Cycle {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if p.seen == nil {
			p.seen = map[string][]reconciler.Cycle{}
		}
		for len(p.seen[target]) > 0 {
			c := p.seen[target][0]
			p.seen[target] = p.seen[target][1:]
			if ok(c) {
				return c
			}
		}
		select {
		case tc := <-p.cycles:
			p.seen[tc.target] = append(p.seen[tc.target], tc.c)
		case <-deadline:
			t.Fatalf("no matching cycle of %s within 30s; log:\n%s", target, tail(p.stderr.String(), 3000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func (p *inProcess) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *inProcess) status(t testing.TB) map[string]reconciler.Status {
	t.Helper()
	code, body := p.get(t, "/status")
	if code != 200 {
		t.Fatalf("/status: %d", code)
	}
	var doc struct {
		Targets []reconciler.Status `json:"targets"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]reconciler.Status{}
	for _, s := range doc.Targets {
		out[s.Name] = s
	}
	return out
}

// webhook sends a GitHub-signed push to the daemon.
func (p *inProcess) webhook(t testing.TB, target, secret string) int {
	t.Helper()
	code, _ := p.webhookBody(t, target, secret)
	return code
}

// webhookBody sends a GitHub-signed push and returns the answer.
func (p *inProcess) webhookBody(t testing.TB, target, secret string) (int, string) {
	t.Helper()
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+"/webhook/"+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func succeeded(c reconciler.Cycle) bool { return c.Result == reconciler.ResultSuccess }
