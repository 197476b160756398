package apply_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitops-gateway/reconciler/internal/testcert"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// laggard holds the requests hold selects until another request finishes
// (or lag passes), so that of two requests the executor sends at once the
// other one reaches the gateway first. With every dependency recorded, the
// executor never sends a referrer together with what it references, and the
// lag passes; with one missing, the gateway sees the wrong order.
type laggard struct {
	apply.Gateway
	hold func(method string, k model.Key) bool

	mu   sync.Mutex
	done chan struct{} // closed when a request finishes, then replaced
}

const lag = 50 * time.Millisecond

func (l *laggard) wait(method string, k model.Key) {
	if !l.hold(method, k) {
		return
	}
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	t := time.NewTimer(lag)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (l *laggard) finished() {
	l.mu.Lock()
	close(l.done)
	l.done = make(chan struct{})
	l.mu.Unlock()
}

func (l *laggard) Put(ctx context.Context, r model.Resource) error {
	l.wait(http.MethodPut, r.Key)
	defer l.finished()
	return l.Gateway.Put(ctx, r)
}

func (l *laggard) Delete(ctx context.Context, r model.Resource) error {
	l.wait(http.MethodDelete, r.Key)
	defer l.finished()
	return l.Gateway.Delete(ctx, r)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestReferencesAgainstTheEmulator creates, then deletes, resources that
// reference each other, through the api7 client and the emulator (which
// refuses a write whose referenced object is missing and the delete of an
// object still referenced, as APISIX does), on both backends. Requests that
// could go out together are reordered (see laggard). Each sync must
// converge with no 4xx from the gateway, and an SSL named by
// tls.client_cert_id must go after its last referrer (APISIX does not check
// that one on delete).
func TestReferencesAgainstTheEmulator(t *testing.T) {
	cert, key := testcert.New(t, testcert.Options{CommonName: "client.test", DNSName: true, ClientAuth: true})
	ssl := "ssls:\n  - id: client-cert\n    type: client\n    snis: [client.test]\n    certificates:\n      - certificate: " + quote(cert) + "\n        key: " + quote(key) + "\n"
	const nodes = "nodes: [{host: 10.0.0.1, port: 443, weight: 1}]"
	keep := "consumers:\n  - username: bystander\n"
	tests := []struct {
		name   string
		config string
		// sslLast: the SSL's delete must come after every other.
		sslLast bool
	}{
		{
			name: "tls.client_cert_id of an inline and an extra upstream",
			config: ssl + "services:\n  - name: mtls\n    upstream: {scheme: https, tls: {client_cert_id: client-cert}, " + nodes + "}\n" +
				"    upstreams:\n      - {name: extra, scheme: https, tls: {client_cert_id: client-cert}, " + nodes + "}\n",
			sslLast: true,
		},
		{
			name: "a service's traffic-split names its own extra upstream",
			config: "services:\n  - name: shop\n    upstream: {" + nodes + "}\n" +
				"    plugins:\n      traffic-split:\n        rules:\n          - weighted_upstreams: [{upstream_id: canary-up, weight: 1}, {weight: 1}]\n" +
				"    upstreams:\n      - {id: canary-up, name: canary, " + nodes + "}\n",
		},
		{
			name: "a route's traffic-split names an extra upstream of another service",
			config: "services:\n  - name: blog\n    upstream: {" + nodes + "}\n    upstreams:\n      - {id: blue-up, name: blue, " + nodes + "}\n" +
				"  - name: shop\n    upstream: {" + nodes + "}\n    routes:\n      - name: split\n        uris: [/split]\n" +
				"        plugins:\n          traffic-split:\n            rules:\n              - weighted_upstreams: [{upstream_id: blue-up, weight: 1}, {weight: 1}]\n",
		},
	}
	for _, backend := range []emulator.Backend{emulator.BackendAPISIX, emulator.BackendAPI7EE} {
		for _, tt := range tests {
			t.Run(string(backend)+"/"+tt.name, func(t *testing.T) {
				em, c := newEmulatedGateway(t, backend)
				desired := load(t, tt.config+keep)
				// Writes: hold what is referenced (SSLs, extra upstreams).
				syncTo(t, c, desired, func(m string, k model.Key) bool {
					return m == http.MethodPut && (k.Kind == model.KindSSL || k.Kind == model.KindUpstream)
				})
				checkRequests(t, em.Requests(), false)
				// Deletes: hold the referrers.
				start := len(em.Requests())
				syncTo(t, c, load(t, keep), func(m string, k model.Key) bool {
					return m == http.MethodDelete && k.Kind != model.KindSSL
				})
				checkRequests(t, em.Requests()[start:], tt.sslLast)
			})
		}
	}
}

func newEmulatedGateway(t *testing.T, backend emulator.Backend) (*emulator.Emulator, *api7.Client) {
	t.Helper()
	const token = "admin-token-for-apply"
	em, err := emulator.New(emulator.WithBackend(backend), emulator.WithAdminToken(token), emulator.WithPlugins("traffic-split"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(em)
	t.Cleanup(srv.Close)
	t.Cleanup(em.Close)
	c, err := api7.New(api7.Config{
		Backend: api7.Backend(backend), Server: srv.URL, Token: model.NewSecret(token),
		Retry: api7.RetryPolicy{MaxRetries: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return em, c
}

func load(t *testing.T, config string) []model.Resource {
	t.Helper()
	rs, err := model.Load(fstest.MapFS{"adc.yaml": {Data: []byte(config)}}, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// syncTo lists, diffs, plans and applies desired with hold's requests held,
// as the daemon does, then checks that the gateway is in sync.
func syncTo(t *testing.T, c *api7.Client, desired []model.Resource, hold func(string, model.Key) bool) {
	t.Helper()
	ctx := context.Background()
	live, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := c.Defaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diff.New(diff.Options{Defaults: defaults})
	if err != nil {
		t.Fatal(err)
	}
	p := apply.NewPlan(apply.Input{
		Changes: d.Compute(desired, live.Owned), Desired: len(desired), Live: live, ListingComplete: true,
	}, apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100})
	g := &laggard{Gateway: c, hold: hold, done: make(chan struct{})}
	// Retries of a still-referenced delete would hide a wrong order: one.
	res, err := (&apply.Executor{Gateway: g, Retry: apply.Retry{Attempts: 1}}).Execute(ctx, p)
	if err != nil {
		t.Fatalf("sync: %v\n%s", err, p.Text())
	}
	if res.Counts.Applied == 0 {
		t.Fatal("the sync did nothing")
	}
	live, err = c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cs := d.Compute(desired, live.Owned); !cs.Empty() {
		t.Errorf("not in sync after the sync:\n%s", diff.Text(cs, diff.TextOptions{}))
	}
}

// checkRequests fails t for a write or delete the gateway refused and, with
// sslLast, for an SSL delete before another delete.
func checkRequests(t *testing.T, reqs []emulator.Request, sslLast bool) {
	t.Helper()
	sslDeleted := ""
	for _, r := range reqs {
		if r.Method == http.MethodGet {
			continue
		}
		// A delete that finds nothing is success: API7 Enterprise deletes
		// a service's upstreams with it.
		if r.Status >= 400 && (r.Method != http.MethodDelete || r.Status != http.StatusNotFound) {
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
		if r.Method != http.MethodDelete || !sslLast {
			continue
		}
		if strings.Contains(r.Path, "/ssls/") {
			sslDeleted = r.Path
		} else if sslDeleted != "" {
			t.Errorf("DELETE %s after DELETE %s, which it references", r.Path, sslDeleted)
		}
	}
}
