package model

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// bounded runs load and checks reliability row B3's bounds: an error in
// under 100 ms with heap growth under 64 MiB.
func bounded(t *testing.T, doc string) error {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := loadString(doc)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("hostile input was accepted")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("allocated %d MiB, want < 64 MiB", grew>>20)
	}
	// The best of three runs, so that a busy shared machine does not fail
	// the bound.
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		_, _ = loadString(doc) // the same error as above
		best = min(best, time.Since(start))
	}
	switch {
	case raceEnabled: // the race detector slows parsing 10 to 30 times: timing means nothing
		t.Logf("took %v under the race detector", best)
	case best > 100*time.Millisecond:
		t.Errorf("took %v, want < 100ms", best)
	}
	return err
}

func TestAliasBombs(t *testing.T) {
	bomb := func(head, indent string) string {
		var b strings.Builder
		b.WriteString(head)
		b.WriteString(indent + "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n")
		for c := 'b'; c <= 'i'; c++ {
			fmt.Fprintf(&b, "%s%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", indent, c, c, c-1, c-1, c-1, c-1, c-1, c-1, c-1, c-1, c-1)
		}
		return b.String()
	}
	laughs := bomb("global_rules:\n  cors:\n", "    ")
	var merges strings.Builder
	merges.WriteString("global_rules:\n  cors:\n    m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&merges, "    m%d: &m%d {<<: [*m%d, *m%d, *m%d, *m%d], k%d: 1}\n", i, i, i-1, i-1, i-1, i-1, i)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"billion laughs", laughs, "YAML aliases expand to too many values"},
		{"billion laughs in a consumer", bomb("consumers:\n  - username: u\n    plugins:\n      p:\n", "        "), "too many values"},
		{"merge keys", merges.String(), "too many values"},
		{"cycle", "global_rules:\n  cors: &a {x: [*a]}\n", "refers to a node that contains it"},
	}
	if len(laughs) > 450 {
		t.Fatalf("the bomb is %d bytes; the row says 432", len(laughs))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := bounded(t, tt.doc); !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	const depth = 100_000
	var block strings.Builder
	block.WriteString("global_rules:\n  cors:\n")
	for i := range 1000 { // below the parser's own limit of 10,000: ours must stop it
		block.WriteString(strings.Repeat(" ", i+4))
		block.WriteString("a:\n")
	}
	block.WriteString(strings.Repeat(" ", 1004) + "b: 1\n")
	tests := []struct{ name, doc string }{
		{"flow sequences", "global_rules:\n  cors: {x: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}\n"},
		{"flow mappings", "global_rules:\n  cors: " + strings.Repeat("{a: ", depth) + "1" + strings.Repeat("}", depth) + "\n"},
		{"block mappings", block.String()},
		{"JSON", `{"global_rules": {"cors": ` + strings.Repeat(`{"a": `, depth) + "1" + strings.Repeat("}", depth) + "}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bounded(t, tt.doc)
		})
	}
}

// countingFS records which files were opened.
type countingFS struct {
	fs.FS
	mu     sync.Mutex
	opened []string
}

func (c *countingFS) Open(name string) (fs.File, error) {
	if strings.Contains(name, ".") && name != "." {
		c.mu.Lock()
		c.opened = append(c.opened, name)
		c.mu.Unlock()
	}
	return c.FS.Open(name)
}

func TestSizeLimits(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	quarter := make([]byte, MaxFileSize)
	small := []byte("consumers: [{username: a}]\n")
	tree := fstest.MapFS{"small.yaml": {Data: small}}
	for i := range 16 {
		tree[fmt.Sprintf("part%02d.yaml", i)] = &fstest.MapFile{Data: quarter}
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"file over 4 MiB", fstest.MapFS{"big.yaml": {Data: big}, "small.yaml": {Data: small}}, "big.yaml: the file is 4194305 bytes, over the limit of 4194304 (4 MiB)"},
		{"tree over 64 MiB", tree, "the 17 files total 67108891 bytes, over the limit of 67108864 (64 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &countingFS{FS: tt.fsys}
			_, err := Load(c, LoadOptions{})
			if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrTooLarge only", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err, tt.want)
			}
			if len(c.opened) > 0 {
				t.Errorf("opened %v before refusing", c.opened)
			}
		})
	}
	// Files that are not loaded do not count.
	if _, err := Load(fstest.MapFS{"big.bin": {Data: big}, "a.yaml": {Data: small}}, LoadOptions{}); err != nil {
		t.Errorf("an unloaded big file was counted: %v", err)
	}
}
