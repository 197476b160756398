package apply

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Gateway is where a plan is carried out. Put writes a resource in ADC's
// format (create or replace, by ID); Delete removes the live resource it is
// given (it knows the parent), and deleting something already gone is
// success. *api7.Client satisfies it.
type Gateway interface {
	Put(ctx context.Context, r model.Resource) error
	Delete(ctx context.Context, r model.Resource) error
}

// Validator is implemented by a gateway that can check resources on the
// server before anything is written (APISIX ≥ 3.17 and API7 ≥ 3.9.10:
// POST /apisix/admin/configs/validate). Validate returns nil when they are
// valid or when the server cannot validate. An error that implements
// InvalidResources() map[model.Key]error names the rejected resources:
// those fail and everything else goes ahead; any other error stops the run
// before the first write.
type Validator interface {
	Validate(ctx context.Context, rs []model.Resource) error
}

// ChangeWriter is implemented by a gateway that can limit an update to the
// part of a resource that changed: on APISIX, ADC re-PUTs only a service's
// upstream when nothing but the upstream changed, which spares the gateway
// a rebuild of its route tree. For updates, apply calls PutChange with the
// changed locations (JSON pointers into the body in ADC's format) instead of
// Put.
type ChangeWriter interface {
	PutChange(ctx context.Context, r model.Resource, changed []string) error
}

// ParentAddressed is implemented by a gateway that stores some kinds under
// their parent's path: API7 Enterprise keeps an extra upstream at
// /services/{service}/upstreams/{id}. There an update that moves such a
// resource to another parent writes a new object under the new parent and
// leaves the one under the old parent, so Execute adds, for each such
// update, a delete of the live resource (the old copy). It runs with the
// prune, after every write succeeded (whatever named the old copy — a
// route's traffic-split — has been rewritten by then), and only then; it
// is not a prune, so the deletion guards and Policy.Prune do not hold it:
// the resource stays desired, and a copy left behind would hold the same
// key twice, which the next diff cannot see. Where the address has no
// parent (APISIX's top-level upstreams) the move is the update alone.
type ParentAddressed interface {
	ParentInAddress(kind model.Kind) bool
}

// invalidResources is what a Validate error may say about single resources.
type invalidResources interface {
	InvalidResources() map[model.Key]error
}

// stillReferenced is implemented by the gateway's error for APISIX's
// "… is still using it now" 400, which after the delete of a dependent
// only means the server's cache has not caught up.
type stillReferenced interface {
	StillReferenced() bool
}

// Status is the outcome of one step.
type Status string

