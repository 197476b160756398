package leader

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	k8stesting "k8s.io/client-go/testing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ns = "reconciler"

// fast are the timings of the tests that wait for a lease to expire: the
// shortest a Lease can express (its duration is in whole seconds).
var fast = timings{lease: time.Second, renew: 600 * time.Millisecond, retry: 100 * time.Millisecond}

// slow are the timings of the tests that must not see client-go give up on
// its own while they look at the fence.
var slow = timings{lease: 30 * time.Second, renew: 20 * time.Second, retry: 100 * time.Millisecond}

type timings struct{ lease, renew, retry time.Duration }

// newLeaseAPI is client-go's fake clientset with the one property of the
// real API server that leader election rests on: an update carrying a stale
// resourceVersion fails with a conflict (the fake tracker alone accepts it).
func newLeaseAPI() *fake.Clientset {
	c := fake.NewClientset()
	gvr := coordinationv1.SchemeGroupVersion.WithResource("leases")
	var version int64 // guarded by the fake's lock, held around the reactor chain
	c.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease)
		version++
		l.ResourceVersion = strconv.FormatInt(version, 10)
		return false, nil, nil // the tracker stores it, or refuses a second create
	})
	c.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		cur, err := c.Tracker().Get(gvr, l.Namespace, l.Name)
		if err != nil {
			return true, nil, err
		}
		if cur.(*coordinationv1.Lease).ResourceVersion != l.ResourceVersion {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), l.Name, errors.New("the object has been modified"))
		}
		version++
		l.ResourceVersion = strconv.FormatInt(version, 10)
		return false, nil, nil
	})
	return c
}

// pausable blocks one replica's Lease calls, the way SIGSTOP or a
// partition would, until resumed. Blocked calls give up when their context
// ends, as real requests do.
type pausable struct {
	coordinationv1client.LeasesGetter
	mu     sync.Mutex
	reads  bool          // whether Get is blocked too
	resume chan struct{} // nil when not paused
}

func (p *pausable) pause(reads bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume == nil {
		p.resume = make(chan struct{})
	}
	p.reads = reads
}

func (p *pausable) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		close(p.resume)
		p.resume = nil
	}
}

func (p *pausable) wait(ctx context.Context, read bool) error {
	p.mu.Lock()
	ch := p.resume
	if read && !p.reads {
		ch = nil
	}
	p.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pausable) Leases(namespace string) coordinationv1client.LeaseInterface {
	return pausedLeases{LeaseInterface: p.LeasesGetter.Leases(namespace), p: p}
}

type pausedLeases struct {
	coordinationv1client.LeaseInterface
	p *pausable
}

func (l pausedLeases) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error) {
	if err := l.p.wait(ctx, true); err != nil {
		return nil, err
	}
	return l.LeaseInterface.Get(ctx, name, opts)
}

func (l pausedLeases) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	if err := l.p.wait(ctx, false); err != nil {
		return nil, err
	}
	return l.LeaseInterface.Create(ctx, lease, opts)
}

func (l pausedLeases) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	if err := l.p.wait(ctx, false); err != nil {
		return nil, err
	}
	return l.LeaseInterface.Update(ctx, lease, opts)
}

// clock is the real clock plus an offset the test moves forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *clock) since(t time.Time) float64 { return c.Now().Sub(t).Seconds() }

// replica is one process: an elector on its own pausable client.
type replica struct {
	name   string
	e      *Elector
	client *pausable
	clock  *clock
	cancel context.CancelFunc
	done   chan struct{}
}

func startReplica(t *testing.T, api *fake.Clientset, name string, tm timings) *replica {
	t.Helper()
	return startLoggedReplica(t, api, name, tm, zap.NewNop())
}

