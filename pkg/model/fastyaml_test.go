package model

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// sameTree compares two node trees on everything the loader reads (kinds,
// tags, styles, values, anchors, aliases, lines and columns; not comments)
// and describes the first difference, or returns "".
func sameTree(want, got *yaml.Node, path string) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil || got == nil:
		return fmt.Sprintf("%s: node %v, want %v", path, got, want)
	}
	type shape struct {
		Kind         yaml.Kind
		Style        yaml.Style
		Tag, Value   string
		Anchor       string
		Alias        bool
		Line, Column int
		Children     int
		ShortTag     string
	}
	w := shape{want.Kind, want.Style, want.Tag, want.Value, want.Anchor, want.Alias != nil, want.Line, want.Column, len(want.Content), want.ShortTag()}
	g := shape{got.Kind, got.Style, got.Tag, got.Value, got.Anchor, got.Alias != nil, got.Line, got.Column, len(got.Content), got.ShortTag()}
	if w != g {
		return fmt.Sprintf("%s:\n got %+v\nwant %+v", path, g, w)
	}
	for i := range want.Content {
		if d := sameTree(want.Content[i], got.Content[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
			return d
		}
	}
	return ""
}

// checkFast parses data with fastParse and, when it answers, with goyaml,
// and fails unless both give the same tree. It reports whether fastParse
// answered.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	if mayHaveSeveralDocuments(data) {
		return false // parseYAML never asks fastParse
	}
	got, ok := fastParse(data)
	if !ok {
		return false
	}
	var want yaml.Node
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatalf("fastParse accepted what goyaml refuses (%v):\n%s", err, data)
	}
	if d := sameTree(&want, got, ""); d != "" {
		t.Fatalf("fastParse and goyaml differ at %s\ninput:\n%s", d, data)
	}
	return true
}

// fastSeeds are the files of this package's tests and the examples, a
// generated tree, and inputs near the edges of the subset.
func fastSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, pattern := range []string{"testdata/*/*/*.yaml", "testdata/*/*.yaml", "testdata/*/*/*.json", "../../examples/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds[f] = data
		}
	}
	for name, f := range genTree(4, 2) {
		seeds[name] = f.Data
	}
	for i, s := range fastEdgeCases {
		seeds[fmt.Sprintf("edge-%d", i)] = []byte(s)
	}
	return seeds
}

// fastEdgeCases are inputs near the edges of the subset, accepted or not.
var fastEdgeCases = []string{
	"a: b\n",
	"a: b",
	"  a: 1\n  b: 2\n",
	"a:\n  b: c\n  d:\n  - e\n  - f: g\n    h: i\n",
	"a:\n- b\n- c\nd: e\n",
	"- a\n- b\n",
	"a: [b, c, {d: e, f: [g]}]\n",
	"a: {}\nb: []\nc: { }\nd: [ ]\n",
	"a: 'it''s'\nb: \"q\\\"\\\\ \\t\\n\\x41\\u00e9\\U0001F600\"\n",
	"a: \"\\/\"\n",
	"a: \"\\ud800\"\n",
	"a: b # c\nd: e#f\n# g\n  # h\ni: j\n",
	"a: b\n  c\n",
	"a: b\n\n  c\n",
	"a: b: c\n",
	"a:b\n",
	"a :b\nc: d\n",
	"a  : b\n",
	"a: -1\nb: +2\nc: 0.5\nd: 1e3\ne: 0x1F\nf: 010\ng: 0o17\nh: 1_000\ni: .inf\nj: -.5\nk: 10.0.0.1\nl: 1.2.3\nm: 2001-12-14\nn: 1.\no: 00\np: 99999999999999999999\n",
	"a: true\nb: False\nc: yes\nd: null\ne: ~\nf: Null\ng: off\nh: ~x\ni: nil\n",
	"a: '<<'\nb: <<\n",
	"<<: {a: b}\n",
	"a: &x b\nc: *x\n",
	"a: !!str 1\n",
	"a: |\n  b\n",
	"a: >\n  b\n",
	"a:\n",
	"a:\nb: c\n",
	"a: [b,\n  c]\n",
	"a: [b, c,]\n",
	"a: {b}\n",
	"a: {b: }\n",
	"a: {b:c}\n",
	"a: {\"b\":c}\n",
	"a: [b: c]\n",
	"a: [-b, - c]\n",
	"a: [a b, c d ]\n",
	"a: http://x/y?z=1#f\n",
	"a: [http://x, {u: http://y}]\n",
	"a: b\t\n",
	"a: b\r\n",
	"\ufeffa: b\n",
	"a: caf\u00e9\nb: \u00e9\u00e9: x\n",
	"\u00e9: [\u00e9, {\u00e9: \u00e9}]\n",
	"a:\n  - - b\n",
	"a:\n  -\n    b: c\n  -\n    - d\n",
	"- a: b\n  c: d\n- e\n",
	"a:\n    b: c\n   d: e\n",
	"a:\n  - b\n  c: d\n",
	"a: 'b'#c\n",
	"a: 'b' # c\n",
	"a: [b]#c\n",
	"a: \"b\": c\n",
	"\"a\": b\n'c': d\n",
	"? a\n: b\n",
	"a: ?b\nc: :d\n",
	"a: %b\n",
	"a: @b\n",
	"a: -\n",
	"a: - b\n",
	"a: b\n---\nc: d\n",
	"a: [[[[[[[[[[b]]]]]]]]]]\n",
	strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n",
	"a: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n",
	strings.Repeat("k", 1100) + ": v\n",
	"a: b\n" + strings.Repeat("c", 1100) + ": v\n",
	"a: {" + strings.Repeat("k", 1100) + ": v}\n",
	"a: b # \u00e9\n",
	"a: \"\u00e9\\n\u00e9\"\n",
	"a: \x7f\n",
	"a: \u0085\n",
	"a: \u2028\n",
	"a: b\n  # c\n  d\n",
	"services:\n- name: x\n  routes:\n  - name: r\n    uris: [/]\n",
	"a:\n- b\n  c\n",
	"a:\n- b\n# c\n  d: e\n",
	"a: b\n# c\n  d: e\n",
	"a:#b\n",
	"1: a\n-2: b\n0x3: c\n",
	"a: {b: c: d}\n",
	"a: b #c #d\n",
	deepBlock(60),
	deepBlock(70),
}

