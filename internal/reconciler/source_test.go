package reconciler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

func TestDirSource(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	src, err := NewDirSource(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(ctx); !errors.Is(err, ErrNoConfiguration) {
		t.Errorf("empty directory: %v, want ErrNoConfiguration", err)
	}
	write("routes.yaml", routesConfig(1, "a"))
	write(".hidden/x.yaml", "not: loaded")
	write("README.md", "not loaded")
	a, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Revision, "local@sha256:") || a.Unchanged {
		t.Errorf("first fetch: %+v", a)
	}
	if _, err := model.Load(a.Files, model.LoadOptions{}); err != nil {
		t.Errorf("load: %v", err)
	}
	b, _ := src.Fetch(ctx)
	if b.Revision != a.Revision || !b.Unchanged {
		t.Errorf("unchanged directory: %+v", b)
	}
	write("README.md", "still not loaded")
	if c, _ := src.Fetch(ctx); c.Revision != a.Revision {
		t.Error("a file that is not configuration changed the revision")
	}
	write("routes.yaml", routesConfig(1, "b"))
	c, _ := src.Fetch(ctx)
	if c.Revision == a.Revision || c.Unchanged {
		t.Errorf("edited directory: %+v", c)
	}
	write("big.yaml", strings.Repeat("#", model.MaxFileSize+1))
	if _, err := src.Fetch(ctx); !errors.Is(err, model.ErrTooLarge) {
		t.Errorf("oversize file: %v", err)
	}
	if sourceReason(errors.Join(errors.New("x"), model.ErrTooLarge)) != "InputTooLarge" {
		t.Error("oversize is not InputTooLarge")
	}
	if err := os.Remove(filepath.Join(dir, "big.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: %v", err)
	}
	if _, err := NewDirSource(dir, "../up"); err == nil {
		t.Error("a path outside the source was accepted")
	}
}

// I4/A2: the canary token and a substituted secret never appear in logs,
// the status, the metrics or the audit log, raw or encoded — through
// drift, a failed write and a refused token.
func TestNoSecretLeaks(t *testing.T) {
	const keyCanary = "canary-key-31c6e1d7a9"
	files := map[string]string{"consumers.yaml": `consumers:
  - username: app
    credentials:
      - name: main
        type: key-auth
        config:
          key: ${APP_KEY}
`}
	h := newHarness(t, harnessOpts{files: files, configure: func(c *TargetConfig) {
		c.Env = func(k string) (string, bool) {
			if k == "APP_KEY" {
				return keyCanary, true
			}
			return "", false
		}
	}})
	if c := h.once(); c.Result != ResultSuccess || c.Counts.Applied != 2 {
		t.Fatalf("first cycle: %+v", c)
	}
	// The credential is changed by hand: drift whose field holds a secret.
	cid := model.CredentialID("app", "main")
	h.gw.do(t, "PUT", "/apisix/admin/consumers/app/credentials/"+cid, map[string]any{
		"plugins": map[string]any{"key-auth": map[string]any{"key": "changed-by-hand"}},
	})
	c := h.once()
	if c.Counts.Drift != 1 {
		t.Fatalf("credential drift: %+v", c.Items)
	}
	// A refused token.
	if err := h.gw.em.RevokeToken("admin"); err != nil {
		t.Fatal(err)
	}
	h.once()

	st, err := json.Marshal(h.target.Status())
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metricsText strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&metricsText, mf); err != nil {
			t.Fatal(err)
		}
	}
	audit, err := os.ReadFile(h.auditF)
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{
		"logs": h.logs.String(), "status": string(st), "metrics": metricsText.String(), "audit": string(audit),
	}
	for _, canary := range []string{adminToken, keyCanary} {
		forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), url.QueryEscape(canary)}
		for where, text := range places {
			for _, f := range forms {
				if strings.Contains(text, f) {
					t.Errorf("%s holds a secret (%q)", where, f)
				}
			}
		}
	}
	if !strings.Contains(string(audit), `"secret":true`) {
		t.Error("the audit log does not show the secret field changed")
	}
}
