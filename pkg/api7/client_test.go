package api7

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// extraResources covers the kinds and forms the corpus files do not: a
// stream route, a consumer group with a member, label arrays, a credential
// without description, a service without an upstream.
func extraResources() []model.Resource {
	svc := model.Key{Kind: model.KindService, ID: model.ServiceID("tcp-echo")}
	web := model.Key{Kind: model.KindService, ID: model.ServiceID("plain")}
	gold := model.Key{Kind: model.KindConsumerGroup, ID: model.ConsumerGroupID("gold")}
	return []model.Resource{
		{Key: svc, Name: "tcp-echo", Body: map[string]any{
			"name":     "tcp-echo",
			"labels":   map[string]any{"tags": []any{"a", "b"}, "team": "net"},
			"upstream": map[string]any{"scheme": "tcp", "nodes": []any{map[string]any{"host": "10.9.0.1", "port": 7.0, "weight": 1.0}}},
		}},
		{Key: model.Key{Kind: model.KindStreamRoute, ID: model.RouteID("tcp-echo", "echo")}, Name: "echo", Parent: svc, Body: map[string]any{
			"name": "echo", "description": "echo over tcp", "server_port": 9100.0,
		}},
		{Key: web, Name: "plain", Body: map[string]any{
			"name": "plain", "plugins": map[string]any{"proxy-rewrite": map[string]any{"uri": "/x"}},
		}},
		{Key: model.Key{Kind: model.KindRoute, ID: model.RouteID("plain", "root")}, Name: "root", Parent: web, Body: map[string]any{
			"name": "root", "uris": []any{"/", "/index.html"}, "labels": map[string]any{"tier": []any{"gold"}}, "priority": 3.0,
			"plugins": map[string]any{"response-rewrite": map[string]any{"status_code": 200.0, "body": "ok"}},
		}},
		{Key: gold, Name: "gold", Body: map[string]any{
			"name": "gold", "description": "gold tier", "plugins": map[string]any{"response-rewrite": map[string]any{"headers": map[string]any{"set": map[string]any{"X-Tier": "gold"}}}},
		}},
		{Key: model.Key{Kind: model.KindConsumer, ID: "gold-member"}, Name: "gold-member", Parent: gold, Body: map[string]any{
			"username": "gold-member", "description": "in the gold group",
		}},
	}
}

// wantLive is what List should give back for desired: the defaults the
// Client reports filled in, and no SSL private keys.
func wantLive(t *testing.T, desired []model.Resource, d model.Defaults) map[model.Key]any {
	t.Helper()
	out := map[model.Key]any{}
	for _, r := range desired {
		out[r.Key] = comparable(t, withoutKeys(withDefaults(r, d)))
	}
	return out
}

func gotLive(t *testing.T, inv model.Inventory) map[model.Key]any {
	t.Helper()
	out := map[model.Key]any{}
	for _, r := range inv.Owned {
		out[r.Key] = comparable(t, r)
	}
	return out
}

func TestRoundTripAPISIX(t *testing.T) {
	tests := []struct {
		name    string
		version string
	}{
		{"3.18 stores what it is sent", "3.18.0"},
		{"3.13 stores schema defaults", "3.13.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{}, emulator.WithAPISIXVersion(tt.version), emulator.WithStreamMode())
			ctx := ctxFor(t, 30*time.Second)
			desired := append(adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml"), extraResources()...)
			sortResources(desired)
			putAll(t, ctx, f.client, desired)

			inv, err := f.client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d, err := f.client.Defaults(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantLive(t, desired, d), gotLive(t, inv)); diff != "" {
				t.Errorf("put → list is not the identity (-want +got):\n%s", diff)
			}
			if len(inv.Unowned) != 0 {
				t.Errorf("unowned: %v", inv.Unowned)
			}
			// Putting the live resources back changes nothing.
			for _, r := range inv.Owned {
				if r.Key.Kind == model.KindSSL {
					continue // keys are never read back
				}
				if err := f.client.Put(ctx, r); err != nil {
					t.Fatalf("re-put %s: %v", r.Key, err)
				}
			}
			again, err := f.client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(gotLive(t, inv), gotLive(t, again)); diff != "" {
				t.Errorf("put(list) → list changed (-before +after):\n%s", diff)
			}

			// Delete everything, children first; then nothing is owned.
			for i := len(inv.Owned) - 1; i >= 0; i-- {
				if err := f.client.Delete(ctx, inv.Owned[i]); err != nil {
					t.Fatalf("delete %s: %v", inv.Owned[i].Key, err)
				}
			}
			empty, err := f.client.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(empty.Owned)+len(empty.Unowned) != 0 {
				t.Errorf("after deleting all: %+v", empty)
			}
			// A delete of something already gone is a success.
			if err := f.client.Delete(ctx, inv.Owned[0]); err != nil {
				t.Errorf("delete again: %v", err)
			}
		})
	}
}

