package reconciler

import (
	"net/http"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// TestFailedDeleteRetried (reliability D3, daemon side): a commit removes a
// route and the gateway fails its DELETE three times, then accepts it. The
// route stays in the inventory and is deleted again each cycle, no other
// object it needs goes before it, reconciler_prune_failures_total ends at
// 3, and once the delete succeeds the condition clears and nothing is left.
func TestFailedDeleteRetried(t *testing.T) {
	h := newHarness(t, harnessOpts{files: map[string]string{"routes.yaml": routesConfig(4, "v1")}})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("first cycle: %+v", c)
	}
	h.repo.commit("drop one route", map[string]string{"routes.yaml": routesConfig(3, "v1")})
	path := "/apisix/admin/routes/" + routeID(3)
	h.gw.em.AddHook(emulator.FailTimes(http.MethodDelete, path, 3, http.StatusServiceUnavailable, `{"error_msg":"etcd request timed out"}`))
	for i := 1; i <= 3; i++ {
		c := h.once()
		if !hasReason(c, metrics.ReasonPruneFailed) {
			t.Fatalf("cycle %d: %+v, want PruneFailed", i, c)
		}
		if h.gw.em.Count("", "routes") != 4 {
			t.Fatalf("cycle %d: %d routes", i, h.gw.em.Count("", "routes"))
		}
		if got := h.gauge("reconciler_prune_failures_total", "target", "prod"); got != float64(i) {
			t.Errorf("cycle %d: prune_failures_total = %v, want %d", i, got, i)
		}
	}
	deletes := 0
	for _, r := range h.gw.em.Requests() {
		if r.Method == http.MethodDelete && r.Path == path {
			deletes++
		}
	}
	if deletes != 3 {
		t.Errorf("%d DELETEs of the route in 3 cycles, want one a cycle (retries are the next cycle's)", deletes)
	}
	c := h.once()
	if c.Result != ResultSuccess || h.gw.em.Count("", "routes") != 3 || h.condition(metrics.ReasonPruneFailed) != 0 {
		t.Fatalf("after the gateway recovered: %+v, %d routes", c, h.gw.em.Count("", "routes"))
	}
	if got := h.gauge("reconciler_prune_failures_total", "target", "prod"); got != 3 {
		t.Errorf("prune_failures_total = %v, want 3", got)
	}
	if c := h.once(); c.Changes != 0 {
		t.Errorf("a cycle after convergence has %d changes", c.Changes)
	}
}
