package api7

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// adcResources splits an ADC file into resources as the model package
// shapes them (see model.Resource): IDs derived as ADC derives them, bodies
// in ADC terms without ids or nested children.
func adcResources(t testing.TB, path string) []model.Resource {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services       []map[string]any          `json:"services"`
		Consumers      []map[string]any          `json:"consumers"`
		SSLs           []map[string]any          `json:"ssls"`
		GlobalRules    map[string]map[string]any `json:"global_rules"`
		PluginMetadata map[string]map[string]any `json:"plugin_metadata"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	var out []model.Resource
	strip := func(m map[string]any, fields ...string) map[string]any {
		c := copyMap(m)
		delete(c, "id")
		for _, f := range fields {
			delete(c, f)
		}
		return c
	}
	for _, s := range doc.Services {
		name := s["name"].(string)
		sk := model.Key{Kind: model.KindService, ID: model.ServiceID(name)}
		out = append(out, model.Resource{Key: sk, Name: name, Body: strip(s, "routes", "stream_routes", "upstreams")})
		for _, r := range anyMaps(s["routes"]) {
			rn := r["name"].(string)
			out = append(out, model.Resource{Key: model.Key{Kind: model.KindRoute, ID: model.RouteID(name, rn)}, Name: rn, Parent: sk, Body: strip(r)})
		}
		for _, r := range anyMaps(s["stream_routes"]) {
			rn := r["name"].(string)
			out = append(out, model.Resource{Key: model.Key{Kind: model.KindStreamRoute, ID: model.RouteID(name, rn)}, Name: rn, Parent: sk, Body: strip(r)})
		}
		for _, u := range anyMaps(s["upstreams"]) {
			un := u["name"].(string)
			out = append(out, model.Resource{Key: model.Key{Kind: model.KindUpstream, ID: model.UpstreamID(name, un)}, Name: un, Parent: sk, Body: strip(u)})
		}
	}
	for _, c := range doc.Consumers {
		user := c["username"].(string)
		ck := model.Key{Kind: model.KindConsumer, ID: user}
		out = append(out, model.Resource{Key: ck, Name: user, Body: strip(c, "credentials")})
		for _, cr := range anyMaps(c["credentials"]) {
			cn := cr["name"].(string)
			out = append(out, model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: user, ID: model.CredentialID(user, cn)}, Name: cn, Parent: ck, Body: strip(cr)})
		}
	}
	for _, s := range doc.SSLs {
		var snis []string
		for _, e := range s["snis"].([]any) {
			snis = append(snis, e.(string))
		}
		out = append(out, model.Resource{Key: model.Key{Kind: model.KindSSL, ID: model.SSLID(snis)}, Name: strings.Join(snis, ","), Body: strip(s)})
	}
	for name, cfg := range doc.GlobalRules {
		out = append(out, model.Resource{Key: model.Key{Kind: model.KindGlobalRule, ID: name}, Name: name, Body: cfg})
	}
	for name, cfg := range doc.PluginMetadata {
		out = append(out, model.Resource{Key: model.Key{Kind: model.KindPluginMetadata, ID: name}, Name: name, Body: cfg})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.Less(out[j].Key) })
	return out
}

func anyMaps(v any) []map[string]any {
	arr, _ := v.([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, e := range arr {
		out = append(out, e.(map[string]any))
	}
	return out
}

// step is one exchange of a conformance transcript.
type step struct {
	Step    int `json:"step"`
	Request struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Body   any    `json:"body"`
	} `json:"request"`
	Response struct {
		Status int `json:"status"`
		Body   any `json:"body"`
	} `json:"response"`
}

func readTranscript(t testing.TB, path string) []step {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []step
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var s step
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withDefaults applies d to r's body as a diff would: the kind's defaults,
// and the plugin defaults to every plugins.<name> object (and to a global
// rule's or plugin metadata's own body for its plugin).
func withDefaults(r model.Resource, d model.Defaults) model.Resource {
	r.Body = copyMap(r.Body)
	if r.Body == nil {
		r.Body = map[string]any{}
	}
	if kd := d.Kinds[r.Key.Kind]; kd != nil {
		applyDefaults(r.Body, kd)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v["plugins"].(map[string]any); ok {
				for name, cfg := range p {
					if cm, ok := cfg.(map[string]any); ok && d.Plugins[name] != nil {
						applyDefaults(cm, d.Plugins[name])
					}
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(r.Body)
	if r.Key.Kind == model.KindGlobalRule && d.Plugins[r.Key.ID] != nil {
		applyDefaults(r.Body, d.Plugins[r.Key.ID])
	}
	return r
}

// normalizeJSON round-trips v through JSON so that numbers and maps compare.
func normalizeJSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