// deepBlock nests n block mappings.
func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	b.WriteString(strings.Repeat(" ", n) + "k: v\n")
	return b.String()
}

// TestFastParseAgreesWithGoyaml runs every seed through both parsers.
func TestFastParseAgreesWithGoyaml(t *testing.T) {
	seeds := fastSeeds(t)
	names := make([]string, 0, len(seeds))
	for n := range seeds {
		names = append(names, n)
	}
	sort.Strings(names)
	answered := 0
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			if checkFast(t, seeds[n]) {
				answered++
			}
		})
	}
	t.Logf("fastParse answered for %d of %d inputs", answered, len(seeds))
}

// TestFastParseCoversConfigurations: the files people write (the examples,
// a generated tree, the valid test trees) take the fast path. Without this
// a fastParse that always declined would pass every other test.
func TestFastParseCoversConfigurations(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../../examples/*.yaml", "testdata/valid/*/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d files", len(files))
	}
	declined := map[string]bool{
		"testdata/valid/anchors/config.yaml": true, // anchors and merge keys
		"testdata/valid/empty/comments.yaml": true, // no document
		"testdata/valid/empty/empty.yaml":    true,
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := checkFast(t, data); got == declined[f] {
			t.Errorf("%s: fastParse answered %v, want %v", f, got, !declined[f])
		}
	}
	for name, f := range genTree(200, 50) {
		if !checkFast(t, f.Data) {
			t.Errorf("generated %s: fastParse declined", name)
		}
	}
}

// TestFastParseDeclines: constructs outside the subset go to goyaml.
func TestFastParseDeclines(t *testing.T) {
	for _, in := range []string{
		"", "# only a comment\n", "- a\n", "a: &x b\nc: *x\n", "<<: {a: b}\n", "a: !!str 1\n",
		"a: |\n  b\n", "a:\n", "a: b\n  c\n", "a: [b,\n  c]\n", "a: b\t\n", "a: b\r\n",
		"a: \"b\n c\"\n", "a: {b}\n", "a: [b, c,]\n", "a: b: c\n", "? a\n: b\n",
		strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n",
		strings.Repeat("k", 1100) + ": v\n", deepBlock(70),
	} {
		if _, ok := fastParse([]byte(in)); ok {
			t.Errorf("fastParse answered for %q", in)
		}
	}
}

// FuzzFastParse: wherever fastParse answers, goyaml parses the same input
// without error into the same tree.
func FuzzFastParse(f *testing.F) {
	for _, data := range fastSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
	})
}