// TestTokenTransport: the token travels in the X-API-KEY header, or in the
// cookie each server reads when asked (x_api_key on APISIX, X-API-KEY on
// API7 Enterprise), on every request and never anywhere else.
func TestTokenTransport(t *testing.T) {
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		for _, tr := range []TokenTransport{TokenHeader, TokenCookie} {
			t.Run(string(backend)+" "+string(tr), func(t *testing.T) {
				f := newFixture(t, Config{TokenTransport: tr}, emulator.WithBackend(backend))
				ctx := ctxFor(t, 10*time.Second)
				r := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "carol"}, Body: map[string]any{"username": "carol"}}
				putAll(t, ctx, f.client, []model.Resource{r})
				if _, err := f.client.List(ctx); err != nil {
					t.Fatal(err)
				}
				reqs := f.em.Requests()
				if len(reqs) < 3 {
					t.Fatalf("%d requests", len(reqs))
				}
				for _, rq := range reqs {
					if rq.TokenVia != string(tr) || rq.Token != emulator.TokenNameAdmin || rq.Status == http.StatusUnauthorized {
						t.Errorf("%s %s: token %q via %q, status %d; want admin via %s", rq.Method, rq.Path, rq.Token, rq.TokenVia, rq.Status, tr)
					}
				}
			})
		}
	}
}

