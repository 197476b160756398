package reconciler

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// L3: 500 cycles with random small edits — commits and hand edits — with
// the invariants checked after every cycle: the next read finds nothing to
// do (I1), no POST creates an object (I2), nothing unowned is touched (I3).
// Goroutines stay stable and the heap grows by at most 20 MiB. goleak
// (TestMain) checks that nothing leaks at the end. (Fewer goroutines at the
// end is fine: idle keep-alive connections close.) Behind RECONCILER_SOAK=1:
// it takes about a minute.
func TestSoak(t *testing.T) {
	if os.Getenv("RECONCILER_SOAK") == "" {
		t.Skip("set RECONCILER_SOAK=1 to run the 500-cycle soak (reliability row L3)")
	}
	const foreign = "/apisix/admin/routes/made-in-the-dashboard"
	var posts, foreignWrites atomic.Int32
	hook := func(c emulator.Call) *emulator.Reply {
		switch {
		case c.Method == http.MethodPost && c.Path != "/apisix/admin/configs/validate":
			posts.Add(1)
		case c.Method != http.MethodGet && c.Path == foreign && c.Token != "ops":
			foreignWrites.Add(1)
		}
		return nil
	}
	const routes = 20
	desc := make([]string, routes)
	for i := range desc {
		desc[i] = "v0"
	}
	config := func() string {
		var b strings.Builder
		b.WriteString("services:\n  - name: shop\n    upstream:\n      nodes:\n        - host: 10.0.0.1\n          port: 80\n          weight: 1\n    routes:\n")
		for i, d := range desc {
			fmt.Fprintf(&b, "      - name: r%03d\n        uris: [/r%03d]\n        description: %s\n", i, i, d)
		}
		return b.String()
	}
	h := newHarness(t, harnessOpts{
		emu:   []emulator.Option{emulator.WithHook(hook), emulator.WithRequestLogSize(16)},
		files: map[string]string{"routes.yaml": config()},
	})
	if code := h.gw.do(t, http.MethodPut, foreign, map[string]any{"uri": "/dashboard", "upstream": map[string]any{"nodes": map[string]any{"10.1.1.1:80": 1}, "type": "roundrobin"}}); code >= 300 {
		t.Fatalf("foreign route: %d", code)
	}
	h.once()
	rng := rand.New(rand.NewPCG(42, 7))
	var baseG int
	var baseHeap uint64
	for i := range 500 {
		switch rng.IntN(3) {
		case 0:
			desc[rng.IntN(routes)] = fmt.Sprintf("v%d", i)
			h.repo.commit(fmt.Sprintf("edit %d", i), map[string]string{"routes.yaml": config()})
		case 1:
			h.gw.editRoute(t, routeID(rng.IntN(routes)), fmt.Sprintf("hand %d", i))
		}
		if c := h.once(); c.Result != ResultSuccess || c.Counts.Failed != 0 {
			t.Fatalf("cycle %d: %+v", i, c)
		}
		if c := h.once(); c.Changes != 0 {
			t.Fatalf("I1 after cycle %d: %d changes remain: %+v", i, c.Changes, c.Items)
		}
		if posts.Load() != 0 || foreignWrites.Load() != 0 {
			t.Fatalf("after cycle %d: %d POSTs, %d writes to an unowned object", i, posts.Load(), foreignWrites.Load())
		}
		if i == 49 {
			baseG, baseHeap = settle()
		}
	}
	g, heap := settle()
	t.Logf("goroutines %d → %d, heap %d → %d KiB", baseG, g, baseHeap>>10, heap>>10)
	if g > baseG+5 {
		t.Errorf("goroutines grew from %d to %d", baseG, g)
	}
	if heap > baseHeap+20<<20 {
		t.Errorf("heap grew from %d to %d KiB", baseHeap>>10, heap>>10)
	}
}

func settle() (int, uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}
