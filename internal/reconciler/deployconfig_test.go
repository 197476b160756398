package reconciler

import (
	"os"
	"testing"
)

// The example configurations shipped in deploy/ parse with the daemon's
// own parser.
func TestDeployExampleConfigsParse(t *testing.T) {
	for _, p := range []string{
		"../../deploy/config/reconciler.yaml",
		"../../deploy/kubernetes/base/config.yaml",
		"../../deploy/kubernetes/overlays/example/config.yaml",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(p, b); err != nil {
			t.Errorf("%v", err)
		}
	}
}
