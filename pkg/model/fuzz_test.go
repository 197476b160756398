package model

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoad: any file either loads or gives ErrInvalid, ErrTooLarge or
// ErrDecryptionRequired errors, never panics, loads the same twice, and
// what loads survives Marshal and Load again.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*/*.yaml")
	more, _ := filepath.Glob("../../examples/*.yaml")
	adc, _ := filepath.Glob("testdata/adc/*.yaml")
	for _, s := range append(append(seeds, more...), adc...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("services: [{name: s, upstream: {nodes: []}, routes: [{name: r, uris: [/], id: ${X:-x}}]}]"))
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "X") {
			return "value-of-" + name, true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"f.yaml": {Data: data}}
		rs, err := Load(fsys, LoadOptions{Env: env})
		rs2, err2 := Load(fsys, LoadOptions{Env: env})
		if fmt.Sprint(err) != fmt.Sprint(err2) {
			t.Fatalf("errors differ between loads:\n%v\n%v", err, err2)
		}
		if diff := cmp.Diff(rs, rs2); diff != "" {
			t.Fatalf("resources differ between loads:\n%s", diff)
		}
		if err != nil {
			if rs != nil {
				t.Fatal("resources returned with an error")
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrDecryptionRequired) {
				t.Fatalf("error matches none of ErrInvalid, ErrTooLarge and ErrDecryptionRequired: %v", err)
			}
			for _, e := range err.(Errors) {
				if e.File != "f.yaml" {
					t.Fatalf("error without the file: %v", e)
				}
			}
			return
		}
		out, err := Marshal(rs, MarshalOptions{WithID: true})
		if err != nil {
			if strings.Contains(err.Error(), "cannot express") {
				return
			}
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Load(fstest.MapFS{"f.yaml": {Data: out}}, LoadOptions{})
		if errors.Is(err, ErrDecryptionRequired) {
			// A value that spelled a SOPS marker with escapes, written
			// plainly: refused as ciphertext, which is the point.
			return
		}
		if err != nil {
			t.Fatalf("Load(Marshal(x)): %v\n%s", err, out)
		}
		if diff := cmp.Diff(rs, back, sameResources); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s\n%s", diff, out)
		}
	})
}
