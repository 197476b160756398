package diff_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Generators of resources that exercise the normalisation rules: wire
// aliases, node maps, label strings, nulls and empties, defaults, secrets.

var (
	genKinds   = []model.Kind{model.KindService, model.KindRoute, model.KindUpstream, model.KindConsumer, model.KindCredential, model.KindSSL, model.KindGlobalRule, model.KindPluginMetadata}
	genPlugins = []string{"key-auth", "basic-auth", "cors", "proxy-rewrite", "ip-restriction", "limit-count"}
	genWords   = []string{"a", "b", "/x", "/y", "GET", "POST", "10.0.0.1", "[::1]", "prod", "*", ""}
)

func genScalar(t *rapid.T, label string) any {
	switch rapid.IntRange(0, 4).Draw(t, label+".type") {
	case 0:
		return rapid.SampledFrom(genWords).Draw(t, label+".s")
	case 1:
		return float64(rapid.IntRange(-2, 1000).Draw(t, label+".n"))
	case 2:
		return rapid.Bool().Draw(t, label+".b")
	case 3:
		return nil
	}
	return rapid.StringMatching(`[a-z0-9:/.\[\] ~-]{0,12}`).Draw(t, label+".str")
}

func genValue(t *rapid.T, label string, depth int) any {
	if depth <= 0 {
		return genScalar(t, label)
	}
	switch rapid.IntRange(0, 3).Draw(t, label+".shape") {
	case 0:
		n := rapid.IntRange(0, 3).Draw(t, label+".len")
		m := make(map[string]any, n)
		for i := range n {
			k := rapid.SampledFrom([]string{"k", "key", "password", "nodes", "uris", "labels", "config", "plugins", "x~y", "a/b", "id"}).Draw(t, fmt.Sprintf("%s.k%d", label, i))
			m[k] = genValue(t, fmt.Sprintf("%s.v%d", label, i), depth-1)
		}
		return m
	case 1:
		n := rapid.IntRange(0, 3).Draw(t, label+".len")
		s := make([]any, n)
		for i := range s {
			s[i] = genValue(t, fmt.Sprintf("%s.e%d", label, i), depth-1)
		}
		return s
	}
	return genScalar(t, label)
}

func genStrings(t *rapid.T, label string) []any {
	n := rapid.IntRange(0, 3).Draw(t, label+".len")
	s := make([]any, n)
	for i := range s {
		s[i] = rapid.SampledFrom(genWords[:9]).Draw(t, fmt.Sprintf("%s.%d", label, i))
	}
	return s
}

func genNodes(t *rapid.T, label string) any {
	n := rapid.IntRange(0, 3).Draw(t, label+".len")
	if rapid.Bool().Draw(t, label+".map") {
		m := map[string]any{}
		for i := range n {
			hp := rapid.SampledFrom([]string{"10.0.0.1:80", "10.0.0.2", "[::1]:8080", "[::2]", "svc.local:443"}).Draw(t, fmt.Sprintf("%s.hp%d", label, i))
			m[hp] = float64(rapid.IntRange(0, 100).Draw(t, fmt.Sprintf("%s.w%d", label, i)))
		}
		return m
	}
	arr := make([]any, n)
	for i := range arr {
		node := map[string]any{
			"host":   rapid.SampledFrom([]string{"10.0.0.1", "10.0.0.2", "[::1]", "svc.local"}).Draw(t, fmt.Sprintf("%s.h%d", label, i)),
			"weight": float64(rapid.IntRange(0, 100).Draw(t, fmt.Sprintf("%s.w%d", label, i))),
		}
		if rapid.Bool().Draw(t, fmt.Sprintf("%s.hasport%d", label, i)) {
			node["port"] = float64(rapid.SampledFrom([]int{80, 443, 8080}).Draw(t, fmt.Sprintf("%s.p%d", label, i)))
		}
		if rapid.Bool().Draw(t, fmt.Sprintf("%s.hasprio%d", label, i)) {
			node["priority"] = float64(rapid.IntRange(-1, 1).Draw(t, fmt.Sprintf("%s.pr%d", label, i)))
		}
		if rapid.Bool().Draw(t, fmt.Sprintf("%s.meta%d", label, i)) {
			node["metadata"] = map[string]any{}
		}
		arr[i] = node
	}
	return arr
}

