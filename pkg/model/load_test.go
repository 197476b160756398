package model

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testEnv is the environment of the golden tests.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"BACKEND_HOST": "10.9.9.9",
		"BACKEND_PORT": "8080",
		"ALICE_KEY":    "alice-key-from-env",
		"EMPTY":        "",
	}[name]
	return v, ok
}

// render prints resources one per block, for golden files.
func render(rs []Resource) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s name=%q", r.Key, r.Name)
		if !r.Parent.IsZero() {
			fmt.Fprintf(&b, " parent=%s", r.Parent)
		}
		fmt.Fprintf(&b, " at %s", r.Origin)
		if len(r.Secrets) > 0 {
			fmt.Fprintf(&b, " secrets=%v", r.Secrets)
		}
		body, err := json.Marshal(r.Body)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "\n  %s\n", body)
	}
	return b.String()
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/model -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", file, diff)
	}
}

func TestLoadValid(t *testing.T) {
	dirs, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, "../../examples")
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			rs, err := Load(os.DirFS(dir), LoadOptions{Env: testEnv})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, filepath.Join("testdata/golden", name+".golden"), render(rs))
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	dirs, err := filepath.Glob("testdata/invalid/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rs, err := Load(os.DirFS(dir), LoadOptions{Env: testEnv})
			if err == nil {
				t.Fatalf("Load succeeded with %d resources, want an error", len(rs))
			}
			if rs != nil {
				t.Errorf("Load returned resources with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid: %v", err)
			}
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty Errors: %T", err)
			}
			for _, e := range list {
				if e.File == "" || e.Line == 0 {
					t.Errorf("error without file and line: %v", e)
				}
			}
			golden(t, filepath.Join(dir, "want.golden"), err.Error()+"\n")
		})
	}
}

// TestLoadSkips checks which names a walk loads: .git/, dot-files and
// other extensions are skipped; Paths restricts the walk and loads a named
// file whatever its name.
func TestLoadSkips(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml":             {Data: []byte("consumers: [{username: a}]\n")},
		"b.YML":              {Data: []byte("consumers: [{username: b}]\n")},
		"dir/c.json":         {Data: []byte(`{"consumers": [{"username": "c"}]}`)},
		".git/config.yaml":   {Data: []byte("broken: [\n")},
		".github/ci.yaml":    {Data: []byte("on: push\n")},
		"dir/.draft.yaml":    {Data: []byte("broken: [\n")},
		"dir/.hidden/x.yaml": {Data: []byte("broken: [\n")},
		"notes.txt":          {Data: []byte("broken: [\n")},
		"extra/d.conf":       {Data: []byte("consumers: [{username: d}]\n")},
	}
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"root", nil, []string{"a", "b", "c"}},
		{"sub-directory", []string{"dir"}, []string{"c"}},
		{"named file", []string{"extra/d.conf", "a.yaml"}, []string{"a", "d"}},
		{"overlapping paths", []string{".", "dir", "a.yaml"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Load(fsys, LoadOptions{Paths: tt.paths})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Load(fsys, LoadOptions{Paths: []string{"missing"}}); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("a missing path: got %v, want an I/O error that is not ErrInvalid", err)
	}
}

// TestLoadEveryError checks that one load reports the mistakes of every
// file, not just the first.
func TestLoadEveryError(t *testing.T) {
	_, err := Load(os.DirFS("testdata/invalid/several-mistakes"), LoadOptions{})
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("got %v", err)
	}
	files := map[string]bool{}
	for _, e := range list {
		files[e.File] = true
	}
	if len(list) < 5 || len(files) != 3 {
		t.Errorf("got %d errors in %d files, want at least 5 in 3:\n%v", len(list), len(files), err)
	}
}

func TestLoadDeterministic(t *testing.T) {
	for _, dir := range []string{"../../examples", "testdata/invalid/several-mistakes"} {
		rs1, err1 := Load(os.DirFS(dir), LoadOptions{Env: testEnv})
		for range 5 {
			rs2, err2 := Load(os.DirFS(dir), LoadOptions{Env: testEnv})
			if diff := cmp.Diff(rs1, rs2); diff != "" {
				t.Errorf("%s: resources differ between loads:\n%s", dir, diff)
			}
			if fmt.Sprint(err1) != fmt.Sprint(err2) {
				t.Errorf("%s: errors differ between loads:\n%v\n%v", dir, err1, err2)
			}
		}
	}
}

// TestIsConfigFile checks the exported rule against what Load reads when it
// walks a tree, so that sources that use the rule read the same files.
func TestIsConfigFile(t *testing.T) {
	paths := map[string]bool{
		"adc.yaml": true, "a/b.YML": true, "x.json": true, "d/e/f.Yaml": true,
		"README.md": false, "logo.png": false, "yaml": false,
		".hidden.yaml": false, ".github/x.yaml": false, "a/.b/c.yaml": false, "a/b/.c.json": false,
	}
	fsys := fstest.MapFS{}
	for p := range paths {
		// Each file declares a consumer named after its index, so the
		// loaded names say which files were read.
		fsys[p] = &fstest.MapFile{Data: []byte(fmt.Sprintf(`{"consumers": [{"username": "u%x"}]}`, len(fsys)))}
	}
	names := map[string]string{}
	for p, f := range fsys {
		names[strings.TrimSuffix(strings.TrimPrefix(string(f.Data), `{"consumers": [{"username": "`), `"}]}`)] = p
	}
	rs, err := Load(fsys, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]bool{}
	for _, r := range rs {
		loaded[names[r.Name]] = true
	}
	for p, want := range paths {
		if IsConfigFile(p) != want {
			t.Errorf("IsConfigFile(%q) = %v", p, !want)
		}
		if loaded[p] != want {
			t.Errorf("Load read %q: %v, want %v", p, loaded[p], want)
		}
	}
}
