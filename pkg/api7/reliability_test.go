package api7

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// fastRetry keeps retry waits short in tests.
var fastRetry = RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// putConcurrently puts rs with n workers and returns the ones that failed.
// The workers live for the whole run, as an executor's do (a goroutine per
// resource would grow a fresh stack for every request and charge that to
// the Client in the benchmarks).
func putConcurrently(ctx context.Context, c *Client, rs []model.Resource, n int) []model.Resource {
	var (
		mu     sync.Mutex
		failed []model.Resource
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for range min(n, len(rs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(rs)); i = next.Add(1) - 1 {
				if err := c.Put(ctx, rs[i]); err != nil {
					mu.Lock()
					failed = append(failed, rs[i])
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// converge puts rs in at most 3 passes (reconcile cycles), each retrying
// what failed in the one before.
func converge(t *testing.T, ctx context.Context, c *Client, rs []model.Resource) {
	t.Helper()
	pending := rs
	for pass := 1; len(pending) > 0; pass++ {
		if pass > 3 {
			t.Fatalf("%d resources still failing after 3 passes", len(pending))
		}
		pending = putConcurrently(ctx, c, pending, 8)
	}
}

// attemptCounter is a Hooks.Request that records the highest attempt.
type attemptCounter struct {
	requests   atomic.Int64
	maxAttempt atomic.Int64
	codes      sync.Map // code -> *atomic.Int64
}

func (a *attemptCounter) hook(ri RequestInfo) {
	a.requests.Add(1)
	for {
		cur := a.maxAttempt.Load()
		if int64(ri.Attempt) <= cur || a.maxAttempt.CompareAndSwap(cur, int64(ri.Attempt)) {
			break
		}
	}
	v, _ := a.codes.LoadOrStore(ri.Code, &atomic.Int64{})
	v.(*atomic.Int64).Add(1)
}

// F1: 30% of requests answer 503. Only idempotent requests are retried, at
// most 3 times each, and the set converges within 3 passes.
func TestF1ServiceUnavailableStorm(t *testing.T) {
	var ac attemptCounter
	f := newFixture(t, Config{Retry: fastRetry, Concurrency: 8, Hooks: Hooks{Request: ac.hook}},
		emulator.WithFaults(emulator.Faults{Seed: 7, Unavailable: 0.3}))
	ctx := ctxFor(t, 60*time.Second)
	rs := manyRoutes(300)
	converge(t, ctx, f.client, rs[:1]) // the service first: routes need it
	converge(t, ctx, f.client, rs[1:])
	if err := f.em.SetFaults(emulator.Faults{}); err != nil {
		t.Fatal(err)
	}
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owned) != len(rs) {
		t.Fatalf("%d owned, want %d", len(inv.Owned), len(rs))
	}
	if got := ac.maxAttempt.Load(); got > 3 {
		t.Errorf("a request was retried %d times", got)
	}
	puts := 0
	for _, r := range f.em.Requests() {
		switch r.Method {
		case http.MethodPost, http.MethodPatch:
			t.Fatalf("%s %s sent", r.Method, r.Path)
		case http.MethodPut:
			puts++
		}
	}
	// A service is 2 PUTs; every PUT may be sent 4 times per pass.
	if limit := (len(rs) + 1) * 4 * 3; puts > limit {
		t.Errorf("%d PUTs sent, more than %d", puts, limit)
	}
	if v, ok := ac.codes.Load(503); !ok || v.(*atomic.Int64).Load() == 0 {
		t.Error("no 503 was injected")
	}
}

// F2: 429 with Retry-After. Nothing is sent while the window is open, by
// any worker, and the concurrency bound halves.
func TestF2RetryAfterWindow(t *testing.T) {
	var throttled atomic.Int64
	const window = time.Second
	var n atomic.Int64
	rateLimit := emulator.WithHook(func(c emulator.Call) *emulator.Reply {
		if c.Method != http.MethodPut || !strings.HasPrefix(c.Path, "/apisix/admin/routes/") || n.Add(1) > 3 {
			return nil
		}
		return &emulator.Reply{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}, "Content-Type": {"application/json"}},
			Body: `{"error_msg":"too many requests"}`}
	})
	// The bound of the limiter, seen after every answer.
	var (
		client *Client
		mu     sync.Mutex
		bounds []int
	)
	f := newFixture(t, Config{Retry: RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxElapsed: 10 * time.Second},
		Concurrency: 4, Hooks: Hooks{
			Throttled: func() { throttled.Add(1) },
			Request: func(RequestInfo) {
				mu.Lock()
				bounds = append(bounds, client.limit.current())
				mu.Unlock()
			},
		}}, rateLimit, emulator.WithLatency(20*time.Millisecond))
	client = f.client
	ctx := ctxFor(t, 30*time.Second)
	rs := manyRoutes(30)
	putAll(t, ctx, f.client, rs[:1])
	start := time.Now()
	if failed := putConcurrently(ctx, f.client, rs[1:], 4); len(failed) != 0 {
		t.Fatalf("%d puts failed", len(failed))
	}
	if throttled.Load() != 3 {
		t.Fatalf("%d throttled answers, want 3", throttled.Load())
	}
	// Three 429s to requests sent together halve the bound once (4 → 2, not
	// 1); the successes after the window grow it back by one per bound's
	// worth, to 4 again.
	mu.Lock()
	low := slices.Min(bounds)
	mu.Unlock()
	if low != 2 || f.client.limit.current() != 4 {
		t.Errorf("bounds %v: want a low of 2 and a return to 4", bounds)
	}
	if hw := f.em.MaxInFlight(); hw > 4 {
		t.Errorf("%d requests in flight at once, over the concurrency of 4", hw)
	}
	if time.Since(start) < window {
		t.Errorf("the puts finished in %s, inside the Retry-After window", time.Since(start))
	}
	log := f.em.Requests()
	// Requests already in flight when the 429 was sent may still arrive.
	// The latency keeps the other workers' requests from all fitting into
	// that slack, so a worker that ignored the window would be seen.
	const slack = 80 * time.Millisecond
	for _, r429 := range log {
		if r429.Status != http.StatusTooManyRequests {
			continue
		}
		answered := r429.Time.Add(r429.Duration)
		for _, r := range log {
			if r.Time.After(answered.Add(slack)) && r.Time.Before(answered.Add(window-slack)) {
				t.Errorf("%s %s sent %s after a 429 with Retry-After 1", r.Method, r.Path, r.Time.Sub(answered))
			}
		}
	}
}

// F3: requests that hang are cut by the per-request timeout and retried;
// the set converges; no goroutine is left behind (goleak in TestMain).
func TestF3Hangs(t *testing.T) {
	f := newFixture(t, Config{Retry: fastRetry, Timeout: 250 * time.Millisecond, Concurrency: 8},
		emulator.WithFaults(emulator.Faults{Seed: 3, Hang: 0.1}))
	ctx := ctxFor(t, 60*time.Second)
	rs := manyRoutes(60)
	converge(t, ctx, f.client, rs[:1])
	converge(t, ctx, f.client, rs[1:])
	hangs := 0
	for _, r := range f.em.Requests() {
		if r.Fault == "hang" {
			hangs++
		}
	}
	if hangs == 0 {
		t.Fatal("no hang was injected")
	}
	if err := f.em.SetFaults(emulator.Faults{}); err != nil {
		t.Fatal(err)
	}
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owned) != len(rs) {
		t.Fatalf("%d owned, want %d", len(inv.Owned), len(rs))
	}
}

