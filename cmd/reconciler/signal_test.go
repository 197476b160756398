package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// daemonProcess starts this test binary as `reconciler args…` (see
// TestMain).
func daemonProcess(t *testing.T, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "RECONCILER_TEST_MAIN=1", "XDG_CACHE_HOME="+t.TempDir())
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// wait waits for the process; the timeout only guards against a hang.
func waitProcess(t *testing.T, cmd *exec.Cmd, out *lockedBuffer) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the daemon did not exit within 60s:\n%s", tail(out.String(), 3000))
		return nil
	}
}

type syncSetup struct {
	gw    *dGateway
	args  []string
	audit string
}

// newSyncSetup is a gateway with some latency, a repository of 200 routes
// and the daemon's arguments for it.
func newSyncSetup(t *testing.T) syncSetup {
	t.Helper()
	gw := startGateway(t, emulator.WithLatency(3*time.Millisecond))
	repo := newDRepo(t)
	repo.commit("200 routes", map[string]string{"routes.yaml": shopRoutes(200, "v1")})
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	return syncSetup{gw: gw, audit: audit, args: []string{
		"--source", repo.fileURL(), "--ref", "main", "--server", gw.srv.URL, "--token-file", tempFile(t, "token", daemonToken),
		"--listen", "127.0.0.1:0", "--interval", "1h", "--concurrency", "4", "--shutdown-timeout", "10s",
		"--audit-log", audit,
	}}
}

// F8: SIGTERM in the middle of a sync. No new write starts once the daemon
// has the signal; the writes in flight finish; the audit log is flushed;
// the process exits 0 well within the bound.
func TestSIGTERMMidSync(t *testing.T) {
	s := newSyncSetup(t)
	var proc atomic.Pointer[os.Process] // the hook runs on the emulator's goroutines
	var output atomic.Pointer[lockedBuffer]
	var termAt atomic.Int64
	var writesAtTerm atomic.Int32
	s.gw.setOnPut(func(n int) {
		if n == 20 {
			termAt.Store(time.Now().UnixNano())
			_ = proc.Load().Signal(syscall.SIGTERM)
			// Hold this write until the daemon has taken the signal (it
			// logs so after its loops see the stop): a signal is delivered
			// asynchronously, and writes started before it arrived are not
			// writes after it.
			if !output.Load().waitFor("shutting down", 20*time.Second) {
				t.Error("the daemon did not log the shutdown within 20s of SIGTERM")
			}
			writesAtTerm.Store(int32(len(s.gw.writeLog())))
		}
	})
	cmd, out := daemonProcess(t, append([]string{"run"}, s.args...)...)
	output.Store(out)
	proc.Store(cmd.Process)
	err := waitProcess(t, cmd, out)
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, tail(out.String(), 3000))
	}
	took := time.Since(time.Unix(0, termAt.Load()))
	if termAt.Load() == 0 {
		t.Fatal("the sync never reached 20 writes")
	}
	if took > 10*time.Second {
		t.Errorf("exited %s after SIGTERM, want within the 10s bound", took)
	}
	after := len(s.gw.writeLog()) - int(writesAtTerm.Load())
	if after > 3 {
		t.Errorf("%d writes reached the gateway after the daemon took SIGTERM, want at most the 3 others in flight", after)
	}
	if !strings.Contains(out.String(), "shutting down") || !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Errorf("no shutdown in the log:\n%s", tail(out.String(), 2000))
	}
	// The audit log holds a well-formed line for every resource written:
	// every PUT, but the service's upstream and the service are one.
	events := readAudit(t, s.audit)
	puts := 0
	for _, w := range s.gw.writeLog() {
		if strings.HasPrefix(w, "PUT ") {
			puts++
		}
	}
	if len(events) != puts-1 || len(events) < 19 {
		t.Errorf("%d audit events for %d PUTs", len(events), puts)
	}
	if strings.Contains(out.String(), daemonToken) {
		t.Error("the log holds the token")
	}
}

// F8: SIGKILL in the middle of a sync, then a restart. IDs address every
// object, so the next cycle completes the sync with no duplicate and no
// POST, and the one after finds nothing to do.
func TestSIGKILLThenRestartConverges(t *testing.T) {
	s := newSyncSetup(t)
	var proc atomic.Pointer[os.Process]
	s.gw.setOnPut(func(n int) {
		if n == 100 {
			_ = proc.Load().Kill()
		}
	})
	cmd, out := daemonProcess(t, append([]string{"run"}, s.args...)...)
	proc.Store(cmd.Process)
	err := waitProcess(t, cmd, out)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first run was not killed: %v", err)
	}
	s.gw.setOnPut(nil)
	routes := s.gw.em.Count("", "routes")
	if routes < 50 || routes >= 200 {
		t.Fatalf("%d routes after the kill, want a partial sync", routes)
	}

	for i, want := range []string{"success", "0 difference(s)"} {
		cmd, out = daemonProcess(t, append([]string{"run", "--once"}, s.args...)...)
		if err := waitProcess(t, cmd, out); err != nil {
			t.Fatalf("restart %d: %v\n%s", i+1, err, tail(out.String(), 2000))
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("restart %d: output lacks %q:\n%s", i+1, want, tail(out.String(), 2000))
		}
	}
	if n := s.gw.em.Count("", "routes"); n != 200 {
		t.Errorf("%d routes, want 200", n)
	}
	if s.gw.posts.Load() != 0 {
		t.Errorf("%d POSTs: objects were created without an ID", s.gw.posts.Load())
	}
	// No object was written twice by the restart: each route once in all.
	puts := map[string]int{}
	for _, w := range s.gw.writeLog() {
		if strings.HasPrefix(w, "PUT /apisix/admin/routes/") {
			puts[w]++
		}
	}
	for w, n := range puts {
		if n > 2 {
			t.Errorf("%s sent %d times", w, n)
		}
	}
	if len(puts) != 200 {
		t.Errorf("%d distinct routes written", len(puts))
	}
}
