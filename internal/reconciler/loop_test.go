package reconciler

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The loop sleeps the interval with ±10% jitter after a success, backs off
// exponentially (capped) after failures, and runs at once on a trigger.
func TestScheduleJitterBackoffTrigger(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := newHarness(t, harnessOpts{rand: rng.Float64})
	stop := h.run()
	defer stop()
	if c := h.next(); c.Trigger != TriggerStart || c.Result != ResultSuccess {
		t.Fatalf("first cycle: %+v", c)
	}
	for range 20 {
		c, d := h.step()
		if c.Trigger != TriggerInterval || c.Result != ResultSuccess {
			t.Fatalf("interval cycle: %+v", c)
		}
		if d < 54*time.Second || d > 66*time.Second {
			t.Errorf("interval delay %s outside 1m ±10%%", d)
		}
	}

	// The gateway goes away: retries back off 5s, 10s, 20s, … capped at 5m.
	h.gw.srv.down()
	if c, _ := h.step(); c.Result != ResultFailure {
		t.Fatalf("cycle with the gateway down: %+v", c)
	}
	want := 5 * time.Second
	for range 9 {
		c, d := h.step()
		if c.Trigger != TriggerRetry || !hasReason(c, metrics.ReasonAdminUnreachable) {
			t.Fatalf("retry: %+v", c)
		}
		if lo, hi := time.Duration(float64(want)*0.9), time.Duration(float64(want)*1.1); d < lo || d > hi {
			t.Errorf("backoff delay %s, want %s ±10%%", d, want)
		}
		want = min(2*want, 5*time.Minute)
	}

	// A webhook runs a cycle at once, without waiting for the timer.
	h.gw.srv.up()
	if !h.clk.BlockUntil(1, nil) {
		t.Fatal("the loop never slept")
	}
	h.target.Trigger()
	if c := h.next(); c.Trigger != TriggerWebhook || c.Result != ResultSuccess {
		t.Fatalf("webhook cycle: %+v", c)
	}
	if c, d := h.step(); c.Trigger != TriggerInterval || d < 54*time.Second {
		t.Errorf("after the webhook: %+v after %s", c, d)
	}
}

// F5: the Admin API is down for ten minutes (of a fake clock). The loop
// keeps running with capped backoff, AdminUnreachable is set, the last
// good revision keeps serving, and once the API is back the gateway
// converges within one backoff step.
func TestAdminAPIDownTenMinutes(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	stop := h.run()
	defer stop()
	h.next()
	h.gw.srv.down()
	var elapsed time.Duration
	var firstFailure time.Time
	attempts := 0
	for elapsed < 10*time.Minute {
		c, d := h.step()
		if firstFailure.IsZero() {
			firstFailure = c.Start
		}
		elapsed += d
		attempts++
		if c.Result != ResultFailure || !hasReason(c, metrics.ReasonAdminUnreachable) {
			t.Fatalf("cycle at %s: %+v", elapsed, c)
		}
		if d > 330*time.Second {
			t.Errorf("a backoff step of %s exceeds the 5m cap", d)
		}
	}
	if attempts > 10 {
		t.Errorf("%d attempts in 10 minutes, want one per backoff step (≤ 10)", attempts)
	}
	if h.condition(metrics.ReasonAdminUnreachable) != 1 {
		t.Error("reconciler_condition{reason=AdminUnreachable} is not 1")
	}
	st := h.target.Status()
	if st.Ready || len(st.Conditions) != 1 || st.Conditions[0].Reason != metrics.ReasonAdminUnreachable || !st.Conditions[0].Since.Equal(firstFailure) {
		t.Errorf("status while down: ready %v, conditions %+v", st.Ready, st.Conditions)
	}
	h.gw.srv.up()
	h.gw.editRoute(t, routeID(0), "edited during the outage")
	c, d := h.step()
	if c.Result != ResultSuccess || c.Counts.Applied != 1 {
		t.Fatalf("after recovery: %+v", c)
	}
	if d > 330*time.Second {
		t.Errorf("recovery took %s", d)
	}
	if h.condition(metrics.ReasonAdminUnreachable) != 0 || !h.target.Status().Ready {
		t.Error("the condition did not clear")
	}
}

