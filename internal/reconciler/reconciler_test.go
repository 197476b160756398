package reconciler

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The first cycle applies a new revision (pending changes); the next finds
// nothing and writes nothing, without loading the revision again.
func TestApplyThenInSync(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	c := h.once()
	if c.Result != ResultSuccess || c.Counts.Pending != 4 || c.Counts.Drift != 0 || c.Counts.Applied != 4 {
		t.Fatalf("first cycle = %+v, want 4 pending changes (a service and 3 routes) applied", c)
	}
	if !strings.HasPrefix(c.Revision, "main@sha1:") {
		t.Errorf("revision = %q", c.Revision)
	}
	if got := h.drift(); got != 4 {
		t.Errorf("drift gauge after the first read = %v, want 4 (the read saw 4 differences)", got)
	}
	writes := h.gw.writes()
	for i := range 3 {
		c = h.once()
		if c.Result != ResultSuccess || c.Changes != 0 {
			t.Fatalf("cycle %d = %+v, want in sync", i+2, c)
		}
	}
	if got := h.gw.writes(); got != writes {
		t.Errorf("in-sync cycles wrote %d times", got-writes)
	}
	if h.drift() != 0 || h.gauge("reconciler_in_sync", "target", "prod") != 1 {
		t.Errorf("drift = %v, in_sync = %v after convergence", h.drift(), h.gauge("reconciler_in_sync", "target", "prod"))
	}
	if got := h.gauge("reconciler_source_revision_info", "target", "prod", "revision", c.Revision); got != 1 {
		t.Errorf("source_revision_info = %v", got)
	}
	st := h.target.Status()
	if !st.Ready || !st.InSync || st.Commit.Author != "Alice Example <alice@example.com>" || st.Commit.Message != "first\n" && st.Commit.Message != "first" {
		t.Errorf("status = %+v", st)
	}
	if len(st.History) != 4 {
		t.Errorf("history has %d cycles, want 4", len(st.History))
	}
}

// F7: 50 routes edited by hand are detected on the next cycle with the exact
// count, audited with their masked field changes, and corrected with one
// write each; the cycle after that finds nothing.
func TestDriftCorrectedOneWriteEach(t *testing.T) {
	h := newHarness(t, harnessOpts{files: map[string]string{"routes.yaml": routesConfig(60, "v1")}})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("first cycle: %+v", c)
	}
	h.once()
	for i := range 50 {
		h.gw.editRoute(t, routeID(i), "edited by hand")
	}
	before := h.gw.em.Requests()
	c := h.once()
	if c.Counts.Drift != 50 || c.Counts.Pending != 0 || c.Counts.Applied != 50 {
		t.Fatalf("cycle after hand edits = %+v, want 50 drift corrected", c.Counts)
	}
	if got := h.gauge("reconciler_drift_resources", "target", "prod", "kind", "route", "change", "update"); got != 50 {
		t.Errorf("drift_resources{route,update} = %v, want 50", got)
	}
	if got := h.gauge("reconciler_drift_detected_total", "target", "prod", "kind", "route"); got != 50 {
		t.Errorf("drift_detected_total{route} = %v, want 50", got)
	}
	puts := map[string]int{}
	for _, r := range h.gw.em.Requests()[len(before):] {
		if r.Method != http.MethodGet && r.Path != "/apisix/admin/configs/validate" {
			puts[r.Method+" "+r.Path]++
		}
	}
	if len(puts) != 50 {
		t.Errorf("%d distinct writes, want 50: %v", len(puts), puts)
	}
	for k, n := range puts {
		if n != 1 || !strings.HasPrefix(k, "PUT /apisix/admin/routes/") {
			t.Errorf("%s sent %d times", k, n)
		}
	}
	var drifts, applies int
	for _, ev := range h.auditEvents() {
		if ev.Type != Drift {
			continue
		}
		switch ev.Event {
		case AuditDrift:
			drifts++
			if ev.Kind != "route" || ev.Action != "update" || len(ev.Fields) != 1 || ev.Fields[0].Path != "/description" ||
				ev.Fields[0].Old != "edited by hand" || ev.Fields[0].New != "v1" || ev.Commit.Author == "" || ev.Revision == "" {
				t.Errorf("drift event = %+v", ev)
			}
		case AuditApply:
			applies++
			if ev.Result != "applied" {
				t.Errorf("apply event = %+v", ev)
			}
		}
	}
	if drifts != 50 || applies != 50 {
		t.Errorf("audit: %d drift and %d apply events, want 50 and 50", drifts, applies)
	}
	c = h.once()
	if c.Changes != 0 || h.drift() != 0 {
		t.Errorf("after correction: %+v, drift gauge %v", c, h.drift())
	}
}

