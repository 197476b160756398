package reconciler

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestUnownedUntouchedUnderFaults (reliability D2: "over 100 cycles,
// including F1–F8, 0 writes or deletes to unowned objects"): 50 routes made
// on a dashboard and a dashboard service holding the ID of a desired one
// live beside the owned objects through 100 cycles of commits, hand edits
// and seeded faults (503s, truncated and reset answers). No cycle writes
// or deletes one of them, none POSTs, the collision stays an
// OwnershipConflict, and once the faults stop the owned state converges.
func TestUnownedUntouchedUnderFaults(t *testing.T) {
	var posts, foreignWrites atomic.Int32
	isForeign := func(path string) bool {
		return strings.HasPrefix(path, "/apisix/admin/routes/dashboard-") || strings.HasPrefix(path, "/apisix/admin/services/"+model.ServiceID("other"))
	}
	hook := func(c emulator.Call) *emulator.Reply {
		switch {
		case c.Method == http.MethodPost && c.Path != "/apisix/admin/configs/validate":
			posts.Add(1)
		case c.Method != http.MethodGet && isForeign(c.Path) && c.Token != "ops":
			foreignWrites.Add(1)
		}
		return nil
	}
	const routes = 10
	config := func() string {
		return routesConfig(routes, "x") + "  - name: other\n    upstream:\n      nodes:\n        - {host: 10.0.0.2, port: 80, weight: 1}\n"
	}
	h := newHarness(t, harnessOpts{
		emu:   []emulator.Option{emulator.WithHook(hook), emulator.WithRequestLogSize(16)},
		files: map[string]string{"routes.yaml": config()},
	})
	for i := range 50 {
		body := map[string]any{"uri": fmt.Sprintf("/dash/%d", i), "upstream": map[string]any{"nodes": map[string]any{"10.9.9.9:80": 1}, "type": "roundrobin"}}
		if code := h.gw.do(t, http.MethodPut, fmt.Sprintf("/apisix/admin/routes/dashboard-%03d", i), body); code >= 300 {
			t.Fatalf("dashboard route: %d", code)
		}
	}
	taken := map[string]any{"upstream": map[string]any{"nodes": map[string]any{"10.9.9.9:80": 1}, "type": "roundrobin"}}
	if code := h.gw.do(t, http.MethodPut, "/apisix/admin/services/"+model.ServiceID("other"), taken); code >= 300 {
		t.Fatalf("dashboard service: %d", code)
	}
	if c := h.once(); c.Counts.Applied != routes+1 || !hasReason(c, metrics.ReasonOwnershipConflict) {
		t.Fatalf("first cycle: %+v", c)
	}
	// The faults hit the reconciler's requests, not the hand edits (PATCH).
	faults := emulator.Faults{Seed: 7, Unavailable: 0.2, Truncate: 0.05, Reset: 0.05, Methods: []string{http.MethodGet, http.MethodPut, http.MethodDelete}}
	if err := h.gw.em.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	faulted := 0
	for i := range 100 {
		switch rng.IntN(3) {
		case 0:
			h.repo.commit(fmt.Sprintf("edit %d", i), map[string]string{"routes.yaml": strings.Replace(config(), "description: x", fmt.Sprintf("description: v%d", i), rng.IntN(routes)+1)})
		case 1:
			h.gw.editRoute(t, routeID(rng.IntN(routes)), fmt.Sprintf("hand %d", i))
		}
		if c := h.once(); hasReason(c, metrics.ReasonReadFailed) || hasReason(c, metrics.ReasonAdminUnreachable) || c.Counts.Failed > 1 {
			faulted++
		}
		if posts.Load() != 0 || foreignWrites.Load() != 0 {
			t.Fatalf("after cycle %d: %d POSTs, %d writes or deletes of unowned objects", i, posts.Load(), foreignWrites.Load())
		}
	}
	if faulted == 0 {
		t.Fatal("no cycle met a fault: the test did not exercise them")
	}
	if err := h.gw.em.SetFaults(emulator.Faults{}); err != nil {
		t.Fatal(err)
	}
	c := h.once()
	if !hasReason(c, metrics.ReasonOwnershipConflict) {
		t.Errorf("the collision is not an OwnershipConflict: %+v", c)
	}
	// Items backed off by the fight with the hand edits (F7) wait for
	// their backoff: a bounded number of cycles, ten minutes apart.
	for range 10 {
		if c.Changes == 1 {
			break
		}
		h.clk.Advance(10 * time.Minute)
		c = h.once()
	}
	if c.Changes != 1 || c.Counts.Failed != 1 {
		t.Errorf("after the faults: %d changes, %+v; want only the conflict left", c.Changes, c.Counts)
	}
	if n := h.gw.em.Count("", "routes"); n != 50+routes {
		t.Errorf("%d routes, want %d", n, 50+routes)
	}
	if foreignWrites.Load() != 0 {
		t.Errorf("%d writes or deletes of unowned objects", foreignWrites.Load())
	}
}
