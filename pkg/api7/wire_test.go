package api7

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

var v318 = ServerVersion{Backend: BackendAPISIX, Raw: "3.18.0", Major: 3, Minor: 18}

// writesOf maps every resource and indexes the writes by method and path.
func writesOf(t *testing.T, m apisixMapper, rs []model.Resource, del bool) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, r := range rs {
		var (
			ws  []write
			err error
		)
		if del {
			ws, err = m.deletes(r)
		} else {
			ws, err = m.puts(r)
		}
		if err != nil {
			t.Fatalf("%s: %v", r.Key, err)
		}
		for _, w := range ws {
			out[w.method+" "+w.path] = normalizeJSON(t, w.body)
		}
	}
	return out
}

// TestADCWriteBodies checks that the Client sends, for the corpus's ADC
// files, exactly the bodies ADC 0.28 sent (recorded in conformance 11, 12).
func TestADCWriteBodies(t *testing.T) {
	m := apisixMapper{managedBy: "adc", version: v318}
	tests := []struct {
		name       string
		input      string
		transcript string
		from, to   int  // the steps of one ADC sync
		complete   bool // ADC wrote every object (a create), not just changes
	}{
		{"orders create", "orders-create.yaml", "11-adc-sync.jsonl", 11, 14, true},
		{"orders update", "orders-update.yaml", "11-adc-sync.jsonl", 19, 20, false},
		{"inventory create", "inventory-tls-create.yaml", "12-adc-consumers-ssl-rules.jsonl", 11, 24, true},
		{"inventory update", "inventory-tls-update.yaml", "12-adc-consumers-ssl-rules.jsonl", 37, 42, false},
		{"3.13 stock create", "../apisix-3.13/stock-defaults.yaml", "../apisix-3.13/03-adc-resync.jsonl", 1, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := writesOf(t, m, adcResources(t, "testdata/apisix-3.18/"+tt.input), false)
			seen := 0
			for _, s := range readTranscript(t, "testdata/apisix-3.18/"+tt.transcript) {
				if s.Step < tt.from || s.Step > tt.to || s.Request.Method != http.MethodPut {
					continue
				}
				seen++
				key := s.Request.Method + " " + s.Request.Path
				got, ok := ours[key]
				if !ok {
					t.Errorf("ADC sent %s; the Client would not", key)
					continue
				}
				if diff := cmp.Diff(normalizeJSON(t, s.Request.Body), got); diff != "" {
					t.Errorf("%s body differs from ADC's (-adc +ours):\n%s", key, diff)
				}
			}
			if seen == 0 {
				t.Fatal("no ADC write in the steps")
			}
			if tt.complete && seen != len(ours) {
				t.Errorf("ADC sent %d PUTs, the Client would send %d", seen, len(ours))
			}
		})
	}
}

