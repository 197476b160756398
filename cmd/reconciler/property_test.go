package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"pgregory.net/rapid"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// genDesired draws a configuration in ADC's format: services with routes and
// an extra upstream, consumers with key-auth credentials, global rules.
// Names come from small sets so that two draws overlap.
func genDesired(t *rapid.T, label string) []model.Resource {
	var rs []model.Resource
	variant := func(l string) string {
		return rapid.SampledFrom([]string{"", "a", "b"}).Draw(t, l)
	}
	for i := range 4 {
		if !rapid.Bool().Draw(t, fmt.Sprintf("%s.s%d", label, i)) {
			continue
		}
		name := fmt.Sprintf("s%d", i)
		skey := model.Key{Kind: model.KindService, ID: model.ServiceID(name)}
		body := map[string]any{
			"name": name,
			"upstream": map[string]any{
				"type": "roundrobin", "scheme": "http", "pass_host": "pass",
				"nodes": []any{map[string]any{"host": "10.0.0." + fmt.Sprint(i+1), "port": 8080.0, "weight": float64(rapid.IntRange(1, 3).Draw(t, label+name+".w")), "priority": 0.0}},
			},
		}
		if d := variant(label + name + ".desc"); d != "" {
			body["description"] = d
		}
		rs = append(rs, model.Resource{Key: skey, Name: name, Body: body})
		for j := range 3 {
			if !rapid.Bool().Draw(t, fmt.Sprintf("%s.%s.r%d", label, name, j)) {
				continue
			}
			rname := fmt.Sprintf("r%d", j)
			rb := map[string]any{"name": rname, "uris": []any{"/" + name + "/" + rname}}
			if v := variant(label + name + rname); v != "" {
				rb["methods"] = []any{map[string]string{"a": "GET", "b": "POST"}[v]}
			}
			rs = append(rs, model.Resource{Key: model.Key{Kind: model.KindRoute, ID: model.RouteID(name, rname)}, Name: rname, Parent: skey, Body: rb})
		}
		if rapid.Bool().Draw(t, label+name+".canary") {
			rs = append(rs, model.Resource{
				Key: model.Key{Kind: model.KindUpstream, ID: model.UpstreamID(name, "canary")}, Name: "canary", Parent: skey,
				Body: map[string]any{"name": "canary", "type": "roundrobin", "scheme": "http", "pass_host": "pass",
					"nodes": []any{map[string]any{"host": "10.9.0." + fmt.Sprint(i+1), "port": 80.0, "weight": 1.0, "priority": 0.0}}},
			})
		}
	}
	for i := range 3 {
		if !rapid.Bool().Draw(t, fmt.Sprintf("%s.c%d", label, i)) {
			continue
		}
		user := fmt.Sprintf("c%d", i)
		ckey := model.Key{Kind: model.KindConsumer, ID: user}
		body := map[string]any{"username": user}
		if d := variant(label + user + ".desc"); d != "" {
			body["description"] = d
		}
		rs = append(rs, model.Resource{Key: ckey, Name: user, Body: body})
		for j := range 2 {
			if !rapid.Bool().Draw(t, fmt.Sprintf("%s.%s.k%d", label, user, j)) {
				continue
			}
			cname := fmt.Sprintf("k%d", j)
			key := fmt.Sprintf("%s-%s-%s", user, cname, variant(label+user+cname))
			rs = append(rs, model.Resource{
				Key: model.Key{Kind: model.KindCredential, Consumer: user, ID: model.CredentialID(user, cname)}, Name: cname, Parent: ckey,
				Body: map[string]any{"name": cname, "type": "key-auth", "config": map[string]any{"key": key}},
			})
		}
	}
	if rapid.Bool().Draw(t, label+".cors") {
		rs = append(rs, model.Resource{Key: model.Key{Kind: model.KindGlobalRule, ID: "cors"}, Name: "cors",
			Body: map[string]any{"allow_origins": "https://" + variant(label+".origin") + "x.example.com"}})
	}
	return rs
}

func writeDesired(t *rapid.T, dir string, rs []model.Resource) string {
	y, err := model.Marshal(rs, model.MarshalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.MkdirTemp(dir, "src")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, d, "gateway.yaml", string(y))
	return d
}

