package diff_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// genAuthConf draws a jwt-auth or key-auth configuration: its key, some of
// jwt-auth's consumer schema fields (default or not), and random extras.
func genAuthConf(t *rapid.T, label, plugin string) map[string]any {
	conf, _ := genValue(t, label+".extra", 2).(map[string]any)
	if conf == nil {
		conf = map[string]any{}
	}
	conf["key"] = "CANARY-" + rapid.StringMatching(`[a-z]{3}`).Draw(t, label+".key")
	if plugin == "jwt-auth" {
		for k, vs := range map[string][]any{
			"algorithm": {"HS256", "HS512", nil},
			"exp":       {86400.0, 3600.0, nil},
			"nested":    {map[string]any{"a": 1.0}, map[string]any{}, nil},
		} {
			if v := rapid.SampledFrom(vs).Draw(t, label+"."+k); v != nil {
				conf[k] = v
			}
		}
	}
	return conf
}

// genAuthResource draws a consumer with auth plugins or a credential, in
// ADC's shape or the wire shape.
func genAuthResource(t *rapid.T, label string) model.Resource {
	plugin := rapid.SampledFrom([]string{"jwt-auth", "key-auth"}).Draw(t, label+".plugin")
	if rapid.Bool().Draw(t, label+".consumer") {
		ps := map[string]any{plugin: genAuthConf(t, label+".conf", plugin)}
		if rapid.Bool().Draw(t, label+".limit") {
			ps["limit-count"] = map[string]any{"count": 1.0}
		}
		return model.Resource{Key: model.Key{Kind: model.KindConsumer, ID: "alice"}, Name: "alice",
			Body: map[string]any{"username": "alice", "plugins": ps}}
	}
	body := map[string]any{"name": "c"}
	if rapid.Bool().Draw(t, label+".wire") {
		body["plugins"] = map[string]any{plugin: genAuthConf(t, label+".conf", plugin)}
	} else {
		body["type"] = plugin
		body["config"] = genAuthConf(t, label+".conf", plugin)
	}
	return model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: "alice", ID: "c"}, Name: "c",
		Parent: model.Key{Kind: model.KindConsumer, ID: "alice"}, Body: body}
}

// TestConsumerDefaultsProperties: with consumer schema defaults, normalising
// leaves its input alone, is idempotent, and a resource is in sync with
// itself and with what a pre-3.14 server stores for it.
func TestConsumerDefaultsProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		opts := diff.Options{Defaults: jwtConsumerDefaults()}
		if rapid.Bool().Draw(t, "ignore") {
			opts.Ignore = []diff.IgnoreRule{{Paths: []string{rapid.SampledFrom([]string{"/plugins/*/exp", "/config/exp", "/labels"}).Draw(t, "ignore.path")}}}
		}
		d, err := diff.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		r := genAuthResource(t, "r")
		before := canonicalJSON(t, r.Body)
		once := d.Normalize(r)
		if after := canonicalJSON(t, r.Body); after != before {
			t.Fatalf("Normalize modified its input:\n%s\n%s", before, after)
		}
		if a, b := canonicalJSON(t, once.Body), canonicalJSON(t, d.Normalize(once).Body); a != b {
			t.Fatalf("normalising twice changed the body:\n%s\n%s", a, b)
		}
		if cs := d.Compute([]model.Resource{r}, []model.Resource{r}); !cs.Empty() {
			t.Fatalf("Compute(x, x) = %s", diff.Text(cs, diff.TextOptions{}))
		}
		// What the server stores: the consumer schema's defaults filled in.
		stored := storedForm(r, jwtConsumerDefaults().ConsumerPlugins)
		if cs := d.Compute([]model.Resource{r}, []model.Resource{stored}); !cs.Empty() {
			t.Fatalf("Compute(x, stored(x)) = %s\nstored: %s", diff.Text(cs, diff.TextOptions{}), canonicalJSON(t, stored.Body))
		}
	})
}

// storedForm is r with the consumer schema defaults filled into its auth
// plugin configurations where absent, as APISIX 3.13 stores them.
func storedForm(r model.Resource, defs map[string]map[string]any) model.Resource {
	body := clone(r.Body)
	fillConf := func(name string, conf any) {
		c, ok := conf.(map[string]any)
		if !ok {
			return
		}
		for k, v := range defs[name] {
			if _, ok := c[k]; !ok {
				c[k] = v
			}
		}
	}
	if ps, ok := body["plugins"].(map[string]any); ok {
		for name, conf := range ps {
			fillConf(name, conf)
		}
	}
	if typ, ok := body["type"].(string); ok {
		fillConf(typ, body["config"])
	}
	out := r
	out.Body = body
	return out
}
