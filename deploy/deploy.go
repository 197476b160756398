// Package deploy holds what platform teams run the reconciler with — the
// Kubernetes manifests (kubernetes/), the Prometheus alerts (prometheus/) and
// the Grafana dashboard (grafana/) — and the checks that tie the alerts and
// the dashboard to the metrics the daemon exports.
//
// The daemon's own tests can call CheckMetrics with what a running daemon
// serves on /metrics, so that a renamed metric or label breaks a test rather
// than a dashboard.
package deploy

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

//go:embed prometheus/alerts.yaml
var alertsYAML []byte

//go:embed grafana/reconciler-dashboard.json
var dashboardJSON []byte

// Expr is one PromQL expression of the alerts or the dashboard.
type Expr struct {
	Source string // where it is: "alert X", "dashboard panel "Y" query A", "dashboard variable target"
	Query  string // PromQL, with Grafana's variables replaced by values
}

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is a group of a rule file.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting or recording rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Alerts returns the rules of prometheus/alerts.yaml.
func Alerts() (RuleFile, error) {
	var f RuleFile
	if err := yaml.UnmarshalStrict(alertsYAML, &f); err != nil {
		return RuleFile{}, fmt.Errorf("prometheus/alerts.yaml: %w", err)
	}
	return f, nil
}

