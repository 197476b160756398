package reconciler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// panicking is the real gateway, made to panic in List on demand: a bug
// in a cycle.
type panicking struct {
	Gateway
	on *atomic.Bool
}

func (p panicking) List(ctx context.Context) (model.Inventory, error) {
	if p.on.Load() {
		panic("injected")
	}
	return p.Gateway.List(ctx)
}

// A cycle that panics does not take the daemon down, and it is not silent
// either: it counts as a failed cycle in reconciler_reconcile_total, the
// status says so (not Ready, the error, the history), and the next cycle
// comes after a backoff.
func TestPanickingCycleIsAFailedCycle(t *testing.T) {
	var on atomic.Bool
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Gateway = panicking{c.Gateway, &on} }})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("first cycle = %+v", c)
	}
	on.Store(true)
	c := h.target.Once(context.Background())
	select {
	case <-h.cycles:
	default:
		t.Error("the panicking cycle was not reported to OnCycle")
	}
	if c.Result != ResultFailure || !strings.Contains(c.Error, "injected") || c.Number != 2 {
		t.Errorf("cycle = %+v, want failure number 2 naming the panic", c)
	}
	if got := h.gauge("reconciler_reconcile_total", "target", "prod", "result", "failure"); got != 1 {
		t.Errorf("reconcile_total{failure} = %v, want 1", got)
	}
	st := h.target.Status()
	if st.Ready || st.LastResult != ResultFailure || !strings.Contains(st.LastError, "injected") ||
		len(st.History) != 2 || st.History[1].Result != ResultFailure {
		t.Errorf("status after a panic = ready %v, last %s %q, history %+v", st.Ready, st.LastResult, st.LastError, st.History)
	}
	if d, trig := h.target.nextDelay(c); trig != TriggerRetry || d >= h.target.cfg.Interval {
		t.Errorf("next cycle in %s (%s), want a backoff", d, trig)
	}

	on.Store(false)
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("cycle after the panic = %+v", c)
	}
	if st := h.target.Status(); !st.Ready || st.LastError != "" {
		t.Errorf("status after recovery = %+v", st)
	}
}
