package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// TestOneBadFileAmong200 (reliability B1 at its scale): among 200 valid
// files, one mistake — a YAML syntax error, an unknown field, an unknown
// top-level kind, an ID declared in two files, two routes matching the same
// requests — makes the whole load fail with no resource, naming file and
// line (both files for a duplicate).
func TestOneBadFileAmong200(t *testing.T) {
	valid := func() fstest.MapFS {
		fsys := fstest.MapFS{}
		for i := range 200 {
			fsys[fmt.Sprintf("svc/s%03d.yaml", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf(
				"services:\n  - name: s%03d\n    upstream:\n      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]\n    routes:\n      - name: r\n        uris: [/s%03d]\n", i, i))}
		}
		return fsys
	}
	if rs, err := Load(valid(), LoadOptions{}); err != nil || len(rs) != 400 {
		t.Fatalf("the valid tree: %d resources, %v", len(rs), err)
	}
	tests := []struct {
		name, file, doc string
		want            []string
	}{
		{"syntax error", "svc/s100.yaml", "services:\n  - name: [s100\n", []string{"svc/s100.yaml:"}},
		{"unknown field", "svc/s100.yaml", "services:\n  - name: s100\n    bogus: 1\n", []string{"svc/s100.yaml:3", "bogus"}},
		{"unknown kind", "svc/s100.yaml", "servics: []\n", []string{"svc/s100.yaml:1", "servics"}},
		{"duplicate across files", "svc/zz.yaml", "services:\n  - name: s007\n", []string{"svc/zz.yaml:2", "svc/s007.yaml:2"}},
		{"same requests", "svc/zz.yaml", "services:\n  - name: other\n    upstream:\n      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]\n    routes:\n      - name: r\n        uris: [/s007]\n",
			[]string{"svc/zz.yaml:6", "svc/s007.yaml:6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := valid()
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.doc)}
			rs, err := Load(fsys, LoadOptions{})
			if err == nil || rs != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %d resources, %v; want none and a validation error", len(rs), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