func startLoggedReplica(t *testing.T, api *fake.Clientset, name string, tm timings, log *zap.Logger) *replica {
	t.Helper()
	r := &replica{name: name, client: &pausable{LeasesGetter: api.CoordinationV1()}, clock: &clock{}, done: make(chan struct{})}
	e, err := New(r.client, "prod", Config{
		Namespace: ns, Identity: name,
		LeaseDuration: tm.lease, RenewDeadline: tm.renew, RetryPeriod: tm.retry,
		Now: r.clock.Now, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		e.Run(ctx)
	}()
	t.Cleanup(r.stop)
	return r
}

// stop ends the replica's election and waits for Run to return.
func (r *replica) stop() {
	r.client.unpause()
	r.cancel()
	<-r.done
}

// waitLeading waits until the replica's leadership is want.
func waitLeading(t *testing.T, r *replica, want bool, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for r.e.IsLeader() != want {
		select {
		case <-r.e.Changes():
		case <-timeout:
			t.Fatalf("%s: leading is not %v after %s", r.name, want, within)
		}
	}
}

// waitFirstLeader waits until one of rs leads and returns it.
func waitFirstLeader(t *testing.T, within time.Duration, rs ...*replica) *replica {
	t.Helper()
	timeout := time.After(within)
	for {
		for _, r := range rs {
			if r.e.IsLeader() {
				return r
			}
		}
		select {
		case <-rs[0].e.Changes():
		case <-rs[1].e.Changes():
		case <-timeout:
			t.Fatalf("no leader after %s", within)
		}
	}
}

// gateway records writes in order, refusing those whose context has ended,
// as an HTTP client does.
type gateway struct {
	mu     sync.Mutex
	writes []string // holder of each accepted write
}

func (g *gateway) put(ctx context.Context, holder string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	g.writes = append(g.writes, holder)
	return nil
}

func (g *gateway) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.writes...)
}