// F3: a request that never answers is abandoned at the timeout, and the
// cancellation of the caller's context stops every wait at once.
func TestF3CancelStopsWaits(t *testing.T) {
	f := newFixture(t, Config{Retry: RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: 2 * time.Hour}, Timeout: 100 * time.Millisecond},
		emulator.WithFaults(emulator.Faults{Seed: 1, Hang: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.client.List(ctx); done <- err }()
	// The first attempts time out after 100 ms; the retries then wait an
	// hour of backoff, which the cancellation must cut short.
	time.AfterFunc(500*time.Millisecond, cancel)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("List did not return after its context was cancelled")
	}
}

// F5: the Admin API refuses connections: a typed, bounded failure.
func TestF5ConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var ac attemptCounter
	c := newClient(t, Config{Server: "http://" + addr, Retry: fastRetry, Hooks: Hooks{Request: ac.hook}})
	ctx := ctxFor(t, 30*time.Second)
	start := time.Now()
	_, err = c.List(ctx)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want ErrUnreachable", err)
	}
	var re *RequestError
	if !errors.As(err, &re) || !re.Retryable() {
		t.Errorf("got %#v, want a retryable RequestError", err)
	}
	if ac.maxAttempt.Load() != 3 {
		t.Errorf("max attempt %d, want 3 (one try and 3 retries)", ac.maxAttempt.Load())
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	noLeakErr(t, err)
}

