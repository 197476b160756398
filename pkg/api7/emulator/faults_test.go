package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	adminKey  = "admin-key-canary-7f3a"
	viewerKey = "viewer-key-canary-91c2"
)

func routeBody(uri string) map[string]any {
	return map[string]any{"uri": uri, "upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}}
}

func TestLatency(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithLatency(40*time.Millisecond))
	start := time.Now()
	h.call("GET", "/apisix/admin/routes", adminKey, nil).mustStatus(t, 200)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("request took %v, want at least the 40ms latency", d)
	}
	h.em.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/apisix/admin/routes", nil)
	req.Header.Set("X-API-KEY", adminKey)
	if _, err := h.srv.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the client's deadline", err)
	}
	// Close waits for the handler: it must have given up with the client
	// (an hour-long wait would time the test out).
	h.srv.Close()
	reqs := h.em.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 499 {
		t.Errorf("abandoned request logged with status %d, want 499", last.Status)
	}
}

func TestFaultAnswers(t *testing.T) {
	tests := []struct {
		name       string
		faults     Faults
		method     string
		status     int
		retryAfter string
	}{
		{"503", Faults{Unavailable: 1}, "GET", 503, ""},
		{"429 with Retry-After rounded up", Faults{RateLimited: 1, RetryAfter: 1500 * time.Millisecond}, "GET", 429, "2"},
		{"429 default Retry-After", Faults{RateLimited: 1}, "GET", 429, "1"},
		{"limited to other methods", Faults{Unavailable: 1, Methods: []string{"PUT"}}, "GET", 200, ""},
		{"limited to this method", Faults{Unavailable: 1, Methods: []string{"PUT"}}, "PUT", 503, ""},
		{"limited to another path", Faults{Unavailable: 1, PathPrefix: "/apisix/admin/services"}, "PUT", 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, WithAdminToken(adminKey), WithFaults(tt.faults))
			var body any
			if tt.method == "PUT" {
				body = routeBody("/x")
			}
			r := h.call(tt.method, "/apisix/admin/routes/r1", adminKey, body)
			if tt.method == "GET" && tt.status == 200 {
				tt.status = 404 // the route does not exist; the point is: no fault
			}
			r.mustStatus(t, tt.status)
			if got := r.header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if tt.status >= 500 || tt.status == 429 {
				if c := h.em.Counters(); c.Faults != 1 {
					t.Errorf("fault counter %d, want 1", c.Faults)
				}
				if rq := h.em.Requests(); rq[0].Fault == "" {
					t.Errorf("fault not logged: %+v", rq[0])
				}
			}
		})
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	run := func(seed int64) []int {
		h := newHarness(t, WithAdminToken(adminKey), WithFaults(Faults{Seed: seed, Unavailable: 0.3, RateLimited: 0.2}))
		var out []int
		for range 60 {
			out = append(out, h.call("GET", "/apisix/admin/routes", adminKey, nil).status)
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	count := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcome at request %d: %d vs %d", i, a[i], b[i])
		}
		count[a[i]]++
	}
	if count[503] == 0 || count[429] == 0 || count[200] == 0 {
		t.Errorf("outcomes %v: want a mix of 200, 429 and 503", count)
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("another seed gave the same 60 outcomes")
	}
	if _, err := New(WithFaults(Faults{Unavailable: 0.8, Hang: 0.5})); err == nil {
		t.Error("rates adding up to more than 1 accepted")
	}
}

func TestFaultHangUntilClientGivesUp(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithFaults(Faults{Hang: 1}))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PUT", h.srv.URL+"/apisix/admin/routes/r1", strings.NewReader(`{"uri":"/x","upstream":{"nodes":{"10.0.0.1:80":1}}}`))
	req.Header.Set("X-API-KEY", adminKey)
	if _, err := h.srv.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the client's deadline", err)
	}
	h.srv.Close() // returns only once the hanging handler has noticed
	if rq := h.em.Requests(); len(rq) != 1 || rq[0].Fault != "hang" || rq[0].Status != 499 {
		t.Errorf("log %+v", rq)
	}
	if n := h.em.Count("", "routes"); n != 0 {
		t.Errorf("a hung write was applied (%d routes)", n)
	}
}

