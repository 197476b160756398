package reconciler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnsafeCommitWritesNothing (reliability B4 at the daemon): a commit
// that adds a symlink to /etc/passwd next to a valid change is refused as a
// whole — 0 writes, a security log line naming the path — and the last
// good commit keeps serving.
func TestUnsafeCommitWritesNothing(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	first := h.once()
	if first.Result != ResultSuccess {
		t.Fatalf("first cycle: %+v", first)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(h.repo.work, "passwd.yaml")); err != nil {
		t.Fatal(err)
	}
	h.repo.commit("a change and a symlink", map[string]string{"routes.yaml": routesConfig(3, "v2")})
	writes := h.gw.writes()
	c := h.once()
	if c.Result == ResultSuccess || c.Revision != first.Revision || h.gw.writes() != writes {
		t.Fatalf("cycle with a symlink: %+v, %d writes", c, h.gw.writes()-writes)
	}
	if !strings.Contains(c.Error, "passwd.yaml") || !strings.Contains(c.Error, "symbolic link") {
		t.Errorf("the error does not name the entry: %s", c.Error)
	}
	var security []string
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"security":true`) {
			security = append(security, line)
		}
	}
	if len(security) == 0 || !strings.Contains(strings.Join(security, "\n"), "passwd.yaml") {
		t.Errorf("no security log line names the entry:\n%s", h.logs.String())
	}
}
