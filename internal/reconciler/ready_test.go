package reconciler

import (
	"slices"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/metrics"
)

// Readiness is the first completed read of every target (design.md §9):
// a target whose gateway is down from the start keeps the daemon unready
// and is named; once it has compared, a later outage sets its condition
// but does not take readiness back (liveness never depended on it).
func TestReadyAfterEveryTargetsFirstRead(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	d, err := NewDaemon([]*Target{h.target}, h.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.gw.srv.down()
	if c := h.once(); c.Read || !hasReason(c, metrics.ReasonAdminUnreachable) {
		t.Fatalf("cycle with the gateway down = %+v", c)
	}
	if ready, waiting := d.Ready(); ready || !slices.Equal(waiting, []string{"prod"}) {
		t.Errorf("Ready() = %v %v with the gateway down from the start, want false [prod]", ready, waiting)
	}
	h.gw.srv.up()
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("cycle with the gateway up = %+v", c)
	}
	if ready, waiting := d.Ready(); !ready || len(waiting) != 0 {
		t.Errorf("Ready() = %v %v after the first read", ready, waiting)
	}
	h.gw.srv.down()
	h.once()
	if ready, _ := d.Ready(); !ready {
		t.Error("an outage after the first read took readiness back")
	}
	if st := d.Statuses()[0]; st.Ready || h.condition(metrics.ReasonAdminUnreachable) != 1 {
		t.Errorf("the target's own Ready = %v, AdminUnreachable = %v during the outage", st.Ready, h.condition(metrics.ReasonAdminUnreachable))
	}
}