func sortResources(rs []model.Resource) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Key.Less(rs[j-1].Key); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// TestADCBodiesOverHTTP checks the bytes that reach the server, not just
// the mapping: the PUT bodies of a sync of the corpus file with
// managed-by=adc are ADC's.
func TestADCBodiesOverHTTP(t *testing.T) {
	var (
		mu   sync.Mutex
		sent = map[string]any{}
	)
	record := emulator.WithHook(func(c emulator.Call) *emulator.Reply {
		if c.Method == http.MethodPut {
			mu.Lock()
			sent[c.Path] = normalizeJSON(t, jsonRaw(c.Body))
			mu.Unlock()
		}
		return nil
	})
	f := newFixture(t, Config{ManagedBy: "adc"}, record)
	ctx := ctxFor(t, 30*time.Second)
	putAll(t, ctx, f.client, adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml"))
	n := 0
	for _, s := range readTranscript(t, "testdata/apisix-3.18/12-adc-consumers-ssl-rules.jsonl") {
		if s.Step < 11 || s.Step > 24 {
			continue
		}
		n++
		if diff := cmp.Diff(normalizeJSON(t, s.Request.Body), sent[s.Request.Path]); diff != "" {
			t.Errorf("%s (-adc +ours):\n%s", s.Request.Path, diff)
		}
	}
	if n != len(sent) {
		t.Errorf("ADC sent %d PUTs, the Client %d", n, len(sent))
	}
}

// TestOwnership: objects without our label (or with another value) are
// keys in Unowned, never resources, and the Client refuses to write them.
func TestOwnership(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := ctxFor(t, 30*time.Second)
	for _, step := range []struct{ path, body string }{
		{"/apisix/admin/upstreams/u1", `{"nodes":[{"host":"10.0.0.1","port":80,"weight":1}]}`},
		{"/apisix/admin/services/foreign", `{"name":"foreign","upstream_id":"u1"}`},
		{"/apisix/admin/services/other-team", `{"name":"other","upstream_id":"u1","labels":{"managed-by":"someone-else"}}`},
		{"/apisix/admin/routes/dash", `{"uri":"/dash","service_id":"foreign"}`},
		{"/apisix/admin/consumers/alice", `{"username":"alice"}`},
	} {
		if code := f.raw(t, http.MethodPut, step.path, step.body); code >= 300 {
			t.Fatalf("PUT %s: %d", step.path, code)
		}
	}
	svc := model.Resource{Key: model.Key{Kind: model.KindService, ID: "mine"}, Name: "mine", Body: map[string]any{
		"name": "mine", "upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.2", "port": 80.0, "weight": 1.0}}},
	}}
	putAll(t, ctx, f.client, []model.Resource{svc})
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var owned []string
	for _, r := range inv.Owned {
		owned = append(owned, r.Key.String())
	}
	var unowned []string
	for _, k := range inv.Unowned {
		unowned = append(unowned, k.String())
	}
	if diff := cmp.Diff([]string{"service/mine"}, owned); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"service/foreign", "service/other-team", "upstream/u1", "route/dash", "consumer/alice"}, unowned); diff != "" {
		t.Errorf("unowned (-want +got):\n%s", diff)
	}

	before := len(f.em.Requests())
	for _, k := range []model.Key{{Kind: model.KindService, ID: "foreign"}, {Kind: model.KindConsumer, ID: "alice"}, {Kind: model.KindRoute, ID: "dash"}} {
		r := model.Resource{Key: k, Parent: model.Key{Kind: model.KindService, ID: "mine"}, Body: map[string]any{"name": "x", "uris": []any{"/"}}}
		err := f.client.Put(ctx, r)
		var own *OwnershipError
		if !errors.Is(err, ErrOwnershipConflict) || !errors.As(err, &own) || own.Key != k {
			t.Errorf("put %s: %v, want an ownership conflict", k, err)
		}
		if err := f.client.Delete(ctx, r); !errors.Is(err, ErrOwnershipConflict) {
			t.Errorf("delete %s: %v, want an ownership conflict", k, err)
		}
	}
	if after := len(f.em.Requests()); after != before {
		t.Errorf("%d requests were sent for refused writes", after-before)
	}

	adopting := newFixtureOn(t, f, Config{Adopt: func(k model.Key) bool { return k.ID == "alice" }})
	if _, err := adopting.List(ctx); err != nil {
		t.Fatal(err)
	}
	alice := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "alice"}, Body: map[string]any{"username": "alice"}}
	if err := adopting.Put(ctx, alice); err != nil {
		t.Errorf("adopting alice: %v", err)
	}
}

// newFixtureOn makes a second Client for the fixture's emulator.
func newFixtureOn(t *testing.T, f *fixture, cfg Config) *Client {
	t.Helper()
	cfg.Server = f.srv.URL
	cfg.Token = model.NewSecret(canary)
	cfg.Logger = debugLogger(f.logs)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// manyRoutes returns a service and n routes under it.
func manyRoutes(n int) []model.Resource {
	svc := model.Key{Kind: model.KindService, ID: model.ServiceID("bulk")}
	out := []model.Resource{{Key: svc, Name: "bulk", Body: map[string]any{
		"name": "bulk", "upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.1", "port": 80.0, "weight": 1.0}}},
	}}}
	for i := range n {
		name := fmt.Sprintf("r%05d", i)
		out = append(out, model.Resource{Key: model.Key{Kind: model.KindRoute, ID: model.RouteID("bulk", name)}, Name: name, Parent: svc,
			Body: map[string]any{"name": name, "uris": []any{"/" + name}}})
	}
	return out
}

func TestPaging(t *testing.T) {
	f := newFixture(t, Config{PageSize: 10})
	ctx := ctxFor(t, 30*time.Second)
	rs := manyRoutes(25)
	putAll(t, ctx, f.client, rs)
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owned) != len(rs) {
		t.Fatalf("%d owned, want %d", len(inv.Owned), len(rs))
	}
	var pages []string
	for _, r := range f.em.Requests() {
		if strings.HasPrefix(r.Path, "/apisix/admin/routes?") {
			pages = append(pages, r.Path)
		}
	}
	want := []string{
		"/apisix/admin/routes?page=1&page_size=10",
		"/apisix/admin/routes?page=2&page_size=10",
		"/apisix/admin/routes?page=3&page_size=10",
	}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

