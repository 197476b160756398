package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// fullScale reports whether the rows run at the scale reliability.md gives
// (RECONCILER_SCALE_TESTS=1, as the nightly run sets); otherwise they run
// at a fifth of it, which exercises the same paths in a few seconds.
func fullScale() bool { return os.Getenv("RECONCILER_SCALE_TESTS") == "1" }

// scaled is n at full scale and n/5 otherwise.
func scaled(n int) int {
	if fullScale() {
		return n
	}
	return n / 5
}

// fleet describes a generated gateway configuration.
type fleet struct {
	services   int // each with an inline upstream
	extraUps   int // the first extraUps services also get a named extra upstream
	routes     int // spread over the services
	consumers  int
	ssls       int
	skipRoutes map[int]bool // routes left out (to make deletes)
}

// yaml renders the fleet in ADC's format, one file per kind of thing.
func (f fleet) write(t testing.TB, dir string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("services:\n")
	route := 0
	for i := range f.services {
		fmt.Fprintf(&b, "  - name: svc-%04d\n    upstream:\n      nodes:\n        - {host: 10.0.%d.%d, port: 8080, weight: 100}\n", i, i/250, i%250+1)
		if i < f.extraUps {
			fmt.Fprintf(&b, "    upstreams:\n      - name: canary\n        nodes:\n          - {host: 10.1.%d.%d, port: 8080, weight: 1}\n", i/250, i%250+1)
		}
		n := f.routes / f.services
		if i < f.routes%f.services {
			n++
		}
		if n > 0 {
			b.WriteString("    routes:\n")
		}
		for j := range n {
			if !f.skipRoutes[route] {
				fmt.Fprintf(&b, "      - name: r%d\n        uris: [/svc-%04d/r%d]\n        methods: [GET]\n", j, i, j)
			}
			route++
		}
	}
	writeFile(t, dir, "services.yaml", b.String())

	b.Reset()
	b.WriteString("consumers:\n")
	for i := range f.consumers {
		fmt.Fprintf(&b, "  - username: user-%04d\n    description: generated\n", i)
	}
	if f.consumers == 0 {
		b.Reset()
		b.WriteString("consumers: []\n")
	}
	writeFile(t, dir, "consumers.yaml", b.String())

	b.Reset()
	b.WriteString("ssls:\n")
	if f.ssls > 0 {
		cert, err := os.ReadFile("testdata/tls/sample-tls.crt")
		if err != nil {
			t.Fatal(err)
		}
		key, err := os.ReadFile("testdata/tls/sample-tls.key")
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.ssls {
			fmt.Fprintf(&b, "  - snis: [host-%04d.sample-tls.test]\n    certificates:\n      - certificate: %s\n        key: %s\n", i, jsonQuote(string(cert)), jsonQuote(string(key)))
		}
	} else {
		b.Reset()
		b.WriteString("ssls: []\n")
	}
	writeFile(t, dir, "ssls.yaml", b.String())
}

func (f fleet) dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	f.write(t, dir)
	return dir
}

// writesAndDeletes counts the write requests (PUT) and deletes the
// emulator answered since the last call, and the 400s among them.
type requestCounts struct{ puts, deletes, posts, bad int }

func countRequests(rs []emulator.Request) requestCounts {
	var c requestCounts
	for _, r := range rs {
		switch r.Method {
		case http.MethodPut:
			c.puts++
		case http.MethodDelete:
			c.deletes++
		case http.MethodPost:
			c.posts++
		}
		if r.Status == http.StatusBadRequest && r.Method != http.MethodGet {
			c.bad++ // (the stream_routes list answers 400 when stream mode is off)
		}
	}
	return c
}