// The statuses.
const (
	StatusApplied Status = "applied"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Outcome is what happened to one step.
type Outcome struct {
	Action diff.Action
	Key    model.Key
	Name   string
	// Change is the change carried out (values masked), for the audit log.
	Change diff.Change
	Status Status
	// Err says why a step failed (the Admin API's error, a refusal, an
	// invalid resource) or was skipped (a DependencyError, ErrPruneHeld, a
	// refusal, the context's error).
	Err error
	// Attempts is the number of requests sent for this step.
	Attempts int
	// Duration is the time from the first request to the last answer.
	Duration time.Duration
}

// DependencyError is why a step was skipped: a step it waits for did not
// succeed.
type DependencyError struct {
	Dependency model.Key
}

func (e *DependencyError) Error() string {
	return fmt.Sprintf("skipped: %s did not succeed", e.Dependency)
}

// Sentinels for skipped and failed steps.
var (
	// ErrPruneHeld: a delete did not run because a write failed.
	ErrPruneHeld = errors.New("prune held back because a write did not succeed")
	// ErrCycle: the step's dependencies form a cycle.
	ErrCycle = errors.New("dependency cycle")
	// ErrPanic: the gateway panicked while carrying out the step.
	ErrPanic = errors.New("gateway panicked")
)

// Counts are the outcomes by status.
type Counts struct {
	Applied int `json:"applied"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Result is what Execute did.
type Result struct {
	// Outcomes are in plan order, one per step.
	Outcomes []Outcome
	Refusals []*RefusalError
	Counts   Counts
	// Calls is the number of Put and Delete calls made (retries included).
	Calls    int
	Duration time.Duration
}

// Err joins every failure and failing refusal; nil when everything was
// applied (a delete held back only because pruning is off is no failure).
func (r Result) Err() error {
	var errs []error
	for _, ref := range r.Refusals {
		if ref.Failure() && ref.Reason != ReasonOwnershipConflict { // conflicts fail their steps below
			errs = append(errs, ref)
		}
	}
	for _, o := range r.Outcomes {
		if o.Status == StatusFailed {
			errs = append(errs, fmt.Errorf("%s %s %q: %w", o.Action, o.Key, o.Name, o.Err))
		}
	}
	return errors.Join(errs...)
}

// Failed returns the failed outcomes.
func (r Result) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Status == StatusFailed {
			out = append(out, o)
		}
	}
	return out
}

// Observer receives events as they happen, for metrics and the audit log.
// Its functions are called from one goroutine at a time; nil ones are
// skipped.
type Observer struct {
	// Refusal is called once per guard that tripped, before any write.
	Refusal func(*RefusalError)
	// Outcome is called once per step, when its outcome is known.
	Outcome func(Outcome)
}

// Retry bounds the retries of a delete the gateway still sees referenced.
type Retry struct {
	// Attempts is the total number of tries (default 5).
	Attempts int
	// Delay is the wait before the first retry, doubled for each next one
	// (default 100ms: 5 tries span 1.5 s).
	Delay time.Duration
}

// DefaultConcurrency is the default number of requests in flight, chosen
// from measurement (docs/performance.md): the executor keeps the pipe full,
// so its time follows requests × latency / concurrency; a real APISIX 3.18
// on 2 cores takes about 1,000 writes/s at 16 and 1,400 at 64 (etcd is the
// limit), so 32 takes most of that gain at half the load of 64.
const DefaultConcurrency = 32

// Executor carries out plans against a gateway.
type Executor struct {
	Gateway Gateway
	// Concurrency bounds the requests in flight (default DefaultConcurrency).
	Concurrency int
	Retry       Retry
	Observer    Observer
}

// ErrPreflight wraps a server-side validation that failed as a whole.
var ErrPreflight = errors.New("pre-flight validation failed")

// Execute carries out p: pre-flight validation, the writes as their
// dependencies allow, then — only if every write succeeded and no guard
// holds them — the deletes. It returns the result and Result.Err(), or an
// error without any write when pre-flight validation failed as a whole.
func (e *Executor) Execute(ctx context.Context, p Plan) (Result, error) {
	start := time.Now()
	if pa, ok := e.Gateway.(ParentAddressed); ok && !p.Halted {
		p = p.withRelocations(pa.ParentInAddress)
	}
	res := Result{Outcomes: make([]Outcome, len(p.Steps)), Refusals: p.Refusals}
	for i, s := range p.Steps {
		res.Outcomes[i] = Outcome{Action: s.Action, Key: s.Resource.Key, Name: s.Resource.Name, Change: *s.Change}
	}
	for _, r := range p.Refusals {
		if e.Observer.Refusal != nil {
			e.Observer.Refusal(r)
		}
	}
	r := &run{e: e, p: p, res: &res, done: make([]bool, len(p.Steps))}
	if p.Halted {
		for i := range p.Steps {
			r.finish(i, StatusSkipped, p.Refusals[len(p.Refusals)-1])
		}
		return r.end(start)
	}

	// Pre-flight: local validation, refusals, then the server's check.
	for i, s := range p.Steps[:p.Writes] {
		switch {
		case s.Invalid != nil:
			r.finish(i, StatusFailed, s.Invalid)
		case s.Refused != nil:
			r.finish(i, StatusFailed, s.Refused)
		}
	}
	if err := r.preflight(ctx); err != nil {
		res.Duration = time.Since(start)
		return res, err
	}

	// Phase 1: the writes, with the deletes that must go before them.
	var first, prune []int
	for i, s := range p.Steps {
		if i < p.Writes || s.Early {
			first = append(first, i)
		} else {
			prune = append(prune, i)
		}
	}
	for _, i := range first {
		if p.Steps[i].Early && p.Steps[i].Refused != nil {
			r.finish(i, StatusSkipped, p.Steps[i].Refused)
		}
	}
	r.schedule(ctx, first)
	// Phase 2: the prune, only if every step of phase 1 succeeded.
	var cause error
	for _, i := range first {
		if res.Outcomes[i].Status != StatusApplied {
			cause = ErrPruneHeld
			break
		}
	}
	for _, i := range prune {
		switch {
		case p.Steps[i].Refused != nil:
			r.finish(i, StatusSkipped, p.Steps[i].Refused)
		case cause != nil:
			r.finish(i, StatusSkipped, cause)
		}
	}
	r.schedule(ctx, prune)
	return r.end(start)
}

// withRelocations returns p with a delete of the old copy appended for
// each update that moves a resource of a kind addressed under its parent
// (see ParentAddressed). The delete waits for the update, for the deletes
// of whatever names the old copy, and goes before its old parent's delete
// (children first). p itself is not modified.
func (p Plan) withRelocations(inAddress func(model.Kind) bool) Plan {
	var moved []int
	for i, s := range p.Steps[:p.Writes] {
		if s.Action == diff.ActionUpdate && s.Change != nil && !s.Change.Live.Parent.IsZero() &&
			s.Change.Live.Parent != s.Resource.Parent && inAddress(s.Resource.Key.Kind) {
			moved = append(moved, i)
		}
	}
	if len(moved) == 0 {
		return p
	}
	steps := slices.Clip(slices.Clone(p.Steps))
	for _, i := range moved {
		old := p.Steps[i].Change.Live
		at := len(steps)
		del := Step{Action: diff.ActionDelete, Resource: old, Change: p.Steps[i].Change, After: []int{i}}
		for j := p.Writes; j < len(p.Steps); j++ {
			switch r := p.Steps[j].Resource; {
			case r.Key == old.Parent:
				steps[j].After = append(slices.Clip(steps[j].After), at)
			case slices.Contains(references(r), old.Key):
				del.After = append(del.After, j)
			}
		}
		steps = append(steps, del)
	}
	p.Steps = steps
	return p
}

// run is the state of one Execute.
type run struct {
	e    *Executor
	p    Plan
	res  *Result
	done []bool
}

func (r *run) end(start time.Time) (Result, error) {
	r.res.Duration = time.Since(start)
	return *r.res, r.res.Err()
}

// finish records a step's outcome once and tells the observer.
func (r *run) finish(i int, st Status, err error) {
	if r.done[i] {
		return
	}
	r.done[i] = true
	if err != nil {
		// The server's message may quote a secret of the request.
		s := r.p.Steps[i]
		rs := []model.Resource{s.Resource}
		if s.Change != nil {
			rs = append(rs, s.Change.Desired, s.Change.Live)
		}
		err = diff.RedactError(err, rs...)
	}
	o := &r.res.Outcomes[i]
	o.Status, o.Err = st, err
	switch st {
	case StatusApplied:
		r.res.Counts.Applied++
	case StatusFailed:
		r.res.Counts.Failed++
	case StatusSkipped:
		r.res.Counts.Skipped++
	}
	if r.e.Observer.Outcome != nil {
		r.e.Observer.Outcome(*o)
	}
}

func (r *run) preflight(ctx context.Context) error {
	v, ok := r.e.Gateway.(Validator)
	if !ok {
		return nil
	}
	var rs []model.Resource
	var idx []int
	for i, s := range r.p.Steps[:r.p.Writes] {
		if !r.done[i] {
			rs = append(rs, s.Resource)
			idx = append(idx, i)
		}
	}
	if len(rs) == 0 {
		return nil
	}
	err := v.Validate(ctx, rs)
	if err == nil {
		return nil
	}
	var inv invalidResources
	if !errors.As(err, &inv) {
		// An answer naming no resource may quote any of them.
		return diff.RedactError(fmt.Errorf("%w: %w", ErrPreflight, err), rs...)
	}
	bad := inv.InvalidResources()
	for _, i := range idx {
		if e, ok := bad[r.p.Steps[i].Resource.Key]; ok {
			r.finish(i, StatusFailed, fmt.Errorf("%w: %w", ErrInvalid, e))
		}
	}
	return nil
}

// stepDone is the answer of one step's requests.
type stepDone struct {
	i        int
	err      error
	attempts int
	took     time.Duration
}

// schedule runs the steps idx as their dependencies allow, at most
// Concurrency at a time. Steps already finished (refused, invalid, held)
// count as not succeeded for their dependents. Dependencies outside idx are
// finished already (a previous phase).
func (r *run) schedule(ctx context.Context, idx []int) {
	if len(idx) == 0 {
		return
	}
	in := make(map[int]bool, len(idx))
	for _, i := range idx {
		in[i] = true
	}
	waiting := make(map[int]int, len(idx))      // unfinished dependencies per step
	dependents := make(map[int][]int, len(idx)) // reverse edges
	for _, i := range idx {
		for _, j := range r.p.Steps[i].After {
			switch {
			case in[j]:
				waiting[i]++
				dependents[j] = append(dependents[j], i)
			case r.res.Outcomes[j].Status != StatusApplied && !r.done[i]:
				r.finish(i, StatusSkipped, &DependencyError{Dependency: r.p.Steps[j].Resource.Key})
			}
		}
	}
	ready := &readyQueue{early: func(i int) bool { return r.p.Steps[i].Early }}
	var release func(i int, ok bool)
	release = func(i int, ok bool) {
		for _, d := range dependents[i] {
			if !ok {
				if !r.done[d] {
					r.finish(d, StatusSkipped, &DependencyError{Dependency: r.p.Steps[i].Resource.Key})
				}
			}
			waiting[d]--
			if waiting[d] == 0 {
				if r.done[d] {
					release(d, false)
				} else {
					heap.Push(ready, d)
				}
			}
		}
	}
	for _, i := range idx {
		if waiting[i] > 0 {
			continue
		}
		if r.done[i] {
			release(i, r.res.Outcomes[i].Status == StatusApplied)
		} else {
			heap.Push(ready, i)
		}
	}

	conc := r.e.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	results := make(chan stepDone, conc)
	inflight := 0
	for {
		for inflight < conc && ready.Len() > 0 && ctx.Err() == nil {
			i := heap.Pop(ready).(int)
			inflight++
			go func() { results <- r.do(ctx, i) }()
		}
		if inflight == 0 {
			break
		}
		d := <-results
		inflight--
		r.res.Calls += d.attempts
		o := &r.res.Outcomes[d.i]
		o.Attempts, o.Duration = d.attempts, d.took
		if d.err != nil {
			r.finish(d.i, StatusFailed, d.err)
		} else {
			r.finish(d.i, StatusApplied, nil)
		}
		release(d.i, d.err == nil)
	}
	for _, i := range idx {
		switch {
		case r.done[i]:
		case ctx.Err() != nil:
			r.finish(i, StatusSkipped, ctx.Err())
		default: // never became ready: its dependencies form a cycle
			r.finish(i, StatusFailed, fmt.Errorf("%w through %s", ErrCycle, r.p.Steps[i].Resource.Key))
		}
	}
}

// do sends one step's request, retrying a delete the gateway still sees
// referenced.
func (r *run) do(ctx context.Context, i int) stepDone {
	s := r.p.Steps[i]
	retry := r.e.Retry
	if retry.Attempts <= 0 {
		retry.Attempts = 5
	}
	if retry.Delay <= 0 {
		retry.Delay = 100 * time.Millisecond
	}
	start := time.Now()
	delay := retry.Delay
	d := stepDone{i: i}
	for {
		d.attempts++
		d.err = r.send(ctx, s)
		var sr stillReferenced
		if d.err == nil || d.attempts >= retry.Attempts || !errors.As(d.err, &sr) || !sr.StillReferenced() {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			d.took = time.Since(start)
			return d
		case <-t.C:
		}
		delay *= 2
	}
	d.took = time.Since(start)
	return d
}

// send makes one request of step s. A panic in the gateway fails this step
// alone (ErrPanic), like any failed request: the run, and the process, go
// on. Its value is reported without the stack; finish redacts any secret
// of the step's resources it may quote.
func (r *run) send(ctx context.Context, s Step) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%s %s: %w: %v", s.Action, s.Resource.Key, ErrPanic, v)
		}
	}()
	switch cw, partial := r.e.Gateway.(ChangeWriter); {
	case s.Action == diff.ActionDelete:
		return r.e.Gateway.Delete(ctx, s.Resource)
	case s.Action == diff.ActionUpdate && partial:
		return cw.PutChange(ctx, s.Resource, changedPaths(*s.Change))
	default:
		return r.e.Gateway.Put(ctx, s.Resource)
	}
}

func changedPaths(c diff.Change) []string {
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = f.Path
	}
	return out
}

// readyQueue orders ready steps by their plan index, which is kind order
// then key: dependencies first among writes, dependents first among
// deletes. Early deletes come before everything: writes wait for them.
type readyQueue struct {
	items []int
	early func(int) bool
}

func (q *readyQueue) Len() int { return len(q.items) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if ea, eb := q.early(a), q.early(b); ea != eb {
		return ea
	}
	return a < b
}
func (q *readyQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *readyQueue) Push(x any)    { q.items = append(q.items, x.(int)) }
func (q *readyQueue) Pop() any {
	x := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return x
}