// TestPartialReadFails: a listing that fails anywhere is an error, never a
// partial inventory (reliability F4).
func TestPartialReadFails(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		faults emulator.Faults
		hook   emulator.Hook
	}{
		{"one collection answers 500", Config{}, emulator.Faults{}, emulator.Reject(http.MethodGet, "/apisix/admin/routes", 500, `{"error_msg":"etcd down"}`)},
		{"credentials answer 403", Config{}, emulator.Faults{}, emulator.Reject(http.MethodGet, "/apisix/admin/consumers/warehouse-ui/credentials", 403, `{"error_msg":"no"}`)},
		{"truncated bodies", Config{}, emulator.Faults{Seed: 1, Truncate: 1, Methods: []string{http.MethodGet}, PathPrefix: "/apisix/admin/routes"}, nil},
		{"a truncated page of a paged walk", Config{PageSize: 10}, emulator.Faults{Seed: 1, Truncate: 1, Methods: []string{http.MethodGet}, PathPrefix: "/apisix/admin/routes"}, nil},
		{"connection reset mid-list", Config{}, emulator.Faults{Seed: 1, Reset: 1, Methods: []string{http.MethodGet}, PathPrefix: "/apisix/admin/routes"}, nil},
		{"connection reset on a page of a paged walk", Config{PageSize: 10}, emulator.Faults{}, resetPage("/apisix/admin/routes", "2", -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Retry = RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
			f := newFixture(t, tt.cfg)
			ctx := ctxFor(t, 30*time.Second)
			putAll(t, ctx, f.client, append(adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml"), manyRoutes(30)...))
			if err := f.em.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			if tt.hook != nil {
				remove := f.em.AddHook(tt.hook)
				defer remove()
			}
			inv, err := f.client.List(ctx)
			if err == nil {
				t.Fatalf("listing succeeded with %d owned", len(inv.Owned))
			}
			if len(inv.Owned) != 0 || len(inv.Unowned) != 0 {
				t.Errorf("a failed listing returned a partial inventory: %d owned", len(inv.Owned))
			}
			noLeakErr(t, err)
		})
	}
}

func TestStreamModeOff(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := ctxFor(t, 10*time.Second)
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatalf("stream mode off must read as no stream routes: %v", err)
	}
	if len(inv.Owned) != 0 {
		t.Errorf("owned: %v", inv.Owned)
	}
}

func TestVersionAndDefaults(t *testing.T) {
	f := newFixture(t, Config{}, emulator.WithAPISIXVersion("3.13.0"))
	ctx := ctxFor(t, 10*time.Second)
	v, err := f.client.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Raw != "3.13.0" || v.AtLeast(3, 14, 0) || !v.AtLeast(3, 13, 0) {
		t.Errorf("version %+v", v)
	}
	d, err := f.client.Defaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What the 3.13 corpus shows stored for these plugins must be among
	// the defaults read from the server's schemas.
	for name, want := range apisix313Plugins() {
		got := d.Plugins[name]
		if authPlugins[name] {
			got, _ = d.Kinds[model.KindRoute]["plugins"].(map[string]any)[name].(map[string]any)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("plugin %s default %s = %v, want %v", name, k, got[k], v)
			}
		}
	}
	if d.Kinds[model.KindRoute]["priority"] != 0.0 {
		t.Errorf("route defaults %v", d.Kinds[model.KindRoute])
	}

	f18 := newFixture(t, Config{})
	d18, err := f18.client.Defaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d18.Plugins != nil || d18.Kinds[model.KindRoute] != nil {
		t.Errorf("3.18 stores no server defaults, got %+v", d18)
	}
	if d18.Kinds[model.KindService]["upstream"].(map[string]any)["pass_host"] != "pass" {
		t.Errorf("lint defaults missing: %+v", d18.Kinds)
	}
}

