package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/internal/reconciler/clock"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// Several targets from a configuration file — one over a real Git server
// (smart HTTP), one from a local directory — are reconciled continuously;
// /readyz, /status and the audit log say the same; a signed webhook runs a
// cycle at once, a bad one is refused.
func TestRunConfigFileSeveralTargets(t *testing.T) {
	gwA, gwB := startGateway(t), startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(3, "v1")})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(shopRoutes(2, "local")), 0o644); err != nil {
		t.Fatal(err)
	}
	token := tempFile(t, "token", daemonToken)
	secret := tempFile(t, "webhook", "s3cret-webhook")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	config := tempFile(t, "daemon.yaml", `targets:
  - name: git-http
    source: {url: `+serveGit(t, repo)+`, ref: main}
    gateway: {server: `+gwA.srv.URL+`, tokenFile: `+token+`}
    sync: {interval: 1h, prune: true}
    webhook: {secretFile: `+secret+`}
  - name: local-dir
    source: {url: `+dir+`}
    gateway: {server: `+gwB.srv.URL+`, tokenFile: `+token+`}
    sync: {interval: 1h, prune: true, mode: detect}
`)
	p := startInProcess(t, "--config", config, "--audit-log", audit)
	a := p.waitCycle(t, "git-http", succeeded)
	b := p.waitCycle(t, "local-dir", succeeded)
	if a.Counts.Applied != 4 || b.Counts.Pending != 3 || b.Counts.Applied != 0 {
		t.Fatalf("first cycles: git-http %+v, local-dir %+v", a.Counts, b.Counts)
	}
	if code, body := p.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	st := p.status(t)
	if len(st) != 2 || st["git-http"].Commit.Author != "Alice Example <alice@example.com>" || st["local-dir"].Mode != reconciler.ModeDetect ||
		len(st["local-dir"].Drift) != 3 || !strings.HasPrefix(st["local-dir"].Revision, "local@sha256:") {
		t.Errorf("status = %+v", st)
	}
	if code, _ := p.get(t, "/"); code != 200 {
		t.Errorf("page: %d", code)
	}
	// One registry holds every target's series, the build and the
	// standard Go and process collectors (docs/metrics.md).
	_, metricsText := p.get(t, "/metrics")
	for _, want := range []string{
		`reconciler_in_sync{target="local-dir"} 0`, `reconciler_drift_resources{change="create",kind="route",target="git-http"} 3`,
		`reconciler_drift_resources{change="create",kind="route",target="local-dir"} 2`,
		`reconciler_reconcile_total{result="success",target="git-http"} 1`,
		`reconciler_build_info{`, "\ngo_goroutines ", "\nprocess_start_time_seconds ",
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// A push, announced by a signed webhook, is applied at once (the
	// interval is an hour).
	repo.commit("second", map[string]string{"routes.yaml": shopRoutes(3, "v2")})
	if code := p.webhook(t, "git-http", "wrong secret"); code != 401 {
		t.Errorf("webhook with a bad signature: %d", code)
	}
	if code := p.webhook(t, "local-dir", "s3cret-webhook"); code != 404 {
		t.Errorf("webhook to a target without a secret: %d", code)
	}
	if code := p.webhook(t, "git-http", "s3cret-webhook"); code != 202 {
		t.Fatalf("webhook: %d", code)
	}
	c := p.waitCycle(t, "git-http", func(c reconciler.Cycle) bool { return c.Trigger == reconciler.TriggerWebhook })
	if c.Result != reconciler.ResultSuccess || c.Counts.Pending != 3 || c.Counts.Applied != 3 {
		t.Errorf("webhook cycle: %+v", c)
	}
	if err := p.stop(); err != nil {
		t.Fatalf("run returned %v after the stop", err)
	}
	events := readAudit(t, audit)
	applied := 0
	for _, ev := range events {
		if ev.Event == reconciler.AuditApply && ev.Result == "applied" && ev.Target == "git-http" {
			applied++
			if ev.Commit.Author != "Alice Example <alice@example.com>" || ev.Commit.Message == "" || ev.Revision == "" {
				t.Errorf("audit event without its commit: %+v", ev)
			}
		}
	}
	if applied != 7 {
		t.Errorf("audit log has %d applied events of git-http, want 7", applied)
	}
	if gwA.posts.Load() != 0 || gwB.writeLog() != nil {
		t.Errorf("%d POSTs; detect target wrote %v", gwA.posts.Load(), gwB.writeLog())
	}
	if strings.Contains(p.stderr.String(), daemonToken) {
		t.Error("the log holds the token")
	}
}