// Dashboard is the part of a Grafana dashboard that holds queries.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; rows hold no queries.
type Panel struct {
	ID         int              `json:"id"`
	Type       string           `json:"type"`
	Title      string           `json:"title"`
	Datasource *json.RawMessage `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

// Variable is a templating variable.
type Variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

// LoadDashboard returns grafana/reconciler-dashboard.json.
func LoadDashboard() (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(dashboardJSON, &d); err != nil {
		return Dashboard{}, fmt.Errorf("grafana/reconciler-dashboard.json: %w", err)
	}
	return d, nil
}

// grafanaVars are the values substituted for Grafana's variables so that a
// dashboard query is plain PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"${target}", ".*",
	"$target", ".*",
)

// labelValues matches Grafana's label_values(metric, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// Expressions returns every PromQL expression of the alerts and the dashboard.
func Expressions() ([]Expr, error) {
	alerts, err := Alerts()
	if err != nil {
		return nil, err
	}
	var out []Expr
	for _, g := range alerts.Groups {
		for _, r := range g.Rules {
			out = append(out, Expr{Source: "alert " + r.Alert + r.Record, Query: r.Expr})
		}
	}
	d, err := LoadDashboard()
	if err != nil {
		return nil, err
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, Expr{
				Source: fmt.Sprintf("dashboard panel %q query %s", p.Title, t.RefID),
				Query:  grafanaVars.Replace(t.Expr),
			})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			return nil, fmt.Errorf("dashboard variable %s: %w", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			return nil, fmt.Errorf("dashboard variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
		}
		// The same question as a selector: does the metric have the label?
		out = append(out, Expr{Source: "dashboard variable " + v.Name, Query: fmt.Sprintf(`count by (%s) (%s)`, m[2], m[1])})
	}
	return out, nil
}

// Selector is a metric and the label matchers of one vector selector.
type Selector struct {
	Metric   string
	Matchers []Matcher
}

// Matcher is one label matcher: label, operator (=, !=, =~, !~) and value.
type Matcher struct {
	Label, Op, Value string
}

// References are what one PromQL expression uses.
type References struct {
	Selectors []Selector
	Grouping  []string // labels of by, without, on, ignoring, group_left, group_right
}

// keywords are the PromQL words that are neither metrics nor functions.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true, "Inf": true, "NaN": true,
}

// aggregators are the aggregation operators, which may take their grouping
// before their parentheses: max by (target) (x).
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// groupingWords take a parenthesised list of labels.
var groupingWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// Scan lists the metrics, matchers and grouping labels of a PromQL
// expression. It knows enough of the syntax for the queries of this
// repository (selectors, functions, aggregations with by/without, vector
// matching, ranges, numbers, strings); promtool checks the syntax itself.
func Scan(q string) (References, error) {
	var refs References
	toks, err := tokenize(q)
	if err != nil {
		return refs, err
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tokIdent {
			if t.text == "{" {
				return refs, fmt.Errorf("selector without a metric name at %q", q)
			}
			continue
		}
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1].text
		}
		switch {
		case groupingWords[t.text]:
			if next != "(" {
				continue // group_left without labels
			}
			j := i + 2
			for ; j < len(toks) && toks[j].text != ")"; j++ {
				if toks[j].kind == tokIdent {
					refs.Grouping = append(refs.Grouping, toks[j].text)
				}
			}
			i = j
		case keywords[t.text], aggregators[t.text]:
		case next == "(":
			// a function or an aggregation
		default:
			sel := Selector{Metric: t.text}
			if next == "{" {
				j := i + 2
				for ; j < len(toks) && toks[j].text != "}"; j++ {
					if toks[j].text == "," {
						continue
					}
					if j+2 >= len(toks) || toks[j].kind != tokIdent || toks[j+1].kind != tokOp || toks[j+2].kind != tokString {
						return refs, fmt.Errorf("malformed matcher in %q", q)
					}
					sel.Matchers = append(sel.Matchers, Matcher{Label: toks[j].text, Op: toks[j+1].text, Value: toks[j+2].text})
					j += 2
				}
				i = j
			}
			refs.Selectors = append(refs.Selectors, sel)
		}
	}
	return refs, nil
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokString
	tokNumber
	tokOp
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

func tokenize(q string) ([]token, error) {
	var toks []token
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to the end of the line
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			var b strings.Builder
			for ; j < len(q) && q[j] != c; j++ {
				if q[j] == '\\' && c != '`' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, fmt.Errorf("unterminated string in %q", q)
			}
			toks = append(toks, token{tokString, b.String()})
			i = j + 1
		case c == '[': // a range or subquery: skip to the bracket's end
			j := strings.IndexByte(q[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unterminated range in %q", q)
			}
			i += j + 1
		case isIdentStart(c):
			j := i
			for j < len(q) && isIdentChar(q[j]) {
				j++
			}
			toks = append(toks, token{tokIdent, q[i:j]})
			i = j
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(q) && (isIdentChar(q[j]) || q[j] == '.') {
				j++
			}
			toks = append(toks, token{tokNumber, q[i:j]})
			i = j
		case strings.HasPrefix(q[i:], "=~") || strings.HasPrefix(q[i:], "!~") || strings.HasPrefix(q[i:], "!=") ||
			strings.HasPrefix(q[i:], "==") || strings.HasPrefix(q[i:], ">=") || strings.HasPrefix(q[i:], "<="):
			toks = append(toks, token{tokOp, q[i : i+2]})
			i += 2
		case c == '=' || c == '>' || c == '<' || c == '+' || c == '-' || c == '*' || c == '/' || c == '%' || c == '^':
			toks = append(toks, token{tokOp, q[i : i+1]})
			i++
		case c == '(' || c == ')' || c == '{' || c == '}' || c == ',':
			toks = append(toks, token{tokPunct, q[i : i+1]})
			i++
		default:
			return nil, fmt.Errorf("unexpected %q in %q", c, q)
		}
	}
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// ScrapeLabels are the labels Prometheus adds to every series it scrapes
// (with the Prometheus Operator's service discovery), so queries may use
// them although the daemon does not export them.
var ScrapeLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// ClosedSets are the label values the alerts and the dashboard may match
// on, from internal/metrics and pkg/model: metric → label → values.
func ClosedSets() map[string]map[string][]string {
	var reasons, fetchReasons, kinds, changes []string
	for _, r := range metrics.Reasons() {
		reasons = append(reasons, string(r))
	}
	for _, r := range metrics.FetchReasons() {
		fetchReasons = append(fetchReasons, string(r))
	}
	for _, k := range model.Kinds() {
		kinds = append(kinds, string(k))
	}
	for _, c := range metrics.Changes() {
		changes = append(changes, string(c))
	}
	results := []string{string(metrics.ResultSuccess), string(metrics.ResultFailure), string(metrics.ResultSkipped)}
	return map[string]map[string][]string{
		"reconciler_condition":               {"reason": reasons},
		"reconciler_git_fetch_errors_total":  {"reason": fetchReasons},
		"reconciler_deletes_blocked_total":   {"reason": metrics.DeletionGuardReasons()},
		"reconciler_reconcile_total":         {"result": results},
		"reconciler_apply_operations_total":  {"result": results, "kind": kinds},
		"reconciler_drift_resources":         {"kind": kinds, "change": changes},
		"reconciler_drift_detected_total":    {"kind": kinds},
		"reconciler_conflict_flapping_total": {"kind": kinds},
	}
}

