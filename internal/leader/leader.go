// Package leader elects, per target, the one replica that may write to the
// gateway, with a Kubernetes Lease through client-go's leaderelection.
//
// Acquiring and renewing the lease is client-go's job. What this package adds
// is the fence: before each write batch the daemon calls Fence, which reads
// the Lease and succeeds only when this replica holds it and renewed it
// recently enough that no other replica can have taken it over, and returns a
// context that expires before that could happen. A replica paused past its
// lease (SIGSTOP, a stalled node) wakes up with an expired fence and writes
// nothing.
//
// The reasoning: another replica takes over only after it has watched the
// Lease stay unchanged for a full lease duration on its own clock, and it
// can only have seen our last renewal after we wrote it. So a renewal that
// we started at time R keeps the lease ours until at least R + LeaseDuration.
// The fence allows writes until R + RenewDeadline, leaving LeaseDuration -
// RenewDeadline to cover clock-rate differences and requests in flight. R is
// taken twice, from the Lease's own renewTime and from this process's
// monotonic clock when it sent the renewal; the earlier one wins, so neither a
// wall-clock step nor a second process using the same identity extends it.
package leader

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// ErrNotLeader is returned by Fence when this replica may not write: it does
// not hold the lease, or its last renewal is too old to be sure it still does.
var ErrNotLeader = errors.New("leader: this replica does not hold the lease")

// The defaults are client-go's core defaults.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	DefaultLeasePrefix   = "reconciler-"
)

// Config configures the electors of one process.
type Config struct {
	// Namespace holds the Leases: the pod's own namespace.
	Namespace string
	// Identity names this replica, normally the pod name. New appends a
	// random suffix so that two processes never share an identity.
	Identity string
	// LeasePrefix starts every Lease name (default "reconciler-").
	LeasePrefix string
	// LeaseDuration is how long a silent lease blocks other replicas; whole
	// seconds, as the Lease stores it (default 15s).
	LeaseDuration time.Duration
	// RenewDeadline is how long the holder keeps trying to renew before it
	// gives up, and how long after a renewal the fence allows writes
	// (default 10s). Must be less than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is the pause between attempts to acquire or renew
	// (default 2s).
	RetryPeriod time.Duration
	// Logger receives client-go's election messages (default: none).
	Logger *zap.Logger
	// Now is the clock of the fence (default time.Now). Tests inject one.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.LeasePrefix == "" {
		c.LeasePrefix = DefaultLeasePrefix
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = DefaultRenewDeadline
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = DefaultRetryPeriod
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if c.Identity == "" {
		errs = append(errs, errors.New("identity is empty"))
	}
	if c.LeaseDuration < time.Second || c.LeaseDuration%time.Second != 0 {
		errs = append(errs, fmt.Errorf("lease duration %s is not a whole number of seconds", c.LeaseDuration))
	}
	if c.RenewDeadline <= 0 || c.RenewDeadline >= c.LeaseDuration {
		errs = append(errs, fmt.Errorf("renew deadline %s must be positive and less than the lease duration %s", c.RenewDeadline, c.LeaseDuration))
	}
	if c.RetryPeriod <= 0 || float64(c.RenewDeadline) <= leaderelection.JitterFactor*float64(c.RetryPeriod) {
		errs = append(errs, fmt.Errorf("retry period %s must be positive and less than the renew deadline %s / %.1f", c.RetryPeriod, c.RenewDeadline, leaderelection.JitterFactor))
	}
	return errors.Join(errs...)
}

// Elector campaigns for one target's Lease and fences that target's writes.
// Run it in its own goroutine; IsLeader and Fence are safe for concurrent
// use.
type Elector struct {
	cfg      Config
	client   coordinationv1client.LeasesGetter // as given: reads for the fence
	lease    string
	identity string
	changes  chan bool

	mu         sync.Mutex
	leading    bool
	round      *round
	lastRenew  time.Time // cfg.Now() when the last successful write of the Lease by us started
	inflight   int
	idle       chan struct{} // closed when inflight drops to 0 while someone waits
	latestDone time.Time     // the latest deadline handed out by Fence
}

// round is one campaign: from acquiring to losing the lease. client-go
// calls OnStartedLeading in a goroutine of its own, so it may arrive after
// OnStoppedLeading; the round tells it not to claim leadership then.
type round struct{ stopped bool }

// New returns the elector of target. client reaches the Lease API (NewClient,
// or a fake in tests).
func New(client coordinationv1client.LeasesGetter, target string, cfg Config) (*Elector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("leader election for target %q: %w", target, err)
	}
	if target == "" {
		return nil, errors.New("leader election: target name is empty")
	}
	cfg.Logger = cfg.Logger.With(zap.String("target", target))
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("leader election: identity suffix: %w", err)
	}
	return &Elector{
		cfg:      cfg,
		client:   client,
		lease:    LeaseName(cfg.LeasePrefix, target),
		identity: cfg.Identity + "_" + hex.EncodeToString(suffix),
		changes:  make(chan bool, 1),
	}, nil
}