func holderOf(t *testing.T, api *fake.Clientset) string {
	t.Helper()
	l, err := api.CoordinationV1().Leases(ns).Get(context.Background(), LeaseName(DefaultLeasePrefix, "prod"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func TestOneLeaderAndTheOtherIsFenced(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", fast)
	b := startReplica(t, api, "b", fast)
	leader := waitFirstLeader(t, 5*time.Second, a, b)
	follower := a
	if leader == a {
		follower = b
	}

	ctx, cancel, err := leader.e.Fence(context.Background())
	if err != nil {
		t.Fatalf("leader's fence: %v", err)
	}
	if err := leader.e.Writable(); err != nil {
		t.Errorf("leader not writable: %v", err)
	}
	cancel()
	cancel() // a second call is harmless
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("batch context after cancel: %v", ctx.Err())
	}
	if err := follower.e.Writable(); !errors.Is(err, ErrNotLeader) {
		t.Errorf("follower writable: %v, want ErrNotLeader", err)
	}

	if _, _, err := follower.e.Fence(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Errorf("follower's fence: %v, want ErrNotLeader", err)
	}
	if got := holderOf(t, api); got != leader.e.Identity() {
		t.Errorf("lease holder %q, want the leader %q", got, leader.e.Identity())
	}
	if !strings.HasPrefix(leader.e.Identity(), leader.name+"_") {
		t.Errorf("identity %q does not start with the configured %q", leader.e.Identity(), leader.name)
	}
}

// A leader whose renewals stop fails its fence once the renew deadline has
// passed on its clock, although the Lease still names it: that is what keeps
// a paused process from writing after it wakes.
func TestFenceFailsWhenRenewalsStop(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", slow)
	waitLeading(t, a, true, 5*time.Second)
	if _, cancel, err := a.e.Fence(context.Background()); err != nil {
		t.Fatalf("fence while renewing: %v", err)
	} else {
		cancel()
	}

	a.client.pause(false) // renewals block; reads still work
	a.clock.advance(slow.renew)
	if err := a.e.Writable(); !errors.Is(err, ErrNotLeader) {
		t.Errorf("writable after the renew deadline: %v, want ErrNotLeader", err)
	}
	_, _, err := a.e.Fence(context.Background())
	if !errors.Is(err, ErrNotLeader) || !strings.Contains(err.Error(), "renew") {
		t.Fatalf("fence after the renew deadline: %v, want ErrNotLeader about the renewal", err)
	}
	if got := holderOf(t, api); got != a.e.Identity() {
		t.Fatalf("lease holder %q: the test wants the stale lease still naming %q", got, a.e.Identity())
	}

	a.client.unpause()
	a.clock.advance(-slow.renew)
	// Renewals resume; the fence opens again on the next one.
	timeout := time.After(5 * time.Second)
	for {
		_, cancel, err := a.e.Fence(context.Background())
		if err == nil {
			cancel()
			break
		}
		select {
		case <-timeout:
			t.Fatalf("fence still closed after renewals resumed: %v", err)
		case <-time.After(slow.retry):
		}
	}
}

// The fence believes the Lease, not the callbacks: when another holder
// appears in the Lease before client-go has noticed, writes stop at once.
func TestFenceReadsTheLease(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", slow)
	waitLeading(t, a, true, 5*time.Second)

	leases := api.CoordinationV1().Leases(ns)
	l, err := leases.Get(context.Background(), a.e.Lease(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	intruder := "intruder"
	l.Spec.HolderIdentity = &intruder
	if _, err := leases.Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.e.Fence(context.Background())
	if !errors.Is(err, ErrNotLeader) || !strings.Contains(err.Error(), "held by intruder") {
		t.Fatalf("fence with another holder in the Lease: %v, want ErrNotLeader naming the holder", err)
	}
}

func TestFenceFailsWhenTheLeaseCannotBeRead(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", slow)
	waitLeading(t, a, true, 5*time.Second)
	a.client.pause(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := a.e.Fence(ctx)
	if err == nil {
		t.Fatal("fence succeeded without reading the Lease")
	}
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNotLeader) {
		t.Errorf("fence error %v, want the read's deadline", err)
	}
}

// D5: a leader paused in the middle of a batch (its Lease client and its
// writer both stopped) loses the lease to the other replica; when it wakes
// up it makes no write, and the gateway never sees the two holders'
// writes interleaved.
func TestPausedLeaderMakesNoWritesAfterWaking(t *testing.T) {
	api := newLeaseAPI()
	gw := &gateway{}
	a := startReplica(t, api, "a", fast)
	waitLeading(t, a, true, 5*time.Second)
	b := startReplica(t, api, "b", fast)

	wctx, done, err := a.e.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.put(wctx, "a"); err != nil {
		t.Fatalf("a's first write: %v", err)
	}
	a.client.pause(true) // SIGSTOP: no renewals, no reads; the writer holds wctx

	waitLeading(t, b, true, 5*time.Second)
	bctx, bdone, err := b.e.Fence(context.Background())
	if err != nil {
		t.Fatalf("new leader's fence: %v", err)
	}
	for range 3 {
		if err := gw.put(bctx, "b"); err != nil {
			t.Fatalf("b's write: %v", err)
		}
	}
	bdone()

	a.client.unpause() // SIGCONT: the writer goes on with its batch
	if err := a.e.Writable(); !errors.Is(err, ErrNotLeader) {
		t.Errorf("the woken ex-leader is writable: %v", err)
	}
	if err := gw.put(wctx, "a"); err == nil {
		t.Error("the woken ex-leader's in-flight batch wrote after the lease moved")
	}
	if cause := context.Cause(wctx); !errors.Is(cause, ErrNotLeader) {
		t.Errorf("the batch ended with %v, want ErrNotLeader", cause)
	}
	done()
	if _, _, err := a.e.Fence(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Errorf("the woken ex-leader's next fence: %v, want ErrNotLeader", err)
	}
	if got, want := strings.Join(gw.log(), ""), "abbb"; got != want {
		t.Errorf("gateway writes %q, want %q", got, want)
	}
}

// D5: writers on both replicas run batches through the fence while the
// lease is forced to move several times (the leader cut off from the API
// until the other replica takes over). The gateway sees each batch whole,
// never a write of the other holder inside it, and the writer changes once
// per handover.
func TestNoInterleavedWritesAcrossHandovers(t *testing.T) {
	api := newLeaseAPI()
	gw := &gateway{}
	rs := []*replica{startReplica(t, api, "a", fast), startReplica(t, api, "b", fast)}

	type batch struct {
		holder      string
		first, last int // positions in the gateway's log
	}
	var (
		mu      sync.Mutex
		batches []batch
		refused int
	)
	// Each writer runs one batch per step, on its own goroutine, as the
	// daemon's target loops do; step waits until both have finished it.
	steps := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	acks := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			for range steps[r.name] {
				ctx, done, err := r.e.Fence(context.Background())
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					acks <- struct{}{}
					continue
				}
				first := len(gw.log())
				for range 3 {
					if gw.put(ctx, r.name) != nil {
						break
					}
				}
				last := len(gw.log()) - 1
				done()
				mu.Lock()
				batches = append(batches, batch{r.name, first, last})
				mu.Unlock()
				acks <- struct{}{}
			}
		})
	}
	step := func() {
		for _, r := range rs {
			steps[r.name] <- struct{}{}
		}
		for range rs {
			<-acks
		}
	}

	leader := waitFirstLeader(t, 5*time.Second, rs[0], rs[1])
	want := leader.name
	for handover := range 3 {
		for range 3 {
			step()
		}
		other := rs[0]
		if leader == rs[0] {
			other = rs[1]
		}
		leader.client.pause(true)
		waitLeading(t, other, true, 5*time.Second)
		step() // the cut-off leader's writer runs too, and must be fenced out
		leader.client.unpause()
		step()
		t.Logf("handover %d: %s → %s", handover+1, leader.name, other.name)
		leader = other
		want += other.name
	}
	for _, ch := range steps {
		close(ch)
	}
	wg.Wait()

	log := gw.log()
	for _, bt := range batches {
		for i := bt.first; i <= bt.last; i++ {
			if log[i] != bt.holder {
				t.Fatalf("batch of %s (writes %d–%d) interleaved with a write of %s: %q", bt.holder, bt.first, bt.last, log[i], strings.Join(log, ""))
			}
		}
	}
	// The sequence of writers, runs collapsed: one run per term of office.
	got := ""
	for i, h := range log {
		if i == 0 || h != log[i-1] {
			got += h
		}
	}
	if got != want {
		t.Errorf("writers in order %q, want %q (one run per leader): %q", got, want, strings.Join(log, ""))
	}
	t.Logf("%d writes in %d batches, %d batches refused by the fence", len(log), len(batches), refused)
}