// TestL1InitialSync (L1; a fifth of the scale unless RECONCILER_SCALE_TESTS=1):
// 2,000 resources (400 extra upstreams, 400 services,
// 1,000 routes, 150 consumers, 50 SSLs) into an empty emulator with 5 ms of
// latency at concurrency 10 converge in one cycle, with no reference-order
// 400, at most 10 requests in flight, and one PUT per object (a service is
// two on APISIX: its upstream and itself).
func TestL1InitialSync(t *testing.T) {
	f := fleet{services: scaled(400), extraUps: scaled(400), routes: scaled(1000), consumers: scaled(150), ssls: scaled(50)}
	src := f.dir(t)
	g := newGateway(t, emulator.WithLatency(5*time.Millisecond), emulator.WithRequestLogSize(10_000))

	start := time.Now()
	r := cli(t, g, nil, "sync", "--source", src, "--concurrency", "10")
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	c := countRequests(g.em.Requests())
	wantPuts := f.extraUps + f.services*2 + f.routes + f.consumers + f.ssls
	if c.puts != wantPuts || c.deletes != 0 || c.bad != 0 {
		t.Errorf("requests: %+v, want %d PUTs, no DELETE, no 400", c, wantPuts)
	}
	if c.posts > 1 {
		t.Errorf("%d POSTs: only the one configs/validate is allowed", c.posts)
	}
	if peak := g.em.MaxInFlight(); peak > 10 {
		t.Errorf("peak in flight %d > 10", peak)
	}
	if took > 30*time.Second {
		t.Errorf("sync took %s > 30 s", took)
	}
	t.Logf("L1: %s for %d requests (bound %s); %s", took, len(g.em.Requests()),
		time.Duration(wantPuts)*5*time.Millisecond/10, strings.TrimSpace(r.stdout))
	if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
		t.Errorf("diff after L1: exit %d\n%s", r.code, r.stdout)
	}
}

// TestL2PreDefaultsServerConverges (L2): against an APISIX 3.13 that stores
// schema defaults, ten syncs after the first write nothing — where ADC
// re-PUTs the same objects on every sync.
func TestL2PreDefaultsServerConverges(t *testing.T) {
	sources := map[string]func(t testing.TB) string{
		"examples":             examples,
		"ADC's 3.13 recording": func(t testing.TB) string { return sourceDir(t, "testdata/adc/3.13/stock-defaults.yaml") },
	}
	for name, source := range sources {
		t.Run(name, func(t *testing.T) {
			g := newGateway(t, emulator.WithAPISIXVersion("3.13.0"))
			src := source(t)
			if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
				t.Fatalf("first sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			if len(g.takeWrites()) == 0 {
				t.Fatal("the first sync wrote nothing")
			}
			for i := range 10 {
				start := time.Now()
				r := cli(t, g, nil, "sync", "--source", src)
				if r.code != 0 {
					t.Fatalf("sync %d: exit %d\n%s", i+2, r.code, r.err)
				}
				if w := g.takeWrites(); len(w) != 0 {
					t.Fatalf("sync %d wrote %d times, first %s %s\n%s", i+2, len(w), w[0].Method, w[0].Path, r.stdout)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("sync %d took %s > 2 s", i+2, d)
				}
			}
			if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
				t.Errorf("diff: exit %d\n%s", r.code, r.stdout)
			}
		})
	}
}

// TestF6OneBadRoute (F6; scaled like L1): one route rejected among 2,000
// objects; the rest
// and their dependents are applied, nothing is deleted in that cycle, and
// the failure names the file, the resource and the Admin API's message.
func TestF6OneBadRoute(t *testing.T) {
	base := fleet{services: scaled(400), routes: scaled(1500), consumers: scaled(100)}
	g := newGateway(t, emulator.WithRequestLogSize(10_000))
	// First cycle: everything, plus one extra consumer to be pruned later.
	first := base
	first.consumers++
	if r := cli(t, g, nil, "sync", "--source", first.dir(t)); r.code != 0 {
		t.Fatalf("first sync: exit %d\n%s", r.code, r.err)
	}
	// Second cycle: every route changes, one of them is rejected, and the
	// extra consumer is gone.
	src := base.dir(t)
	data, err := os.ReadFile(src + "/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, "services.yaml", strings.ReplaceAll(string(data), "methods: [GET]", "methods: [GET, HEAD]"))
	bad := "/apisix/admin/routes/" + model.RouteID("svc-0007", "r1")
	g.em.AddHook(emulator.Reject(http.MethodPut, bad, http.StatusBadRequest,
		`{"error_msg":"failed to check the configuration of plugin proxy-rewrite err: property \"uri\" validation failed"}`))
	before := len(g.em.Requests())
	r := cli(t, g, nil, "sync", "--source", src)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.err)
	}
	c := countRequests(g.em.Requests()[before:])
	if c.deletes != 0 {
		t.Errorf("%d deletes in a cycle with a failed write", c.deletes)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("%d applied, 1 failed, 1 skipped", base.routes-1)) {
		t.Errorf("summary: %s", r.stdout)
	}
	want := fmt.Sprintf(`failed: update route/%s "r1" at services.yaml:`, model.RouteID("svc-0007", "r1"))
	if !strings.Contains(r.err, want) || !strings.Contains(r.err, `property "uri" validation failed`) {
		t.Errorf("stderr lacks the failure with file, resource and message:\n%s", r.err)
	}
	if gone := fmt.Sprintf("user-%04d", base.consumers); !strings.Contains(r.err, `skipped: delete consumer/`+gone+` "`+gone+`": prune held back`) {
		t.Errorf("stderr lacks the held prune:\n%s", r.err)
	}
}

