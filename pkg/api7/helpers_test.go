package api7

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
	"testing/fstest"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// adcResources loads an ADC file with model.Load, as the daemon would.
func adcResources(t testing.TB, path string) []model.Resource {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := model.Load(fstest.MapFS{"adc.yaml": {Data: raw}}, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
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
	// pluginDefaults are the defaults of a plugin's configuration: an auth
	// plugin on a consumer takes its consumer schema's.
	pluginDefaults := func(top bool, name string) map[string]any {
		if top && r.Key.Kind == model.KindConsumer && d.ConsumerPlugins[name] != nil {
			return d.ConsumerPlugins[name]
		}
		return d.Plugins[name]
	}
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v["plugins"].(map[string]any); ok {
				for name, cfg := range p {
					if cm, ok := cfg.(map[string]any); ok && pluginDefaults(top, name) != nil {
						applyDefaults(cm, pluginDefaults(top, name))
					}
				}
			}
			for _, e := range v {
				walk(e, false)
			}
		case []any:
			for _, e := range v {
				walk(e, false)
			}
		}
	}
	walk(r.Body, true)
	if r.Key.Kind == model.KindGlobalRule && d.Plugins[r.Key.ID] != nil {
		applyDefaults(r.Body, d.Plugins[r.Key.ID])
	}
	if t, _ := r.Body["type"].(string); r.Key.Kind == model.KindCredential && d.ConsumerPlugins[t] != nil {
		if cm, ok := r.Body["config"].(map[string]any); ok {
			applyDefaults(cm, d.ConsumerPlugins[t])
		}
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

// comparable is what a round trip must keep: name, parent and body (live
// resources have no origin, and secrets masks are the loader's).
func comparable(t testing.TB, r model.Resource) any {
	t.Helper()
	return normalizeJSON(t, map[string]any{"name": r.Name, "parent": r.Parent.String(), "body": r.Body})
}