// A batch that runs longer than the renew deadline goes on while the lease
// is renewed, and ends within the renew deadline once renewals stop.
func TestLongBatchFollowsRenewals(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", fast)
	waitLeading(t, a, true, 5*time.Second)
	wctx, done, err := a.e.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	first, err := a.e.writableUntil()
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the first window is over and renewals have opened a later
	// one; polling, bounded.
	timeout := time.After(5 * time.Second)
	for {
		until, err := a.e.writableUntil()
		if err == nil && a.clock.Now().After(first) && until.After(first.Add(fast.renew)) {
			break
		}
		select {
		case <-timeout:
			t.Fatal("renewals did not move the window on")
		case <-time.After(fast.retry):
		}
	}
	if err := wctx.Err(); err != nil {
		t.Fatalf("the batch ended at its first deadline although the lease was renewed: %v", context.Cause(wctx))
	}

	a.client.pause(true)
	start := time.Now()
	select {
	case <-wctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the batch went on after renewals stopped")
	}
	t.Logf("batch ended %v after renewals stopped (renew deadline %v)", time.Since(start), fast.renew)
	if time.Since(start) > fast.renew+time.Second {
		t.Errorf("the batch ended %v after renewals stopped, want within the renew deadline %v", time.Since(start), fast.renew)
	}
	if cause := context.Cause(wctx); !errors.Is(cause, ErrNotLeader) {
		t.Errorf("cause %v, want ErrNotLeader", cause)
	}
}

// Stopping the leader (SIGTERM) releases the lease after its batch ends, so
// the other replica takes over without waiting for the lease to expire.
func TestShutdownReleasesAfterTheBatch(t *testing.T) {
	tm := timings{lease: 10 * time.Second, renew: 5 * time.Second, retry: 100 * time.Millisecond}
	api := newLeaseAPI()
	gw := &gateway{}
	a := startReplica(t, api, "a", tm)
	waitLeading(t, a, true, 5*time.Second)
	b := startReplica(t, api, "b", tm)

	wctx, done, err := a.e.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.put(wctx, "a"); err != nil {
		t.Fatal(err)
	}
	a.cancel() // SIGTERM: Run stops campaigning and waits for the batch

	waitLeading(t, a, false, 5*time.Second)
	if err := gw.put(wctx, "a"); err != nil {
		t.Fatalf("the in-flight batch was cut short: %v", err)
	}
	select {
	case <-a.done:
		t.Fatal("Run returned while a fenced batch was open")
	default:
	}
	start := time.Now()
	done()
	<-a.done

	waitLeading(t, b, true, tm.lease/2)
	t.Logf("handover took %v (the lease is %v)", time.Since(start), tm.lease)
	bctx, bdone, err := b.e.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.put(bctx, "b"); err != nil {
		t.Fatal(err)
	}
	bdone()
	if got, want := strings.Join(gw.log(), ""), "aab"; got != want {
		t.Errorf("gateway writes %q, want %q", got, want)
	}
}

// D5: a leader killed mid-cycle (no release) is replaced once its lease
// expires: within the lease duration plus a retry.
func TestKilledLeaderFailsOver(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", fast)
	waitLeading(t, a, true, 5*time.Second)
	b := startReplica(t, api, "b", fast)
	if got := holderOf(t, api); got != a.e.Identity() {
		t.Fatalf("lease holder %q before the kill, want %q", got, a.e.Identity())
	}

	start := time.Now()
	a.client.pause(true) // SIGKILL: nothing more reaches the API, not even a release
	a.cancel()
	waitLeading(t, b, true, 5*time.Second)
	elapsed := time.Since(start)
	t.Logf("failover took %v", elapsed)
	if limit := fast.lease + 5*fast.retry + time.Second; elapsed > limit {
		t.Errorf("failover took %v, want at most the lease duration plus a retry (%v)", elapsed, limit)
	}
	if got := holderOf(t, api); got != b.e.Identity() {
		t.Errorf("lease holder %q, want %q", got, b.e.Identity())
	}
}