// idOf is the ID a write path names: its last segment.
func idOf(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

// TestSyncProperties (D4) over HTTP: for random desired D, random owned
// state (synced from another random D0), random unowned objects and a
// random rejected write:
//   - the writes a sync sends are exactly the plan's steps;
//   - no write touches an unowned object, and no POST is sent but the
//     pre-flight configs/validate;
//   - once the fault is gone, a sync converges: diff is empty and a second
//     sync writes nothing;
//   - a desired ID held by an unowned object is refused and never written.
func TestSyncProperties(t *testing.T) {
	g := newGateway(t)
	tmp := t.TempDir()
	ctx := context.Background()
	rapid.Check(t, func(t *rapid.T) {
		g.em.Reset()
		g.takeWrites()
		d0 := writeDesired(t, tmp, genDesired(t, "d0"))
		if r := cli(t, g, nil, "sync", "--source", d0, "--allow-empty", "--max-delete-percent", "100", "--prune-unlabeled"); r.code != 0 {
			t.Fatalf("seeding sync: exit %d\n%s", r.code, r.err)
		}

		// Unowned objects, made on a "dashboard".
		unowned := map[string]bool{}
		for i := range rapid.IntRange(0, 3).Draw(t, "dashboard routes") {
			p := fmt.Sprintf("/apisix/admin/routes/dash-%d", i)
			rawPut(t, g, p, fmt.Sprintf(`{"uri":"/dash/%d","upstream":{"nodes":{"10.9.9.9:80":1},"type":"roundrobin"}}`, i))
			unowned[p] = true
		}
		desired := genDesired(t, "d")
		collide := ""
		if rapid.Bool().Draw(t, "collision") && slices.ContainsFunc(desired, func(r model.Resource) bool { return r.Key.Kind == model.KindConsumer }) {
			// A consumer of D exists unlabelled (if D0 did not create it).
			i := slices.IndexFunc(desired, func(r model.Resource) bool { return r.Key.Kind == model.KindConsumer })
			p := "/apisix/admin/consumers/" + desired[i].Key.ID
			if !g.exists(p) {
				rawPut(t, g, p, fmt.Sprintf(`{"username":%q}`, desired[i].Key.ID))
				unowned[p] = true
				collide = p
			}
		}
		g.takeWrites()
		src := writeDesired(t, tmp, desired)
		args := []string{"sync", "--source", src, "--allow-empty", "--max-delete-percent", "100", "--prune-unlabeled"}

		// A write rejected, sometimes: the sync fails if it had to write
		// that resource, and the next one converges.
		if rapid.Bool().Draw(t, "fault") && len(desired) > 0 {
			r := rapid.SampledFrom(desired).Draw(t, "rejected")
			planned := slices.ContainsFunc(planOf(t, ctx, g, src).Steps, func(s apply.Step) bool { return s.Resource.Key == r.Key })
			remove := g.em.AddHook(func(c emulator.Call) *emulator.Reply {
				if c.Method == http.MethodPut && idOf(c.Path) == r.Key.ID {
					return &emulator.Reply{Status: http.StatusBadRequest, Body: `{"error_msg":"rejected by the test"}`, Header: http.Header{"Content-Type": {"application/json"}}}
				}
				return nil
			})
			res := cli(t, g, nil, args...)
			remove()
			if want := map[bool]int{true: 1, false: 0}[planned || collide != ""]; res.code != want {
				t.Fatalf("sync with %s rejected: exit %d, want %d\n%s", r.Key, res.code, want, res.err)
			}
			checkWrites(t, g.takeWrites(), unowned)
		}

		plan := planOf(t, ctx, g, src)
		res := cli(t, g, nil, args...)
		writes := g.takeWrites()
		checkWrites(t, writes, unowned)
		if collide != "" {
			if res.code != 1 || !strings.Contains(res.err, "OwnershipConflict") {
				t.Fatalf("collision with %s: exit %d\n%s", collide, res.code, res.err)
			}
			return
		}
		if res.code != 0 {
			t.Fatalf("sync: exit %d\n%s\n%s", res.code, res.stdout, res.err)
		}
		want := map[string]bool{}
		for _, s := range plan.Steps {
			want[s.Resource.Key.ID] = true
		}
		got := map[string]bool{}
		for _, w := range writes {
			if w.Method != http.MethodPost {
				got[idOf(w.Path)] = true
			}
		}
		if !mapsEqual(want, got) {
			t.Fatalf("writes %v differ from the plan %v", keysOfSet(got), keysOfSet(want))
		}
		if r := cli(t, g, nil, "diff", "--source", src, "--prune-unlabeled"); r.code != 0 {
			t.Fatalf("diff after sync: exit %d\n%s", r.code, r.stdout)
		}
		if r := cli(t, g, nil, args...); r.code != 0 || len(g.takeWrites()) != 0 {
			t.Fatalf("second sync: exit %d or wrote\n%s", r.code, r.err)
		}
	})
}

// planOf computes, in process, the plan a sync of src would carry out.
func planOf(t *rapid.T, ctx context.Context, g *gateway, src string) apply.Plan {
	var opts oneShotOptions
	opts.common.source.Source = src
	opts.common.gateway = gatewayOptions{Backend: "apisix", Server: g.srv.URL, Token: model.NewSecret(testToken), TokenTransport: "header", Timeout: 10e9, Concurrency: 16}
	opts.common.sync = syncOptions{ManagedBy: "reconciler", Prune: true, MaxDeletes: 50, MaxDeletePercent: 100, AllowEmpty: true}
	opts.pruneUnlabeled = true
	c, err := newClient(opts.common, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	st, err := compute(ctx, opts, func(string) (string, bool) { return "", false }, c)
	if err != nil {
		t.Fatal(err)
	}
	return apply.NewPlan(apply.Input{Changes: st.changes, Desired: len(st.desired.Resources), Live: st.live, ListingComplete: true}, policyOf(opts))
}

func checkWrites(t *rapid.T, ws []write, unowned map[string]bool) {
	for _, w := range ws {
		if unowned[w.Path] {
			t.Fatalf("%s %s touches an unowned object", w.Method, w.Path)
		}
		if w.Method == http.MethodPost && w.Path != "/apisix/admin/configs/validate" {
			t.Fatalf("POST %s", w.Path)
		}
	}
}

// exists reports whether the emulator holds the object at path.
func (g *gateway) exists(path string) bool {
	req, _ := http.NewRequest(http.MethodGet, g.srv.URL+path, nil)
	req.Header.Set("X-API-KEY", testToken)
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keysOfSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