// TestADCDeleteOrder checks that deleting a service removes the service,
// then its default upstream, as ADC did (conformance 11, steps 23–24).
func TestADCDeleteOrder(t *testing.T) {
	m := apisixMapper{managedBy: "adc", version: v318}
	svc := model.Resource{Key: model.Key{Kind: model.KindService, ID: "d24b3c2a43210c591420015de31a163713a39f74"}}
	ws, err := m.deletes(svc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.method+" "+w.path)
	}
	want := []string{
		"DELETE /apisix/admin/services/d24b3c2a43210c591420015de31a163713a39f74",
		"DELETE /apisix/admin/upstreams/d24b3c2a43210c591420015de31a163713a39f74",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// apisixListsFrom builds what List would have read from the GET steps of a
// transcript in [from, to].
func apisixListsFrom(t *testing.T, steps []step, from, to int) apisixLists {
	t.Helper()
	l := apisixLists{credentials: map[string][]wireItem{}}
	for _, s := range steps {
		if s.Step < from || s.Step > to || s.Request.Method != http.MethodGet || s.Response.Status != http.StatusOK {
			continue
		}
		raw, err := marshalJSON(s.Response.Body)
		if err != nil {
			t.Fatal(err)
		}
		items, _, err := decodeAPISIXList(raw)
		if err != nil {
			t.Fatalf("step %d: %v", s.Step, err)
		}
		path := strings.TrimPrefix(s.Request.Path, apisixPrefix+"/")
		switch path {
		case "services":
			l.services = items
		case "routes":
			l.routes = items
		case "upstreams":
			l.upstreams = items
		case "ssls":
			l.ssls = items
		case "consumers":
			l.consumers = items
		case "global_rules":
			l.globalRules = items
		case "plugin_metadata":
			l.pluginMetadata = items
		case "plugin_configs":
		default:
			user, ok := strings.CutSuffix(strings.TrimPrefix(path, "consumers/"), "/credentials")
			if !ok {
				t.Fatalf("step %d: unexpected path %s", s.Step, s.Request.Path)
			}
			l.credentials[user] = items
		}
	}
	return l
}

// withoutKeys drops SSL private keys, which the server never returns.
func withoutKeys(r model.Resource) model.Resource {
	if r.Key.Kind != model.KindSSL {
		return r
	}
	r.Body = copyMap(r.Body)
	for _, c := range r.Body["certificates"].([]any) {
		delete(c.(map[string]any), "key")
	}
	return r
}

// TestReadInverse reads back what real APISIX returned after ADC's syncs
// and expects the resources of the file that was synced (with the defaults
// the Client reports filled in, and no SSL keys).
func TestReadInverse(t *testing.T) {
	tests := []struct {
		name       string
		dir        string
		input      string
		transcript string
		from, to   int
		version    ServerVersion
		plugins    map[string]map[string]any
	}{
		{"3.18 inventory after create", "apisix-3.18", "inventory-tls-create.yaml", "12-adc-consumers-ssl-rules.jsonl", 25, 36, v318, nil},
		{"3.18 orders after create", "apisix-3.18", "orders-create.yaml", "11-adc-sync.jsonl", 15, 18, v318, nil},
		{"3.13 stock after create", "apisix-3.13", "stock-defaults.yaml", "03-adc-resync.jsonl", 7, 17,
			ServerVersion{Backend: BackendAPISIX, Raw: "3.13.0", Major: 3, Minor: 13}, apisix313Plugins()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := apisixMapper{managedBy: "adc", version: tt.version}
			steps := readTranscript(t, "testdata/"+tt.dir+"/"+tt.transcript)
			inv, _ := m.inventory(apisixListsFrom(t, steps, tt.from, tt.to))
			if len(inv.Unowned) != 0 {
				t.Errorf("unowned: %v", inv.Unowned)
			}
			defaults := apisixDefaults(tt.version, tt.plugins, nil)
			want := map[model.Key]any{}
			for _, r := range adcResources(t, "testdata/"+tt.dir+"/"+tt.input) {
				want[r.Key] = comparable(t, withoutKeys(withDefaults(r, defaults)))
			}
			if len(want) < 3 {
				t.Fatalf("only %d resources in %s", len(want), tt.input)
			}
			got := map[model.Key]any{}
			for _, r := range inv.Owned {
				got[r.Key] = comparable(t, r)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		name string
		in   any
		wire map[string]any
	}{
		{"nil", nil, map[string]any{ManagedByLabel: "r"}},
		{"string", map[string]any{"team": "a"}, map[string]any{"team": "a", ManagedByLabel: "r"}},
		{"array", map[string]any{"tags": []any{"x", "y"}}, map[string]any{"tags": `["x","y"]`, ManagedByLabel: "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := labelsToWire(tt.in, map[string]string{ManagedByLabel: "r"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wire, got); diff != "" {
				t.Fatalf("to wire (-want +got):\n%s", diff)
			}
			back, owner, owned := labelsFromWire(got)
			if !owned || owner != "r" {
				t.Fatalf("owner %q %v", owner, owned)
			}
			if tt.in == nil {
				if back != nil {
					t.Fatalf("back %v", back)
				}
				return
			}
			if diff := cmp.Diff(tt.in, any(back)); diff != "" {
				t.Fatalf("back (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := labelsToWire(map[string]any{ManagedByLabel: "x"}, nil); err == nil {
		t.Error("a managed-by label in a file must be refused")
	}
	if _, err := labelsToWire(map[string]any{"n": 1.0}, nil); err == nil {
		t.Error("a number label must be refused")
	}
}

func TestFromWireForms(t *testing.T) {
	tests := []struct {
		name string
		wire map[string]any
		want map[string]any
	}{
		{
			"uri host remote_addr to arrays, status 1 dropped",
			map[string]any{"id": "r", "uri": "/a", "host": "h", "remote_addr": "10.0.0.1", "status": 1.0, "service_id": "s", "desc": "d", "create_time": 1.0},
			map[string]any{"uris": []any{"/a"}, "hosts": []any{"h"}, "remote_addrs": []any{"10.0.0.1"}, "description": "d"},
		},
		{
			"status 0 and plugin_config_id kept",
			map[string]any{"uris": []any{"/a"}, "status": 0.0, "plugin_config_id": "pc"},
			map[string]any{"uris": []any{"/a"}, "status": 0.0, "plugin_config_id": "pc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := routeFromWire(tt.wire)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	nodes := nodesFromMap(map[string]any{"10.0.0.2:8080": 1.0, "[::1]:81": 2.0, "b.example": 3.0}, "https")
	want := []any{
		map[string]any{"host": "10.0.0.2", "port": 8080.0, "weight": 1.0},
		map[string]any{"host": "[::1]", "port": 81.0, "weight": 2.0},
		map[string]any{"host": "b.example", "port": 443.0, "weight": 3.0},
	}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Fatalf("nodes (-want +got):\n%s", diff)
	}
}

// TestInventoryOwnership: only the label's value decides; upstreams and
// credentials follow their parent; foreign global rules stay foreign.
func TestInventoryOwnership(t *testing.T) {
	m := apisixMapper{managedBy: "me", version: v318}
	item := func(id string, v map[string]any) wireItem {
		v["id"] = id
		return wireItem{key: "/apisix/x/" + id, value: v}
	}
	l := apisixLists{
		services: []wireItem{
			item("s1", map[string]any{"name": "one", "labels": map[string]any{ManagedByLabel: "me"}, "upstream_id": "s1"}),
			item("s2", map[string]any{"name": "two", "labels": map[string]any{ManagedByLabel: "someone-else"}, "upstream_id": "s2"}),
			item("s3", map[string]any{"name": "three", "upstream_id": "s3"}),
		},
		upstreams: []wireItem{
			item("s1", map[string]any{"name": "one", "nodes": []any{}}),
			item("s2", map[string]any{"name": "two", "nodes": []any{}}),
			item("x1", map[string]any{"name": "canary", "labels": map[string]any{labelADCUpstreamS: "s1"}}),
			item("x2", map[string]any{"name": "canary", "labels": map[string]any{labelADCUpstreamS: "s2"}}),
		},
		routes: []wireItem{
			item("r1", map[string]any{"uris": []any{"/"}, "service_id": "s1", "labels": map[string]any{ManagedByLabel: "me"}}),
			item("r2", map[string]any{"uris": []any{"/"}, "service_id": "s1"}),
		},
		globalRules: []wireItem{
			item("cors", map[string]any{"plugins": map[string]any{"cors": map[string]any{}}}),
			item("edge", map[string]any{"plugins": map[string]any{"cors": map[string]any{}, "ip-restriction": map[string]any{}}}),
		},
	}
	inv, _ := m.inventory(l)
	var owned []string
	for _, r := range inv.Owned {
		owned = append(owned, r.Key.String())
	}
	var unowned []string
	for _, k := range inv.Unowned {
		unowned = append(unowned, k.String())
	}
	if diff := cmp.Diff([]string{"service/s1", "upstream/x1", "route/r1", "global_rule/cors"}, owned); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"service/s2", "service/s3", "upstream/s2", "upstream/x2", "route/r2", "global_rule/edge"}, unowned); diff != "" {
		t.Errorf("unowned (-want +got):\n%s", diff)
	}
	for _, r := range inv.Owned {
		if labels, ok := r.Body["labels"].(map[string]any); ok {
			if _, has := labels[ManagedByLabel]; has {
				t.Errorf("%s: body keeps the managed-by label", r.Key)
			}
		}
	}
}

// TestPathsAreSafe: every path built from a key is /apisix/admin/<coll>/<id>
// with a checked ID, or the key is refused.
func TestPathsAreSafe(t *testing.T) {
	bad := []string{"", ".", "..", "../consumers/admin", "a/b", "%2e%2e", strings.Repeat("a", 65), "a\x00b", "a\u202eb", "a b", "a?b", "a#b"}
	m := apisixMapper{managedBy: "r", version: v318}
	for _, kind := range model.Kinds() {
		for _, id := range bad {
			r := model.Resource{Key: model.Key{Kind: kind, ID: id}, Parent: model.Key{Kind: model.KindService, ID: "s"}, Body: map[string]any{}}
			if kind == model.KindCredential {
				r.Key.Consumer = "u"
			}
			if _, err := m.puts(r); err == nil {
				t.Errorf("%s %q: put accepted", kind, id)
			}
			if _, err := m.deletes(r); err == nil {
				t.Errorf("%s %q: delete accepted", kind, id)
			}
		}
	}
	r := model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: "../x", ID: "c"}, Body: map[string]any{"type": "key-auth"}}
	if _, err := m.puts(r); err == nil {
		t.Error("a credential under a bad consumer name was accepted")
	}
}

// The mappings copy bodies shallowly: no write may change the caller's
// resource, nested values and filled-in defaults included.
func TestWritesLeaveTheResourceAlone(t *testing.T) {
	rs := append(adcResources(t, "testdata/apisix-3.18/inventory-tls-create.yaml"), extraResources()...)
	rs = append(rs, model.Resource{Key: model.Key{Kind: model.KindUpstream, ID: "canary"}, Parent: rs[0].Key, Body: map[string]any{
		"nodes": []any{map[string]any{"host": "10.0.0.9", "port": 80.0, "weight": 1.0}}, "keepalive_pool": map[string]any{"size": 10.0},
		"checks": map[string]any{"active": map[string]any{"healthy": map[string]any{"interval": 2.0}}},
	}})
	for _, r := range rs {
		if r.Key.Kind == model.KindSSL {
			r.Body["client"] = map[string]any{"ca": "x"}
		}
	}
	before := normalizeJSON(t, rs)
	am := apisixMapper{managedBy: "r", version: v318}
	pm := api7Mapper{managedBy: "r"}
	for _, r := range rs {
		for _, build := range []func(model.Resource) ([]write, error){am.puts, am.deletes, pm.puts, pm.deletes} {
			ws, _ := build(r)
			for _, w := range ws {
				if _, err := marshalJSON(w.body); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if diff := cmp.Diff(before, normalizeJSON(t, rs)); diff != "" {
		t.Errorf("writing changed the resources (-before +after):\n%s", diff)
	}
}
