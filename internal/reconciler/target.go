package reconciler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/internal/reconciler/clock"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Mode says whether a target writes.
type Mode string

// The modes.
const (
	// ModeApply corrects the gateway: new revisions are applied and drift
	// is undone (self-heal).
	ModeApply Mode = "apply"
	// ModeDetect only reports: it never writes.
	ModeDetect Mode = "detect"
)

// ParseMode parses a mode as written in flags and files.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeApply, ModeDetect:
		return m, nil
	case "":
		return ModeApply, nil
	}
	return "", fmt.Errorf("mode %q: want apply or detect", s)
}

// Gateway is the Admin API of one target. *api7.Client satisfies it (and
// apply.Validator, which the executor uses when present).
type Gateway interface {
	// List returns the owned objects and the keys of the others; a partial
	// read is an error.
	List(ctx context.Context) (model.Inventory, error)
	// Defaults returns what the server fills in for omitted fields.
	Defaults(ctx context.Context) (model.Defaults, error)
	apply.Gateway
}

// Fencer gates writes when several replicas run (leader election): Fence
// returns the context to write with when this replica holds the target's
// lease, and an error when it does not.
type Fencer interface {
	Fence(ctx context.Context) (context.Context, context.CancelFunc, error)
}

// Backoff is an exponential delay: Base, doubled per step, capped at Max.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

func (b Backoff) step(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(b.Base) * math.Pow(2, float64(n-1))
	if d > float64(b.Max) || math.IsInf(d, 0) {
		return b.Max
	}
	return time.Duration(d)
}

// Defaults of a target's timing.
const (
	DefaultInterval    = time.Minute
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 5 * time.Minute
	// jitter is the spread of every delay: ±10%.
	jitter = 0.1
)

// TargetConfig is one target: where its desired state comes from, which
// gateway it manages and how.
type TargetConfig struct {
	// Name is the target's name: a metric label value and a URL segment.
	Name    string
	Source  Source
	Gateway Gateway
	// SourceURL and Server are shown in the status (no credentials).
	SourceURL string
	Server    string

	Mode    Mode
	Suspend bool
	// Interval between cycles (default 1m), with ±10% jitter.
	Interval time.Duration
	Policy   apply.Policy
	Ignore   []diff.IgnoreRule
	// PruneUnlabeled also manages global rules and plugin metadata that
	// are not declared (they carry no ownership label).
	PruneUnlabeled bool
	// DeletionGuardOverride is the hash of one commit (the hash in its
	// revision: main@sha1:<hash>) whose plan may delete more than
	// Policy.MaxDeletes and Policy.MaxDeletePercent. It applies to no other
	// revision, and expires after the first successful cycle at that
	// commit. It never lifts Policy.AllowEmpty.
	DeletionGuardOverride string
	// Concurrency bounds the writes in flight (default apply's).
	Concurrency int
	// Env looks up ${VAR} substitutions (os.LookupEnv in main).
	Env func(string) (string, bool)
	// TokenWatched reports that the gateway token comes from a file whose
	// changes are signalled with TokenChanged. A 401 pauses writes; they
	// resume when the token changes, or, when the 401 came from a read,
	// when a later read succeeds. A 401 on a write while reads succeed (a
	// read-only key) keeps writes paused until the token changes: with a
	// fixed token (TokenWatched false), until the daemon restarts.
	TokenWatched bool
	// TLSVerifyDisabled is logged as a warning every cycle.
	TLSVerifyDisabled bool
	// Fencer, when set, must grant each write batch.
	Fencer Fencer
	// Backoff after failed cycles (defaults 5s, capped at 5m; the base is
	// never more than the interval).
	Backoff Backoff
	// SelfHeal is how long a resource another writer keeps changing is
	// left alone before it is corrected again (defaults: the interval,
	// capped at 5m or the interval, whichever is longer).
	SelfHeal Backoff
}

