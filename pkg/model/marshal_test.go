package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sameResources compares what a round trip keeps: Key, Name, Parent, Body.
var sameResources = cmpopts.IgnoreFields(Resource{}, "Origin", "Secrets")

func TestMarshalRoundTrip(t *testing.T) {
	dirs, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "../../examples", "testdata/adc")
	for _, dir := range dirs {
		for _, withID := range []bool{false, true} {
			t.Run(filepath.Base(dir)+map[bool]string{false: "", true: "/with-id"}[withID], func(t *testing.T) {
				paths := []string(nil)
				if dir == "testdata/adc" {
					paths = []string{"inventory-tls-create.yaml"}
				}
				want, err := Load(os.DirFS(dir), LoadOptions{Env: testEnv, Paths: paths})
				if err != nil {
					t.Fatal(err)
				}
				if !withID && hasExplicitIDs(want) {
					t.Skip("explicit IDs need WithID to survive")
				}
				out, err := Marshal(want, MarshalOptions{WithID: withID})
				if err != nil {
					t.Fatal(err)
				}
				got, err := Load(fstest.MapFS{"dump.yaml": {Data: out}}, LoadOptions{})
				if err != nil {
					t.Fatalf("Load(Marshal(x)): %v\n%s", err, out)
				}
				if diff := cmp.Diff(want, got, sameResources); diff != "" {
					t.Errorf("round trip (-want +got):\n%s", diff)
				}
				again, err := Marshal(got, MarshalOptions{WithID: withID})
				if err != nil {
					t.Fatal(err)
				}
				if string(again) != string(out) {
					t.Errorf("Marshal is not stable:\n%s\n---\n%s", out, again)
				}
			})
		}
	}
}

func hasExplicitIDs(rs []Resource) bool {
	for _, r := range rs {
		if r.Key.Kind == KindService && r.Key.ID != ServiceID(r.Name) {
			return true
		}
		if r.Key.Kind == KindSSL && r.Key.ID != SSLID(strings.Split(r.Name, ",")) {
			return true
		}
		if (r.Key.Kind == KindRoute || r.Key.Kind == KindUpstream || r.Key.Kind == KindCredential || r.Key.Kind == KindStreamRoute) && len(r.Key.ID) != 40 {
			return true
		}
	}
	return false
}

func TestMarshalGolden(t *testing.T) {
	rs, err := Load(os.DirFS("testdata/adc"), LoadOptions{Paths: []string{"orders-create.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	rs = append(rs, Resource{
		Key: Key{Kind: KindConsumer, ID: "templ"}, Name: "templ",
		Body: map[string]any{"username": "templ", "plugins": map[string]any{
			"response-rewrite": map[string]any{"body": "hello ${name} and ${http_host.x}"},
		}},
	})
	out, err := Marshal(rs, MarshalOptions{WithID: true})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/golden/marshal.yaml", string(out))
	back, err := Load(fstest.MapFS{"x.yaml": {Data: out}}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, back, sameResources); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		rs   []Resource
		want string
	}{
		{"orphan route", []Resource{{Key: Key{Kind: KindRoute, ID: "r"}, Name: "r", Parent: Key{Kind: KindService, ID: "gone"}}}, "its parent service/gone is not among the resources"},
		{"unknown kind", []Resource{{Key: Key{Kind: "plugin_config", ID: "p"}}}, `unknown kind "plugin_config"`},
		{"unrepresentable", []Resource{{Key: Key{Kind: KindGlobalRule, ID: "cors"}, Body: map[string]any{"x": `\${A}`}}}, "cannot express"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Marshal(tt.rs, MarshalOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
	out, err := Marshal(nil, MarshalOptions{})
	if err != nil || string(out) != "{}\n" {
		t.Errorf("Marshal(nil) = %q, %v", out, err)
	}
}

// TestMarshalStrings round-trips strings that YAML could read as something
// else, or cannot write plainly.
func TestMarshalStrings(t *testing.T) {
	for _, s := range []string{"0o17", "0x1F", "1_000", "2001-12-14", "yes", "~", "null", "", " lead", "a: b", "- x", "#c", "'q'", "\"", "\t", "\u0085", "\ufeffbom", "\x7f", "1e3", ".5", "+1", "-", "=", "<<", "!x", "&a", "*a", "%x", "@x", "`x", "|", ">"} {
		rs := []Resource{{Key: Key{Kind: KindConsumer, ID: "u"}, Name: "u", Body: map[string]any{"username": "u", "description": s}}}
		out, err := Marshal(rs, MarshalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := Load(fstest.MapFS{"f.yaml": {Data: out}}, LoadOptions{})
		if err != nil {
			t.Errorf("%q: %v\n%s", s, err, out)
			continue
		}
		if diff := cmp.Diff(rs, back, sameResources); diff != "" {
			t.Errorf("%q: %s\n%s", s, diff, out)
		}
	}
}