func TestFaultHangReleasedByClose(t *testing.T) {
	arrived := make(chan struct{})
	var once sync.Once
	h := newHarness(t, WithAdminToken(adminKey), WithFaults(Faults{Hang: 1}),
		WithHook(func(Call) *Reply { once.Do(func() { close(arrived) }); return nil }))
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", h.srv.URL+"/apisix/admin/routes", nil)
		req.Header.Set("X-API-KEY", adminKey)
		resp, err := h.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-arrived // the request is past the hooks, into the hang
	h.em.Close()
	<-done // released: the client gets an (empty) answer
	h.srv.Close()
	if rq := h.em.Requests(); len(rq) != 1 || rq[0].Fault != "hang" {
		t.Errorf("log %+v", rq)
	}
}

func TestFaultTruncate(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithFaults(Faults{Truncate: 1}))
	req, _ := http.NewRequest("GET", h.srv.URL+"/apisix/admin/routes", nil)
	req.Header.Set("X-API-KEY", adminKey)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read err %v, want unexpected EOF", err)
	}
}

// A reset fault (or a hook's Reset reply) sends the headers and half the
// body, then a TCP RST: the client's read fails with ECONNRESET, not EOF.
func TestFaultReset(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"fault rate", WithFaults(Faults{Reset: 1, Methods: []string{"GET"}})},
		{"hook reply", WithHook(func(c Call) *Reply {
			if c.Method != "GET" {
				return nil
			}
			return &Reply{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"list":[],"total":0}`, Reset: true}
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, WithAdminToken(adminKey), tt.opt)
			h.call("PUT", "/apisix/admin/routes/r1", adminKey, routeBody("/x")).mustStatus(t, 201) // something to list
			req, _ := http.NewRequest("GET", h.srv.URL+"/apisix/admin/routes", nil)
			req.Header.Set("X-API-KEY", adminKey)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength <= 0 {
				t.Fatalf("status %d, length %d", resp.StatusCode, resp.ContentLength)
			}
			b, err := io.ReadAll(resp.Body)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read %d of %d bytes, err %v; want a connection reset", len(b), resp.ContentLength, err)
			}
			if rq := h.em.Requests(); rq[len(rq)-1].Fault == "" {
				t.Errorf("fault not logged: %+v", rq[len(rq)-1])
			}
		})
	}
}

func TestPersistDefaults(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		fills bool
	}{
		{"3.18 stores the body as sent", nil, false},
		{"WithPersistDefaults stores the defaults", []Option{WithPersistDefaults()}, true},
		{"3.13 stores the defaults", []Option{WithAPISIXVersion("3.13.0")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, append([]Option{WithAdminToken(adminKey)}, tt.opts...)...)
			h.call("PUT", "/apisix/admin/routes/r1", adminKey, routeBody("/x")).mustStatus(t, 201)
			r := h.call("GET", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
			got := at(r.body, "value", "priority") != nil && at(r.body, "value", "upstream", "hash_on") == "vars"
			if got != tt.fills {
				t.Errorf("defaults stored: %v, want %v (%s)", got, tt.fills, r.raw)
			}
		})
	}
}

func TestDeleteCheckLag(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, WithAdminToken(adminKey), WithClock(clock.Now), WithDeleteCheckLag(time.Second))
	h.call("PUT", "/apisix/admin/services/s1", adminKey, map[string]any{"upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}}).mustStatus(t, 201)
	h.call("PUT", "/apisix/admin/routes/r1", adminKey, map[string]any{"uri": "/x", "service_id": "s1"}).mustStatus(t, 201)
	h.call("DELETE", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
	r := h.call("DELETE", "/apisix/admin/services/s1", adminKey, nil).mustStatus(t, 400)
	if at(r.body, "error_msg") != "can not delete this service directly, route [r1] is still using it now" {
		t.Errorf("message %s", r.raw)
	}
	clock.Advance(999 * time.Millisecond)
	h.call("DELETE", "/apisix/admin/services/s1", adminKey, nil).mustStatus(t, 400)
	clock.Advance(time.Millisecond)
	h.call("DELETE", "/apisix/admin/services/s1", adminKey, nil).mustStatus(t, 200)

	t.Run("without lag the check is consistent", func(t *testing.T) {
		h := newHarness(t, WithAdminToken(adminKey))
		h.call("PUT", "/apisix/admin/services/s1", adminKey, map[string]any{"upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}}).mustStatus(t, 201)
		h.call("PUT", "/apisix/admin/routes/r1", adminKey, map[string]any{"uri": "/x", "service_id": "s1"}).mustStatus(t, 201)
		h.call("DELETE", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
		h.call("DELETE", "/apisix/admin/services/s1", adminKey, nil).mustStatus(t, 200)
	})
}

func TestHooks(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey),
		WithHook(Reject("PUT", "/apisix/admin/routes/bad", 400, `{"error_msg":"rejected by test"}`)))
	tests := []struct {
		name   string
		method string
		path   string
		status int
	}{
		{"the rejected route", "PUT", "/apisix/admin/routes/bad", 400},
		{"again", "PUT", "/apisix/admin/routes/bad", 400},
		{"another route goes through", "PUT", "/apisix/admin/routes/good", 201},
	}
	for _, tt := range tests {
		r := h.call(tt.method, tt.path, adminKey, routeBody("/x")).mustStatus(t, tt.status)
		if tt.status == 400 && (at(r.body, "error_msg") != "rejected by test" || r.header.Get("Server") == "") {
			t.Errorf("%s: %s %v", tt.name, r.raw, r.header)
		}
	}
	remove := h.em.AddHook(FailTimes("DELETE", "/apisix/admin/routes/good", 2, 503, `{"error_msg":"busy"}`))
	for i, want := range []int{503, 503, 200, 404} {
		if got := h.call("DELETE", "/apisix/admin/routes/good", adminKey, nil).status; got != want {
			t.Errorf("DELETE #%d: %d, want %d", i+1, got, want)
		}
	}
	remove()
	var seen Call
	h.em.AddHook(func(c Call) *Reply { seen = c; return nil })
	h.call("PUT", "/apisix/admin/routes/x?ttl=5", adminKey, routeBody("/x"))
	if seen.Method != "PUT" || seen.Path != "/apisix/admin/routes/x" || seen.Query.Get("ttl") != "5" ||
		!strings.Contains(string(seen.Body), `"/x"`) || seen.Token != TokenNameAdmin {
		t.Errorf("hook saw %+v", seen)
	}
}

func TestRequestLogAndCounters(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithViewerToken(viewerKey))
	h.call("PUT", "/apisix/admin/routes/r1", adminKey, routeBody("/x")).mustStatus(t, 201)
	h.call("GET", "/apisix/admin/routes?api_key="+viewerKey, "", nil).mustStatus(t, 200)
	h.call("PUT", "/apisix/admin/routes/r2", viewerKey, routeBody("/y")).mustStatus(t, 401)
	h.call("GET", "/apisix/admin/routes", "wrong-canary", nil).mustStatus(t, 401)
	h.call("GET", "/apisix/admin/routes", "", nil).mustStatus(t, 401)
	h.callCtx(t.Context(), "DELETE", "/apisix/admin/routes/r1", http.Header{"X-API-KEY": {adminKey}, "X-Reconciler-Holder": {"replica-b"}, "User-Agent": {"reconciler/test"}}, nil).mustStatus(t, 200)
	reqs := h.em.Requests()
	if last := reqs[len(reqs)-1]; last.Holder != "replica-b" || last.UserAgent != "reconciler/test" {
		t.Errorf("holder %q, user agent %q", last.Holder, last.UserAgent)
	}
	want := []struct {
		method, path, token string
		status              int
		via                 string
	}{
		{"PUT", "/apisix/admin/routes/r1", TokenNameAdmin, 201, ViaHeader},
		{"GET", "/apisix/admin/routes?api_key=[redacted]", TokenNameViewer, 200, ViaQuery},
		{"PUT", "/apisix/admin/routes/r2", TokenNameViewer, 401, ViaHeader},
		{"GET", "/apisix/admin/routes", IdentityUnknown, 401, ViaHeader},
		{"GET", "/apisix/admin/routes", IdentityNone, 401, ViaNone},
		{"DELETE", "/apisix/admin/routes/r1", TokenNameAdmin, 200, ViaHeader},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d log entries, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r.Method != w.method || r.Path != w.path || r.Token != w.token || r.Status != w.status || r.TokenVia != w.via || r.Time.IsZero() {
			t.Errorf("entry %d: %+v, want %+v", i, r, w)
		}
		if strings.Contains(r.Path+r.Token, "canary") {
			t.Errorf("entry %d leaks a token: %+v", i, r)
		}
	}
	c := h.em.Counters()
	if c.Requests != 6 || c.Writes != 1 || c.Deletes != 1 || c.ByStatus[401] != 3 || c.ByMethod["GET"] != 3 || c.InFlight != 0 {
		t.Errorf("counters %+v", c)
	}
	h.em.Reset()
	if c := h.em.Counters(); c.Requests != 0 || len(h.em.Requests()) != 0 || h.em.Count("", "routes") != 0 {
		t.Errorf("after Reset: %+v", c)
	}
}

func TestMaxInFlight(t *testing.T) {
	const n = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	barrier := func(c Call) *Reply {
		mu.Lock()
		arrived++
		if arrived == n {
			close(all)
		}
		mu.Unlock()
		<-all // every request is inside the handler at once
		return nil
	}
	h := newHarness(t, WithAdminToken(adminKey), WithHook(barrier))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", h.srv.URL+"/apisix/admin/routes", nil)
			req.Header.Set("X-API-KEY", adminKey)
			if resp, err := h.srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if got := h.em.MaxInFlight(); got != n {
		t.Errorf("MaxInFlight %d, want %d", got, n)
	}
}

func TestRequestLogKeepsTheMostRecent(t *testing.T) {
	tests := []struct {
		size int
		want []string
	}{
		{3, []string{"/apisix/admin/routes/r3", "/apisix/admin/routes/r4", "/apisix/admin/routes/r5"}},
		{0, nil},
		{10, []string{"/apisix/admin/routes/r1", "/apisix/admin/routes/r2", "/apisix/admin/routes/r3", "/apisix/admin/routes/r4", "/apisix/admin/routes/r5"}},
	}
	for _, tt := range tests {
		h := newHarness(t, WithAdminToken(adminKey), WithRequestLogSize(tt.size))
		for i := 1; i <= 5; i++ {
			h.call("GET", "/apisix/admin/routes/r"+string(rune('0'+i)), adminKey, nil)
		}
		var got []string
		for _, r := range h.em.Requests() {
			got = append(got, r.Path)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("size %d: log %v, want %v", tt.size, got, tt.want)
		}
		if c := h.em.Counters(); c.Requests != 5 {
			t.Errorf("size %d: %d requests counted, want 5", tt.size, c.Requests)
		}
	}
}

// TestFaultMixIsSeeded: with every kind of answer fault at a partial rate,
// each kind happens about as often as configured, the same seed gives the
// same sequence, the client sees each fault as configured, and a write is
// applied exactly when the fault lets the handler run (truncate, reset) and
// never when it answers instead (503, 429).
func TestFaultMixIsSeeded(t *testing.T) {
	const n = 100
	run := func(seed int64) []string {
		h := newHarness(t, WithAdminToken(adminKey), WithFaults(Faults{Seed: seed, Unavailable: 0.2, RateLimited: 0.2, Truncate: 0.2, Reset: 0.2}))
		var out []string
		applied := 0
		for i := range n {
			req, _ := http.NewRequest("PUT", h.srv.URL+"/apisix/admin/routes/r"+strconv.Itoa(i), strings.NewReader(`{"uri":"/x","upstream":{"nodes":{"10.0.0.1:80":1}}}`))
			req.Header.Set("X-API-KEY", adminKey)
			resp, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			_, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got string
			switch {
			case resp.StatusCode == 503 && rerr == nil:
				got = "503"
			case resp.StatusCode == 429 && rerr == nil && resp.Header.Get("Retry-After") == "1":
				got = "429"
			case resp.StatusCode == 201 && errors.Is(rerr, io.ErrUnexpectedEOF):
				got, applied = "truncate", applied+1
			case resp.StatusCode == 201 && errors.Is(rerr, syscall.ECONNRESET):
				got, applied = "reset", applied+1
			case resp.StatusCode == 201 && rerr == nil:
				got, applied = "", applied+1
			default:
				t.Fatalf("request %d: status %d, read error %v", i, resp.StatusCode, rerr)
			}
			out = append(out, got)
		}
		log := h.em.Requests()
		for i, rq := range log {
			if rq.Fault != out[i] {
				t.Errorf("request %d: the client saw %q, the log says %q", i, out[i], rq.Fault)
			}
		}
		if c := h.em.Count("", "routes"); c != applied {
			t.Errorf("%d routes stored, %d writes were let through", c, applied)
		}
		return out
	}
	a, b := run(42), run(42)
	count := map[string]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcome at request %d: %q vs %q", i, a[i], b[i])
		}
		count[a[i]]++
	}
	// Each rate is 0.2 of 100 draws: 20 ± 4 (one standard deviation).
	for _, k := range []string{"", "503", "429", "truncate", "reset"} {
		if count[k] < 8 || count[k] > 35 {
			t.Errorf("%q happened %d times in %d requests, want about 20: %v", k, count[k], n, count)
		}
	}
}
