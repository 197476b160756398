package reconciler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// pass is the state of one cycle. The stages run in order; each may end the
// cycle by recording a reason, and none writes after a failed read.
//
//	fetch → load → read → compare → apply → record
type pass struct {
	t     *Target
	rec   Cycle
	start time.Time

	reasons map[metrics.Reason]string // reason → first message

	desired *desiredState
	fetched string // the revision fetched this cycle, when the fetch worked
	inv     model.Inventory
	readOK  bool
	changes diff.ChangeSet
	types   map[model.Key]DriftType
	items   []Item
	index   map[model.Key]int // key → items index
	written map[model.Key]bool
	flapped map[model.Key]bool
	leader  bool
	// overridden: the deletion guard's budget was lifted for this cycle.
	overridden bool
	// panicked is the message of a panic that ended the stages.
	panicked string
}

func (t *Target) cycle(stop, work context.Context, trig Trigger) Cycle {
	t.cycleMu.Lock()
	defer t.cycleMu.Unlock()
	t.cycleN++
	p := &pass{
		t:       t,
		start:   t.clock.Now(),
		reasons: map[metrics.Reason]string{},
		types:   map[model.Key]DriftType{},
		index:   map[model.Key]int{},
		written: map[model.Key]bool{},
		flapped: map[model.Key]bool{},
		leader:  t.cfg.Fencer == nil,
	}
	p.rec = Cycle{Number: t.cycleN, Start: p.start, Trigger: trig}
	if t.tokenChanged.Swap(false) && t.authPaused != pauseNone {
		t.authPaused = pauseNone
		t.log.Info("the gateway token changed: writes resume")
	}
	if t.cfg.TLSVerifyDisabled {
		t.log.Warn("TLS verification of the Admin API is disabled for this target: anyone on the path can read the token")
	}

	if l, ok := t.cfg.Fencer.(leaderReporter); ok {
		p.leader = l.IsLeader()
	} else if t.cfg.Fencer != nil {
		// Only a fence tells: keep what the last one said.
		t.mu.Lock()
		p.leader = t.status.Leader
		t.mu.Unlock()
	}
	p.stages(stop, work)
	p.finish(stop)
	return p.rec
}

