package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is an emulator served over real HTTP on loopback.
type harness struct {
	t   *testing.T
	em  *Emulator
	srv *httptest.Server
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	em, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	t.Cleanup(func() {
		em.Close()
		srv.Close()
	})
	return &harness{t: t, em: em, srv: srv}
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   any
	raw    string
}

func (r reply) obj() map[string]any {
	m, _ := r.body.(map[string]any)
	return m
}

// call sends a request with the token in X-API-KEY (none when token is "").
func (h *harness) call(method, path, token string, body any) reply {
	h.t.Helper()
	return h.callCtx(context.Background(), method, path, http.Header{"X-API-KEY": {token}}, body)
}

func (h *harness) callCtx(ctx context.Context, method, path string, hdr http.Header, body any) reply {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = bytes.NewReader([]byte(s))
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				h.t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if len(b) > 0 {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			r.body = v
		}
	}
	return r
}

// mustStatus fails the test unless the reply has the wanted status.
func (r reply) mustStatus(t *testing.T, want int) reply {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.raw)
	}
	return r
}

// at walks a decoded value by keys and indexes.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}