// LeaseName is the Lease of target: prefix plus the target name when that is
// a valid object name, otherwise a cleaned-up form with a hash of the name so
// that two targets never share a Lease.
func LeaseName(prefix, target string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(target) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	clean := strings.Trim(b.String(), "-.")
	const maxName = 200 // of 253, leaving room for the prefix and the hash
	if len(clean) > maxName {
		clean = clean[:maxName]
	}
	if clean == target {
		return prefix + clean
	}
	sum := sha256.Sum256([]byte(target))
	if clean == "" {
		return prefix + hex.EncodeToString(sum[:4])
	}
	return prefix + clean + "-" + hex.EncodeToString(sum[:4])
}

// Lease is the name of the Lease this elector campaigns for.
func (e *Elector) Lease() string { return e.lease }

// Identity is this replica's holder identity, as written into the Lease.
func (e *Elector) Identity() string { return e.identity }

// IsLeader reports whether this replica currently leads, as client-go last
// told it. It is for status and scheduling; before writing, call Fence.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading
}

// Changes delivers true when this replica starts leading and false when it
// stops. It holds only the latest value: a slow reader sees the current
// state, not every transition.
func (e *Elector) Changes() <-chan bool { return e.changes }

// Run campaigns for the lease until ctx is done, campaigning again whenever
// the lease is lost. When ctx is done it waits for the write batches that
// Fence let through (each ends at its deadline at the latest), then releases
// the lease so that another replica takes over at once.
func (e *Elector) Run(ctx context.Context) {
	logctx := klog.NewContext(ctx, newLogr(e.cfg.Logger.With(zap.String("lease", e.cfg.Namespace+"/"+e.lease))))
	for ctx.Err() == nil {
		r := &round{}
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.lease},
				Client:     observedClient{LeasesGetter: e.client, e: e},
				LockConfig: resourcelock.ResourceLockConfig{Identity: e.identity},
				Labels:     map[string]string{"app.kubernetes.io/name": "reconciler"},
			},
			LeaseDuration: e.cfg.LeaseDuration,
			RenewDeadline: e.cfg.RenewDeadline,
			RetryPeriod:   e.cfg.RetryPeriod,
			Name:          e.lease,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { e.start(r) },
				OnStoppedLeading: func() { e.stop(r) },
			},
		})
		if err != nil {
			// New validated the same settings, so this is a programming error.
			e.cfg.Logger.Error("leader election settings rejected", zap.Error(err))
			return
		}
		le.Run(logctx)
	}
	e.release(context.WithoutCancel(ctx))
}

func (e *Elector) start(r *round) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.stopped {
		return
	}
	e.round = r
	e.leading = true
	e.notify(true)
	e.cfg.Logger.Info("started leading", zap.String("lease", e.lease), zap.String("identity", e.identity))
}

func (e *Elector) stop(r *round) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.stopped = true
	if e.round != r {
		return
	}
	e.round = nil
	e.leading = false
	e.notify(false)
	e.cfg.Logger.Info("stopped leading", zap.String("lease", e.lease), zap.String("identity", e.identity))
}

// notify replaces any unread value with v. Callers hold e.mu.
func (e *Elector) notify(v bool) {
	select {
	case <-e.changes:
	default:
	}
	e.changes <- v
}

// Fence checks, before a write batch, that this replica may write, and
// returns the context to write with. The context ends when ctx does, or when
// this replica can no longer be sure it holds the lease: its deadline starts
// at the last renewal plus the renew deadline and moves on with each renewal
// while the batch runs, so a long batch goes on as long as the lease is
// renewed. Call cancel when the batch is done.
//
// Fence fails with an error wrapping ErrNotLeader when this replica does not
// lead, when the Lease names another holder, or when the last renewal is
// older than the renew deadline; with another error when the Lease cannot be
// read. Never write after an error. When the context ends because the lease
// may be lost, context.Cause reports an error wrapping ErrNotLeader.
func (e *Elector) Fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := e.Writable(); err != nil {
		return nil, nil, err
	}
	deadline, err := e.writableUntil()
	if err != nil {
		return nil, nil, err
	}
	now := e.cfg.Now()

	// Read the Lease itself: the callbacks and our own bookkeeping only say
	// what this process believes. The read may take no longer than the
	// window left.
	getCtx, cancelGet := context.WithTimeout(ctx, deadline.Sub(now))
	lease, err := e.client.Leases(e.cfg.Namespace).Get(getCtx, e.lease, metav1.GetOptions{})
	cancelGet()
	if err != nil {
		return nil, nil, fmt.Errorf("lease %s: read: %w", e.lease, err)
	}
	spec := lease.Spec
	if spec.HolderIdentity == nil || *spec.HolderIdentity != e.identity {
		holder := "nobody"
		if spec.HolderIdentity != nil && *spec.HolderIdentity != "" {
			holder = *spec.HolderIdentity
		}
		return nil, nil, fmt.Errorf("lease %s is held by %s: %w", e.lease, holder, ErrNotLeader)
	}
	if spec.RenewTime == nil || spec.LeaseDurationSeconds == nil {
		return nil, nil, fmt.Errorf("lease %s has no renew time or duration: %w", e.lease, ErrNotLeader)
	}
	// Round(0) drops any monotonic reading: the Lease holds wall time.
	renewed := spec.RenewTime.Round(0)
	recorded := time.Duration(*spec.LeaseDurationSeconds) * time.Second
	if d := renewed.Add(recorded - (e.cfg.LeaseDuration - e.cfg.RenewDeadline)); d.Before(deadline) {
		deadline = d
	}
	now = e.cfg.Now()
	if !now.Before(deadline) {
		return nil, nil, fmt.Errorf("lease %s: renewed %s ago, past the renew deadline %s: %w",
			e.lease, now.Sub(renewed).Round(time.Millisecond), e.cfg.RenewDeadline, ErrNotLeader)
	}

	e.mu.Lock()
	if !e.leading {
		e.mu.Unlock()
		return nil, nil, fmt.Errorf("lease %s: %w", e.lease, ErrNotLeader)
	}
	e.inflight++
	if deadline.After(e.latestDone) {
		e.latestDone = deadline
	}
	e.mu.Unlock()

	wctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	go e.watch(wctx, cancel, deadline, stopped)
	var once sync.Once
	return wctx, func() {
		once.Do(func() {
			cancel(context.Canceled)
			<-stopped
			e.batchDone()
		})
	}, nil
}