func TestChangesReportsTransitions(t *testing.T) {
	api := newLeaseAPI()
	a := startReplica(t, api, "a", slow)
	select {
	case v := <-a.e.Changes():
		if !v {
			t.Fatalf("first change %v, want true", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change reported")
	}
	a.stop()
	select {
	case v := <-a.e.Changes():
		if v {
			t.Fatalf("change after stop %v, want false", v)
		}
	default:
		t.Fatal("no change reported after stop")
	}
	if got := holderOf(t, api); got != "" {
		t.Errorf("lease holder after stop %q, want none (released)", got)
	}
}

func TestLeaseName(t *testing.T) {
	tests := []struct {
		target string
		want   string // "" means: check the shape only
	}{
		{"prod-default", "reconciler-prod-default"},
		{"eu.prod", "reconciler-eu.prod"},
		{"Prod", ""},
		{"prod_default", ""},
		{"-x-", ""},
		{"ü", ""},
		{strings.Repeat("a", 300), ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got := LeaseName(DefaultLeasePrefix, tt.target)
			if tt.want != "" && got != tt.want {
				t.Errorf("LeaseName(%q) = %q, want %q", tt.target, got, tt.want)
			}
			if len(got) > 253 || !dns1123(got) {
				t.Errorf("LeaseName(%q) = %q is not a DNS-1123 subdomain", tt.target, got)
			}
			if other, ok := seen[got]; ok {
				t.Errorf("targets %q and %q share the lease %q", other, tt.target, got)
			}
			seen[got] = tt.target
		})
	}
	if LeaseName(DefaultLeasePrefix, "Prod") == LeaseName(DefaultLeasePrefix, "prod") {
		t.Error("targets Prod and prod share a lease")
	}
}

func dns1123(s string) bool {
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(s)-1
		if !ok {
			return false
		}
	}
	return s != ""
}

func TestNewRejectsBadSettings(t *testing.T) {
	ok := Config{Namespace: ns, Identity: "a"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no namespace", func(c *Config) { c.Namespace = "" }, "namespace"},
		{"no identity", func(c *Config) { c.Identity = "" }, "identity"},
		{"fractional lease", func(c *Config) { c.LeaseDuration = 1500 * time.Millisecond }, "whole number of seconds"},
		{"renew not below lease", func(c *Config) { c.LeaseDuration, c.RenewDeadline = 10*time.Second, 10*time.Second }, "less than the lease duration"},
		{"retry too long", func(c *Config) { c.RetryPeriod = 9 * time.Second }, "retry period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			_, err := New(newLeaseAPI().CoordinationV1(), "prod", c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := New(newLeaseAPI().CoordinationV1(), "", ok); err == nil {
		t.Error("New accepted an empty target")
	}
	if _, err := New(newLeaseAPI().CoordinationV1(), "prod", ok); err != nil {
		t.Errorf("New with defaults: %v", err)
	}
}

func TestFenceBeforeLeading(t *testing.T) {
	e, err := New(newLeaseAPI().CoordinationV1(), "prod", Config{Namespace: ns, Identity: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Fence(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Errorf("fence before Run: %v, want ErrNotLeader", err)
	}
	if e.IsLeader() {
		t.Error("IsLeader before Run")
	}
	if got := fmt.Sprint(e.Lease()); got != "reconciler-prod" {
		t.Errorf("lease %q", got)
	}
}

// The elector's log lines name their target (design.md §10's field), not
// only the Lease, whose name may be a hashed form of it.
func TestLogsNameTheTarget(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	a := startLoggedReplica(t, newLeaseAPI(), "a", slow, zap.New(core))
	waitLeading(t, a, true, 5*time.Second)
	a.stop()
	seen := map[string]bool{}
	for _, e := range logs.All() {
		seen[e.Message] = true
		if e.ContextMap()["target"] != "prod" {
			t.Errorf("log %q has fields %v, want target=prod", e.Message, e.ContextMap())
		}
	}
	for _, msg := range []string{"started leading", "stopped leading", "released lease"} {
		if !seen[msg] {
			t.Errorf("no %q log line", msg)
		}
	}
}
