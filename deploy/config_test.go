package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The example configurations follow the daemon's file format (design §3):
// targets with unique names, prune stated, secrets only by file, absolute
// paths. The daemon's own parser reads every one of them too
// (internal/reconciler's TestDeployExampleConfigsParse).
func TestExampleConfigs(t *testing.T) {
	for _, path := range []string{
		"config/reconciler.yaml",
		"kubernetes/base/config.yaml",
		"kubernetes/overlays/example/config.yaml",
	} {
		t.Run(path, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Targets []map[string]any `json:"targets"`
			}
			if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			if len(cfg.Targets) == 0 {
				t.Fatal("no targets")
			}
			names := map[string]bool{}
			for i, tg := range cfg.Targets {
				name, _ := tg["name"].(string)
				if name == "" || names[name] {
					t.Errorf("target %d: name %q missing or repeated", i, name)
				}
				names[name] = true
				if _, ok := lookup(tg, "sync", "prune").(bool); !ok {
					t.Errorf("target %s: sync.prune is not stated", name)
				}
				for _, k := range []string{"source", "gateway"} {
					if _, ok := tg[k].(map[string]any); !ok {
						t.Errorf("target %s: no %s", name, k)
					}
				}
				if lookup(tg, "gateway", "tokenFile") == nil {
					t.Errorf("target %s: no gateway.tokenFile", name)
				}
				walk(tg, name, func(key, where string, v any) {
					s, isString := v.(string)
					if secretKey.MatchString(key) && isString {
						t.Errorf("%s: a secret written inline", where)
					}
					if strings.HasSuffix(key, "File") && (!isString || !filepath.IsAbs(s)) {
						t.Errorf("%s: %v is not an absolute path", where, v)
					}
					if key == "tlsSkipVerify" || key == "insecure" {
						t.Errorf("%s: TLS verification is switched off only from the command line", where)
					}
				})
			}
		})
	}
}