func readAudit(t *testing.T, path string) []reconciler.AuditEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reconciler.AuditEvent
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev reconciler.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// A1 end to end: the token is rotated on the gateway; the daemon pauses
// writes with AuthenticationFailed (in /metrics and /status; liveness
// stays OK); when the token file is swapped, as the kubelet swaps a Secret
// volume, the daemon converges at once, with no restart.
func TestRunTokenRotationEndToEnd(t *testing.T) {
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(3, "v1")})
	tokDir := t.TempDir()
	swapTokenDir(t, tokDir, daemonToken, "..v1")
	if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(tokDir, "token")); err != nil {
		t.Fatal(err)
	}
	secret := tempFile(t, "webhook", "hook")
	p := startInProcess(t, "--source", repo.fileURL(), "--ref", "main", "--server", gw.srv.URL,
		"--token-file", filepath.Join(tokDir, "token"), "--interval", "1h", "--webhook-secret-file", secret)
	p.waitCycle(t, "default", succeeded)

	if err := gw.em.RotateToken(emulator.TokenNameAdmin, "rotated-token-99"); err != nil {
		t.Fatal(err)
	}
	gw.handEdit(t, shopRouteID(1), "edited while the token is stale")
	if code := p.webhook(t, "default", "hook"); code != 202 {
		t.Fatalf("webhook: %d", code)
	}
	c := p.waitCycle(t, "default", func(c reconciler.Cycle) bool { return c.Trigger == reconciler.TriggerWebhook })
	if c.Result != reconciler.ResultFailure || len(c.Reasons) == 0 || c.Reasons[0] != "AuthenticationFailed" {
		t.Fatalf("cycle with the stale token: %+v", c)
	}
	_, metrics := p.get(t, "/metrics")
	if !strings.Contains(metrics, `reconciler_condition{reason="AuthenticationFailed",target="default"} 1`) {
		t.Error("/metrics does not show AuthenticationFailed")
	}
	if st := p.status(t)["default"]; !st.WritesPaused || st.Ready {
		t.Errorf("status while paused: %+v", st)
	}
	if code, _ := p.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d while the gateway refuses the token", code)
	}
	swapTokenDir(t, tokDir, "rotated-token-99", "..v2")
	c = p.waitCycle(t, "default", func(c reconciler.Cycle) bool { return c.Trigger == reconciler.TriggerToken && succeeded(c) })
	if c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Errorf("cycle after the new token: %+v", c.Counts)
	}
	_, metrics = p.get(t, "/metrics")
	if !strings.Contains(metrics, `reconciler_condition{reason="AuthenticationFailed",target="default"} 0`) {
		t.Error("AuthenticationFailed did not clear")
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{daemonToken, "rotated-token-99"} {
		if strings.Contains(p.stderr.String(), s) {
			t.Errorf("the log holds a token")
		}
	}
}