// CheckMetrics checks every expression of the alerts and the dashboard
// against the metric families mfs that the daemon exports: each metric
// exists (a histogram's _bucket, _sum and _count included), each label in
// a matcher or a grouping exists on the metrics of that expression, and
// each value matched with = or a plain alternation =~"a|b" lies in
// closed[metric][label] when that set is given. It returns every problem
// found.
func CheckMetrics(mfs []*dto.MetricFamily, closed map[string]map[string][]string) error {
	exprs, err := Expressions()
	if err != nil {
		return err
	}
	families := familyLabels(mfs)
	var errs []error
	for _, e := range exprs {
		errs = append(errs, checkExpr(e, families, closed)...)
	}
	return errors.Join(errs...)
}

// familyLabels maps each series name a family produces to its label names.
func familyLabels(mfs []*dto.MetricFamily) map[string]map[string]bool {
	out := make(map[string]map[string]bool)
	for _, mf := range mfs {
		labels := make(map[string]bool)
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		for _, l := range ScrapeLabels {
			labels[l] = true
		}
		name := mf.GetName()
		out[name] = labels
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			bucket := make(map[string]bool, len(labels)+1)
			for l := range labels {
				bucket[l] = true
			}
			bucket["le"] = true
			out[name+"_bucket"] = bucket
			out[name+"_sum"] = labels
			out[name+"_count"] = labels
		}
	}
	return out
}

// Synthetic are the series Prometheus itself provides.
var Synthetic = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

var alternation = regexp.MustCompile(`^[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*$`)

func checkExpr(e Expr, families map[string]map[string]bool, closed map[string]map[string][]string) []error {
	refs, err := Scan(e.Query)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", e.Source, err)}
	}
	var errs []error
	used := make(map[string]bool)
	for _, s := range refs.Selectors {
		labels, ok := families[s.Metric]
		if !ok {
			if !slices.Contains(Synthetic, s.Metric) {
				errs = append(errs, fmt.Errorf("%s: metric %s is not exported", e.Source, s.Metric))
			}
			continue
		}
		for l := range labels {
			used[l] = true
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.Metric, "_bucket"), "_sum"), "_count")
		if _, hist := families[base+"_bucket"]; !hist {
			base = s.Metric
		}
		for _, m := range s.Matchers {
			if !labels[m.Label] {
				errs = append(errs, fmt.Errorf("%s: metric %s has no label %s", e.Source, s.Metric, m.Label))
				continue
			}
			allowed, ok := closed[base][m.Label]
			if !ok || (m.Op != "=" && m.Op != "=~") {
				continue
			}
			values := []string{m.Value}
			if m.Op == "=~" {
				if !alternation.MatchString(m.Value) {
					continue // a real pattern: nothing to check value by value
				}
				values = strings.Split(m.Value, "|")
			}
			for _, v := range values {
				if !slices.Contains(allowed, v) {
					errs = append(errs, fmt.Errorf("%s: %s{%s=%q}: %q is not one of %v", e.Source, s.Metric, m.Label, m.Value, v, allowed))
				}
			}
		}
	}
	for _, l := range refs.Grouping {
		if !used[l] {
			errs = append(errs, fmt.Errorf("%s: grouping label %s is on none of its metrics", e.Source, l))
		}
	}
	return errs
}
