package reconciler

import (
	"os"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/git"
)

// TestGitCredentialRevoked (reliability G2, daemon side): the Git server
// stops accepting the token. Cycles fail with GitAuthenticationFailed,
// back off (5s, 10s, 20s, …) with no write; the last good commit keeps serving. When the token file is
// rewritten the next attempt converges, with no restart.
func TestGitCredentialRevoked(t *testing.T) {
	var srv *gitServer
	tokenFile := writeFile(t, "token-1\n")
	h := newHarness(t, harnessOpts{source: httpSource(&srv, "token-1", git.Options{Auth: git.Auth{TokenFile: tokenFile}})})
	stop := h.run()
	defer stop()
	first := h.next()
	if first.Result != ResultSuccess {
		t.Fatalf("first cycle: %+v", first)
	}
	srv.token = "token-2" // revoked on the server; read by its handler only between requests
	h.repo.commit("second", map[string]string{"routes.yaml": routesConfig(3, "v2")})
	writes := h.gw.writes()
	if c, _ := h.step(); !hasReason(c, metrics.ReasonGitAuthenticationFailed) {
		t.Fatalf("cycle with a revoked token: %+v", c)
	}
	want := 5 * time.Second
	for i := range 4 {
		c, d := h.step()
		if c.Trigger != TriggerRetry || !hasReason(c, metrics.ReasonGitAuthenticationFailed) || c.Revision != first.Revision {
			t.Fatalf("retry %d: %+v", i, c)
		}
		if lo, hi := time.Duration(float64(want)*0.9), time.Duration(float64(want)*1.1); d < lo || d > hi {
			t.Errorf("retry %d after %s, want %s ±10%%", i, d, want)
		}
		want *= 2
	}
	if h.gw.writes() != writes {
		t.Errorf("%d writes while Git refused the token", h.gw.writes()-writes)
	}
	if h.condition(metrics.ReasonGitAuthenticationFailed) != 1 {
		t.Error("condition GitAuthenticationFailed not exported")
	}
	if err := os.WriteFile(tokenFile, []byte("token-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := h.step()
	if c.Result != ResultSuccess || c.Revision == first.Revision || c.Counts.Applied != 3 {
		t.Fatalf("after the token file changed: %+v", c)
	}
	if h.condition(metrics.ReasonGitAuthenticationFailed) != 0 {
		t.Error("condition GitAuthenticationFailed still set")
	}
}
