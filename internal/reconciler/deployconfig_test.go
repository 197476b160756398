package reconciler

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every daemon configuration shipped in deploy/ (any YAML file whose
// document starts with targets:) and every configuration shown in the
// documentation (a YAML block with targets:) parses with the daemon's own
// parser.
func TestDeployExampleConfigsParse(t *testing.T) {
	var found []string
	err := filepath.WalkDir("../../deploy", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^targets:`).Match(b) {
			return nil
		}
		found = append(found, p)
		if _, err := ParseConfig(p, b); err != nil {
			t.Errorf("%v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"config/reconciler.yaml", "kubernetes/base/config.yaml", "kubernetes/overlays/example/config.yaml"} {
		if !strings.Contains(strings.Join(found, " "), want) {
			t.Errorf("%s was not found among %v", want, found)
		}
	}
}

var yamlBlock = regexp.MustCompile("(?ms)^```ya?ml\n(.*?)^```")

func TestDocumentedConfigsParse(t *testing.T) {
	n := 0
	for _, doc := range []string{"../../README.md", "../../docs/configuration.md", "../../docs/operations.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range yamlBlock.FindAllSubmatchIndex(b, -1) {
			block := b[m[2]:m[3]]
			if !bytes.HasPrefix(block, []byte("targets:")) {
				continue
			}
			n++
			line := bytes.Count(b[:m[2]], []byte("\n")) + 1
			if _, err := ParseConfig(doc, block); err != nil {
				t.Errorf("%s, the block at line %d: %v", doc, line, err)
			}
		}
	}
	if n == 0 {
		t.Error("no configuration found in the documentation")
	}
}