func genUpstream(t *rapid.T, label string) map[string]any {
	u := map[string]any{"nodes": genNodes(t, label+".nodes")}
	if rapid.Bool().Draw(t, label+".hasscheme") {
		u["scheme"] = rapid.SampledFrom([]string{"http", "https", "grpc", "tcp"}).Draw(t, label+".scheme")
	}
	if rapid.Bool().Draw(t, label+".hastype") {
		u["type"] = rapid.SampledFrom([]string{"roundrobin", "chash", "ewma"}).Draw(t, label+".type")
	}
	if rapid.Bool().Draw(t, label+".haskp") {
		u["keepalive_pool"] = map[string]any{"size": float64(rapid.SampledFrom([]int{320, 10}).Draw(t, label+".kp"))}
	}
	if rapid.Bool().Draw(t, label+".hastls") {
		u["tls"] = map[string]any{"client_cert": "C", "client_key": "CANARY-" + rapid.StringMatching(`[a-z]{4}`).Draw(t, label+".tlskey")}
	}
	return u
}

func genLabels(t *rapid.T, label string) map[string]any {
	n := rapid.IntRange(0, 3).Draw(t, label+".len")
	l := map[string]any{}
	for i := range n {
		k := rapid.SampledFrom([]string{"team", "env", "tags", diff.FingerprintLabel}).Draw(t, fmt.Sprintf("%s.k%d", label, i))
		if rapid.Bool().Draw(t, fmt.Sprintf("%s.arr%d", label, i)) {
			l[k] = genStrings(t, fmt.Sprintf("%s.v%d", label, i))
		} else {
			l[k] = rapid.SampledFrom([]string{"x", "y", "[not json", `["a","b"]`}).Draw(t, fmt.Sprintf("%s.v%d", label, i))
		}
	}
	return l
}

func genPluginsMap(t *rapid.T, label string) map[string]any {
	n := rapid.IntRange(0, 3).Draw(t, label+".len")
	ps := map[string]any{}
	for i := range n {
		name := rapid.SampledFrom(genPlugins).Draw(t, fmt.Sprintf("%s.name%d", label, i))
		conf, _ := genValue(t, fmt.Sprintf("%s.conf%d", label, i), 2).(map[string]any)
		if conf == nil {
			conf = map[string]any{}
		}
		switch name {
		case "key-auth":
			conf["key"] = "CANARY-" + rapid.StringMatching(`[a-z]{4}`).Draw(t, fmt.Sprintf("%s.key%d", label, i))
		case "basic-auth":
			conf["password"] = "CANARY-" + rapid.StringMatching(`[a-z]{4}`).Draw(t, fmt.Sprintf("%s.pw%d", label, i))
		}
		ps[name] = conf
	}
	return ps
}

// genResource draws one resource; its secrets all contain "CANARY".
func genResource(t *rapid.T, label string) model.Resource {
	k := rapid.SampledFrom(genKinds).Draw(t, label+".kind")
	id := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, label+".id")
	r := model.Resource{Key: model.Key{Kind: k, ID: id}, Name: "n-" + id, Body: map[string]any{}}
	b := r.Body
	maybe := func(field string, gen func() any) {
		if rapid.Bool().Draw(t, label+"."+field) {
			b[field] = gen()
		}
	}
	switch k {
	case model.KindGlobalRule, model.KindPluginMetadata:
		if m, ok := genValue(t, label+".conf", 3).(map[string]any); ok {
			r.Body = m
		}
		r.Name = id
		return r
	case model.KindCredential:
		r.Key.Consumer = "alice"
		r.Parent = model.Key{Kind: model.KindConsumer, ID: "alice"}
		b["name"] = r.Name
		b["type"] = rapid.SampledFrom([]string{"key-auth", "basic-auth"}).Draw(t, label+".type")
		if b["type"] == "key-auth" {
			b["config"] = map[string]any{"key": "CANARY-c"}
		} else {
			b["config"] = map[string]any{"username": "u", "password": "CANARY-p"}
		}
		maybe("labels", func() any { return genLabels(t, label+".labels") })
		return r
	case model.KindSSL:
		b["snis"] = genStrings(t, label+".snis")
		b["certificates"] = []any{map[string]any{"certificate": "CERT", "key": "CANARY-ssl-" + rapid.StringMatching(`[a-z]{3}`).Draw(t, label+".sslkey")}}
		maybe("labels", func() any { return genLabels(t, label+".labels") })
		maybe("type", func() any { return rapid.SampledFrom([]string{"server", "client"}).Draw(t, label+".ssltype") })
		return r
	}
	b["name"] = r.Name
	maybe("description", func() any { return rapid.SampledFrom([]string{"", "d", "e"}).Draw(t, label+".desc") })
	maybe("labels", func() any { return genLabels(t, label+".labels") })
	maybe("plugins", func() any { return genPluginsMap(t, label+".plugins") })
	maybe("extra", func() any { return genValue(t, label+".extra", 3) })
	maybe("create_time", func() any { return float64(1795915830) })
	switch k {
	case model.KindRoute:
		r.Parent = model.Key{Kind: model.KindService, ID: "a"}
		maybe("uris", func() any { return genStrings(t, label+".uris") })
		maybe("methods", func() any { return genStrings(t, label+".methods") })
		maybe("hosts", func() any { return genStrings(t, label+".hosts") })
		maybe("status", func() any { return float64(rapid.IntRange(0, 1).Draw(t, label+".status")) })
		maybe("service_id", func() any { return rapid.SampledFrom([]string{"a", "b"}).Draw(t, label+".sid") })
	case model.KindService:
		maybe("upstream", func() any { return genUpstream(t, label+".upstream") })
		maybe("upstream_id", func() any { return rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, label+".uid") })
		maybe("hosts", func() any { return genStrings(t, label+".hosts") })
	case model.KindUpstream:
		r.Parent = model.Key{Kind: model.KindService, ID: "a"}
		for k, v := range genUpstream(t, label+".upstream") {
			b[k] = v
		}
	case model.KindConsumer:
		delete(b, "name")
		b["username"] = r.Name
	}
	if rapid.Bool().Draw(t, label+".hassecret") {
		b["subst"] = "CANARY-subst"
		r.Secrets = []string{"/subst"}
	}
	return r
}

