package api7

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// canary is the token of every test (reliability A2): it must show up in
// no log line, error, request path or panic.
const canary = "canary-4d1e9b7f-TOKEN"

// canaryForms are the ways the canary could leak.
func canaryForms(tok string) []string {
	return []string{
		tok,
		base64.StdEncoding.EncodeToString([]byte(tok)),
		base64.URLEncoding.EncodeToString([]byte(tok)),
		url.QueryEscape(tok),
		"X-API-KEY=" + tok,
	}
}

// noLeak fails the test if s holds any form of a token.
func noLeak(t testing.TB, where, s string, tokens ...string) {
	t.Helper()
	for _, tok := range append(tokens, canary) {
		for _, f := range canaryForms(tok) {
			if strings.Contains(s, f) {
				t.Errorf("%s leaks the token: %q", where, s)
				return
			}
		}
	}
}

// noLeakErr checks an error's text, %v and %+v.
func noLeakErr(t testing.TB, err error, tokens ...string) {
	t.Helper()
	if err == nil {
		return
	}
	noLeak(t, "error", err.Error(), tokens...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// debugLogger logs everything at debug level into buf.
func debugLogger(buf *syncBuffer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, buf, zapcore.DebugLevel))
}

// fixture is an emulator served over loopback HTTP and a Client for it.
type fixture struct {
	em     *emulator.Emulator
	srv    *httptest.Server
	client *Client
	logs   *syncBuffer
}

// newFixture starts an emulator with the canary as admin token and a
// Client with cfg (Server, Token and Logger are filled in when empty).
func newFixture(t testing.TB, cfg Config, opts ...emulator.Option) *fixture {
	t.Helper()
	opts = append([]emulator.Option{emulator.WithAdminToken(canary)}, opts...)
	em, err := emulator.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	f := &fixture{em: em, srv: srv, logs: &syncBuffer{}}
	t.Cleanup(func() {
		em.Close()
		srv.Close()
		noLeak(t, "logs", f.logs.String())
		for _, r := range em.Requests() {
			if strings.Contains(r.Path, "api_key") {
				t.Errorf("a request URL holds api_key: %s", r.Path)
			}
			noLeak(t, "request path", r.Path)
		}
	})
	if cfg.Server == "" {
		cfg.Server = srv.URL
	}
	if cfg.Token.IsZero() && cfg.TokenFile == "" {
		cfg.Token = model.NewSecret(canary)
	}
	if cfg.Logger == nil {
		cfg.Logger = debugLogger(f.logs)
	}
	if cfg.Backend == "" {
		cfg.Backend = Backend(em.Backend())
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	f.client = c
	return f
}

// raw sends a request to the emulator directly, as another tool would.
func (f *fixture) raw(t testing.TB, method, path, body string) int {
	t.Helper()
	code, err := f.rawCode(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// rawCode is raw for goroutines other than the test's.
func (f *fixture) rawCode(method, path, body string) (int, error) {
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-KEY", canary)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// putAll puts resources in order, failing the test on the first error.
func putAll(t testing.TB, ctx context.Context, c *Client, rs []model.Resource) {
	t.Helper()
	for _, r := range rs {
		if err := c.Put(ctx, r); err != nil {
			t.Fatalf("put %s: %v", r.Key, err)
		}
	}
}

// newServer serves h over loopback HTTP until the test ends.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newClient makes a Client with the canary token and a debug logger whose
// output is checked for leaks when the test ends.
func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Token.IsZero() && cfg.TokenFile == "" {
		cfg.Token = model.NewSecret(canary)
	}
	if cfg.Logger == nil {
		cfg.Logger = debugLogger(logs)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		noLeak(t, "logs", logs.String())
	})
	return c
}

func canarySecret() model.Secret { return model.NewSecret(canary) }