// TestD1DeletionGuards (D1; scaled like L1): of 2,000 owned objects, a commit
// that removes
// all of them or 300 of them deletes nothing and says why; one that
// removes 5 prunes them.
func TestD1DeletionGuards(t *testing.T) {
	base := fleet{services: scaled(400), routes: scaled(1450), consumers: scaled(150)}
	owned := base.services + base.routes + base.consumers
	g := newGateway(t, emulator.WithRequestLogSize(10_000))
	if r := cli(t, g, nil, "sync", "--source", base.dir(t)); r.code != 0 {
		t.Fatalf("seed: exit %d\n%s", r.code, r.err)
	}
	skip := func(n int) map[int]bool {
		m := map[int]bool{}
		for i := range n {
			m[i*3] = true
		}
		return m
	}
	withSkips := func(f fleet, m map[int]bool) string {
		f.skipRoutes = m
		return f.dir(t)
	}
	empty := t.TempDir()
	writeFile(t, empty, "empty.yaml", "services: []\n")
	tests := []struct {
		name        string
		src         string
		wantCode    int
		wantDeletes int
		wantErr     string
	}{
		{"everything removed", empty, 1, 0, fmt.Sprintf("refused: EmptyDesired: the desired state is empty and would delete all %d owned objects", owned)},
		{"300 removed", withSkips(base, skip(scaled(300))), 1, 0,
			fmt.Sprintf("refused: MaxDeletes: %d deletes exceed max-deletes 50 (%d owned objects); nothing is deleted", scaled(300), owned)},
		{"5 removed", withSkips(base, skip(5)), 0, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(g.em.Requests())
			r := cli(t, g, nil, "sync", "--source", tt.src)
			c := countRequests(g.em.Requests()[before:])
			if r.code != tt.wantCode || c.deletes != tt.wantDeletes || c.puts != 0 {
				t.Errorf("exit %d, %d deletes, %d puts; want exit %d, %d deletes, 0 puts\n%s\n%s",
					r.code, c.deletes, c.puts, tt.wantCode, tt.wantDeletes, r.stdout, r.err)
			}
			if tt.wantErr != "" && !strings.Contains(r.err, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, r.err)
			}
		})
	}
}

// rawPut writes an object to the emulator as a dashboard would: no label.
func rawPut(t tb, g *gateway, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, g.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", testToken)
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: %d", path, resp.StatusCode)
	}
}

// TestD2UnownedNeverTouched (D2): 500 routes made on a dashboard and one
// object holding the ID of a desired service are never written or deleted,
// cycle after cycle; the collision is an OwnershipConflict.
func TestD2UnownedNeverTouched(t *testing.T) {
	g := newGateway(t, emulator.WithRequestLogSize(10_000))
	unowned := map[string]bool{}
	for i := range 500 {
		p := fmt.Sprintf("/apisix/admin/routes/dashboard-%03d", i)
		rawPut(t, g, p, fmt.Sprintf(`{"uri":"/dash/%d","upstream":{"nodes":{"10.9.9.9:80":1},"type":"roundrobin"}}`, i))
		unowned[p] = true
	}
	taken := model.ServiceID("svc-0001")
	for _, p := range []string{"/apisix/admin/upstreams/" + taken, "/apisix/admin/services/" + taken} {
		unowned[p] = true
	}
	rawPut(t, g, "/apisix/admin/upstreams/"+taken, `{"nodes":{"10.8.8.8:80":1},"type":"roundrobin"}`)
	rawPut(t, g, "/apisix/admin/services/"+taken, `{"name":"hand-made","upstream_id":"`+taken+`"}`)
	g.takeWrites()

	src := fleet{services: 3, routes: 6}.dir(t)
	for cycle := range 3 {
		r := cli(t, g, nil, "sync", "--source", src)
		if r.code != 1 || !strings.Contains(r.err, "OwnershipConflict") || !strings.Contains(r.err, "service/"+taken) {
			t.Fatalf("cycle %d: exit %d, want 1 with an OwnershipConflict for service/%s\n%s", cycle, r.code, taken, r.err)
		}
		for _, w := range g.takeWrites() {
			if unowned[w.Path] {
				t.Fatalf("cycle %d: %s %s touches an unowned object", cycle, w.Method, w.Path)
			}
		}
		if d := cli(t, g, nil, "diff", "--source", src); !strings.Contains(d.err, "warning: 1 desired resources have the ID of an object not labelled") {
			t.Errorf("diff does not warn of the collision:\n%s", d.err)
		}
	}
	if n := g.em.Count("", "routes"); n != 500+4 {
		t.Errorf("%d routes on the gateway, want the 500 unowned and the 4 of the other services", n)
	}
}