// kubeSecretDir lays a token out as the kubelet does: token → ..data/token,
// ..data → ..<stamp>. swap replaces ..data atomically.
type kubeSecretDir struct {
	dir string
	gen int
}

func newKubeSecretDir(t *testing.T, token string) *kubeSecretDir {
	t.Helper()
	k := &kubeSecretDir{dir: t.TempDir()}
	k.swap(t, token)
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(k.dir, "token")); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *kubeSecretDir) path() string { return filepath.Join(k.dir, "token") }

func (k *kubeSecretDir) swap(t *testing.T, token string) {
	t.Helper()
	k.gen++
	stamp := fmt.Sprintf("..2026_11_29_%02d", k.gen)
	if err := os.Mkdir(filepath.Join(k.dir, stamp), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(k.dir, stamp, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(k.dir, "..data_tmp")
	if err := os.Symlink(stamp, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(k.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// A1: the token file is rotated while the server revokes the old token at
// once. Before the new file lands: a typed 401, after one re-read and no
// more. After it lands: the Client converges without a restart.
func TestA1TokenRotation(t *testing.T) {
	const newToken = "canary-rotated-55e1c0de"
	tests := []struct {
		name      string
		fileDelay bool // the new file lands after the server revoked the old token
	}{
		{"file lands late", true},
		{"file lands at once", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := newKubeSecretDir(t, canary)
			reloaded := make(chan struct{}, 8)
			f := newFixture(t, Config{TokenFile: secret.path(), Retry: fastRetry,
				Hooks: Hooks{TokenReloaded: func() { reloaded <- struct{}{} }}})
			ctx := ctxFor(t, 30*time.Second)
			rs := manyRoutes(2)
			putAll(t, ctx, f.client, rs[:1])

			if err := f.em.RotateToken(emulator.TokenNameAdmin, newToken); err != nil {
				t.Fatal(err)
			}
			if tt.fileDelay {
				err := f.client.Put(ctx, rs[1])
				if !errors.Is(err, ErrUnauthorized) {
					t.Fatalf("got %v, want ErrUnauthorized", err)
				}
				noLeakErr(t, err, newToken)
				var api *APIError
				if !errors.As(err, &api) || api.StatusCode != http.StatusUnauthorized {
					t.Errorf("got %#v, want an APIError 401", err)
				}
				unauthorized := 0
				for _, r := range f.em.Requests() {
					if r.Status == http.StatusUnauthorized {
						unauthorized++
					}
				}
				if unauthorized != 1 {
					t.Errorf("%d requests got 401; an unchanged token file must not be retried", unauthorized)
				}
			}
			secret.swap(t, newToken)
			if tt.fileDelay {
				select {
				case <-reloaded:
				case <-time.After(10 * time.Second):
					t.Fatal("the rotated token file was not picked up")
				}
			}
			if err := f.client.Put(ctx, rs[1]); err != nil {
				t.Fatalf("after the rotation: %v", err)
			}
			noLeak(t, "logs", f.logs.String(), newToken)
		})
	}
}

func TestTokenFileRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"", "  \n\t", "two\nlines", "has space"} {
		p := filepath.Join(dir, "tok")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(Config{Server: "http://127.0.0.1:1", TokenFile: p})
		if err == nil {
			t.Errorf("token file %q accepted", content)
		}
	}
	if _, err := New(Config{Server: "http://127.0.0.1:1", Token: model.NewSecret(" \t")}); err == nil {
		t.Error("a blank token was accepted")
	}

	// A blank file mid-rotation keeps the current token.
	secret := newKubeSecretDir(t, canary)
	reloaded := make(chan struct{}, 8)
	f := newFixture(t, Config{TokenFile: secret.path(), Hooks: Hooks{TokenReloaded: func() { reloaded <- struct{}{} }}})
	secret.swap(t, "   ")
	ctx := ctxFor(t, 10*time.Second)
	if _, err := f.client.List(ctx); err != nil {
		t.Fatalf("a blank token file replaced a good token: %v", err)
	}
	select {
	case <-reloaded:
		t.Error("a blank token file was loaded")
	default:
	}
}

// A2: the token never appears in what the Client renders of itself.
func TestA2TokenNeverRendered(t *testing.T) {
	cfg := Config{Server: "http://127.0.0.1:1", Token: model.NewSecret(canary)}
	c := newClient(t, cfg)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Token, cfg.Token, cfg.Token),
		fmt.Sprintf("%v %+v %#v %+v", c, c.token, c.cfg, c.cfg.Token),
	} {
		noLeak(t, "formatted client", s)
	}
	// The values behind the pointers, printed field by field through
	// reflection: fmt does not call the Format method of a model.Secret in
	// an unexported field, so no such field may hold the token.
	file := newClient(t, Config{Server: "http://127.0.0.1:1", TokenFile: writeFile(t, "token", []byte(canary+"\n"))})
	for _, v := range []any{
		reflect.ValueOf(c).Elem(), reflect.ValueOf(c.token).Elem(), c.cfg, reflect.ValueOf(c.limit).Elem(),
		reflect.ValueOf(file).Elem(), reflect.ValueOf(file.token).Elem(), file.cfg,
		struct{ c, f *Client }{c, file},
	} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			noLeak(t, verb+" of "+reflect.TypeOf(v).String(), fmt.Sprintf(verb, v))
		}
	}
	_, err := New(Config{Server: "http://user:" + canary + "@127.0.0.1:1", Token: model.NewSecret("x")})
	if err == nil {
		t.Error("a server URL with a password was accepted")
	}
	noLeakErr(t, err)
	_, err = New(Config{Server: "http://127.0.0.1:1/?api_key=" + canary, Token: model.NewSecret("x")})
	if err == nil {
		t.Error("a server URL with a query was accepted")
	}
	noLeakErr(t, err)
	_, err = New(Config{Server: "http://127.0.0.1:1/%zz" + canary, Token: model.NewSecret("x")})
	noLeakErr(t, err)
}