// Detect mode reports drift on every cycle, never writes, and reports each
// drift once in the audit log.
func TestDetectModeReportsOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Mode = ModeDetect }})
	c := h.once()
	if c.Counts.Pending != 4 || c.Counts.Applied != 0 || h.gw.writes() != 0 {
		t.Fatalf("detect mode on an empty gateway: %+v, %d writes", c.Counts, h.gw.writes())
	}
	if st := h.target.Status(); st.Drift[0].State != StateReported {
		t.Errorf("state = %s, want reported", st.Drift[0].State)
	}
	// Pending stays pending while Git does not move.
	c = h.once()
	if c.Counts.Pending != 4 || c.Counts.Drift != 0 {
		t.Errorf("second cycle: %+v", c.Counts)
	}
}

func TestDetectModeDrift(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.once()
	h.target.cfg.Mode = ModeDetect
	if c := h.once(); c.Changes != 0 {
		t.Fatalf("detect cycle after the sync: %+v", c)
	}
	h.gw.editRoute(t, routeID(1), "hand")
	writes := h.gw.writes()
	for i := range 3 {
		c := h.once()
		if c.Counts.Drift != 1 || c.Counts.Applied != 0 || c.Items[0].State != StateReported {
			t.Fatalf("detect cycle %d: %+v", i, c.Items)
		}
	}
	if h.gw.writes() != writes {
		t.Error("detect mode wrote")
	}
	if got := h.gauge("reconciler_drift_detected_total", "target", "prod", "kind", "route"); got != 1 {
		t.Errorf("drift_detected_total = %v, want 1 (a persisting drift is reported once)", got)
	}
	if got := h.gauge("reconciler_drift_resources", "target", "prod", "kind", "route", "change", "update"); got != 1 {
		t.Errorf("drift_resources = %v, want 1", got)
	}
	// Switched back to apply, the drift is corrected.
	h.target.cfg.Mode = ModeApply
	if c := h.once(); c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Errorf("apply after detect: %+v", c.Counts)
	}
}

// A commit that changes one route is pending; a hand edit of another route
// in the same interval is drift; a hand delete and an object created by
// hand with our label are drift too.
func TestPendingVersusDrift(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.once()
	h.once()
	h.repo.commit("route 0 gets a new description", map[string]string{"routes.yaml": strings.Replace(routesConfig(3, "v1"), "description: v1", "description: v2", 1)})
	h.gw.editRoute(t, routeID(1), "hand")
	if code := h.gw.do(t, http.MethodDelete, "/apisix/admin/routes/"+routeID(2), nil); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	extra := map[string]any{"uri": "/extra", "service_id": model.ServiceID("shop"), "labels": map[string]any{"managed-by": "reconciler"}}
	if code := h.gw.do(t, http.MethodPut, "/apisix/admin/routes/by-hand", extra); code >= 300 {
		t.Fatalf("put: %d", code)
	}
	c := h.once()
	got := map[string]string{}
	for _, it := range c.Items {
		got[it.Key] = string(it.Action) + "/" + string(it.Type) + "/" + string(it.State)
	}
	want := map[string]string{
		"route/" + routeID(0): "update/pending/corrected",
		"route/" + routeID(1): "update/drift/corrected",
		"route/" + routeID(2): "create/drift/corrected",
		"route/by-hand":       "delete/drift/corrected",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("items = %v", got)
	}
	if c := h.once(); c.Changes != 0 {
		t.Errorf("after correction: %+v", c)
	}
}

