package main

import (
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/gitops-gateway/reconciler/deploy"
)

// The alerts and the dashboard query what a running daemon serves: `run`
// is started against the emulator and a Git repository, one cycle applies,
// and every PromQL expression of deploy/ is checked against the families
// scraped from /metrics (names, labels, closed label values). Every
// reconciler_ family it serves has a dashboard panel, and promtool (when
// installed) finds nothing to lint.
func TestDashboardAndAlertsMatchTheRunningDaemon(t *testing.T) {
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(2, "v1")})
	token := tempFile(t, "token", daemonToken)
	p := startInProcess(t, "--name", "dash", "--source", repo.fileURL(), "--ref", "main", "--server", gw.srv.URL,
		"--token-file", token, "--interval", "1h")
	if c := p.waitCycle(t, "dash", succeeded); c.Counts.Applied == 0 {
		t.Fatalf("first cycle applied nothing: %+v", c)
	}
	code, body := p.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	var families []*dto.MetricFamily
	var ours []string
	for name, mf := range parsed {
		families = append(families, mf)
		if strings.HasPrefix(name, "reconciler_") {
			ours = append(ours, name)
		}
	}
	sort.Strings(ours)
	if err := deploy.CheckMetrics(families, deploy.ClosedSets()); err != nil {
		t.Errorf("the alerts and the dashboard use what the running daemon does not serve:\n%v", err)
	}

	exprs, err := deploy.Expressions()
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, e := range exprs {
		if !strings.HasPrefix(e.Source, "dashboard panel") {
			continue
		}
		refs, err := deploy.Scan(e.Query)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range refs.Selectors {
			shown[strings.TrimSuffix(s.Metric, "_bucket")] = true
		}
	}
	for _, name := range ours {
		if !shown[name] {
			t.Errorf("%s is served but on no dashboard panel", name)
		}
	}
	if len(ours) < 20 {
		t.Errorf("only %d reconciler_ families served: %v", len(ours), ours)
	}

	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out.String())
		}
	}
}