// A4: a redirect to another host is refused: nothing reaches it.
func TestA4RedirectRefused(t *testing.T) {
	var reached atomic.Int64
	target := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirector := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+r.URL.Path, code)
			}))
			var ac attemptCounter
			c := newClient(t, Config{Server: redirector.URL, Retry: fastRetry, Hooks: Hooks{Request: ac.hook}})
			ctx := ctxFor(t, 10*time.Second)
			_, err := c.List(ctx)
			if !errors.Is(err, ErrUnexpectedRedirect) {
				t.Fatalf("got %v, want ErrUnexpectedRedirect", err)
			}
			if errors.Is(err, ErrUnreachable) {
				t.Error("a redirect is not an unreachable server")
			}
			if ac.maxAttempt.Load() != 0 {
				t.Error("a redirect was retried")
			}
			noLeakErr(t, err)
			err = c.Put(ctx, model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "x"}, Body: map[string]any{}})
			if !errors.Is(err, ErrUnexpectedRedirect) {
				t.Fatalf("put: got %v, want ErrUnexpectedRedirect", err)
			}
		})
	}
	if reached.Load() != 0 {
		t.Fatalf("%d requests reached the redirect target", reached.Load())
	}
}

// F3: a PUT whose answer never comes is cut by the per-request timeout and
// sent again (a PUT by ID is idempotent), within the one Put call.
func TestF3TimedOutPutIsRetried(t *testing.T) {
	var (
		ac   attemptCounter
		once atomic.Bool
	)
	const path = "/apisix/admin/consumers/slow"
	hangOnce := emulator.WithHook(func(c emulator.Call) *emulator.Reply {
		if c.Method == http.MethodPut && c.Path == path && once.CompareAndSwap(false, true) {
			return &emulator.Reply{Hang: true}
		}
		return nil
	})
	f := newFixture(t, Config{Retry: fastRetry, Timeout: 200 * time.Millisecond, Hooks: Hooks{Request: ac.hook}}, hangOnce)
	ctx := ctxFor(t, 10*time.Second)
	r := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "slow"}, Body: map[string]any{"username": "slow"}}
	if err := f.client.Put(ctx, r); err != nil {
		t.Fatalf("put: %v", err)
	}
	var statuses []int
	for _, rq := range f.em.Requests() {
		if rq.Method == http.MethodPut && rq.Path == path {
			statuses = append(statuses, rq.Status)
		}
	}
	if !slices.Equal(statuses, []int{499, 201}) {
		t.Errorf("PUT %s answered %v, want the abandoned attempt (499) then 201", path, statuses)
	}
	if v, ok := ac.codes.Load(0); !ok || v.(*atomic.Int64).Load() != 1 {
		t.Error("the timeout was not reported to the Request hook as an attempt without an answer")
	}
}

