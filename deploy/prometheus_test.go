package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// promtool returns the promtool binary, or skips the test when it is absent.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install it with `apt-get install prometheus` (.ci/run does)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestAlertRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", "prometheus/alerts.yaml")
}

func TestAlertRulesUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", "prometheus/alerts_test.yaml")
}

// requiredAlerts are the conditions issue 8 asks an alert for.
var requiredAlerts = map[string]string{
	"drift present longer than N minutes":     "ReconcilerDriftPersistent",
	"reconcile failing":                       "ReconcilerReconcileFailing",
	"no successful reconcile for N intervals": "ReconcilerNoSuccessfulReconcile",
	"authentication failing":                  "ReconcilerAuthenticationFailing",
	"deletes blocked by the guard":            "ReconcilerDeletesBlocked",
	"TLS verification disabled":               "ReconcilerTLSVerifyDisabled",
	"Git fetch failing":                       "ReconcilerGitFetchFailing",
}

func TestAlertRulesAreComplete(t *testing.T) {
	f, err := Alerts()
	if err != nil {
		t.Fatal(err)
	}
	tested := alertTests(t)
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(ops))

	var names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: recording rule %s; keep recording rules elsewhere", g.Name, r.Record)
				continue
			}
			names = append(names, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
			if !strings.HasSuffix(strings.TrimSuffix(r.Annotations["runbook_url"], "#"+anchor), "/docs/operations.md") || !anchors[anchor] {
				t.Errorf("%s: runbook %s has no section in docs/operations.md", r.Alert, r.Annotations["runbook_url"])
			}
			if anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook anchor #%s, want #%s", r.Alert, anchor, strings.ToLower(r.Alert))
			}
			if !tested[r.Alert].fires || !tested[r.Alert].quiet {
				t.Errorf("%s: alerts_test.yaml must show it firing and not firing (fires %v, quiet %v)",
					r.Alert, tested[r.Alert].fires, tested[r.Alert].quiet)
			}
		}
	}
	for what, name := range requiredAlerts {
		if !slices.Contains(names, name) {
			t.Errorf("no alert for %q (%s)", what, name)
		}
	}
}

type alertCoverage struct{ fires, quiet bool }

// alertTests reads alerts_test.yaml: for each alert, whether a case expects
// it to fire and whether one expects it not to.
func alertTests(t *testing.T) map[string]alertCoverage {
	t.Helper()
	raw, err := os.ReadFile("prometheus/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]alertCoverage{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			c := out[a.Alertname]
			if len(a.ExpAlerts) > 0 {
				c.fires = true
			} else {
				c.quiet = true
			}
			out[a.Alertname] = c
		}
	}
	return out
}

var heading = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *$`)

// markdownAnchors are the anchors GitHub gives a document's headings.
func markdownAnchors(md string) map[string]bool {
	out := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(md, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestDashboardQueriesParse hands every dashboard query to promtool as a
// recording rule, so that Prometheus's own parser checks its syntax.
func TestDashboardQueriesParse(t *testing.T) {
	bin := promtool(t)
	exprs, err := Expressions()
	if err != nil {
		t.Fatal(err)
	}
	f := RuleFile{Groups: []RuleGroup{{Name: "dashboard"}}}
	for i, e := range exprs {
		if strings.HasPrefix(e.Source, "alert ") {
			continue
		}
		f.Groups[0].Rules = append(f.Groups[0].Rules, Rule{Record: fmt.Sprintf("dashboard_query_%d", i), Expr: e.Query})
	}
	raw, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's queries: %v\n%s\n%s", err, out, raw)
	}
}