// swapTokenDir writes tok into a new version directory and swaps ..data to
// it atomically.
func swapTokenDir(t *testing.T, dir, tok, version string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, version), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, version, "token"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// `run --once` exits 0 when every target succeeded and 1 otherwise; flag
// mistakes are errors before anything runs.
func TestRunOnceAndFlagErrors(t *testing.T) {
	gw := startGateway(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(shopRoutes(1, "x")), 0o644); err != nil {
		t.Fatal(err)
	}
	token := tempFile(t, "token", daemonToken)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	config := tempFile(t, "c.yaml", "targets:\n  - name: a\n    source: {url: "+dir+"}\n    gateway: {server: "+gw.srv.URL+", tokenFile: "+token+"}\n    sync: {prune: true}\n")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"once succeeds", []string{"--source", dir, "--server", gw.srv.URL, "--token-file", token, "--once"}, 0, "default: success"},
		{"once fails", []string{"--source", dir, "--server", closed, "--token-file", token, "--once", "--timeout", "1s"}, 1, "AdminUnreachable"},
		{"config once", []string{"--config", config, "--once"}, 0, "a: success"},
		{"no token", []string{"--source", dir, "--server", gw.srv.URL}, 1, "--token-file"},
		{"no source", []string{"--server", gw.srv.URL, "--token-file", token}, 1, "--source: required"},
		{"config and flags", []string{"--config", config, "--server", gw.srv.URL}, 1, "--server: with --config"},
		{"bad mode", []string{"--source", dir, "--token-file", token, "--mode", "fix"}, 1, `mode "fix"`},
		{"ref with a directory", []string{"--source", dir, "--ref", "main", "--token-file", token, "--once"}, 1, "local directory"},
		{"git flags with a directory", []string{"--source", dir, "--token-file", token, "--once", "--git-token-file", token}, 1, "apply to Git sources"},
		{"git settings with a directory", []string{"--config", tempFile(t, "d.yaml", "targets:\n  - name: a\n    source: {url: "+dir+", timeout: 5s}\n    gateway: {server: "+gw.srv.URL+", tokenFile: "+token+"}\n    sync: {prune: true}\n"), "--once"}, 1, "apply to Git sources"},
		{"leader flags without --leader-elect", []string{"--source", dir, "--token-file", token, "--once", "--kubeconfig", token}, 1, "with --leader-elect only"},
		{"history policy with a directory", []string{"--source", dir, "--token-file", token, "--once", "--allow-history-rewrite=false"}, 1, "has no history"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"run", "--log-level", "error"}, tt.args...), streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s%s", tt.want, out.String(), errb.String())
			}
		})
	}
}

// `reconciler quickstart --once` works from a fresh clone with no
// environment: it applies every example object and exits 0.
func TestQuickstartOnce(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"quickstart", "--once", "--gateway-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"},
		streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"First cycle at main@sha1:", "success, 18 objects applied", "+ ssl", "+ route                orders-list", "quickstart: success"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Try:") {
		t.Error("--once prints the things to try, which need the daemon running")
	}
}

// The quickstart without --once runs the daemon and prints what to try;
// stopping it (Ctrl-C) exits 0 and removes its directory.
func TestQuickstartRuns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	first := make(chan reconciler.Cycle, 1)
	hooks := &daemonHooks{listener: ln, onCycle: func(_ string, c reconciler.Cycle) {
		select {
		case first <- c:
		default:
		}
	}}
	done := make(chan error, 1)
	go func() {
		done <- runQuickstart(ctx, quickstartOptions{gatewayListen: "127.0.0.1:0", listen: "unused", interval: time.Hour,
			log: logOptions{Level: "error", Format: "json"}}, streams{out: &out, err: &out}, noEnv, hooks)
	}()
	if c := <-first; c.Result != reconciler.ResultSuccess {
		t.Fatalf("first cycle: %+v", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"Try:", "curl -s -X PATCH http://127.0.0.1:", "X-API-KEY: $(cat ", "reconciler_drift_resources", "git -c user.name=you", "http://" + ln.Addr().String() + "/", "stopped"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	dirLine := text[strings.Index(text, "token in ")+len("token in "):]
	dirLine = dirLine[:strings.Index(dirLine, "admin-token")]
	if _, err := os.Stat(dirLine); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary directory %s is still there: %v", dirLine, err)
	}
}