// Deps are what targets share: the clock, the random source for jitter,
// metrics, the audit trail and the logger.
type Deps struct {
	Clock clock.Clock
	// Rand returns a number in [0, 1) for jitter.
	Rand    func() float64
	Metrics *metrics.Metrics
	Audit   *Audit
	Logger  *zap.Logger
	// OnCycle, when set, is called after every cycle (for the quickstart's
	// output and for tests).
	OnCycle func(target string, c Cycle)
}

// Target runs the reconcile loop of one target.
type Target struct {
	cfg     TargetConfig
	clock   clock.Clock
	rand    func() float64
	m       *metrics.Metrics
	audit   *Audit
	log     *zap.Logger
	onCycle func(string, Cycle)

	triggers     chan Trigger
	tokenChanged atomic.Bool

	// cycleMu serialises cycles; the fields below it belong to the cycle
	// in progress.
	cycleMu       sync.Mutex
	cycleN        int64
	good          *desiredState // the last good desired state
	lastFetched   string
	failedRev     string // a revision that failed to load: not loaded again
	failedReason  metrics.Reason
	failedMsg     string
	overrideSpent bool // DeletionGuardOverride was used by a successful cycle
	differ        *diff.Differ
	defaults      model.Defaults
	known         map[model.Key]*keyState
	observed      bool
	failures      int
	authPaused    pause
	since         map[metrics.Reason]time.Time

	mu     sync.Mutex
	status Status
}