// TestD3PruneSafety (D3): no prune while a write of the cycle failed;
// deletes go dependents first with no "still using it now"; a delete that
// fails three times stays owned and is retried each cycle, leaving no
// orphan.
func TestD3PruneSafety(t *testing.T) {
	g := newGateway(t)
	full := fleet{services: 4, extraUps: 4, routes: 8}
	if r := cli(t, g, nil, "sync", "--source", full.dir(t)); r.code != 0 {
		t.Fatalf("seed: exit %d\n%s", r.code, r.err)
	}
	// svc-0000 loses route r0 and its canary upstream; svc-0001's route r0
	// changes and is rejected.
	src := full.dir(t)
	data, _ := os.ReadFile(src + "/services.yaml")
	s := strings.Replace(string(data), "      - name: r0\n        uris: [/svc-0000/r0]\n        methods: [GET]\n", "", 1)
	s = strings.Replace(s, "    upstreams:\n      - name: canary\n        nodes:\n          - {host: 10.1.0.1, port: 8080, weight: 1}\n", "", 1)
	s = strings.Replace(s, "uris: [/svc-0001/r0]", "uris: [/svc-0001/r0, /v2]", 1)
	writeFile(t, src, "services.yaml", s)
	remove := g.em.AddHook(emulator.Reject(http.MethodPut, "/apisix/admin/routes/"+model.RouteID("svc-0001", "r0"), http.StatusBadRequest, `{"error_msg":"rejected for the test"}`))
	before := len(g.em.Requests())
	r := cli(t, g, nil, "sync", "--source", src)
	if c := countRequests(g.em.Requests()[before:]); r.code != 1 || c.deletes != 0 {
		t.Fatalf("with a failed write: exit %d, %d deletes\n%s", r.code, c.deletes, r.err)
	}
	remove()
	before = len(g.em.Requests())
	if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
		t.Fatalf("after the fix: exit %d\n%s", r.code, r.err)
	}
	if c := countRequests(g.em.Requests()[before:]); c.deletes != 2 || c.bad != 0 {
		t.Errorf("prune: %+v, want 2 deletes and no 400", c)
	}

	// Remove svc-0002 with its routes; its first route's DELETE fails three
	// times.
	smaller := fleet{services: 4, extraUps: 4, routes: 8}.dir(t)
	data, _ = os.ReadFile(smaller + "/services.yaml")
	s = string(data)
	i, j := strings.Index(s, "  - name: svc-0002\n"), strings.Index(s, "  - name: svc-0003\n")
	writeFile(t, smaller, "services.yaml", s[:i]+s[j:])
	r0 := "/apisix/admin/routes/" + model.RouteID("svc-0002", "r0")
	g.em.AddHook(emulator.FailTimes(http.MethodDelete, r0, 3, http.StatusBadRequest, `{"error_msg":"etcd request timed out"}`))
	for cycle := 1; cycle <= 4; cycle++ {
		r := cli(t, g, nil, "sync", "--source", smaller, "--max-delete-percent", "100")
		wantCode := 1
		if cycle == 4 {
			wantCode = 0
		}
		if r.code != wantCode {
			t.Fatalf("cycle %d: exit %d, want %d\n%s", cycle, r.code, wantCode, r.err)
		}
		if cycle < 4 && !strings.Contains(r.err, "failed: delete route/"+model.RouteID("svc-0002", "r0")) {
			t.Errorf("cycle %d: the failed delete is not listed:\n%s", cycle, r.err)
		}
		svcGone := g.em.Count("", "services") == 3
		if cycle < 4 && svcGone {
			t.Fatalf("cycle %d: the service went while its route remained (an orphan)", cycle)
		}
		if cycle == 4 && !svcGone {
			t.Fatalf("cycle 4: the service is still there")
		}
	}
	if r := cli(t, g, nil, "diff", "--source", smaller); r.code != 0 {
		t.Errorf("diff after the retries: exit %d\n%s", r.code, r.stdout)
	}
}
