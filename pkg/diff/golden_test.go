package diff_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixture is one resource in desired.yaml or live.json: the model.Resource
// fields spelled out, so that these tests exercise the diff alone.
type fixture struct {
	Kind     model.Kind     `json:"kind"`
	ID       string         `json:"id"`
	Consumer string         `json:"consumer,omitempty"`
	Name     string         `json:"name"`
	Parent   *fixtureKey    `json:"parent,omitempty"`
	Origin   *model.Origin  `json:"origin,omitempty"`
	Secrets  []string       `json:"secrets,omitempty"`
	Body     map[string]any `json:"body"`
}

type fixtureKey struct {
	Kind     model.Kind `json:"kind"`
	ID       string     `json:"id"`
	Consumer string     `json:"consumer,omitempty"`
}

// caseOptions is the optional options.yaml of a case.
type caseOptions struct {
	// Render is text (default), color, json or markdown.
	Render   string `json:"render"`
	Defaults struct {
		Kinds   map[model.Kind]map[string]any `json:"kinds"`
		Plugins map[string]map[string]any     `json:"plugins"`
	} `json:"defaults"`
	Ignore []diff.IgnoreRule `json:"ignore"`
}

func (f fixture) resource() model.Resource {
	r := model.Resource{
		Key:     model.Key{Kind: f.Kind, ID: f.ID, Consumer: f.Consumer},
		Name:    f.Name,
		Body:    f.Body,
		Secrets: f.Secrets,
	}
	if f.Parent != nil {
		r.Parent = model.Key{Kind: f.Parent.Kind, ID: f.Parent.ID, Consumer: f.Parent.Consumer}
	}
	if f.Origin != nil {
		r.Origin = *f.Origin
	}
	return r
}

func readFixtures(t *testing.T, file string) []model.Resource {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixture
	if err := yaml.Unmarshal(data, &fs); err != nil { // YAML is a superset of JSON
		t.Fatalf("%s: %v", file, err)
	}
	rs := make([]model.Resource, len(fs))
	for i, f := range fs {
		rs[i] = f.resource()
	}
	return rs
}

// TestGolden runs every case under testdata/: it normalises desired.yaml and
// live.json, computes the change set and renders it, and compares the whole
// with want.golden. Run `go test ./pkg/diff -update` to rewrite the files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "desired.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases under testdata/")
	}
	for _, file := range files {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var opts caseOptions
			if data, err := os.ReadFile(filepath.Join(dir, "options.yaml")); err == nil {
				if err := yaml.Unmarshal(data, &opts); err != nil {
					t.Fatalf("options.yaml: %v", err)
				}
			}
			d, err := diff.New(diff.Options{
				Defaults: model.Defaults{Kinds: opts.Defaults.Kinds, Plugins: opts.Defaults.Plugins},
				Ignore:   opts.Ignore,
			})
			if err != nil {
				t.Fatal(err)
			}
			desired := readFixtures(t, filepath.Join(dir, "desired.yaml"))
			live := readFixtures(t, filepath.Join(dir, "live.json"))

			var got bytes.Buffer
			secrets := map[model.Key][]string{}
			for _, r := range desired {
				secrets[r.Key] = r.Secrets
			}
			writeNormalised(t, &got, "normalised desired", d, desired, secrets)
			writeNormalised(t, &got, "normalised live", d, live, secrets)
			cs := d.Compute(desired, live)
			for name, out := range renderAll(t, cs) {
				if strings.Contains(out, "CANARY") {
					t.Errorf("the %s rendering shows a secret:\n%s", name, out)
				}
			}
			fmt.Fprintf(&got, "== %s\n", cmpOr(opts.Render, "text"))
			switch opts.Render {
			case "", "text":
				got.Write(diff.Text(cs, diff.TextOptions{}))
			case "color":
				got.Write(diff.Text(cs, diff.TextOptions{Color: true}))
			case "json":
				out, err := diff.JSON(cs)
				if err != nil {
					t.Fatal(err)
				}
				got.Write(out)
			case "markdown":
				got.Write(diff.Markdown(cs))
			default:
				t.Fatalf("unknown render %q", opts.Render)
			}

			// Whatever the case, these hold.
			for _, side := range [][]model.Resource{desired, live} {
				if again := d.Compute(side, side); !again.Empty() {
					t.Errorf("Compute(x, x) is not empty: %s", diff.Text(again, diff.TextOptions{}))
				}
				for _, r := range side {
					once := d.Normalize(r)
					if twice := d.Normalize(once); !jsonEqual(once.Body, twice.Body) {
						t.Errorf("%s: normalising twice changed the body:\n%s\n%s", r.Key, mustJSON(once.Body), mustJSON(twice.Body))
					}
				}
			}

			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/diff -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("output differs from %s (run with -update and review the change):\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}

func renderAll(t *testing.T, cs diff.ChangeSet) map[string]string {
	t.Helper()
	js, err := diff.JSON(cs)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"text":     string(diff.Text(cs, diff.TextOptions{Color: true})),
		"json":     string(js),
		"markdown": string(diff.Markdown(cs)),
	}
}

// writeNormalised shows each normalised resource, masked with the secret
// pointers of the desired resource of the same key (as Compute masks both
// sides of an update).
func writeNormalised(t *testing.T, w *bytes.Buffer, title string, d *diff.Differ, rs []model.Resource, secrets map[model.Key][]string) {
	t.Helper()
	fmt.Fprintf(w, "== %s\n", title)
	for _, r := range rs {
		r.Secrets = append(slices.Clone(r.Secrets), secrets[r.Key]...)
		n := d.Normalize(r)
		// Bodies are shown masked, as the renderers would: the golden files
		// must not hold a secret either.
		out := maskedJSON(d, n)
		if strings.Contains(out, "CANARY") {
			t.Errorf("%s: the normalised body shows a secret: %s", r.Key, out)
		}
		fmt.Fprintf(w, "%s %s\n", r.Key, out)
	}
}

// maskedJSON renders a normalised body through the change set of its
// creation, which masks it.
func maskedJSON(d *diff.Differ, r model.Resource) string {
	cs := d.Compute([]model.Resource{r}, nil)
	body := map[string]any{}
	for _, f := range cs.Changes[0].Fields {
		body[strings.TrimPrefix(f.Path, "/")] = f.New
	}
	return mustJSON(body)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonEqual(a, b any) bool { return mustJSON(a) == mustJSON(b) }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