// NewTarget checks cfg and returns a target ready to Run.
func NewTarget(cfg TargetConfig, deps Deps) (*Target, error) {
	var errs []error
	if !validName(cfg.Name) {
		errs = append(errs, fmt.Errorf("target name %q: want 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit", cfg.Name))
	}
	if cfg.Source == nil {
		errs = append(errs, errors.New("no source"))
	}
	if cfg.Gateway == nil {
		errs = append(errs, errors.New("no gateway"))
	}
	mode, err := ParseMode(string(cfg.Mode))
	if err != nil {
		errs = append(errs, err)
	}
	cfg.Mode = mode
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("interval %s: must be positive", cfg.Interval))
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff.Base = min(DefaultBackoffBase, cfg.Interval)
	}
	if cfg.Backoff.Max <= 0 {
		cfg.Backoff.Max = DefaultBackoffMax
	}
	if cfg.SelfHeal.Base <= 0 {
		cfg.SelfHeal.Base = cfg.Interval
	}
	if cfg.SelfHeal.Max <= 0 {
		cfg.SelfHeal.Max = max(DefaultBackoffMax, cfg.Interval)
	}
	if o := cfg.DeletionGuardOverride; o != "" && !isHash(o) {
		errs = append(errs, fmt.Errorf("deletion guard override %q: want the full hash of a commit (40 or 64 hex digits)", o))
	}
	cfg.DeletionGuardOverride = strings.ToLower(cfg.DeletionGuardOverride)
	differ, err := diff.New(diff.Options{Ignore: cfg.Ignore})
	if err != nil {
		errs = append(errs, err)
	}
	if deps.Metrics == nil {
		errs = append(errs, errors.New("no metrics"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("target %q: %w", cfg.Name, errors.Join(errs...))
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Rand == nil {
		deps.Rand = func() float64 { return 0.5 }
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	if deps.Audit == nil {
		deps.Audit = NewAudit(deps.Logger)
	}
	t := &Target{
		cfg:      cfg,
		clock:    deps.Clock,
		rand:     deps.Rand,
		m:        deps.Metrics,
		audit:    deps.Audit,
		log:      deps.Logger.Named("reconciler").With(zap.String("target", cfg.Name)),
		onCycle:  deps.OnCycle,
		triggers: make(chan Trigger, 1),
		differ:   differ,
		known:    map[model.Key]*keyState{},
		since:    map[metrics.Reason]time.Time{},
		status: Status{
			Name: cfg.Name, Mode: cfg.Mode, Suspended: cfg.Suspend,
			Source: cfg.SourceURL, Server: cfg.Server,
			// With a fencer, a replica stands by until its elector (or a
			// fence) says it holds the lease.
			Leader:     cfg.Fencer == nil,
			Conditions: []Condition{}, Drift: []Item{}, Warnings: []Warning{}, History: []Cycle{},
		},
	}
	t.m.InitTarget(cfg.Name, cfg.TLSVerifyDisabled)
	return t, nil
}

// validName accepts names usable as a metric label and a URL segment.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}

// isHash accepts a full SHA-1 or SHA-256 hash in hex.
func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower case
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// revisionHash is the hash a revision ends with: main@sha1:<hash>,
// sha1:<hash>, local@sha256:<hash>.
func revisionHash(rev string) string {
	return rev[strings.LastIndexByte(rev, ':')+1:]
}

// Name returns the target's name.
func (t *Target) Name() string { return t.cfg.Name }

// Trigger asks for an early cycle (a webhook). Triggers that arrive while
// one is pending are merged.
func (t *Target) Trigger() { t.send(TriggerWebhook) }

// TokenChanged tells the target that its gateway token was reloaded: writes
// paused by a 401 resume, and a cycle runs at once.
func (t *Target) TokenChanged() {
	t.tokenChanged.Store(true)
	t.send(TriggerToken)
}

func (t *Target) send(tr Trigger) {
	select {
	case t.triggers <- tr:
	default: // a trigger is pending already
	}
}

// Status returns a copy of the target's status. Its slices are never
// modified after publication and may be shared.
//
// Leader is what the elector knows now when the fencer can tell (IsLeader),
// not what it knew at the last cycle: a replica that acquires or loses the
// lease between cycles says so at once, and one that has not acquired it
// yet is not the leader.
func (t *Target) Status() Status {
	t.mu.Lock()
	st := t.status
	t.mu.Unlock()
	if l, ok := t.cfg.Fencer.(leaderReporter); ok {
		st.Leader = l.IsLeader()
	}
	return st
}

// leaderReporter is a Fencer that knows whether it holds the lease
// (*leader.Elector).
type leaderReporter interface{ IsLeader() bool }

// Run runs cycles until stop is done: one at once, then one per interval
// (with jitter), sooner after a failure (with backoff) or on a trigger.
// Cycles use work for their requests: when stop is done no new cycle or
// write starts, and the cycle in progress keeps its requests until work is
// done.
func (t *Target) Run(stop, work context.Context) {
	trig := TriggerStart
	for stop.Err() == nil {
		c := t.safeCycle(stop, work, trig)
		delay, next := t.nextDelay(c)
		t.mu.Lock()
		t.status.NextCycle = t.clock.Now().Add(delay)
		t.mu.Unlock()
		timer := t.clock.NewTimer(delay)
		select {
		case <-stop.Done():
			timer.Stop()
			return
		case <-timer.C():
			trig = next
		case trig = <-t.triggers:
			timer.Stop()
		}
	}
}

// safeCycle runs a cycle, turning a panic into a failed cycle: one bad
// cycle must not take the daemon down. A panic in the stages is recorded by
// the cycle itself (pass.stages); this catches one while recording.
func (t *Target) safeCycle(stop, work context.Context, trig Trigger) (c Cycle) {
	defer func() {
		if r := recover(); r != nil {
			t.log.Error("cycle panicked", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			c = Cycle{Trigger: trig, Result: ResultFailure, Error: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	return t.cycle(stop, work, trig)
}

// nextDelay is the wait before the next cycle: the interval after a success,
// the backoff step after consecutive failures; both with ±10% jitter.
func (t *Target) nextDelay(c Cycle) (time.Duration, Trigger) {
	t.cycleMu.Lock()
	failures := t.failures
	t.cycleMu.Unlock()
	if c.Result == ResultFailure && failures > 0 {
		return t.jitter(t.cfg.Backoff.step(failures)), TriggerRetry
	}
	return t.jitter(t.cfg.Interval), TriggerInterval
}

func (t *Target) jitter(d time.Duration) time.Duration {
	f := 1 - jitter + 2*jitter*t.rand()
	return time.Duration(float64(d) * f)
}

// Once runs one cycle now (run --once, quickstart --once, tests).
func (t *Target) Once(ctx context.Context) Cycle {
	return t.safeCycle(ctx, ctx, TriggerManual)
}