// Only idempotent requests are retried: the POST of configs/validate gets
// one try, whatever the answer.
func TestPostIsNeverRetried(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFixture(t, Config{Retry: fastRetry},
				emulator.WithHook(emulator.Reject(http.MethodPost, "/apisix/admin/configs/validate", status, `{"error_msg":"busy"}`)))
			ctx := ctxFor(t, 10*time.Second)
			err := f.client.Validate(ctx, manyRoutes(1))
			var api *APIError
			if !errors.As(err, &api) || api.StatusCode != status {
				t.Fatalf("got %v, want the %d", err, status)
			}
			if n := f.em.Counters().ByMethod[http.MethodPost]; n != 1 {
				t.Errorf("%d POSTs, want 1", n)
			}
		})
	}
}

// A4: with a viewer key, reading (version, defaults, the whole listing)
// sends only GETs and works; a write is refused by the server once, as a
// typed authentication error, and not retried.
func TestA4ViewerKeyOnlyReads(t *testing.T) {
	const viewer = "viewer-canary-5e3f"
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		t.Run(string(backend), func(t *testing.T) {
			f := newFixture(t, Config{Token: model.NewSecret(viewer), Retry: fastRetry},
				emulator.WithBackend(backend), emulator.WithViewerToken(viewer), emulator.WithAPISIXVersion("3.13.0"))
			ctx := ctxFor(t, 10*time.Second)
			if _, err := f.client.Version(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.Defaults(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := f.client.List(ctx); err != nil {
				t.Fatal(err)
			}
			for _, rq := range f.em.Requests() {
				if rq.Method != http.MethodGet || rq.Token != emulator.TokenNameViewer {
					t.Errorf("reading sent %s %s with token %q", rq.Method, rq.Path, rq.Token)
				}
			}
			before := f.em.Counters().Requests
			err := f.client.Put(ctx, model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "x"}, Body: map[string]any{"username": "x"}})
			// APISIX refuses the method for the role with a 401 (a typed
			// authentication error); API7 Enterprise's RBAC with a 403.
			want := http.StatusUnauthorized
			if backend == emulator.BackendAPI7EE {
				want = http.StatusForbidden
			}
			var api *APIError
			if !errors.As(err, &api) || api.StatusCode != want || errors.Is(err, ErrUnauthorized) != (want == http.StatusUnauthorized) {
				t.Fatalf("a write with a viewer key: %v, want a %d", err, want)
			}
			if n := f.em.Counters().Requests - before; n != 1 {
				t.Errorf("%d requests for one refused write, want 1", n)
			}
			noLeak(t, "logs", f.logs.String(), viewer)
			noLeakErr(t, err, viewer)
		})
	}
}

// Retries are bounded in time as well as in number: a Retry-After that
// would end after MaxElapsed returns the 429 at once instead of waiting.
func TestRetryAfterBeyondMaxElapsed(t *testing.T) {
	var ac attemptCounter
	f := newFixture(t, Config{Retry: RetryPolicy{BaseDelay: time.Millisecond, MaxElapsed: time.Second}, Hooks: Hooks{Request: ac.hook}},
		emulator.WithFaults(emulator.Faults{RateLimited: 1, RetryAfter: time.Minute}))
	ctx := ctxFor(t, 10*time.Second)
	start := time.Now()
	_, err := f.client.List(ctx)
	var api *APIError
	if !errors.As(err, &api) || !api.Throttled() {
		t.Fatalf("got %v, want the 429", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("took %s: waited for a Retry-After past MaxElapsed", d)
	}
	if ac.maxAttempt.Load() != 0 {
		t.Errorf("retried (attempt %d)", ac.maxAttempt.Load())
	}
}

// The keep-alive pool holds a connection per concurrent request: a run of
// requests at concurrency 8 opens no more than 8 connections.
func TestConnectionsAreReused(t *testing.T) {
	em, err := emulator.New(emulator.WithAdminToken(canary), emulator.WithLatency(2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(em)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer em.Close()
	c := newClient(t, Config{Server: srv.URL, Concurrency: 8})
	ctx := ctxFor(t, 30*time.Second)
	rs := manyRoutes(200)
	putAll(t, ctx, c, rs[:1])
	if failed := putConcurrently(ctx, c, rs[1:], 8); len(failed) > 0 {
		t.Fatalf("%d puts failed", len(failed))
	}
	if n := opened.Load(); n > 8 {
		t.Errorf("%d connections for 201 requests at concurrency 8", n)
	}
}
