package deploy

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("grafana/reconciler-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(raw) {
		t.Fatal("the dashboard is not valid JSON")
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if _, ok := top["__inputs"]; ok {
		t.Error("the dashboard has __inputs (an export for sharing): provisioning needs the plain model")
	}
	if id, ok := top["id"]; ok && id != nil {
		t.Error("the dashboard has a fixed id; Grafana assigns one")
	}
	d, err := LoadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Contains(vars, "datasource") || !slices.Contains(vars, "target") {
		t.Errorf("variables %v: want datasource and target", vars)
	}

	ids := map[int]bool{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := used[cell{x, y}]; ok {
					t.Errorf("panels %q and %q overlap at %d,%d", other, p.Title, x, y)
				}
				used[cell{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || !strings.Contains(string(*p.Datasource), `"${datasource}"`) {
			t.Errorf("panel %q: datasource is not the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: a query without expression or with a missing or repeated refId %q", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			if !strings.Contains(q.Expr, `target=~"$target"`) && !strings.Contains(q.Expr, "reconciler_build_info") {
				t.Errorf("panel %q query %s ignores the target variable", p.Title, q.RefID)
			}
		}
	}
}

// The dashboard shows what issue 8 asks for: each topic needs a panel
// whose queries use the metric.
func TestDashboardCoversTheTopics(t *testing.T) {
	d, err := LoadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	topics := map[string]string{
		"drift per target and kind":  "reconciler_drift_resources",
		"in-sync status":             "reconciler_in_sync",
		"reconcile rate":             "reconciler_reconcile_total",
		"reconcile duration":         "reconciler_reconcile_duration_seconds_bucket",
		"apply operations by result": "reconciler_apply_operations_total",
		"Admin API latency":          "reconciler_admin_request_duration_seconds_bucket",
		"Admin API errors":           "reconciler_admin_requests_total",
		"Git fetch latency":          "reconciler_git_fetch_duration_seconds_bucket",
		"conditions":                 "reconciler_condition",
		"last successful sync age":   "reconciler_last_success_timestamp_seconds",
	}
	for topic, metric := range topics {
		found := false
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				refs, err := Scan(grafanaVars.Replace(q.Expr))
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range refs.Selectors {
					found = found || s.Metric == metric
				}
			}
		}
		if !found {
			t.Errorf("no panel shows %s (%s)", topic, metric)
		}
	}
}