// --leader-elect: the target campaigns for its Lease (a fake Lease API
// here) and writes once it holds it; the status says it leads. Outside a
// pod, the namespace must be given; --once cannot campaign.
func TestRunLeaderElect(t *testing.T) {
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(2, "v1")})
	token := tempFile(t, "token", daemonToken)
	args := []string{"--source", repo.fileURL(), "--ref", "main", "--server", gw.srv.URL, "--token-file", token, "--interval", "1s"}

	leases := fake.NewClientset()
	p := startInProcessWith(t, &daemonHooks{leases: leases.CoordinationV1()},
		append(args, "--leader-elect", "--leader-elect-namespace", "gateways", "--leader-elect-identity", "replica-a")...)
	c := p.waitCycle(t, "default", func(c reconciler.Cycle) bool { return c.Counts.Applied > 0 })
	if c.Counts.Applied != 3 {
		t.Errorf("leader cycle: %+v", c.Counts)
	}
	lease, err := leases.CoordinationV1().Leases("gateways").Get(context.Background(), "reconciler-default", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.HasPrefix(*lease.Spec.HolderIdentity, "replica-a") {
		t.Fatalf("lease: %+v, %v", lease, err)
	}
	if st := p.status(t)["default"]; !st.Leader {
		t.Error("status does not say leader")
	}

	// A second replica stands by: it reads and reports, is ready (a
	// rolling update waits for it), says it does not lead, and answers a
	// webhook saying so.
	secret := tempFile(t, "webhook", "s3cret-webhook")
	b := startInProcessWith(t, &daemonHooks{leases: leases.CoordinationV1()},
		append(args, "--leader-elect", "--leader-elect-namespace", "gateways", "--leader-elect-identity", "replica-b",
			"--webhook-secret-file", secret)...)
	b.waitCycle(t, "default", func(c reconciler.Cycle) bool { return c.Read })
	if code, body := b.get(t, "/readyz"); code != 200 {
		t.Errorf("standby /readyz = %d %s", code, body)
	}
	if st := b.status(t)["default"]; st.Leader {
		t.Error("the standby's status says it leads")
	}
	if code, body := b.webhookBody(t, "default", "s3cret-webhook"); code != 202 || !strings.Contains(body, `"leader":false`) {
		t.Errorf("webhook on the standby: %d %s", code, body)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(args, "--leader-elect", "--leader-elect-identity", "x"), "--leader-elect-namespace"},
		{append(args, "--leader-elect", "--once"), "--once and --leader-elect"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"run", "--log-level", "error"}, tt.args...), streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv)
		if code != 1 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, %s", tt.args[len(tt.args)-2:], code, errb.String())
		}
	}
}

// G3 and D1 through the flags, across restarts (each `run --once` is a new
// process sharing --git-cache-dir): a refused force-push stays refused
// after a restart until --accept-history-rewrite names its commit, and a
// commit over the deletion budget is applied only with
// --deletion-guard-override naming it.
func TestRunAcknowledgementsBoundToCommits(t *testing.T) {
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(4, "v1")})
	token := tempFile(t, "token", daemonToken)
	cache := t.TempDir()
	once := func(code int, want string, extra ...string) {
		t.Helper()
		args := append([]string{"run", "--log-level", "error", "--once", "--source", repo.fileURL(), "--ref", "main",
			"--server", gw.srv.URL, "--token-file", token, "--git-cache-dir", cache,
			"--allow-history-rewrite=false", "--max-deletes", "1"}, extra...)
		var out, errb bytes.Buffer
		if got := run(context.Background(), args, streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv); got != code {
			t.Fatalf("%v: exit %d, want %d\n%s%s", extra, got, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String()+errb.String(), want) {
			t.Errorf("%v: output lacks %q:\n%s%s", extra, want, out.String(), errb.String())
		}
	}
	once(0, "default: success")

	gitCLI(t, repo.work, "checkout", "-q", "--orphan", "rewritten")
	rewritten := repo.commit("unrelated history", map[string]string{"routes.yaml": shopRoutes(4, "rewritten")})
	writes := len(gw.writeLog())
	once(1, "HistoryRewritten")
	once(1, "HistoryRewritten", "--accept-history-rewrite", strings.Repeat("0", 40))
	if n := len(gw.writeLog()) - writes; n != 0 {
		t.Fatalf("%d writes from a refused force-push", n)
	}
	once(0, "4 applied", "--accept-history-rewrite", rewritten)
	once(0, "0 applied") // the new history is the last good one now

	drop := repo.commit("drop three routes", map[string]string{"routes.yaml": shopRoutes(1, "rewritten")})
	once(1, "DeletionGuardTripped")
	once(1, "not this one", "--deletion-guard-override", rewritten)
	once(0, "3 applied", "--deletion-guard-override", drop)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--accept-history-rewrite", rewritten, "--allow-history-rewrite=true"}, "followed anyway"},
		{[]string{"--deletion-guard-override", "abc"}, "full hash"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"run", "--source", repo.fileURL(), "--server", gw.srv.URL, "--token-file", token, "--once"}, tt.args...)
		if code := run(context.Background(), args, streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv); code != 1 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, %s", tt.args, code, errb.String())
		}
	}
}