// A1: the token is rotated on the gateway (the old one stops working at
// once) and the new token file lands 0, 60 or 90 seconds later, swapped in
// as the kubelet swaps a Secret volume's ..data symlink. Writes pause with
// AuthenticationFailed until the file changes, then the target converges at
// once, with no restart.
func TestTokenRotation(t *testing.T) {
	for _, delay := range []time.Duration{0, 60 * time.Second, 90 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			h := newHarness(t, harnessOpts{tokenDir: true})
			stop := h.run()
			defer stop()
			h.next()
			newToken := "rotated-token-" + delay.String()
			if err := h.gw.em.RotateToken(emulator.TokenNameAdmin, newToken); err != nil {
				t.Fatal(err)
			}
			h.gw.editRoute(t, routeID(0), "edited while the token is stale")
			if delay > 0 {
				var waited time.Duration
				for waited < delay {
					c, d := h.step()
					waited += d
					if !hasReason(c, metrics.ReasonAuthenticationFailed) || c.Counts.Applied != 0 {
						t.Fatalf("cycle with a stale token: %+v", c)
					}
					if !h.target.Status().WritesPaused {
						t.Fatal("writes are not paused")
					}
				}
				if h.condition(metrics.ReasonAuthenticationFailed) != 1 {
					t.Error("condition AuthenticationFailed not exported")
				}
			}
			writes := h.gw.writes()
			swapToken(t, dirOf(h.tokFile), newToken, "..v2")
			var c Cycle
			for c.Result != ResultSuccess {
				c = h.next() // the reload triggers a cycle; no clock moves
				if c.Trigger != TriggerToken && c.Result == ResultSuccess {
					t.Errorf("converged on a %s cycle, want one triggered by the token", c.Trigger)
				}
			}
			if h.gw.writes() != writes+1 || c.Counts.Applied != 1 {
				t.Errorf("after the new token: %+v, %d writes", c.Counts, h.gw.writes()-writes)
			}
			if h.condition(metrics.ReasonAuthenticationFailed) != 0 || h.target.Status().WritesPaused {
				t.Error("still paused after the token changed")
			}
		})
	}
}

