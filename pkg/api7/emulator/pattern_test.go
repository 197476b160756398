package emulator

import (
	"regexp"
	"testing"
)

// schemaPatterns are patterns of the schemas, the ones with a fast path
// first.
var schemaPatterns = []struct {
	src  string
	fast bool
}{
	{`^[a-zA-Z0-9-_.]+$`, true},
	{`^\*?[0-9a-zA-Z-.]+$`, true},
	{`^\*?[0-9a-zA-Z-._\[\]:]+$`, true},
	{`^\S+$`, true},
	{`^[a-zA-Z0-9_\-.]+$`, true},
	{`^[ -!#-[\]-~]+$`, true},
	{`^[*a-z]+$`, true},
	{`^\*?[*a-z]+$`, true},
	{`^[^:]+$`, true},
	{`^/`, false},
	{`^function`, false},
	{`^[0-9a-zA-Z-.]+(:\d{1,5})?$`, false},
	{`^(\*|\*\*|null|\w+://[^,]+(,\w+://[^,]+)*)$`, false},
	{`^(?i)[a-z]+$`, true},
}

func TestPatternFastPath(t *testing.T) {
	for _, sp := range schemaPatterns {
		p, err := compilePattern(sp.src)
		if err != nil {
			t.Fatal(err)
		}
		if (p.set != nil) != sp.fast {
			t.Errorf("%s: fast path %v, want %v", sp.src, p.set != nil, sp.fast)
		}
	}
	p, _ := compilePattern(`^\*?[0-9a-zA-Z-.]+$`)
	for s, want := range map[string]bool{"*.example.com": true, "a.b": true, "*": false, "": false, "**a": false, "a*": false, "a b": false, "ä": false} {
		if got := p.MatchString(s); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}

// FuzzPattern: the fast path answers as the regular expression does.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"", "*", "**", "a", "*.a-b_c", "a b", "\x00", "é", "[::1]:80", "x\n", "A", "Ω"} {
		f.Add(s)
	}
	pats := make([]*pattern, len(schemaPatterns))
	for i, sp := range schemaPatterns {
		p, err := compilePattern(sp.src)
		if err != nil {
			f.Fatal(err)
		}
		pats[i] = p
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, p := range pats {
			if got, want := p.MatchString(s), regexp.MustCompile(schemaPatterns[i].src).MatchString(s); got != want {
				t.Fatalf("%s on %q: %v, the regular expression says %v", schemaPatterns[i].src, s, got, want)
			}
		}
	})
}
