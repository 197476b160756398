package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

func newTest(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg, Build{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26"})
	m.InitTarget("prod", false)
	return m, reg
}

func TestLint(t *testing.T) {
	m, reg := newTest(t)
	// Touch every family so that each has at least one series to lint.
	m.SetDrift("prod", map[model.Kind]map[Change]int{model.KindRoute: {ChangeUpdate: 2}})
	m.ObserveReconcile("prod", ResultSuccess, time.Second, time.Unix(1700000000, 0))
	m.SetRevision("prod", "main@sha1:abc")
	m.ApplyOperation("prod", model.KindRoute, "update", ResultSuccess)
	m.DeletesBlocked("prod", "max-deletes")
	m.ObserveGitFetch("prod", time.Second, ReasonFetchFailed, time.Now())
	m.ObserveGitFetch("prod", time.Second, "", time.Now())
	m.ObserveAdminRequest("prod", "GET", 200, time.Millisecond)
	m.ConflictFlapping("prod", model.KindRoute)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "reconciler_") {
			t.Errorf("metric %s lacks the reconciler_ namespace", mf.GetName())
		}
	}
}

// The counters the alerts watch with increase() exist at 0 from the start,
// so that their first increment is an increase.
func TestInitTargetStartsCountersAtZero(t *testing.T) {
	_, reg := newTest(t)
	for name, want := range map[string]int{
		"reconciler_conflict_flapping_total":     len(model.Kinds()),
		"reconciler_deletes_blocked_total":       len(DeletionGuardReasons()),
		"reconciler_git_fetch_errors_total":      len(FetchReasons()),
		"reconciler_drift_detected_total":        len(model.Kinds()),
		"reconciler_git_history_rewritten_total": 1,
		// every kind, action and result: a write that fails once shows
		// in increase(…{result="failure"}[15m]).
		"reconciler_apply_operations_total": len(model.Kinds()) * len(Changes()) * 2,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series at start (%v), want %d", name, n, err, want)
		}
	}
}

func TestDriftAndInSync(t *testing.T) {
	m, _ := newTest(t)
	m.SetDrift("prod", map[model.Kind]map[Change]int{model.KindRoute: {ChangeUpdate: 50}, model.KindService: {ChangeCreate: 1}})
	if got := testutil.ToFloat64(m.driftResources.WithLabelValues("prod", "route", "update")); got != 50 {
		t.Errorf("route update drift = %v, want 50", got)
	}
	if got := testutil.ToFloat64(m.inSync.WithLabelValues("prod")); got != 0 {
		t.Errorf("in_sync = %v with drift, want 0", got)
	}
	m.SetDrift("prod", nil)
	if got := testutil.ToFloat64(m.driftResources.WithLabelValues("prod", "route", "update")); got != 0 {
		t.Errorf("route update drift after correction = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.inSync.WithLabelValues("prod")); got != 1 {
		t.Errorf("in_sync = %v without drift, want 1", got)
	}
}

func TestConditionsExportEveryReason(t *testing.T) {
	m, reg := newTest(t)
	m.SetConditions("prod", ReasonAuthenticationFailed)
	if n := testutil.CollectAndCount(m.condition); n != len(Reasons()) {
		t.Errorf("condition series = %d, want one per reason (%d)", n, len(Reasons()))
	}
	if got := testutil.ToFloat64(m.condition.WithLabelValues("prod", string(ReasonAuthenticationFailed))); got != 1 {
		t.Errorf("AuthenticationFailed = %v, want 1", got)
	}
	m.SetConditions("prod")
	if got := testutil.ToFloat64(m.condition.WithLabelValues("prod", string(ReasonAuthenticationFailed))); got != 0 {
		t.Errorf("AuthenticationFailed after recovery = %v, want 0", got)
	}
	_ = reg
}

func TestRevisionKeepsOneSeries(t *testing.T) {
	m, _ := newTest(t)
	m.SetRevision("prod", "main@sha1:aaa")
	m.SetRevision("prod", "main@sha1:bbb")
	m.SetRevision("staging", "main@sha1:aaa")
	if n := testutil.CollectAndCount(m.sourceRevision); n != 2 {
		t.Errorf("revision series = %d, want 2 (one per target)", n)
	}
}

func TestAdminRequestCodes(t *testing.T) {
	m, _ := newTest(t)
	m.ObserveAdminRequest("prod", "PUT", 201, time.Millisecond)
	m.ObserveAdminRequest("prod", "PUT", 0, time.Millisecond)
	if got := testutil.ToFloat64(m.adminRequests.WithLabelValues("prod", "PUT", "201")); got != 1 {
		t.Errorf("PUT 201 = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.adminRequests.WithLabelValues("prod", "PUT", "error")); got != 1 {
		t.Errorf("PUT error = %v, want 1", got)
	}
}