// A 401 on a read pauses writes; when the gateway accepts the same token
// again (a key restored, a gateway fixed), the next successful read resumes
// them — with a token file or a fixed --token alike, since nothing else
// would ever resume them when the token does not change. A 401 on a write
// while reads succeed (a read-only key) keeps writes paused, so that no
// cycle sends writes only to have them refused again: until the token file
// changes, or with a fixed token for good.
func TestAuthPauseAndResume(t *testing.T) {
	fixed := func(c *api7.Config) { c.TokenFile, c.Token = "", model.NewSecret(adminToken) }
	viewer := func(c *api7.Config) { c.TokenFile, c.Token = "", model.NewSecret("viewer-key") }
	for _, tc := range []struct {
		name    string
		client  func(*api7.Config)
		watched bool
	}{
		{"token file", nil, true},
		{"fixed token", fixed, false},
	} {
		t.Run(tc.name+"/read refused then accepted", func(t *testing.T) {
			h := newHarness(t, harnessOpts{client: tc.client, configure: func(c *TargetConfig) { c.TokenWatched = tc.watched }})
			h.once()
			if err := h.gw.em.RotateToken(emulator.TokenNameAdmin, "someone-else"); err != nil {
				t.Fatal(err)
			}
			h.gw.editRoute(t, routeID(0), "edited while the key is refused")
			for range 2 {
				if c := h.once(); !hasReason(c, metrics.ReasonAuthenticationFailed) || !h.target.Status().WritesPaused {
					t.Fatalf("cycle with a refused key: %+v", c)
				}
			}
			if err := h.gw.em.RotateToken(emulator.TokenNameAdmin, adminToken); err != nil {
				t.Fatal(err)
			}
			if c := h.once(); c.Result != ResultSuccess || c.Counts.Applied != 1 || h.target.Status().WritesPaused {
				t.Errorf("the key accepted again: %+v, paused %v", c, h.target.Status().WritesPaused)
			}
		})
	}
	writesSent := func(h *harness) int {
		n := 0
		for _, r := range h.gw.em.Requests() {
			if r.Method != http.MethodGet {
				n++
			}
		}
		return n
	}
	t.Run("read-only key, fixed", func(t *testing.T) {
		h := newHarness(t, harnessOpts{
			emu:       []emulator.Option{emulator.WithViewerToken("viewer-key")},
			client:    viewer,
			configure: func(c *TargetConfig) { c.TokenWatched = false; c.Concurrency = 1 },
		})
		c := h.once()
		if !hasReason(c, metrics.ReasonAuthenticationFailed) || !strings.Contains(c.Error, "until the daemon restarts") {
			t.Fatalf("first cycle with a read-only key: %+v", c)
		}
		sent := writesSent(h)
		for range 3 {
			if c := h.once(); !hasReason(c, metrics.ReasonAuthenticationFailed) || !c.Read || c.Counts.Applied != 0 {
				t.Fatalf("later cycle: %+v", c)
			}
		}
		if n := writesSent(h) - sent; n != 0 {
			t.Errorf("%d writes sent after the key was refused for writing", n)
		}
	})
	t.Run("read-only key, file", func(t *testing.T) {
		h := newHarness(t, harnessOpts{emu: []emulator.Option{emulator.WithViewerToken("viewer-key")}, tokenDir: true})
		stop := h.run()
		defer stop()
		h.next()
		h.gw.editRoute(t, routeID(0), "edited by hand")
		swapToken(t, dirOf(h.tokFile), "viewer-key", "..v2")
		if c := h.next(); c.Trigger != TriggerToken || !hasReason(c, metrics.ReasonAuthenticationFailed) ||
			!strings.Contains(c.Error, "until the token file changes") {
			t.Fatalf("cycle with a read-only key: %+v", c)
		}
		sent := writesSent(h)
		for range 2 {
			if c, _ := h.step(); !hasReason(c, metrics.ReasonAuthenticationFailed) || !c.Read {
				t.Fatalf("later cycle: %+v", c)
			}
		}
		if n := writesSent(h) - sent; n != 0 {
			t.Errorf("%d writes sent after the key was refused for writing", n)
		}
		swapToken(t, dirOf(h.tokFile), adminToken, "..v3")
		if c := h.next(); c.Trigger != TriggerToken || c.Result != ResultSuccess || c.Counts.Applied != 1 {
			t.Errorf("after the token changed: %+v", c)
		}
	})
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

// Shutdown: no new write starts once stop is done; the write in flight
// finishes; the cycle is recorded as interrupted and Run returns within the
// bound.
func TestShutdownLetsInFlightFinish(t *testing.T) {
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	var puts atomic.Int32
	hook := func(c emulator.Call) *emulator.Reply {
		if c.Method != http.MethodPut {
			return nil
		}
		puts.Add(1)
		entered <- struct{}{}
		<-release
		return nil
	}
	h := newHarness(t, harnessOpts{
		emu:       []emulator.Option{emulator.WithHook(hook)},
		configure: func(c *TargetConfig) { c.Concurrency = 1 },
	})
	d, err := NewDaemon([]*Target{h.target}, h.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan bool)
	go func() { drained <- d.Run(ctx, 10*time.Second) }()
	<-entered // the first write is in flight
	cancel()  // SIGTERM
	close(release)
	if !<-drained {
		t.Error("Run reports it did not drain in time")
	}
	c := h.next()
	if c.Result != ResultInterrupted || c.Counts.Applied != 1 || c.Counts.Skipped != 3 {
		t.Errorf("interrupted cycle: %+v", c.Counts)
	}
	// APISIX writes a service as its upstream and then the service: both
	// belong to the write in flight; nothing else was sent.
	if n := puts.Load(); n > 2 {
		t.Errorf("%d PUTs reached the gateway, want only the write in flight", n)
	}
}

// Shutdown with a request that never answers: after the bound, the request
// is cancelled and Run returns.
func TestShutdownBoundCancelsHungRequests(t *testing.T) {
	entered := make(chan struct{}, 1)
	hook := func(c emulator.Call) *emulator.Reply {
		if c.Method != http.MethodPut {
			return nil
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		return &emulator.Reply{Hang: true}
	}
	h := newHarness(t, harnessOpts{
		emu:       []emulator.Option{emulator.WithHook(hook)},
		configure: func(c *TargetConfig) { c.Concurrency = 1 },
	})
	d, err := NewDaemon([]*Target{h.target}, h.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan bool)
	go func() { drained <- d.Run(ctx, 10*time.Second) }()
	<-entered
	cancel()
	h.clk.BlockUntil(1, nil) // the drain timer
	h.clk.Advance(10 * time.Second)
	if <-drained {
		t.Error("Run reports a clean drain although a request hung")
	}
	if c := h.next(); c.Result != ResultInterrupted {
		t.Errorf("cycle: %+v", c)
	}
}

// fakeFencer grants or refuses write batches.
type fakeFencer struct {
	leading atomic.Bool
	fenced  atomic.Int32
}

func (f *fakeFencer) IsLeader() bool { return f.leading.Load() }

func (f *fakeFencer) Fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !f.leading.Load() {
		return nil, nil, errors.New("lease prod is held by replica-b: not the leader")
	}
	f.fenced.Add(1)
	c, cancel := context.WithCancel(ctx)
	return c, cancel, nil
}

// With leader election, a replica without the lease reads and reports but
// never writes; once it holds the lease it writes, one fence per cycle.
func TestStandbyReplicaNeverWrites(t *testing.T) {
	f := &fakeFencer{}
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Fencer = f }})
	c := h.once()
	if c.Counts.Pending != 4 || c.Counts.Applied != 0 || h.gw.writes() != 0 || c.Items[0].State != StateStandby {
		t.Fatalf("standby cycle: %+v, %d writes", c.Items, h.gw.writes())
	}
	if st := h.target.Status(); st.Leader || !st.Observed {
		t.Errorf("standby status: leader %v, observed %v", st.Leader, st.Observed)
	}
	f.leading.Store(true)
	if c := h.once(); c.Counts.Applied != 4 || f.fenced.Load() != 1 {
		t.Errorf("leader cycle: %+v, %d fences", c.Counts, f.fenced.Load())
	}
	if !h.target.Status().Leader {
		t.Error("status does not say leader")
	}
}