// F7: a second writer that undoes every correction shows as flapping; its
// correction is held back for a growing time instead of fighting every
// cycle, and there is never more than one write per resource per cycle.
func TestFlappingWriterIsHeldBack(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.once()
	h.once()
	id := routeID(0)
	path := "/apisix/admin/routes/" + id
	var writesPerCycle []int
	fight := func() Cycle {
		h.gw.editRoute(t, id, "the other writer")
		before := len(h.gw.em.Requests())
		c := h.once()
		n := 0
		for _, r := range h.gw.em.Requests()[before:] {
			if r.Method == http.MethodPut && r.Path == path {
				n++
			}
		}
		writesPerCycle = append(writesPerCycle, n)
		h.clk.Advance(time.Minute)
		return c
	}
	c := fight() // corrected
	if c.Counts.Drift != 1 || c.Items[0].State != StateCorrected {
		t.Fatalf("first fight: %+v", c.Items)
	}
	c = fight() // undone right after: flapping, held for one interval
	if c.Items[0].State != StateBackoff {
		t.Fatalf("second fight: state %s, want backoff", c.Items[0].State)
	}
	if got := h.gauge("reconciler_conflict_flapping_total", "target", "prod", "kind", "route"); got != 1 {
		t.Errorf("conflict_flapping_total = %v, want 1", got)
	}
	var states []ItemState
	for range 8 {
		c = fight()
		states = append(states, c.Items[0].State)
	}
	corrected := 0
	for _, s := range states {
		if s == StateCorrected {
			corrected++
		}
	}
	if corrected == 0 || corrected > 3 {
		t.Errorf("states over 8 more fights = %v: want a few corrections with growing holds", states)
	}
	for i, n := range writesPerCycle {
		if n > 1 {
			t.Errorf("cycle %d wrote the route %d times", i, n)
		}
	}
	if got := h.gauge("reconciler_conflict_flapping_total", "target", "prod", "kind", "route"); got < 2 {
		t.Errorf("conflict_flapping_total = %v, want it to keep counting", got)
	}
	// The fight ends: the next correction sticks and the hold is forgotten.
	h.clk.Advance(time.Hour)
	c = h.once()
	if len(c.Items) != 1 || c.Items[0].State != StateCorrected {
		t.Fatalf("after the fight: %+v", c.Items)
	}
	if c = h.once(); c.Changes != 0 {
		t.Errorf("converged: %+v", c)
	}
}

// A suspended target reports but never writes.
func TestSuspendReportsOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Suspend = true }})
	c := h.once()
	if c.Counts.Pending != 4 || h.gw.writes() != 0 || c.Items[0].State != StateSuspended || c.Result != ResultSuccess {
		t.Fatalf("suspended: %+v, %d writes", c, h.gw.writes())
	}
	if !h.target.Status().Suspended {
		t.Error("status does not say suspended")
	}
}

// Field-level ignore rules hide fields managed elsewhere.
func TestIgnoreRules(t *testing.T) {
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) {
		c.Ignore = []diff.IgnoreRule{{Kind: model.KindRoute, Name: "r001", Paths: []string{"/description"}}}
	}})
	h.once()
	h.gw.editRoute(t, routeID(1), "managed elsewhere")
	if c := h.once(); c.Changes != 0 {
		t.Errorf("ignored field reported: %+v", c.Items)
	}
}

// The pre-3.14 emulator stores schema defaults; with the server's defaults
// the diff sees no drift (design §6).
func TestNoFalseDriftOnOldServer(t *testing.T) {
	h := newHarness(t, harnessOpts{emu: []emulator.Option{emulator.WithAPISIXVersion("3.13.0")}})
	h.once()
	for range 3 {
		if c := h.once(); c.Changes != 0 {
			t.Fatalf("false drift: %+v", c.Items)
		}
	}
	if h.condition(metrics.ReasonReadFailed) != 0 {
		t.Error("condition set")
	}
}