func genResources(t *rapid.T, label string) []model.Resource {
	n := rapid.IntRange(0, 8).Draw(t, label+".len")
	seen := map[model.Key]bool{}
	var rs []model.Resource
	for i := range n {
		r := genResource(t, fmt.Sprintf("%s.%d", label, i))
		if seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		rs = append(rs, r)
	}
	return rs
}

func genDiffer(t *rapid.T) *diff.Differ {
	var opts diff.Options
	if rapid.Bool().Draw(t, "defaults") {
		opts.Defaults = model.Defaults{
			Kinds: map[model.Kind]map[string]any{
				model.KindRoute:   {"timeout": map[string]any{"connect": 60.0, "send": 60.0, "read": 60.0}},
				model.KindService: {"strip_path_prefix": true, "upstream": map[string]any{"name": "default", "retry_timeout": 0.0}},
			},
			Plugins: map[string]map[string]any{
				"key-auth": {"header": "apikey", "hide_credentials": false},
				"cors":     {"allow_origins": "*", "max_age": 5.0},
			},
		}
	}
	if rapid.Bool().Draw(t, "ignore") {
		opts.Ignore = []diff.IgnoreRule{{
			Kind:  rapid.SampledFrom([]model.Kind{"", model.KindRoute, model.KindUpstream}).Draw(t, "ignore.kind"),
			Name:  rapid.SampledFrom([]string{"", "*", "n-a"}).Draw(t, "ignore.name"),
			Paths: []string{rapid.SampledFrom([]string{"/labels", "/nodes", "/plugins/*/key", "/uris/0", "/extra/*", "/upstream/nodes/*/weight"}).Draw(t, "ignore.path")},
		}}
	}
	d, err := diff.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func canonicalJSON(t *rapid.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNormalizeIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		r := genResource(t, "r")
		before := canonicalJSON(t, r.Body)
		once := d.Normalize(r)
		twice := d.Normalize(once)
		if a, b := canonicalJSON(t, once.Body), canonicalJSON(t, twice.Body); a != b {
			t.Fatalf("normalising twice changed the body:\n%s\n%s", a, b)
		}
		if a, b := canonicalJSON(t, once.Secrets), canonicalJSON(t, twice.Secrets); a != b {
			t.Fatalf("normalising twice changed the secrets: %s → %s", a, b)
		}
		if after := canonicalJSON(t, r.Body); after != before {
			t.Fatalf("Normalize modified its input:\n%s\n%s", before, after)
		}
	})
}

func TestComputeSelfIsEmpty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		x := genResources(t, "x")
		if cs := d.Compute(x, x); !cs.Empty() {
			t.Fatalf("Compute(x, x) = %s", diff.Text(cs, diff.TextOptions{}))
		}
		normalised := make([]model.Resource, len(x))
		for i, r := range x {
			normalised[i] = d.Normalize(r)
		}
		if cs := d.Compute(x, normalised); !cs.Empty() {
			t.Fatalf("Compute(x, normalise(x)) = %s", diff.Text(cs, diff.TextOptions{}))
		}
	})
}

// TestComputeThenApplyConverges: writing every Change.Desired and deleting
// every deleted key turns live into a state Compute finds in sync.
func TestComputeThenApplyConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		desired := genResources(t, "desired")
		live := genResources(t, "live")
		cs := d.Compute(desired, live)

		state := map[model.Key]model.Resource{}
		for _, r := range live {
			state[r.Key] = r
		}
		for _, c := range cs.Changes {
			switch c.Action {
			case diff.ActionDelete:
				if _, ok := state[c.Key]; !ok {
					t.Fatalf("delete of %s, which is not live", c.Key)
				}
				delete(state, c.Key)
			case diff.ActionCreate, diff.ActionUpdate:
				if c.Desired.Key != c.Key {
					t.Fatalf("%s: Desired has key %s", c.Key, c.Desired.Key)
				}
				state[c.Key] = c.Desired
			}
		}
		var after []model.Resource
		for _, r := range state {
			after = append(after, r)
		}
		if again := d.Compute(desired, after); !again.Empty() {
			t.Fatalf("after applying the change set, Compute = %s", diff.Text(again, diff.TextOptions{}))
		}
	})
}

func TestComputeDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		desired := genResources(t, "desired")
		live := genResources(t, "live")
		want, err := diff.JSON(d.Compute(desired, live))
		if err != nil {
			t.Fatal(err)
		}
		shuffle := func(rs []model.Resource, label string) []model.Resource {
			out := append([]model.Resource(nil), rs...)
			for i := len(out) - 1; i > 0; i-- {
				j := rapid.IntRange(0, i).Draw(t, fmt.Sprintf("%s.%d", label, i))
				out[i], out[j] = out[j], out[i]
			}
			return out
		}
		got, err := diff.JSON(d.Compute(shuffle(desired, "sd"), shuffle(live, "sl")))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("order of input changed the result:\n%s\n%s", want, got)
		}
	})
}

// TestNoSecretInRenderings: every generated secret contains CANARY; no
// rendering of any change set may show one.
func TestNoSecretInRenderings(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		desired := genResources(t, "desired")
		live := genResources(t, "live")
		// Live copies of desired secrets pointers: the live side of an
		// update is masked with the desired side's pointers.
		cs := d.Compute(desired, live)
		js, err := diff.JSON(cs)
		if err != nil {
			t.Fatal(err)
		}
		for name, out := range map[string]string{
			"text": string(diff.Text(cs, diff.TextOptions{Color: true})), "json": string(js), "markdown": string(diff.Markdown(cs)),
		} {
			if i := strings.Index(out, "CANARY"); i >= 0 {
				t.Fatalf("%s rendering shows a secret near %q", name, out[max(0, i-80):min(len(out), i+40)])
			}
		}
	})
}

// wireForm rewrites a desired resource the way a gateway might hand it back:
// server fields, desc, uri, a node map, label strings, nulls and empties.
func wireForm(t *rapid.T, r model.Resource) model.Resource {
	raw, _ := json.Marshal(r.Body)
	var b map[string]any
	_ = json.Unmarshal(raw, &b)
	r.Body = b
	switch r.Key.Kind {
	case model.KindGlobalRule, model.KindPluginMetadata:
		b["id"] = r.Key.ID
		return r
	}
	b["id"] = r.Key.ID
	b["create_time"] = 1795915830.0
	b["update_time"] = 1795915831.0
	if v, ok := b["description"]; ok && rapid.Bool().Draw(t, "desc") {
		delete(b, "description")
		b["desc"] = v
	}
	if l, ok := b["labels"].(map[string]any); ok {
		for k, v := range l {
			if arr, ok := v.([]any); ok {
				s, _ := json.Marshal(arr)
				l[k] = string(s)
			}
		}
	}
	if uris, ok := b["uris"].([]any); ok && len(uris) == 1 && rapid.Bool().Draw(t, "uri") {
		delete(b, "uris")
		b["uri"] = uris[0]
	}
	if r.Key.Kind == model.KindSSL {
		for _, c := range b["certificates"].([]any) {
			delete(c.(map[string]any), "key") // GET never returns keys
		}
	}
	// APISIX reads an upstream's client key back encrypted.
	u := b
	if r.Key.Kind == model.KindService {
		u, _ = b["upstream"].(map[string]any)
	}
	if tls, ok := u["tls"].(map[string]any); ok && tls["client_key"] != nil && rapid.Bool().Draw(t, "encrypted") {
		tls["client_key"] = "bm90IHRoZSBrZXk="
	}
	if rapid.Bool().Draw(t, "nulls") {
		b["vars"] = []any{}
		b["timeout"] = nil
	}
	return r
}

// TestWireFormInSync: a gateway that hands back desired in its wire form
// (after WriteForm, as apply writes it, or as written by ADC, without the
// fingerprints) is in sync.
func TestWireFormInSync(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDiffer(t)
		desired := genResources(t, "desired")
		live := make([]model.Resource, len(desired))
		for i, r := range desired {
			if rapid.Bool().Draw(t, "adc") {
				live[i] = wireForm(t, r)
			} else {
				live[i] = wireForm(t, diff.WriteForm(r))
			}
		}
		if cs := d.Compute(desired, live); !cs.Empty() {
			t.Fatalf("wire form shows drift: %s", diff.Text(cs, diff.TextOptions{}))
		}
	})
}