// onlyFence fences like a lease holder but cannot say whether it leads
// between fences.
type onlyFence struct{ ok atomic.Bool }

func (f *onlyFence) Fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if !f.ok.Load() {
		return nil, nil, errors.New("not the leader")
	}
	c, cancel := context.WithCancel(ctx)
	return c, cancel, nil
}

// The status's leader says what the elector knows now: a replica with
// leader election is not the leader before its first cycle, becomes it as
// soon as it acquires the lease (not at its next cycle) and stops being it
// as soon as it loses the lease. Without leader election it leads. A
// fencer that cannot tell says leader only after a fence let writes
// through.
func TestStatusLeaderIsWhatTheElectorKnows(t *testing.T) {
	f := &fakeFencer{}
	h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Fencer = f }})
	d, err := NewDaemon([]*Target{h.target}, h.clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	leader := func() bool { return d.Statuses()[0].Leader }
	if h.target.Status().Leader || leader() {
		t.Error("before its first cycle, a replica that has not acquired the lease says it leads")
	}
	f.leading.Store(true)
	if !leader() {
		t.Error("the lease is acquired and the status does not say leader")
	}
	if c := h.once(); c.Counts.Applied != 4 || !leader() {
		t.Errorf("leader cycle: %+v, leader %v", c.Counts, leader())
	}
	f.leading.Store(false)
	if leader() {
		t.Error("the lease is lost and the status still says leader")
	}

	plain := newHarness(t, harnessOpts{})
	if !plain.target.Status().Leader {
		t.Error("without leader election, the status does not say leader before the first cycle")
	}

	of := &onlyFence{}
	oh := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.Fencer = of }})
	if oh.target.Status().Leader {
		t.Error("a fencer that cannot tell: leader before any fence")
	}
	if c := oh.once(); c.Counts.Pending != 4 || oh.target.Status().Leader {
		t.Errorf("refused fence: %+v, leader %v", c.Counts, oh.target.Status().Leader)
	}
	of.ok.Store(true)
	if c := oh.once(); c.Counts.Applied != 4 || !oh.target.Status().Leader {
		t.Errorf("fence let through: %+v, leader %v", c.Counts, oh.target.Status().Leader)
	}
	// A cycle with nothing to write does not fence: the last fence stands.
	if c := oh.once(); c.Changes != 0 || !oh.target.Status().Leader {
		t.Errorf("cycle without writes: %+v, leader %v", c, oh.target.Status().Leader)
	}
}