func TestValidate(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := ctxFor(t, 10*time.Second)
	good := adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml")
	if err := f.client.Validate(ctx, good); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	bad := model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "bad"}, Parent: model.Key{Kind: model.KindService, ID: "s"},
		Body: map[string]any{"name": "bad", "uris": []any{"/"}, "plugins": map[string]any{"limit-count": map[string]any{}}}}
	err := f.client.Validate(ctx, append(good, bad))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	if len(ve.Issues) != 1 || ve.Issues[0].Key != bad.Key || !strings.Contains(ve.Issues[0].Message, "limit-count") {
		t.Errorf("issues %+v", ve.Issues)
	}
	posts := 0
	for _, r := range f.em.Requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d POSTs, want 2 (one per Validate, never retried)", posts)
	}

	if got := ve.InvalidResources(); len(got) != 1 || got[bad.Key] == nil {
		t.Errorf("InvalidResources %v", got)
	}

	old := newFixture(t, Config{}, emulator.WithAPISIXVersion("3.16.0"))
	err = old.client.Validate(ctx, good)
	var u interface{ Unsupported() bool }
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &u) || !u.Unsupported() {
		t.Errorf("3.16: %v, want an UnsupportedError", err)
	}
}

// TestDeleteRetriedGetsNotFound: a DELETE whose answer is lost is retried;
// the retry's 404 is a success (reliability F3).
func TestDeleteRetriedGetsNotFound(t *testing.T) {
	em, err := emulator.New(emulator.WithAdminToken(canary))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	lost := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			hang := false
			once.Do(func() { hang = true })
			if hang {
				em.ServeHTTP(&discard{h: http.Header{}}, r) // done on the server…
				lost++
				<-r.Context().Done() // …but the answer never comes
				return
			}
		}
		em.ServeHTTP(w, r)
	})
	srv := newServer(t, h)
	defer em.Close()
	c := newClient(t, Config{Server: srv.URL, Timeout: 300 * time.Millisecond})
	ctx := ctxFor(t, 10*time.Second)
	r := model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "bob"}, Body: map[string]any{"username": "bob"}}
	if err := c.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, r); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if lost != 1 {
		t.Fatalf("the lost answer was not exercised (%d)", lost)
	}
	if em.Count("", "consumers") != 0 {
		t.Error("bob is still there")
	}
}

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func jsonRaw(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

// A collection too large for one answer is read in pages instead.
func TestListFallsBackToPages(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := ctxFor(t, 60*time.Second)
	rs := manyRoutes(600)
	if failed := putConcurrently(ctx, f.client, rs[:1], 1); len(failed) > 0 {
		t.Fatal("service")
	}
	if failed := putConcurrently(ctx, f.client, rs[1:], 8); len(failed) > 0 {
		t.Fatalf("%d puts failed", len(failed))
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/apisix/admin/routes", nil)
	req.Header.Set("X-API-KEY", canary)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// 600 routes do not fit, a page of 500 does.
	c := newFixtureOn(t, f, Config{MaxResponseBytes: int64(len(body)) * 9 / 10})
	inv, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owned) != len(rs) {
		t.Fatalf("%d owned, want %d", len(inv.Owned), len(rs))
	}
	pages := 0
	for _, r := range f.em.Requests() {
		if strings.HasPrefix(r.Path, "/apisix/admin/routes?page=") {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("%d pages read, want 2", pages)
	}
}

// F4 at small scale: 2,000 objects, 1,800 of them someone else's, read in
// pages of 500. A truncated page fails the whole listing; a clean read
// reports every object.
func TestF4PagedListingWithForeignObjects(t *testing.T) {
	f := newFixture(t, Config{PageSize: 500, Retry: fastRetry})
	ctx := ctxFor(t, 120*time.Second)
	rs := manyRoutes(199)
	putAll(t, ctx, f.client, rs[:1])
	if failed := putConcurrently(ctx, f.client, rs[1:], 8); len(failed) > 0 {
		t.Fatalf("%d puts failed", len(failed))
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i := range 1800 {
		g.Go(func() error {
			path := fmt.Sprintf("/apisix/admin/routes/dash-%04d", i)
			code, err := f.rawCode(http.MethodPut, path, fmt.Sprintf(`{"uri":"/dash/%d","upstream_id":"%s"}`, i, rs[0].Key.ID))
			if err != nil || code >= 300 {
				return fmt.Errorf("PUT %s: %d %v", path, code, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	writes := f.em.Counters().Writes

	remove := f.em.AddHook(truncateOnce("/apisix/admin/routes", "3"))
	_, err := f.client.List(ctx)
	remove()
	if err == nil {
		t.Fatal("a listing with a truncated page succeeded")
	}
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The service's default upstream is inline: the unowned objects are the
	// 1,800 dashboard routes.
	if len(inv.Owned) != 200 || len(inv.Unowned) != 1800 {
		t.Fatalf("%d owned, %d unowned", len(inv.Owned), len(inv.Unowned))
	}
	if f.em.Counters().Writes != writes {
		t.Error("listing wrote something")
	}
}

// resetPage answers page n of path (every time when times < 0) with half
// a list and a connection reset.
func resetPage(path, page string, times int) emulator.Hook {
	var left atomic.Int64
	left.Store(int64(times))
	return func(c emulator.Call) *emulator.Reply {
		if c.Method != http.MethodGet || c.Path != path || c.Query.Get("page") != page {
			return nil
		}
		if times >= 0 && left.Add(-1) < 0 {
			return nil
		}
		return &emulator.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Reset: true,
			Body: `{"total":31,"list":[{"key":"/apisix/routes/a","value":{"id":"a"}},{"key":"/apisix/routes/b","value":{"id":"b"}}]}`}
	}
}

// A connection reset in the middle of one page is a transport error: the
// page is read again, and the listing that results is complete.
func TestResetPageIsReadAgain(t *testing.T) {
	f := newFixture(t, Config{PageSize: 10, Retry: fastRetry})
	ctx := ctxFor(t, 30*time.Second)
	rs := manyRoutes(30)
	putAll(t, ctx, f.client, rs)
	remove := f.em.AddHook(resetPage("/apisix/admin/routes", "2", 1))
	defer remove()
	inv, err := f.client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Owned) != len(rs) {
		t.Fatalf("%d owned, want %d", len(inv.Owned), len(rs))
	}
	page2 := 0
	for _, r := range f.em.Requests() {
		if r.Path == "/apisix/admin/routes?page=2&page_size=10" {
			page2++
		}
	}
	if page2 != 2 {
		t.Errorf("page 2 read %d times, want 2 (the reset, then the retry)", page2)
	}
}

// truncateOnce answers page n of path with a body cut short, once.
func truncateOnce(path, page string) emulator.Hook {
	var done atomic.Bool
	return func(c emulator.Call) *emulator.Reply {
		if c.Method != http.MethodGet || c.Path != path || c.Query.Get("page") != page || !done.CompareAndSwap(false, true) {
			return nil
		}
		return &emulator.Reply{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"total":1999,"list":[{"key":"/apisix/routes/x","value":{"id":"x"`}
	}
}

// PutChange re-PUTs only the part of an APISIX service that changed, as
// ADC does, once List has seen the service in the split layout.
func TestPutChange(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := ctxFor(t, 10*time.Second)
	svc := manyRoutes(0)[0]
	sid := svc.Key.ID
	tests := []struct {
		name    string
		list    bool
		changed []string
		want    []string
	}{
		{"before any List: whole", false, []string{"/upstream/nodes/0/port"}, []string{"upstreams/" + sid, "services/" + sid}},
		{"upstream only", true, []string{"/upstream/nodes/0/port", "/upstream/type"}, []string{"upstreams/" + sid}},
		{"service only", true, []string{"/description", "/labels/team"}, []string{"services/" + sid}},
		{"both", true, []string{"/description", "/upstream/nodes"}, []string{"upstreams/" + sid, "services/" + sid}},
		{"upstream added", true, []string{"/upstream"}, []string{"upstreams/" + sid, "services/" + sid}},
		{"nothing said", true, nil, []string{"upstreams/" + sid, "services/" + sid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.list {
				if _, err := f.client.List(ctx); err != nil {
					t.Fatal(err)
				}
			}
			before := len(f.em.Requests())
			if err := f.client.PutChange(ctx, svc, tt.changed); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range f.em.Requests()[before:] {
				if r.Method == http.MethodPut {
					got = append(got, strings.TrimPrefix(r.Path, "/apisix/admin/"))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PUTs (-want +got):\n%s", diff)
			}
		})
	}
}
