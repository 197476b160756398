package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test; waitFor
// blocks until something written holds a string.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor reports whether sub was written within d.
func (s *syncBuffer) waitFor(sub string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), sub) {
			s.mu.Unlock()
			return true
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		written := s.written
		s.mu.Unlock()
		select {
		case <-written:
		case <-deadline:
			return false
		}
	}
}

// startEmulator runs `reconciler emulator args...` until the returned stop
// is called; it returns the served URL (read from stdout) and the exit code
// channel.
func startEmulator(t *testing.T, env map[string]string, args ...string) (url string, stop func() int, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	stderr = &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...),
			streams{in: strings.NewReader(""), out: pw, err: stderr},
			func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no URL on stdout (exit %d): %v\nstderr: %s", <-code, err, stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return strings.TrimSpace(line), func() int { cancel(); return <-code }, stderr
}

func do(t *testing.T, method, url, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-API-KEY", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestEmulatorVerbServesAndKeepsState(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin.key")
	const token, viewer = "admin-canary-5d1e", "viewer-canary-77aa"
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.json")
	url, stop, stderr := startEmulator(t, nil, "--token-file", tokenFile, "--viewer-token", viewer, "--state", state, "--latency", "1ms")
	route := `{"uri":"/x","upstream":{"nodes":{"10.0.0.1:80":1}}}`
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"PUT", "/apisix/admin/routes/r1", token, route, 201},
		{"GET", "/apisix/admin/routes/r1", viewer, "", 200},
		{"PUT", "/apisix/admin/routes/r2", viewer, route, 401},
		{"GET", "/apisix/admin/routes", "", "", 401},
	} {
		if got := do(t, c.method, url+c.path, c.token, c.body); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	log := stderr.String()
	if strings.Contains(log, "canary") {
		t.Errorf("a token reached the log:\n%s", log)
	}
	if !strings.Contains(log, "emulator listening") || !strings.Contains(log, "state saved") {
		t.Errorf("log:\n%s", log)
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	url, stop, stderr = startEmulator(t, map[string]string{"RECONCILER_TOKEN": token}, "--state", state)
	if got := do(t, "GET", url+"/apisix/admin/routes/r1", token, ""); got != 200 {
		t.Errorf("after restart: GET r1 %d, want 200 (state not loaded)", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// The verb's --token-file and --viewer-token-file are re-read when they
// change, as the kubelet changes them (a ..data symlink swapped): the new
// token works and the old one stops working at once. A blank file keeps
// the token.
func TestEmulatorVerbRereadsTokenFiles(t *testing.T) {
	dir := t.TempDir()
	gen := 0
	swap := func(name, token string) {
		t.Helper()
		gen++
		stamp := fmt.Sprintf("..2026_11_29_%02d", gen)
		if err := os.MkdirAll(filepath.Join(dir, stamp), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"admin.key", "viewer.key"} {
			old, err := os.ReadFile(filepath.Join(dir, "..data", n))
			if n == name {
				old, err = []byte(token+"\n"), nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, stamp, n), old, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	const admin1, admin2, viewer1, viewer2 = "admin-canary-1", "admin-canary-2", "viewer-canary-1", "viewer-canary-2"
	if err := os.MkdirAll(filepath.Join(dir, "..init"), 0o700); err != nil {
		t.Fatal(err)
	}
	for n, v := range map[string]string{"admin.key": admin1, "viewer.key": viewer1} {
		if err := os.WriteFile(filepath.Join(dir, "..init", n), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("..init", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	url, stop, stderr := startEmulator(t, nil, "--token-file", filepath.Join(dir, "admin.key"), "--viewer-token-file", filepath.Join(dir, "viewer.key"))
	get := func(tok string) int { return do(t, "GET", url+"/apisix/admin/routes", tok, "") }
	if get(admin1) != 200 || get(viewer1) != 200 {
		t.Fatal("the tokens of the files do not work")
	}

	swap("admin.key", admin2)
	const rotated = `the old value no longer works","key":`
	if !stderr.waitFor(rotated+`"admin"`, 10*time.Second) {
		t.Fatalf("the admin token file was not re-read:\n%s", stderr)
	}
	for tok, want := range map[string]int{admin1: 401, admin2: 200, viewer1: 200} {
		if got := get(tok); got != want {
			t.Errorf("after the admin rotation, GET with %s: %d, want %d", tok, got, want)
		}
	}

	swap("viewer.key", "   ")
	if !stderr.waitFor("keeping the current token", 10*time.Second) {
		t.Fatalf("a blank file was not refused:\n%s", stderr)
	}
	swap("viewer.key", viewer2)
	if !stderr.waitFor(rotated+`"viewer"`, 10*time.Second) {
		t.Fatalf("the viewer token file was not re-read:\n%s", stderr)
	}
	for tok, want := range map[string]int{viewer1: 401, viewer2: 200, admin2: 200} {
		if got := get(tok); got != want {
			t.Errorf("after the viewer rotation, GET with %s: %d, want %d", tok, got, want)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr.String(), "canary") {
		t.Errorf("a token reached the log:\n%s", stderr)
	}
}

func TestEmulatorVerbAPI7(t *testing.T) {
	url, stop, stderr := startEmulator(t, nil, "--backend", "api7ee", "--token", "a7ee-canary",
		"--gateway-group", "default", "--gateway-group", "prod")
	if got := do(t, "GET", url+"/api/gateway_groups?name=prod", "a7ee-canary", ""); got != 200 {
		t.Errorf("gateway groups: %d", got)
	}
	if got := do(t, "GET", url+"/apisix/admin/services?gateway_group_id=gg-prod", "a7ee-canary", ""); got != 200 {
		t.Errorf("services: %d", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

func TestEmulatorVerbRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no token", nil, "an admin token is required"},
		{"token and token file", []string{"--token", "x-canary", "--token-file", empty}, "not both"},
		{"empty token file", []string{"--token-file", empty}, "is empty"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "nope")}, "no such file"},
		{"bad backend", []string{"--token", "x-canary", "--backend", "kong"}, "unknown backend"},
		{"bad version", []string{"--token", "x-canary", "--apisix-version", "3"}, "APISIX version"},
		{"bad fault rate", []string{"--token", "x-canary", "--fault-503-rate", "2"}, "fault rate"},
		{"viewer equals admin", []string{"--token", "x-canary", "--viewer-token", "x-canary"}, "must differ"},
		{"bad listen address", []string{"--token", "x-canary", "--listen", "127.0.0.1:-1"}, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), append([]string{"emulator"}, tt.args...), streams{in: strings.NewReader(""), out: &out, err: &errb},
				func(string) (string, bool) { return "", false })
			if code != 1 || !strings.Contains(errb.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errb.String(), tt.want)
			}
			if strings.Contains(errb.String(), "x-canary") {
				t.Errorf("the token reached stderr: %q", errb.String())
			}
		})
	}
}

// TestEmulatorVerbFlagsTakeEffect runs the verb with each behaviour flag and
// shows, over HTTP, that the flag does what its help says: none may be
// accepted and ignored.
func TestEmulatorVerbFlagsTakeEffect(t *testing.T) {
	const tok = "flag-test-canary"
	route := `{"uri":"/a","upstream":{"nodes":{"10.0.0.1:80":1}}}`
	type answer struct {
		status int
		header http.Header
		body   string
		err    error // reading the body
		took   time.Duration
	}
	try := func(t *testing.T, ctx context.Context, method, url, token, body string) (answer, error) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("X-API-KEY", token)
		}
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return answer{}, err
		}
		defer resp.Body.Close()
		b, rerr := io.ReadAll(resp.Body)
		return answer{status: resp.StatusCode, header: resp.Header, body: string(b), err: rerr, took: time.Since(start)}, nil
	}
	send := func(t *testing.T, ctx context.Context, method, url, token, body string) answer {
		t.Helper()
		a, err := try(t, ctx, method, url, token, body)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, url string)
	}{
		{"--fault-503-rate", []string{"--fault-503-rate", "1"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, ""); a.status != 503 {
				t.Errorf("status %d", a.status)
			}
		}},
		{"--fault-429-rate", []string{"--fault-429-rate", "1"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, ""); a.status != 429 || a.header.Get("Retry-After") == "" {
				t.Errorf("status %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
			}
		}},
		{"--fault-truncate-rate", []string{"--fault-truncate-rate", "1"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, ""); !errors.Is(a.err, io.ErrUnexpectedEOF) {
				t.Errorf("status %d, read error %v", a.status, a.err)
			}
		}},
		{"--fault-reset-rate", []string{"--fault-reset-rate", "1"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, ""); !errors.Is(a.err, syscall.ECONNRESET) {
				t.Errorf("status %d, read error %v", a.status, a.err)
			}
		}},
		{"--fault-hang-rate", []string{"--fault-hang-rate", "1"}, func(t *testing.T, url string) {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			if _, err := try(t, ctx, "GET", url+"/apisix/admin/routes", tok, ""); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err %v, want the client's deadline", err)
			}
		}},
		{"--fault-seed", []string{"--fault-503-rate", "0.5", "--fault-seed", "7"}, func(t *testing.T, url string) {
			// Seed 7's first draws, as the emulator package computes them:
			// the same flags must give the same sequence.
			em, err := emulator.New(emulator.WithAdminToken(tok), emulator.WithFaults(emulator.Faults{Seed: 7, Unavailable: 0.5}))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(em)
			defer srv.Close()
			defer em.Close()
			for i := range 20 {
				want := send(t, t.Context(), "GET", srv.URL+"/apisix/admin/routes", tok, "").status
				if got := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, "").status; got != want {
					t.Fatalf("request %d: status %d, seed 7 gives %d", i, got, want)
				}
			}
		}},
		{"--latency", []string{"--latency", "60ms"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", tok, ""); a.took < 60*time.Millisecond {
				t.Errorf("answered in %v", a.took)
			}
		}},
		{"--stream-mode", []string{"--stream-mode"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/stream_routes", tok, ""); a.status != 200 {
				t.Errorf("status %d %s", a.status, a.body)
			}
		}},
		{"--plugins", []string{"--plugins", "cors"}, func(t *testing.T, url string) {
			body := `{"uri":"/a","plugins":{"key-auth":{}},"upstream":{"nodes":{"10.0.0.1:80":1}}}`
			if a := send(t, t.Context(), "PUT", url+"/apisix/admin/routes/r1", tok, body); a.status != 400 || !strings.Contains(a.body, "unknown plugin [key-auth]") {
				t.Errorf("status %d %s", a.status, a.body)
			}
		}},
		{"--persist-defaults", []string{"--persist-defaults"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "PUT", url+"/apisix/admin/routes/r1", tok, route); !strings.Contains(a.body, `"priority":0`) {
				t.Errorf("status %d %s", a.status, a.body)
			}
		}},
		{"--apisix-version", []string{"--apisix-version", "3.13.0"}, func(t *testing.T, url string) {
			a := send(t, t.Context(), "PUT", url+"/apisix/admin/routes/r1", tok, route)
			if a.header.Get("Server") != "APISIX/3.13.0" || !strings.Contains(a.body, `"priority":0`) {
				t.Errorf("Server %q, body %s", a.header.Get("Server"), a.body)
			}
		}},
		{"--delete-check-lag", []string{"--delete-check-lag", "1h"}, func(t *testing.T, url string) {
			send(t, t.Context(), "PUT", url+"/apisix/admin/upstreams/u1", tok, `{"nodes":{"10.0.0.1:80":1}}`)
			send(t, t.Context(), "PUT", url+"/apisix/admin/routes/r1", tok, `{"uri":"/a","upstream_id":"u1"}`)
			send(t, t.Context(), "DELETE", url+"/apisix/admin/routes/r1", tok, "")
			if a := send(t, t.Context(), "DELETE", url+"/apisix/admin/upstreams/u1", tok, ""); a.status != 400 || !strings.Contains(a.body, "still using it now") {
				t.Errorf("status %d %s", a.status, a.body)
			}
		}},
		{"--no-auth", []string{"--no-auth"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", "", ""); a.status != 200 {
				t.Errorf("status %d %s", a.status, a.body)
			}
		}},
		{"--viewer-token", []string{"--viewer-token", "viewer-flag-canary"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/apisix/admin/routes", "viewer-flag-canary", ""); a.status != 200 {
				t.Errorf("viewer GET: status %d", a.status)
			}
			if a := send(t, t.Context(), "PUT", url+"/apisix/admin/routes/r1", "viewer-flag-canary", route); a.status != 401 {
				t.Errorf("viewer PUT: status %d", a.status)
			}
		}},
		{"--backend api7ee --gateway-group --api7-version", []string{"--backend", "api7ee", "--gateway-group", "default", "--gateway-group", "prod", "--api7-version", "3.9.1"}, func(t *testing.T, url string) {
			if a := send(t, t.Context(), "GET", url+"/api/version", tok, ""); !strings.Contains(a.body, `"3.9.1"`) {
				t.Errorf("version %s", a.body)
			}
			if a := send(t, t.Context(), "GET", url+"/api/gateway_groups", tok, ""); !strings.Contains(a.body, `"total":2`) {
				t.Errorf("gateway groups %s", a.body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, stop, stderr := startEmulator(t, nil, append([]string{"--token", tok, "--shutdown-timeout", "2s"}, tt.args...)...)
			tt.check(t, url)
			if code := stop(); code != 0 {
				t.Errorf("exit %d: %s", code, stderr)
			}
			if strings.Contains(stderr.String(), "canary") {
				t.Errorf("a token in the log: %s", stderr)
			}
		})
	}
}
