package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// countingRegisterer counts the collectors metrics.New registers, so that
// the test knows when one of them has no series yet.
type countingRegisterer struct {
	prometheus.Registerer
	n int
}

func (c *countingRegisterer) Register(col prometheus.Collector) error {
	c.n++
	return c.Registerer.Register(col)
}

func (c *countingRegisterer) MustRegister(cols ...prometheus.Collector) {
	c.n += len(cols)
	c.Registerer.MustRegister(cols...)
}

// exported gathers every family of internal/metrics: a target initialised
// and one observation through each method. (The daemon's tests gather from
// a running daemon instead.)
func exported(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	counting := &countingRegisterer{Registerer: reg}
	m := metrics.New(counting, metrics.Build{Version: "v0.0.0", Revision: "abc", GoVersion: "go1.26"})
	now := time.Unix(1_700_000_000, 0)
	m.InitTarget("prod", true)
	m.SetDrift("prod", map[model.Kind]map[metrics.Change]int{model.KindRoute: {metrics.ChangeUpdate: 1}})
	m.DriftDetected("prod", model.KindRoute, 1)
	m.ObserveReconcile("prod", metrics.ResultSuccess, time.Second, now)
	m.SetRevision("prod", "main@sha1:0123456789abcdef0123456789abcdef01234567")
	m.ApplyOperation("prod", model.KindRoute, "update", metrics.ResultSuccess)
	m.DeletesBlocked("prod", "max-deletes")
	m.ObserveGitFetch("prod", time.Second, "", now)
	m.ObserveGitFetch("prod", time.Second, metrics.ReasonFetchFailed, now)
	m.GitHistoryRewritten("prod")
	m.ObserveAdminRequest("prod", "PUT", 200, time.Millisecond)
	m.AdminThrottled("prod")
	m.SetConditions("prod", metrics.ReasonAuthenticationFailed)
	m.ConflictFlapping("prod", model.KindRoute)
	m.PruneFailure("prod")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != counting.n {
		t.Fatalf("%d collectors registered, %d have series: call the new collector's method in exported()", counting.n, len(mfs))
	}
	return mfs
}

func TestQueriesUseExportedMetrics(t *testing.T) {
	if err := CheckMetrics(exported(t), ClosedSets()); err != nil {
		t.Errorf("the alerts and the dashboard use what the daemon does not export:\n%v", err)
	}
}

// Every family the daemon exports has a place on the dashboard.
func TestDashboardShowsEveryMetric(t *testing.T) {
	exprs, err := Expressions()
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, e := range exprs {
		if !strings.HasPrefix(e.Source, "dashboard panel") {
			continue
		}
		refs, err := Scan(e.Query)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range refs.Selectors {
			shown[strings.TrimSuffix(s.Metric, "_bucket")] = true
		}
	}
	for _, mf := range exported(t) {
		if !shown[mf.GetName()] {
			t.Errorf("%s is on no dashboard panel", mf.GetName())
		}
	}
}

// CheckMetrics must fail on what it is there to catch.
func TestCheckMetricsFindsMistakes(t *testing.T) {
	families := familyLabels(exported(t))
	closed := ClosedSets()
	tests := []struct {
		name, query, want string
	}{
		{"unknown metric", `reconciler_drift_total`, "not exported"},
		{"histogram without suffix in rate", `rate(reconciler_reconcile_duration_seconds_buckets[5m])`, "not exported"},
		{"unknown label", `reconciler_in_sync{targets="x"}`, "no label targets"},
		{"reason outside the closed set", `reconciler_condition{reason="AuthFailed"}`, `"AuthFailed" is not one of`},
		{"one bad alternative", `reconciler_condition{reason=~"FetchFailed|GitFetchFailed"}`, `"GitFetchFailed" is not one of`},
		{"grouping by a missing label", `sum by (tenant) (reconciler_in_sync)`, "grouping label tenant"},
		{"le on a plain metric", `sum by (le) (reconciler_in_sync)`, "grouping label le"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := checkExpr(Expr{Source: "test", Query: tt.query}, families, closed)
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Errorf("checkExpr(%s) = %v, want an error containing %q", tt.query, errs, tt.want)
			}
		})
	}
	ok := []string{
		`histogram_quantile(0.95, sum by (target, le) (rate(reconciler_reconcile_duration_seconds_bucket{target=~".*"}[5m])))`,
		`reconciler_condition{reason=~"Fetch.*"}`, // a pattern, not a list: not checked value by value
		`up{job="reconciler"} == 0`,
		`sum by (namespace, job, instance, target) (reconciler_drift_resources)`,
	}
	for _, q := range ok {
		if errs := checkExpr(Expr{Source: "test", Query: q}, families, closed); len(errs) > 0 {
			t.Errorf("checkExpr(%s) = %v, want no error", q, errs)
		}
	}
}

func TestScan(t *testing.T) {
	tests := []struct {
		query string
		want  References
	}{
		{
			query: `max by (namespace, target) (sum by (instance, target) (reconciler_drift_resources{kind="route", change!="delete"})) > 0`,
			want: References{
				Selectors: []Selector{{Metric: "reconciler_drift_resources", Matchers: []Matcher{{"kind", "=", "route"}, {"change", "!=", "delete"}}}},
				Grouping:  []string{"namespace", "target", "instance", "target"},
			},
		},
		{
			query: "time() - max(reconciler_last_success_timestamp_seconds offset 5m) > 600 # age\nor on (target) vector(1)",
			want: References{
				Selectors: []Selector{{Metric: "reconciler_last_success_timestamp_seconds"}},
				Grouping:  []string{"target"},
			},
		},
		{
			query: `a unless ignoring (x) group_left b{l=~"v|w",m='q\'s'}`,
			want: References{
				Selectors: []Selector{{Metric: "a"}, {Metric: "b", Matchers: []Matcher{{"l", "=~", "v|w"}, {"m", "=", "q's"}}}},
				Grouping:  []string{"x"},
			},
		},
		{
			query: `60 * sum(rate(x[5m:1m])) by (t)`,
			want:  References{Selectors: []Selector{{Metric: "x"}}, Grouping: []string{"t"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := Scan(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Scan (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{`{job="x"}`, `x{l="unterminated}`, `x[5m`, `x{l=}`, `x ! y`} {
		if _, err := Scan(bad); err == nil {
			t.Errorf("Scan(%q) accepted it", bad)
		}
	}
}

func FuzzScan(f *testing.F) {
	exprs, err := Expressions()
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range exprs {
		f.Add(e.Query)
	}
	f.Fuzz(func(t *testing.T, q string) {
		refs, err := Scan(q)
		if err != nil {
			return
		}
		for _, s := range refs.Selectors {
			if s.Metric == "" || !isIdentStart(s.Metric[0]) || strings.IndexFunc(s.Metric, func(r rune) bool { return r > 127 || !isIdentChar(byte(r)) }) >= 0 {
				t.Fatalf("Scan(%q): metric %q is not an identifier", q, s.Metric)
			}
			if slices.Contains([]string{"by", "sum", "and", "or", "unless"}, s.Metric) {
				t.Fatalf("Scan(%q): keyword %q taken for a metric", q, s.Metric)
			}
		}
	})
}