// watch ends a fenced batch's context at its deadline, unless a renewal has
// moved the deadline on by then.
func (e *Elector) watch(ctx context.Context, cancel context.CancelCauseFunc, deadline time.Time, stopped chan<- struct{}) {
	defer close(stopped)
	for {
		timer := time.NewTimer(deadline.Sub(e.cfg.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		next, err := e.writableUntil()
		if err != nil || !next.After(deadline) {
			cancel(fmt.Errorf("lease %s: no renewal within the renew deadline: %w", e.lease, ErrNotLeader))
			return
		}
		deadline = next
		e.mu.Lock()
		if deadline.After(e.latestDone) {
			e.latestDone = deadline
		}
		e.mu.Unlock()
	}
}

// Writable is the fence's check without reading the Lease: it fails, with
// an error wrapping ErrNotLeader, unless this replica leads and renewed the
// lease within the renew deadline. It costs no request, so a writer can call
// it right before each request of a batch that Fence let through: after a
// pause (SIGSTOP, a frozen VM) it fails at once, before the batch context's
// timer has had a chance to run.
func (e *Elector) Writable() error {
	until, err := e.writableUntil()
	if err != nil {
		return err
	}
	if now := e.cfg.Now(); !now.Before(until) {
		return fmt.Errorf("lease %s: last renewal %s ago: %w", e.lease, now.Sub(until.Add(-e.cfg.RenewDeadline)).Round(time.Millisecond), ErrNotLeader)
	}
	return nil
}

// writableUntil is when the last renewal seen by this process stops
// covering writes.
func (e *Elector) writableUntil() (time.Time, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.leading {
		return time.Time{}, fmt.Errorf("lease %s: %w", e.lease, ErrNotLeader)
	}
	return e.lastRenew.Add(e.cfg.RenewDeadline), nil
}

func (e *Elector) batchDone() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inflight--
	if e.inflight == 0 && e.idle != nil {
		close(e.idle)
		e.idle = nil
	}
}

// release gives the lease up after the fenced batches are over, if this
// replica still holds it.
func (e *Elector) release(ctx context.Context) {
	e.mu.Lock()
	var idle chan struct{}
	if e.inflight > 0 {
		idle = make(chan struct{})
		e.idle = idle
	}
	wait := e.latestDone.Sub(e.cfg.Now())
	e.mu.Unlock()
	if idle != nil && wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-idle:
		case <-timer.C:
		}
		timer.Stop()
	}

	ctx, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline)
	defer cancel()
	leases := e.client.Leases(e.cfg.Namespace)
	lease, err := leases.Get(ctx, e.lease, metav1.GetOptions{})
	if err != nil {
		e.cfg.Logger.Warn("lease not released: read failed", zap.String("lease", e.lease), zap.Error(err))
		return
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != e.identity {
		return
	}
	// As client-go releases: no holder, a one-second duration, the
	// transition count kept. The update carries the resourceVersion just
	// read, so it fails rather than overwrite a new holder.
	now := metav1.NewMicroTime(e.cfg.Now())
	empty, one := "", int32(1)
	lease.Spec.HolderIdentity = &empty
	lease.Spec.LeaseDurationSeconds = &one
	lease.Spec.RenewTime = &now
	lease.Spec.AcquireTime = &now
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		e.cfg.Logger.Warn("lease not released", zap.String("lease", e.lease), zap.Error(err))
		return
	}
	e.cfg.Logger.Info("released lease", zap.String("lease", e.lease), zap.String("identity", e.identity))
}

// renewed records a successful write of the Lease naming us as holder that
// started at start.
func (e *Elector) renewed(start time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if start.After(e.lastRenew) {
		e.lastRenew = start
	}
}
