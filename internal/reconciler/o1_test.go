package reconciler

import (
	"net/http"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

const o1Config = `consumer_groups:
  - name: gold
    description: v1
    plugins:
      response-rewrite: {headers: {set: {X-Tier: gold}}}
services:
  - name: shop
    description: v1
    upstream:
      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]
    upstreams:
      - name: canary
        description: v1
        nodes: [{host: 10.0.0.2, port: 80, weight: 1}]
    routes:
      - name: r0
        description: v1
        uris: [/r0]
      - name: r1
        uris: [/r1]
consumers:
  - username: app
    description: v1
    credentials:
      - name: main
        type: key-auth
        description: v1
        config: {key: app-key-0123456789}
global_rules:
  cors: {allow_origins_by_metadata: [portal], max_age: 600}
plugin_metadata:
  cors:
    allow_origins: {portal: "https://portal.example.com"}
`

// O1: hand edits, hand deletes and hand-made objects with our label, in
// many kinds at once, are counted exactly by kind and change after one
// cycle — in reconciler_drift_resources, in reconciler_drift_detected_total
// and in the audit log — and the gauge is back to 0 once corrected.
func TestDriftInEveryKindCountedExactly(t *testing.T) {
	h := newHarness(t, harnessOpts{files: map[string]string{"gateway.yaml": o1Config}})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("first cycle = %+v", c)
	}
	if c := h.once(); c.Changes != 0 {
		t.Fatalf("second cycle = %+v, want in sync", c)
	}

	svc := model.ServiceID("shop")
	edits := []struct {
		method, path string
		body         any
	}{
		{http.MethodPatch, "/apisix/admin/services/" + svc, map[string]any{"desc": "by hand"}},
		{http.MethodPatch, "/apisix/admin/upstreams/" + model.UpstreamID("shop", "canary"), map[string]any{"desc": "by hand"}},
		{http.MethodPatch, "/apisix/admin/routes/" + model.RouteID("shop", "r0"), map[string]any{"desc": "by hand"}},
		{http.MethodDelete, "/apisix/admin/routes/" + model.RouteID("shop", "r1"), nil},
		{http.MethodPut, "/apisix/admin/routes/" + model.RouteID("shop", "made-by-hand"), map[string]any{
			"name": "made-by-hand", "uris": []string{"/hand"}, "service_id": svc, "labels": map[string]any{"managed-by": "reconciler"},
		}},
		{http.MethodPut, "/apisix/admin/consumers", map[string]any{
			"username": "app", "desc": "by hand", "labels": map[string]any{"managed-by": "reconciler"},
		}},
		{http.MethodPut, "/apisix/admin/consumers/app/credentials/" + model.CredentialID("app", "main"), map[string]any{
			"desc": "by hand", "plugins": map[string]any{"key-auth": map[string]any{"key": "app-key-0123456789"}},
		}},
		{http.MethodPatch, "/apisix/admin/consumer_groups/" + model.ConsumerGroupID("gold"), map[string]any{"desc": "by hand"}},
		{http.MethodPatch, "/apisix/admin/global_rules/cors", map[string]any{"plugins": map[string]any{"cors": map[string]any{"max_age": 5}}}},
		{http.MethodPut, "/apisix/admin/plugin_metadata/cors", map[string]any{"allow_origins": map[string]any{"portal": "https://evil.example.com"}}},
	}
	for _, e := range edits {
		if code := h.gw.do(t, e.method, e.path, e.body); code >= 300 {
			t.Fatalf("%s %s: %d", e.method, e.path, code)
		}
	}
	want := map[model.Kind]map[metrics.Change]int{
		model.KindService:        {metrics.ChangeUpdate: 1},
		model.KindUpstream:       {metrics.ChangeUpdate: 1},
		model.KindRoute:          {metrics.ChangeUpdate: 1, metrics.ChangeCreate: 1, metrics.ChangeDelete: 1},
		model.KindConsumer:       {metrics.ChangeUpdate: 1},
		model.KindCredential:     {metrics.ChangeUpdate: 1},
		model.KindConsumerGroup:  {metrics.ChangeUpdate: 1},
		model.KindGlobalRule:     {metrics.ChangeUpdate: 1},
		model.KindPluginMetadata: {metrics.ChangeUpdate: 1},
	}
	total := 0
	for _, byChange := range want {
		for _, n := range byChange {
			total += n
		}
	}

	c := h.once()
	if c.Counts.Drift != total || c.Counts.Pending != 0 || c.Counts.Applied != total || c.Result != ResultSuccess {
		t.Errorf("cycle after the hand edits = %s %+v (%s), want %d drift corrected", c.Result, c.Counts, c.Error, total)
	}
	audited := map[model.Kind]int{}
	for _, ev := range h.auditEvents() {
		if ev.Event == AuditDrift {
			audited[model.Kind(ev.Kind)]++
		}
	}
	for _, k := range model.Kinds() {
		n := 0
		for _, ch := range metrics.Changes() {
			got := h.gauge("reconciler_drift_resources", "target", "prod", "kind", string(k), "change", string(ch))
			if int(got) != want[k][ch] {
				t.Errorf("drift_resources{kind=%s,change=%s} = %v, want %d", k, ch, got, want[k][ch])
			}
			n += want[k][ch]
		}
		if got := h.gauge("reconciler_drift_detected_total", "target", "prod", "kind", string(k)); int(got) != n {
			t.Errorf("drift_detected_total{kind=%s} = %v, want %d", k, got, n)
		}
		if audited[k] != n {
			t.Errorf("%d drift audit events of kind %s, want %d", audited[k], k, n)
		}
	}

	if c := h.once(); c.Changes != 0 || h.drift() != 0 || h.gauge("reconciler_in_sync", "target", "prod") != 1 {
		t.Errorf("after the correction: %+v, drift gauge %v", c, h.drift())
	}
}