// stages runs fetch to apply. A panic (a bug) ends them and fails the
// cycle, which is then recorded like any other: counted, in the status and
// its history, followed by a backoff. What the cycle half-built (a partial
// drift list) is not published.
func (p *pass) stages(stop, work context.Context) {
	defer func() {
		if r := recover(); r != nil {
			p.panicked = fmt.Sprintf("internal error: %v", r)
			p.readOK = false
			p.t.log.Error("cycle panicked", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
	}()
	p.fetch(work)
	if p.desired != nil && stop.Err() == nil {
		p.read(work)
	}
	if p.readOK {
		p.compare()
		p.apply(stop, work)
		p.learn()
	}
}

// fail records a reason; the first message for each reason is kept.
func (p *pass) fail(r metrics.Reason, msg string) {
	if _, ok := p.reasons[r]; !ok {
		p.reasons[r] = msg
	}
}

// fetch asks the source for the current snapshot and loads it when its
// revision is new. Whatever goes wrong, the last good desired state (if
// any) keeps serving drift detection and correction.
func (p *pass) fetch(ctx context.Context) {
	t := p.t
	t0 := t.clock.Now()
	snap, err := t.cfg.Source.Fetch(ctx)
	t1 := t.clock.Now()
	p.desired = t.good
	if err != nil {
		r := sourceReason(err)
		t.m.ObserveGitFetch(t.cfg.Name, t1.Sub(t0), r, t1)
		p.fail(r, "fetch: "+err.Error())
		var refused interface{ RefusedRevision() string }
		if r == metrics.ReasonHistoryRewritten && errors.As(err, &refused) {
			// The source refuses this tip on every fetch until the branch
			// is restored or the commit accepted: one force-push, counted
			// once.
			if rev := refused.RefusedRevision(); rev != t.lastFetched {
				t.m.GitHistoryRewritten(t.cfg.Name)
				t.lastFetched = rev
			}
		}
		return
	}
	t.m.ObserveGitFetch(t.cfg.Name, t1.Sub(t0), "", t1)
	p.fetched = snap.Revision
	if snap.Rewritten {
		// The source reports a force-push once, when its tip moves.
		t.m.GitHistoryRewritten(t.cfg.Name)
		t.log.Warn("history rewritten: the new commit does not descend from the previous one", zap.String("revision", snap.Revision))
	}
	t.lastFetched = snap.Revision
	switch {
	case t.good != nil && snap.Revision == t.good.revision:
		return // unchanged: nothing to load
	case snap.Revision == t.failedRev:
		p.fail(t.failedReason, t.failedMsg)
		return
	}
	d, r, err := t.load(snap)
	if err != nil {
		t.failedRev, t.failedReason, t.failedMsg = snap.Revision, r, err.Error()
		p.fail(r, err.Error())
		t.log.Warn("revision refused; the last good revision keeps serving",
			zap.String("revision", snap.Revision), zap.String("reason", string(r)), zap.Error(err))
		return
	}
	t.failedRev = ""
	t.good = d
	p.desired = d
	t.log.Info("loaded revision", zap.String("revision", d.revision), zap.Int("resources", len(d.resources)),
		zap.String("author", d.commit.Author), zap.Int("warnings", len(d.warnings)))
	t.logWarnings(d)
}

// maxLoggedWarnings bounds the warnings logged one by one per revision; the
// status lists them all (up to maxStatusWarnings).
const maxLoggedWarnings = 20

// logWarnings logs the warnings of a newly loaded revision, once: where
// each plaintext secret is, never its value.
func (t *Target) logWarnings(d *desiredState) {
	for i, w := range d.warnings {
		if i == maxLoggedWarnings {
			t.log.Warn("more secrets are written in plain text; /status lists them",
				zap.String("revision", d.revision), zap.Int("more", len(d.warnings)-i))
			return
		}
		t.log.Warn("a secret is written in plain text in Git: use ${VAR}, $env:// or $secret://",
			zap.String("revision", d.revision), zap.String("file", w.File), zap.Int("line", w.Line),
			zap.String("resource", w.Resource), zap.String("field", w.Field))
	}
}

// load checks and parses a snapshot.
func (t *Target) load(snap Snapshot) (*desiredState, metrics.Reason, error) {
	rs, err := model.Load(snap.Files, model.LoadOptions{Env: t.cfg.Env})
	if err != nil {
		r := metrics.ReasonFetchFailed
		switch {
		case errors.Is(err, model.ErrDecryptionRequired):
			// SOPS ciphertext is never sent (reliability row B5); the model
			// refuses the file from its bytes.
			r = metrics.ReasonDecryptionRequired
		case errors.Is(err, model.ErrTooLarge):
			r = metrics.ReasonInputTooLarge
		case errors.Is(err, model.ErrInvalid):
			r = metrics.ReasonValidationFailed
		}
		return nil, r, fmt.Errorf("load %s: %w", snap.Revision, err)
	}
	return newDesiredState(snap, rs), "", nil
}

// read lists the gateway's owned objects and its defaults.
func (p *pass) read(ctx context.Context) {
	t := p.t
	inv, err := t.cfg.Gateway.List(ctx)
	if err != nil {
		p.gatewayFailed("read the gateway", err, metrics.ReasonReadFailed, sideRead)
		return
	}
	defaults, err := t.cfg.Gateway.Defaults(ctx)
	if err != nil {
		p.gatewayFailed("read the gateway's defaults", err, metrics.ReasonReadFailed, sideRead)
		return
	}
	if !reflect.DeepEqual(defaults, t.defaults) {
		d, err := diff.New(diff.Options{Defaults: defaults, Ignore: t.cfg.Ignore})
		if err != nil {
			p.fail(metrics.ReasonReadFailed, "the gateway's defaults: "+err.Error())
			return
		}
		t.differ, t.defaults = d, defaults
	}
	p.inv = scope(p.desired.resources, inv, t.cfg.PruneUnlabeled)
	p.readOK = true
	if t.authPaused == pauseRead {
		// The token that was refused for reading is accepted again (a
		// gateway restored, a key re-enabled): nothing else would ever
		// resume writes when the token does not change.
		t.authPaused = pauseNone
		t.log.Info("the gateway accepts the token again: writes resume")
	}
}

// side says whether a failed request read or wrote.
type side int

const (
	sideRead side = iota
	sideWrite
)

// pause says why writes are paused after a 401.
type pause int

const (
	pauseNone pause = iota
	// pauseRead: a read was refused. A later successful read with the same
	// token resumes writes, as does a changed token.
	pauseRead
	// pauseWrite: a write was refused while reads work (a key that may
	// only read, such as APISIX's viewer role). Only a changed token
	// resumes writes, so that every cycle does not send writes to be
	// refused again; a later refused read turns it into pauseRead.
	pauseWrite
)

// gatewayFailed records a failed request with its reason; a 401 pauses
// writes.
func (p *pass) gatewayFailed(what string, err error, fallback metrics.Reason, sd side) {
	t := p.t
	r := gatewayReason(err, fallback)
	if r == metrics.ReasonAuthenticationFailed {
		// The latest refusal says which: a key refused for reading too
		// (revoked, expired) resumes when it is accepted again.
		if t.authPaused == pauseNone {
			t.log.Warn("the gateway refused the token: writes are paused", zap.Error(err))
		}
		t.authPaused = pauseRead
		if sd == sideWrite {
			t.authPaused = pauseWrite
		}
	}
	p.fail(r, what+": "+err.Error())
}

// compare diffs, classifies each difference as pending or drift, and
// reports drift.
func (p *pass) compare() {
	t := p.t
	p.changes = t.differ.Compute(p.desired.resources, p.inv.Owned)
	counts := map[model.Kind]map[metrics.Change]int{}
	now := t.clock.Now()
	for _, ch := range p.changes.Changes {
		typ, flapping := t.classify(ch, p.desired.intents[ch.Key])
		p.types[ch.Key] = typ
		if counts[ch.Key.Kind] == nil {
			counts[ch.Key.Kind] = map[metrics.Change]int{}
		}
		counts[ch.Key.Kind][metrics.Change(ch.Action)]++
		p.index[ch.Key] = len(p.items)
		p.items = append(p.items, newItem(ch, typ))
		if typ == Drift {
			p.rec.Counts.Drift++
		} else {
			p.rec.Counts.Pending++
		}
		if flapping {
			p.flapped[ch.Key] = true
			st := t.state(ch.Key)
			st.flaps++
			hold := t.cfg.SelfHeal.step(st.flaps)
			st.holdUntil = now.Add(hold)
			t.m.ConflictFlapping(t.cfg.Name, ch.Key.Kind)
			t.log.Warn("another writer keeps changing this resource; self-heal is held back",
				zap.String("kind", string(ch.Key.Kind)), zap.Stringer("key", ch.Key), zap.Int("attempt", st.flaps),
				zap.Duration("duration", hold))
		}
		if typ == Drift {
			p.reportDrift(ch)
		}
	}
	t.m.SetDrift(t.cfg.Name, counts)
	p.rec.Changes = len(p.changes.Changes)

	if !t.cfg.Policy.Adopt {
		unowned := make(map[model.Key]bool, len(p.inv.Unowned))
		for _, k := range p.inv.Unowned {
			unowned[k] = true
		}
		var conflicts []string
		for _, r := range p.desired.resources {
			if unowned[r.Key] {
				conflicts = append(conflicts, r.Key.String())
			}
		}
		if len(conflicts) > 0 {
			p.fail(metrics.ReasonOwnershipConflict, fmt.Sprintf(
				"%d desired resources have the ID of an object without our managed-by label, which is never changed: %s",
				len(conflicts), abbreviate(conflicts, 5)))
		}
	}
}

// reportDrift logs and audits an out-of-band change once per distinct
// change, and counts it.
func (p *pass) reportDrift(ch diff.Change) {
	t := p.t
	st := t.state(ch.Key)
	fp := changeFingerprint(ch)
	if st.reported == fp {
		return
	}
	st.reported = fp
	t.m.DriftDetected(t.cfg.Name, ch.Key.Kind, 1)
	t.audit.Record(p.event(AuditDrift, ch, Drift, "detected", ""))
}

func (p *pass) event(e AuditEventType, ch diff.Change, typ DriftType, result, errMsg string) AuditEvent {
	return AuditEvent{
		Time: p.t.clock.Now(), Event: e, Target: p.t.cfg.Name,
		Revision: p.desired.revision, Commit: p.desired.commit,
		Kind: string(ch.Key.Kind), Key: ch.Key.String(), Name: ch.Name, Action: string(ch.Action),
		Type: typ, Fields: fields(ch), Result: result, Error: errMsg,
	}
}

// apply writes the changes when the target may: apply mode, not suspended,
// writes not paused, this replica leading. Resources in self-heal backoff
// are left for later.
func (p *pass) apply(stop, work context.Context) {
	t := p.t
	if len(p.changes.Changes) == 0 {
		return
	}
	var hold ItemState
	switch {
	case t.cfg.Mode == ModeDetect:
		hold = StateReported
	case t.cfg.Suspend:
		hold = StateSuspended
	case t.authPaused != pauseNone:
		hold = StatePaused
	case stop.Err() != nil:
		hold = StateSkipped
	}
	if hold != "" {
		p.setAll(hold)
		return
	}
	now := t.clock.Now()
	var todo diff.ChangeSet
	for _, ch := range p.changes.Changes {
		if st := t.known[ch.Key]; st != nil && now.Before(st.holdUntil) {
			p.items[p.index[ch.Key]].State = StateBackoff
			continue
		}
		todo.Changes = append(todo.Changes, ch)
	}
	if len(todo.Changes) == 0 {
		return
	}
	ctx := work
	if t.cfg.Fencer != nil {
		fctx, cancel, err := t.cfg.Fencer.Fence(work)
		if err != nil {
			p.leader = false
			p.setAll(StateStandby)
			t.log.Info("not writing: this replica does not hold the target's lease", zap.Error(err))
			return
		}
		defer cancel()
		ctx = fctx
		p.leader = true
	}
	plan := apply.NewPlan(apply.Input{
		Changes:         todo,
		Desired:         len(p.desired.resources),
		Live:            p.inv,
		ListingComplete: true, // List returns a whole inventory or an error
	}, p.policy(todo))
	ex := &apply.Executor{
		Gateway:     newStoppable(t.cfg.Gateway, stop),
		Concurrency: t.cfg.Concurrency,
		Observer:    apply.Observer{Refusal: p.refused, Outcome: p.outcome},
	}
	if _, err := ex.Execute(ctx, plan); err != nil && errors.Is(err, apply.ErrPreflight) {
		p.gatewayFailed("pre-flight validation", err, metrics.ReasonValidationFailed, sideWrite)
		p.setAll(StateSkipped)
	}
}

// policy is the target's policy, with the deletion budget lifted when the
// override names the commit being applied and has not been spent.
func (p *pass) policy(todo diff.ChangeSet) apply.Policy {
	t := p.t
	pol := t.cfg.Policy
	if !p.overrides() {
		return pol
	}
	p.overridden = true
	pol.MaxDeletes, pol.MaxDeletePercent = -1, 100
	deletes := 0
	for _, ch := range todo.Changes {
		if ch.Action == diff.ActionDelete {
			deletes++
		}
	}
	if deletes > 0 {
		t.log.Warn("the deletion guard's budget is overridden for this commit",
			zap.String("revision", p.desired.revision), zap.Int("deletes", deletes),
			zap.Int("max_deletes", t.cfg.Policy.MaxDeletes), zap.Float64("max_delete_percent", t.cfg.Policy.MaxDeletePercent))
	}
	return pol
}

// overrides reports whether the deletion guard override applies to this
// cycle's desired revision.
func (p *pass) overrides() bool {
	o := p.t.cfg.DeletionGuardOverride
	return o != "" && !p.t.overrideSpent && revisionHash(p.desired.revision) == o
}

func (p *pass) setAll(s ItemState) {
	for i := range p.items {
		if p.items[i].State == "" {
			p.items[i].State = s
		}
	}
}

// refused records a guard that tripped.
func (p *pass) refused(r *apply.RefusalError) {
	t := p.t
	switch {
	case errors.Is(r, apply.ErrDeletionGuard):
		t.m.DeletesBlocked(t.cfg.Name, string(r.Reason))
		msg := r.Error()
		switch o := t.cfg.DeletionGuardOverride; {
		case o == "" || r.Reason == apply.ReasonEmptyDesired:
		case revisionHash(p.desired.revision) != o:
			msg += fmt.Sprintf("; the deletion guard override names commit %s, not this one", o)
		case t.overrideSpent:
			msg += fmt.Sprintf("; the deletion guard override of commit %s was spent by an earlier successful cycle", o)
		}
		p.fail(metrics.ReasonDeletionGuardTripped, msg)
		t.log.Warn("deletion guard tripped: nothing is deleted", zap.String("reason", string(r.Reason)), zap.String("detail", r.Detail))
	case errors.Is(r, apply.ErrOwnershipConflict):
		p.fail(metrics.ReasonOwnershipConflict, r.Error())
	case r.Failure():
		p.fail(metrics.ReasonApplyFailed, r.Error())
	}
}

// outcome records what happened to one change.
func (p *pass) outcome(o apply.Outcome) {
	t := p.t
	typ := p.types[o.Key]
	i, ok := p.index[o.Key]
	if !ok { // the executor only runs changes of this cycle
		return
	}
	item := &p.items[i]
	mres := metrics.ResultSkipped
	fields := []zap.Field{
		zap.String("revision", p.desired.revision), zap.String("kind", string(o.Key.Kind)), zap.Stringer("key", o.Key),
		zap.String("action", string(o.Action)), zap.String("type", string(typ)), zap.Int("attempt", o.Attempts),
		zap.Duration("duration", o.Duration),
	}
	status := o.Status
	if status == apply.StatusFailed && errors.Is(o.Err, errShuttingDown) {
		status = apply.StatusSkipped // never sent: the daemon is stopping
	}
	switch status {
	case apply.StatusApplied:
		mres = metrics.ResultSuccess
		item.State = StateCorrected
		p.written[o.Key] = true
		p.rec.Counts.Applied++
		t.audit.Record(p.event(AuditApply, o.Change, typ, "applied", ""))
		t.log.Debug("applied", fields...)
	case apply.StatusFailed:
		mres = metrics.ResultFailure
		item.State, item.Error = StateFailed, o.Err.Error()
		p.rec.Counts.Failed++
		p.outcomeFailed(o)
		t.audit.Record(p.event(AuditApply, o.Change, typ, "failed", o.Err.Error()))
		t.log.Warn("apply failed", append(fields, zap.Error(o.Err))...)
	default:
		var ref *apply.RefusalError
		item.State = StateSkipped
		if errors.As(o.Err, &ref) {
			item.State = StateHeld
		}
		if o.Err != nil {
			item.Error = o.Err.Error()
		}
		p.rec.Counts.Skipped++
		t.log.Debug("skipped", append(fields, zap.Error(o.Err))...)
	}
	if status != apply.StatusSkipped {
		t.m.ApplyOperation(t.cfg.Name, o.Key.Kind, string(o.Action), mres)
	}
}

func (p *pass) outcomeFailed(o apply.Outcome) {
	t := p.t
	fallback := metrics.ReasonApplyFailed
	if o.Action == diff.ActionDelete {
		fallback = metrics.ReasonPruneFailed
		t.m.PruneFailure(t.cfg.Name)
	}
	var ref *apply.RefusalError
	switch {
	case errors.As(o.Err, &ref) && ref.Reason == apply.ReasonOwnershipConflict:
		p.fail(metrics.ReasonOwnershipConflict, ref.Error())
		return
	case errors.Is(o.Err, apply.ErrInvalid):
		fallback = metrics.ReasonValidationFailed
	}
	p.gatewayFailed(fmt.Sprintf("%s %s %q", o.Action, o.Key, o.Name), o.Err, fallback, sideWrite)
}

// finish records the cycle: conditions, metrics, the audit flush, the
// status and the log line.
func (p *pass) finish(stop context.Context) {
	t := p.t
	end := t.clock.Now()
	p.rec.Duration = end.Sub(p.start)
	if p.desired != nil {
		p.rec.Revision = p.desired.revision
	}
	p.rec.Read = p.readOK
	p.rec.Items = p.items
	if msg := p.pauseMessage(); msg != "" {
		if first, ok := p.reasons[metrics.ReasonAuthenticationFailed]; ok {
			msg = first + "; " + msg
		}
		p.reasons[metrics.ReasonAuthenticationFailed] = msg
	}
	if p.desired == nil && len(p.reasons) == 0 {
		p.fail(metrics.ReasonFetchFailed, "no desired state has been loaded yet")
	}
	interrupted := stop.Err() != nil && (!p.readOK || hasState(p.items, StateSkipped))
	active := p.conditions(end)
	switch {
	case p.panicked != "":
		p.rec.Result = ResultFailure
	case interrupted:
		p.rec.Result = ResultInterrupted
	case len(active) > 0:
		p.rec.Result = ResultFailure
	default:
		p.rec.Result = ResultSuccess
	}
	for _, c := range active {
		p.rec.Reasons = append(p.rec.Reasons, c.Reason)
	}
	switch {
	case p.panicked != "":
		p.rec.Error = p.panicked
	case len(active) > 0:
		p.rec.Error = active[0].Message
	}
	switch p.rec.Result {
	case ResultFailure:
		t.failures++
	case ResultSuccess:
		t.failures = 0
		if p.overridden {
			t.overrideSpent = true
			t.log.Info("the deletion guard override is spent: the commit is applied", zap.String("revision", p.rec.Revision))
		}
	}

	t.m.SetConditions(t.cfg.Name, p.rec.Reasons...)
	if p.rec.Result != ResultInterrupted {
		mres := metrics.ResultSuccess
		if p.rec.Result == ResultFailure {
			mres = metrics.ResultFailure
		}
		t.m.ObserveReconcile(t.cfg.Name, mres, p.rec.Duration, end)
	}
	if p.desired != nil {
		t.m.SetRevision(t.cfg.Name, p.desired.revision)
	}
	if err := t.audit.Flush(); err != nil {
		t.log.Error("audit log not written", zap.Error(err))
	}
	p.publish(active, end)
	p.logSummary()
	if t.onCycle != nil {
		t.onCycle(t.cfg.Name, p.rec)
	}
}

// pauseMessage says why writes are paused and what resumes them; "" when
// they are not.
func (p *pass) pauseMessage() string {
	t := p.t
	switch {
	case t.authPaused == pauseRead:
		return "the gateway refused the token: writes are paused until the token changes or the gateway accepts it again"
	case t.authPaused == pauseWrite && t.cfg.TokenWatched:
		return "the gateway refused a write with this token, which can read (a read-only key?): writes are paused until the token file changes"
	case t.authPaused == pauseWrite:
		return "the gateway refused a write with this token, which can read (a read-only key?): writes are paused until the daemon restarts with another token"
	}
	return ""
}

// conditions returns the active conditions in the closed order of reasons,
// keeping when each became active.
func (p *pass) conditions(now time.Time) []Condition {
	t := p.t
	var out []Condition
	for _, r := range metrics.Reasons() {
		msg, ok := p.reasons[r]
		if !ok {
			delete(t.since, r)
			continue
		}
		since, ok := t.since[r]
		if !ok {
			since = now
			t.since[r] = now
		}
		out = append(out, Condition{Reason: r, Message: truncate(msg, 4096), Since: since})
	}
	return out
}

func (p *pass) publish(active []Condition, end time.Time) {
	t := p.t
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.status
	if active == nil {
		active = []Condition{}
	}
	s.Conditions = active
	s.LastResult, s.LastTime = p.rec.Result, end
	s.LastError = p.rec.Error
	if p.rec.Result == ResultSuccess {
		s.LastSuccess = end
	}
	s.WritesPaused = t.authPaused != pauseNone
	s.Leader = p.leader
	if p.desired != nil {
		s.Revision, s.Commit = p.desired.revision, p.desired.commit
		ws := p.desired.warnings
		s.WarningsTruncated = 0
		if len(ws) > maxStatusWarnings {
			s.WarningsTruncated = len(ws) - maxStatusWarnings
			ws = ws[:maxStatusWarnings]
		}
		s.Warnings = ws // never modified after the load
	}
	s.SourceRevision = ""
	if t.lastFetched != "" && t.lastFetched != s.Revision {
		s.SourceRevision = t.lastFetched
	}
	if p.readOK {
		t.observed = true
		s.Observed = true
		s.InSync = len(p.items) == 0
		items := p.items
		s.DriftTruncated = 0
		if len(items) > maxStatusDrift {
			s.DriftTruncated = len(items) - maxStatusDrift
			items = items[:maxStatusDrift]
		}
		s.Drift = append([]Item{}, items...)
	}
	s.Ready = s.Observed && len(active) == 0 && p.panicked == ""
	h := append([]Cycle{}, s.History...)
	rec := p.rec
	rec.Items = nil
	h = append(h, rec)
	if len(h) > HistorySize {
		h = h[len(h)-HistorySize:]
	}
	s.History = h
}

func (p *pass) logSummary() {
	t := p.t
	fields := []zap.Field{
		zap.String("revision", p.rec.Revision), zap.String("result", string(p.rec.Result)),
		zap.String("trigger", string(p.rec.Trigger)), zap.Duration("duration", p.rec.Duration),
		zap.Int("changes", p.rec.Changes), zap.Int("drift", p.rec.Counts.Drift), zap.Int("pending", p.rec.Counts.Pending),
		zap.Int("applied", p.rec.Counts.Applied), zap.Int("failed", p.rec.Counts.Failed), zap.Int("skipped", p.rec.Counts.Skipped),
	}
	if p.rec.Result == ResultFailure {
		reasons := make([]string, len(p.rec.Reasons))
		for i, r := range p.rec.Reasons {
			reasons[i] = string(r)
		}
		t.log.Warn("cycle failed", append(fields, zap.Strings("reasons", reasons), zap.String("error", p.rec.Error))...)
		return
	}
	if p.rec.Changes > 0 {
		t.log.Info("cycle", fields...)
		return
	}
	t.log.Debug("cycle", fields...)
}

func hasState(items []Item, s ItemState) bool {
	return slices.ContainsFunc(items, func(i Item) bool { return i.State == s })
}

func abbreviate(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ss[:n], ", "), len(ss)-n)
}

// truncate cuts s to at most n bytes, never inside a character, and marks
// the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// unlabeledKinds carry no ownership label on the gateway.
var unlabeledKinds = map[model.Kind]bool{model.KindGlobalRule: true, model.KindPluginMetadata: true}

// scope restricts the live inventory to what the target manages: global
// rules and plugin metadata that are not declared are left alone unless
// pruneUnlabeled (as the one-shot verbs do).
func scope(want []model.Resource, inv model.Inventory, pruneUnlabeled bool) model.Inventory {
	if pruneUnlabeled {
		return inv
	}
	declared := make(map[model.Key]bool, len(want))
	for _, r := range want {
		declared[r.Key] = true
	}
	out := model.Inventory{Unowned: inv.Unowned, Owned: make([]model.Resource, 0, len(inv.Owned))}
	for _, r := range inv.Owned {
		if unlabeledKinds[r.Key.Kind] && !declared[r.Key] {
			continue
		}
		out.Owned = append(out.Owned, r)
	}
	return out
}
