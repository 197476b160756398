package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
)

// A real Prometheus scrapes the daemon: after an out-of-band change
// reconciler_drift_resources rises to 1 within one interval, and returns
// to 0 once the daemon corrected it. Skipped only when the prometheus
// binary is absent (.ci/run installs Debian's).
func TestPrometheusSeesDriftRiseAndReturn(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (apt-get install prometheus): the scrape test needs a real Prometheus")
	}
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(3, "v1")})
	token := tempFile(t, "token", daemonToken)
	p := startInProcess(t, "--name", "prom", "--source", repo.fileURL(), "--ref", "main", "--server", gw.srv.URL,
		"--token-file", token, "--interval", "2s")
	p.waitCycle(t, "prom", succeeded)

	prom := startPrometheus(t, bin, p.addr)
	drift := `sum(reconciler_drift_resources{target="prom"})`
	prom.waitFor(t, drift, func(v float64) bool { return v == 0 }, "drift at 0 once in sync")

	gw.handEdit(t, shopRouteID(2), "changed by hand")
	prom.waitFor(t, `reconciler_drift_resources{target="prom",kind="route",change="update"}`, func(v float64) bool { return v == 1 }, "drift rises to 1")
	p.waitCycle(t, "prom", func(c reconciler.Cycle) bool { return c.Counts.Drift == 1 && c.Counts.Applied == 1 })
	prom.waitFor(t, drift, func(v float64) bool { return v == 0 }, "drift back to 0 after the correction")
	prom.waitFor(t, `reconciler_drift_detected_total{target="prom",kind="route"}`, func(v float64) bool { return v == 1 }, "one drift detected")
	prom.waitFor(t, `reconciler_in_sync{target="prom"}`, func(v float64) bool { return v == 1 }, "in sync")
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
}

type promServer struct {
	url string
}

// startPrometheus runs prometheus on a loopback port, scraping target
// every 250ms.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 250ms
  scrape_timeout: 200ms
scrape_configs:
  - job_name: reconciler
    static_configs:
      - targets: [%q]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // killed by the cancel
	})
	p := &promServer{url: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30s:\n%s", logs.String())
		}
		poll()
	}
}

// poll paces a loop that waits on another process.
func poll() {
	t := time.NewTimer(100 * time.Millisecond)
	<-t.C
}

// query runs an instant query and returns its single value, or false when
// the result is empty.
func (p *promServer) query(t *testing.T, q string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body)
	}
	if len(r.Data.Result) != 1 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %q", q, s)
	}
	return v, true
}

// waitFor polls Prometheus until q's value satisfies ok.
func (p *promServer) waitFor(t *testing.T, q string, ok func(float64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := "no result"
	for time.Now().Before(deadline) {
		if v, found := p.query(t, q); found {
			if ok(v) {
				return
			}
			last = strconv.FormatFloat(v, 'g', -1, 64)
		}
		poll()
	}
	t.Fatalf("%s: %s stayed at %s for 30s", what, q, last)
}