// The three things the quickstart prints to try work as printed: each
// command line is run with sh. The hand edit shows as drift in /metrics
// (the printed curl | grep) until the cycle after the correction, the Git
// commit is applied by the next cycle, and the status page answers. A
// fake clock decides when cycles run.
func TestQuickstartCommandsWorkAsPrinted(t *testing.T) {
	for _, bin := range []string{"sh", "curl", "sed", "grep", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it): the quickstart's commands need it", bin)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	cycles := make(chan reconciler.Cycle, 16)
	hooks := &daemonHooks{listener: ln, clock: clk, onCycle: func(_ string, c reconciler.Cycle) { cycles <- c }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runQuickstart(ctx, quickstartOptions{gatewayListen: "127.0.0.1:0", listen: "unused", interval: 10 * time.Second,
			log: logOptions{Level: "error", Format: "json"}}, streams{out: &out, err: &out}, noEnv, hooks)
	}()
	next := func() reconciler.Cycle {
		t.Helper()
		select {
		case c := <-cycles:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("no cycle within 30s:\n%s", out.String())
			return reconciler.Cycle{}
		}
	}
	step := func() reconciler.Cycle {
		t.Helper()
		if !clk.BlockUntil(1, nil) {
			t.Fatal("the loop never slept")
		}
		d, _ := clk.Next()
		clk.Advance(d)
		return next()
	}
	if c := next(); c.Result != reconciler.ResultSuccess {
		t.Fatalf("first cycle: %+v\n%s", c, out.String())
	}
	lines := strings.Split(out.String(), "\n")
	command := func(after string) string {
		t.Helper()
		for i, l := range lines {
			if strings.Contains(l, after) && i+1 < len(lines) {
				return strings.TrimSpace(lines[i+1])
			}
		}
		t.Fatalf("no command after %q in:\n%s", after, out.String())
		return ""
	}
	sh := func(cmdline string) (string, int) {
		t.Helper()
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return string(b), exit.ExitCode()
		case err != nil:
			t.Fatalf("%s: %v", cmdline, err)
		}
		return string(b), 0
	}
	edit, watch := command("1. Change a route on the gateway by hand:"), command("to 1, then back to 0 one cycle later:")
	commit := command("2. Change the configuration in Git")

	if got, code := sh(edit); code != 0 || !strings.Contains(got, "edited by hand") {
		t.Fatalf("%s: exit %d\n%s", edit, code, got)
	}
	if c := step(); c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Errorf("cycle after the hand edit: %+v", c)
	}
	if got, code := sh(watch); code != 0 || !strings.Contains(got, `reconciler_drift_resources{change="update",kind="route",target="quickstart"} 1`) {
		t.Errorf("%s: exit %d\n%s", watch, code, got)
	}
	if c := step(); c.Changes != 0 {
		t.Errorf("cycle after the correction: %+v", c)
	}
	if got, code := sh(watch); code != 1 || got != "" {
		t.Errorf("%s after the correction: exit %d\n%s", watch, code, got)
	}
	if got, code := sh(commit); code != 0 {
		t.Fatalf("%s: exit %d\n%s", commit, code, got)
	}
	if c := step(); c.Counts.Pending != 1 || c.Counts.Applied != 1 || c.Result != reconciler.ResultSuccess {
		t.Errorf("cycle after the commit: %+v", c)
	}
	page := "http://" + ln.Addr().String() + "/"
	if !strings.Contains(out.String(), "Open the status page: "+page) {
		t.Errorf("the status page is not printed as %s", page)
	}
	for _, u := range []string{page, page + "status"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
