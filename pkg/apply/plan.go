// Package apply turns a change set into a plan and carries it out against a
// gateway: guards before the first write, per-object scheduling bounded by
// a concurrency limit, failure isolation, and pruning only after every
// write succeeded.
//
// # Order
//
// Writes (creates and updates) run first, each as soon as what it depends
// on exists: a route waits for its own service's create, not for every
// service. Deletes (the prune) run after every write succeeded, each after
// the deletes of what depends on it: a service goes after its routes. The
// kind orders below break ties among ready steps, so the pipe to the
// gateway stays full with dependencies first.
//
// A resource depends on its parent (a route's or stream route's service, an
// extra upstream's service, a credential's consumer, a consumer's group)
// and on every object its body names by ID, at any depth: upstream_id
// (routes, services, and the traffic-split plugin's weighted upstreams
// anywhere), service_id, group_id, and an upstream's tls.client_cert_id
// (an SSL of type client, whose update also goes first). A service whose
// plugin names one of its own extra upstreams is written before it and
// deleted before it (see Plan.link).
//
// This departs from design §7, which lists deletes first. Writing before
// deleting means that a resource that moves to a new ID (a renamed route or
// service, a route moved to another service, an SSL whose SNIs changed, a
// renamed extra upstream) exists twice for a moment rather than not at all,
// that whatever still refers to the old object (a consumer whose group was
// renamed, a plugin's upstream_id) is rewritten before the old object goes,
// so the gateway never answers "… is still using it now", and that nothing
// is pruned when a write failed. The gateway accepts the overlap: it keeps
// no uniqueness on names, URIs or SNIs (global rules, which may not share a
// plugin, are keyed by their plugin and never move).
//
// A resource that keeps its key but moves to another parent is an update.
// Where the gateway's address holds the parent (API7 Enterprise's extra
// upstreams, see ParentAddressed), Execute adds the delete of the copy under
// the old parent to the prune phase, so the move too writes first.
//
// Auth keys are the exception, as APISIX 3.18 refuses a key held twice: a
// delete that frees a key a write takes over (a renamed credential or
// consumer keeping its key) runs with the writes, before the write that
// needs it (Step.Early), and an update that drops a key (a key moving from
// a consumer's plugins to a credential, or between consumers) runs before
// the write that takes it. cmd/reconciler's TestMovesWriteBeforeDeleting
// checks each of these cases against the emulator.
package apply

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// writeOrder is the order of kinds among ready writes: dependencies first.
// Global rules and plugin metadata come last.
func writeOrder() []model.Kind {
	return []model.Kind{
		model.KindSSL,
		model.KindService,
		model.KindUpstream,
		model.KindRoute,
		model.KindStreamRoute,
		model.KindConsumerGroup,
		model.KindConsumer,
		model.KindCredential,
		model.KindGlobalRule,
		model.KindPluginMetadata,
	}
}

// deleteOrder is the order of kinds among ready deletes: dependents first.
func deleteOrder() []model.Kind {
	return []model.Kind{
		model.KindRoute,
		model.KindStreamRoute,
		model.KindUpstream,
		model.KindService,
		model.KindCredential,
		model.KindConsumer,
		model.KindConsumerGroup,
		model.KindSSL,
		model.KindGlobalRule,
		model.KindPluginMetadata,
	}
}

// referenceFields are the body fields that name another resource by ID, and the
// kinds they may name (an upstream_id may name an extra upstream or, in
// APISIX's layout, a service's inline upstream, stored under the service's
// ID). They are looked for at any depth, so that plugins such as
// traffic-split (rules[].weighted_upstreams[].upstream_id) and an upstream's
// tls.client_cert_id (in a service's inline upstream too) count. ADC's files
// write every one of them as an ID; the other links of its format, by
// nesting (a route in its service, a consumer in its group, a credential in
// its consumer), are Resource.Parent. A live body may also carry a
// consumer's group_id or a route's service_id that the files cannot
// express.
var referenceFields = map[string][]model.Kind{
	"service_id":     {model.KindService},
	"upstream_id":    {model.KindUpstream, model.KindService},
	"group_id":       {model.KindConsumerGroup},
	"client_cert_id": {model.KindSSL},
}

// Input is what a plan is made from.
type Input struct {
	// Changes is the change set from diff.Compute.
	Changes diff.ChangeSet
	// Desired is the number of desired resources (not only the changed
	// ones): zero means the desired set is empty.
	Desired int
	// Live is the inventory the change set was computed against.
	Live model.Inventory
	// ListingComplete must be set by the caller once the live listing has
	// been read in full. When it is not, nothing is written or deleted.
	ListingComplete bool
}

// Policy is what a plan may do.
type Policy struct {
	// Prune allows deletes. Without it the deletes are held back.
	Prune bool
	// MaxDeletes refuses a plan with more deletes; negative means no limit.
	MaxDeletes int
	// MaxDeletePercent refuses a plan that deletes more than this
	// percentage of the owned objects; 100 or more means no limit.
	MaxDeletePercent float64
	// AllowEmpty allows an empty desired set to delete every owned object.
	AllowEmpty bool
	// Adopt allows writing a desired resource whose ID an unowned object
	// holds, taking it over; without it that write is an OwnershipConflict.
	Adopt bool
}

// DefaultPolicy is the policy of the command-line defaults: prune on, at
// most 50 deletes and 25% of the owned objects, no empty set, no adoption.
func DefaultPolicy() Policy {
	return Policy{Prune: true, MaxDeletes: 50, MaxDeletePercent: 25}
}

// Reason is why a guard refused.
type Reason string

// The reasons. Each is a metric label value and a status reason.
const (
	// ReasonPruneDisabled: deletes are held because pruning is off. This
	// one is a choice, not a failure.
	ReasonPruneDisabled Reason = "PruneDisabled"
	// ReasonMaxDeletes: more deletes than Policy.MaxDeletes.
	ReasonMaxDeletes Reason = "MaxDeletes"
	// ReasonMaxDeletePercent: more deletes than Policy.MaxDeletePercent of
	// the owned objects.
	ReasonMaxDeletePercent Reason = "MaxDeletePercent"
	// ReasonEmptyDesired: the desired set is empty and would delete
	// everything, without Policy.AllowEmpty.
	ReasonEmptyDesired Reason = "EmptyDesired"
	// ReasonIncompleteListing: the live listing was not read in full.
	ReasonIncompleteListing Reason = "IncompleteListing"
	// ReasonOwnershipConflict: a desired resource's ID is held by an object
	// without our ownership label.
	ReasonOwnershipConflict Reason = "OwnershipConflict"
)

// Sentinels a RefusalError matches with errors.Is.
var (
	// ErrRefused matches every RefusalError.
	ErrRefused = errors.New("refused by a guard")
	// ErrDeletionGuard matches the refusals that protect against mass
	// deletion: MaxDeletes, MaxDeletePercent and EmptyDesired.
	ErrDeletionGuard = errors.New("deletion guard tripped")
	// ErrOwnershipConflict matches an OwnershipConflict refusal.
	ErrOwnershipConflict = errors.New("ownership conflict")
)

// RefusalError is a guard that refused part or all of a plan.
type RefusalError struct {
	Reason Reason
	// Detail says what tripped the guard, with the numbers.
	Detail string
	// Keys are the resources refused (for OwnershipConflict).
	Keys []model.Key
}

func (e *RefusalError) Error() string {
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

// Is matches ErrRefused, and ErrDeletionGuard or ErrOwnershipConflict by
// reason.
func (e *RefusalError) Is(target error) bool {
	switch target {
	case ErrRefused:
		return true
	case ErrDeletionGuard:
		return e.Reason == ReasonMaxDeletes || e.Reason == ReasonMaxDeletePercent || e.Reason == ReasonEmptyDesired
	case ErrOwnershipConflict:
		return e.Reason == ReasonOwnershipConflict
	}
	return false
}

// Failure reports whether the refusal makes the run a failure (everything
// but PruneDisabled, which is the operator's choice).
func (e *RefusalError) Failure() bool { return e.Reason != ReasonPruneDisabled }

// Step is one request of a plan.
type Step struct {
	Action diff.Action
	// Resource is what is written (the change's Desired) or deleted (the
	// change's Live).
	Resource model.Resource
	// Change is the change this step carries out (its values are masked):
	// the element of the Input's change set, not a copy.
	Change *diff.Change
	// After are the indexes, in Plan.Steps, of the steps that must succeed
	// before this one starts.
	After []int
	// Refused is set when a guard refused this step before it could run.
	Refused *RefusalError
	// Invalid is set when local validation rejected this step.
	Invalid error
	// Early marks a delete that runs with the writes, before those that
	// wait for it: it frees an auth key (key-auth key, basic-auth
	// username, jwt-auth key, hmac-auth key_id) that a write takes over, as
	// when a credential is renamed. APISIX 3.18 refuses a key held twice,
	// so the write could never succeed first.
	Early bool
}

// Plan is what to do, in order: the writes, dependencies first, then the
// deletes, dependents first.
type Plan struct {
	// Steps holds the writes, then the deletes.
	Steps []Step
	// Writes is the number of writes at the head of Steps.
	Writes int
	// Refusals are the guards that tripped, in the order checked.
	Refusals []*RefusalError
	// Halted is set when a refusal stops the whole plan (an incomplete
	// listing, an empty desired set): no step runs.
	Halted bool
	// DeletesHeld is set when the deletes are held back (pruning off, a
	// deletion guard).
	DeletesHeld bool
}

// ErrInvalid is wrapped by a step's Invalid error.
var ErrInvalid = errors.New("invalid resource")

// NewPlan orders the changes into steps and checks the guards. It is pure.
func NewPlan(in Input, pol Policy) Plan {
	var writes, deletes []int
	changes := in.Changes.Changes
	for i, c := range changes {
		if c.Action == diff.ActionDelete {
			deletes = append(deletes, i)
		} else {
			writes = append(writes, i)
		}
	}
	sortByKind(changes, writes, writeOrder())
	sortByKind(changes, deletes, deleteOrder())

	p := Plan{Writes: len(writes), Steps: make([]Step, 0, len(writes)+len(deletes))}
	for _, i := range writes {
		p.Steps = append(p.Steps, Step{Action: changes[i].Action, Resource: changes[i].Desired, Change: &changes[i]})
	}
	for _, i := range deletes {
		p.Steps = append(p.Steps, Step{Action: changes[i].Action, Resource: changes[i].Live, Change: &changes[i]})
	}
	p.link()
	p.early()
	p.validate(in.Live)
	p.guard(in, pol, len(deletes))
	return p
}

// sortByKind sorts idx, indexes into cs, by kind in order, then key.
func sortByKind(cs []diff.Change, idx []int, order []model.Kind) {
	rank := make(map[model.Kind]int, len(order))
	for i, k := range order {
		rank[k] = i
	}
	r := func(k model.Kind) int {
		if v, ok := rank[k]; ok {
			return v
		}
		return len(order)
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := cs[i].Key, cs[j].Key
		return cmp.Or(
			cmp.Compare(r(a.Kind), r(b.Kind)),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Consumer, b.Consumer),
			cmp.Compare(a.ID, b.ID),
		)
	})
}

// link records, per step, the steps it waits for. A write waits for the
// create of its parent and of anything its body references, and for the
// update of an SSL it references (APISIX checks that an upstream's
// tls.client_cert_id names an SSL of type client when the upstream is
// written). A delete waits for the deletes of its children and of anything
// that references it.
//
// A parent whose body references its own child (a service whose
// traffic-split names one of its extra upstreams) is the one exception to
// "parents first on write, children first on delete": the reference is the
// link the gateway enforces on delete (APISIX refuses to delete an upstream
// a plugin names, while it knows an extra upstream's service only by a
// label, and API7 Enterprise deletes a service's upstreams with it), and
// the parent the one it enforces on write (API7 Enterprise stores an extra
// upstream under its service; neither checks a plugin's upstream_id on
// write). So the child is written after its parent and deleted after it
// too.
func (p *Plan) link() {
	creates := map[model.Key]int{}
	updates := map[model.Key]int{}
	deletes := map[model.Key]int{}
	for i, s := range p.Steps {
		switch s.Action {
		case diff.ActionCreate:
			creates[s.Resource.Key] = i
		case diff.ActionUpdate:
			updates[s.Resource.Key] = i
		case diff.ActionDelete:
			deletes[s.Resource.Key] = i
		}
	}
	refs := make([][]model.Key, len(p.Steps))
	for i, s := range p.Steps {
		refs[i] = references(s.Resource)
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		parent := s.Resource.Parent
		switch s.Action {
		case diff.ActionCreate, diff.ActionUpdate:
			if j, ok := creates[parent]; ok && !parent.IsZero() {
				s.After = append(s.After, j)
			}
			for _, k := range refs[i] {
				j, ok := creates[k]
				if !ok && k.Kind == model.KindSSL {
					j, ok = updates[k]
				}
				if ok && j != i && p.Steps[j].Resource.Parent != s.Resource.Key {
					s.After = append(s.After, j)
				}
			}
		case diff.ActionDelete:
			// Reverse edges: whoever depends on this one goes first.
			if j, ok := deletes[parent]; ok && !parent.IsZero() {
				if slices.Contains(refs[j], s.Resource.Key) {
					s.After = append(s.After, j) // the parent names its child: see above
				} else {
					p.Steps[j].After = append(p.Steps[j].After, i)
				}
			}
			for _, k := range refs[i] {
				if j, ok := deletes[k]; ok && j != i && p.Steps[j].Resource.Key != parent {
					p.Steps[j].After = append(p.Steps[j].After, i)
				}
			}
		}
	}
	for i := range p.Steps {
		slices.Sort(p.Steps[i].After)
		p.Steps[i].After = slices.Compact(p.Steps[i].After)
	}
}

// authKeyFields are the fields of auth plugins that the gateway keeps
// unique across consumers and credentials.
var authKeyFields = map[string]string{
	"key-auth":   "key",
	"basic-auth": "username",
	"jwt-auth":   "key",
	"hmac-auth":  "key_id",
}

// authKeys are the unique auth keys a consumer or credential holds, as
// "plugin\x00value".
func authKeys(r model.Resource) []string {
	var out []string
	add := func(plugin string, conf any) {
		field, ok := authKeyFields[plugin]
		if !ok {
			return
		}
		c, _ := conf.(map[string]any)
		if v, ok := c[field].(string); ok && v != "" {
			out = append(out, plugin+"\x00"+v)
		}
	}
	switch r.Key.Kind {
	case model.KindCredential:
		t, _ := r.Body["type"].(string)
		add(t, r.Body["config"])
	case model.KindConsumer:
		ps, _ := r.Body["plugins"].(map[string]any)
		for name, conf := range ps {
			add(name, conf)
		}
	}
	return out
}

// early orders the steps around auth keys, which the gateway keeps unique
// across consumers and credentials (APISIX 3.18 refuses a key held twice):
// a write that takes a key waits for the step that gives it up. A delete
// that frees one is marked Early, runs with the writes, and marks early
// too what it waits for (its children's deletes); an update that drops a
// key (a key moving from a consumer's plugins to a credential, or between
// two consumers) simply goes first. Two updates that swap keys cannot both
// go first: they are left to the gateway, which refuses one of them.
func (p *Plan) early() {
	deleted := map[string][]int{} // key → deletes whose live resource holds it
	dropped := map[string][]int{} // key → updates whose live resource holds it and whose desired one does not
	for i := p.Writes; i < len(p.Steps); i++ {
		for _, k := range authKeys(p.Steps[i].Resource) {
			deleted[k] = append(deleted[k], i)
		}
	}
	for i, s := range p.Steps[:p.Writes] {
		if s.Action != diff.ActionUpdate {
			continue
		}
		kept := authKeys(s.Resource)
		for _, k := range authKeys(s.Change.Live) {
			if !slices.Contains(kept, k) {
				dropped[k] = append(dropped[k], i)
			}
		}
	}
	if len(deleted) == 0 && len(dropped) == 0 {
		return
	}
	var queue []int
	for i := range p.Steps[:p.Writes] {
		for _, k := range authKeys(p.Steps[i].Resource) {
			for _, j := range deleted[k] {
				p.Steps[i].After = append(p.Steps[i].After, j)
				if !p.Steps[j].Early {
					p.Steps[j].Early = true
					queue = append(queue, j)
				}
			}
			for _, j := range dropped[k] {
				if j != i && !slices.Contains(p.Steps[j].After, i) {
					p.Steps[i].After = append(p.Steps[i].After, j)
				}
			}
		}
		slices.Sort(p.Steps[i].After)
		p.Steps[i].After = slices.Compact(p.Steps[i].After)
	}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, c := range p.Steps[j].After {
			if !p.Steps[c].Early {
				p.Steps[c].Early = true
				queue = append(queue, c)
			}
		}
	}
}

// references are the keys a resource's body names (see the references
// table), other than its own.
func references(r model.Resource) []model.Key {
	var out []model.Key
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if kinds, ok := referenceFields[k]; ok {
					if id, ok := e.(string); ok && id != "" {
						for _, kind := range kinds {
							if key := (model.Key{Kind: kind, ID: id}); key != r.Key {
								out = append(out, key)
							}
						}
						continue
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(r.Body)
	return out
}

// validate checks each write locally: a known kind, an ID, a parent that
// exists or is being written.
func (p *Plan) validate(live model.Inventory) {
	if p.Writes == 0 {
		return // nothing to check, and no need to index the live state
	}
	present := make(map[model.Key]bool, len(live.Owned)+p.Writes)
	for _, r := range live.Owned {
		present[r.Key] = true
	}
	for _, s := range p.Steps[:p.Writes] {
		present[s.Resource.Key] = true
	}
	for i := range p.Steps[:p.Writes] {
		s := &p.Steps[i]
		r := s.Resource
		switch {
		case !r.Key.Kind.Valid():
			s.Invalid = fmt.Errorf("%w: %s: unknown kind %q", ErrInvalid, r.Key, r.Key.Kind)
		case r.Key.ID == "":
			s.Invalid = fmt.Errorf("%w: %s %q has no ID", ErrInvalid, r.Key.Kind, r.Name)
		case r.Key.Kind == model.KindCredential && r.Key.Consumer == "":
			s.Invalid = fmt.Errorf("%w: %s has no consumer", ErrInvalid, r.Key)
		case !r.Parent.IsZero() && !present[r.Parent]:
			s.Invalid = fmt.Errorf("%w: %s: its parent %s is neither declared nor on the gateway", ErrInvalid, r.Key, r.Parent)
		}
	}
}

// guard checks the guards, in order of severity.
func (p *Plan) guard(in Input, pol Policy, deletes int) {
	if !in.ListingComplete {
		p.refuse(&RefusalError{Reason: ReasonIncompleteListing,
			Detail: "the live listing was not read in full: nothing is written or deleted"})
		p.Halted = true
		return
	}
	if in.Desired == 0 && deletes > 0 && !pol.AllowEmpty {
		p.refuse(&RefusalError{Reason: ReasonEmptyDesired,
			Detail: fmt.Sprintf("the desired state is empty and would delete all %d owned objects; set allow-empty to do that", deletes)})
		p.Halted = true
		return
	}
	p.guardOwnership(in.Live.Unowned, pol.Adopt)
	if deletes == 0 {
		return
	}
	owned := len(in.Live.Owned)
	switch {
	case !pol.Prune:
		p.refuse(&RefusalError{Reason: ReasonPruneDisabled,
			Detail: fmt.Sprintf("pruning is off: %d deletes held back", deletes)})
	case pol.MaxDeletes >= 0 && deletes > pol.MaxDeletes:
		p.refuse(&RefusalError{Reason: ReasonMaxDeletes,
			Detail: fmt.Sprintf("%d deletes exceed max-deletes %d (%d owned objects); nothing is deleted", deletes, pol.MaxDeletes, owned)})
	case pol.MaxDeletePercent < 100 && float64(deletes)*100 > pol.MaxDeletePercent*float64(owned):
		p.refuse(&RefusalError{Reason: ReasonMaxDeletePercent,
			Detail: fmt.Sprintf("%d deletes of %d owned objects (%.1f%%) exceed max-delete-percent %g; nothing is deleted",
				deletes, owned, percent(deletes, owned), pol.MaxDeletePercent)})
	default:
		return
	}
	p.DeletesHeld = true
	refusal := p.Refusals[len(p.Refusals)-1]
	for i := p.Writes; i < len(p.Steps); i++ {
		p.Steps[i].Refused = refusal
	}
}

func percent(n, of int) float64 {
	if of == 0 {
		return 100
	}
	return float64(n) * 100 / float64(of)
}

// guardOwnership refuses the creates whose ID an unowned object holds.
func (p *Plan) guardOwnership(unowned []model.Key, adopt bool) {
	if len(unowned) == 0 || adopt {
		return
	}
	held := make(map[model.Key]bool, len(unowned))
	for _, k := range unowned {
		held[k] = true
	}
	var conflicts []int
	for i, s := range p.Steps[:p.Writes] {
		if held[s.Resource.Key] {
			conflicts = append(conflicts, i)
		}
	}
	if len(conflicts) == 0 {
		return
	}
	e := &RefusalError{Reason: ReasonOwnershipConflict}
	names := make([]string, 0, len(conflicts))
	for _, i := range conflicts {
		e.Keys = append(e.Keys, p.Steps[i].Resource.Key)
		names = append(names, p.Steps[i].Resource.Key.String())
		p.Steps[i].Refused = e
	}
	e.Detail = fmt.Sprintf("%d desired resources have the ID of an object we do not own (%s); they are not written unless adopting",
		len(conflicts), strings.Join(abbreviateList(names, 5), ", "))
	p.refuse(e)
}

func abbreviateList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

func (p *Plan) refuse(e *RefusalError) { p.Refusals = append(p.Refusals, e) }

// Text describes the plan for a dry run: each step in order, what it waits
// for, and the refusals.
func (p Plan) Text() []byte {
	var b strings.Builder
	deletes := len(p.Steps) - p.Writes
	fmt.Fprintf(&b, "Plan: %d writes, then %d deletes.\n", p.Writes, deletes)
	for _, r := range p.Refusals {
		fmt.Fprintf(&b, "Refused: %s\n", r)
	}
	if p.Halted {
		b.WriteString("Nothing will be written or deleted.\n")
		return []byte(b.String())
	}
	for i, s := range p.Steps {
		if i == p.Writes && deletes > 0 {
			if p.DeletesHeld {
				b.WriteString("Deletes (held back, will not run):\n")
			} else {
				b.WriteString("Deletes (only if every write succeeds, unless marked):\n")
			}
		}
		fmt.Fprintf(&b, "%5d. %s %s %q", i+1, s.Action, s.Resource.Key, s.Resource.Name)
		if len(s.After) > 0 {
			after := make([]string, len(s.After))
			for j, a := range s.After {
				after[j] = fmt.Sprint(a + 1)
			}
			fmt.Fprintf(&b, " after %s", strings.Join(after, ","))
		}
		switch {
		case s.Early:
			b.WriteString(" — with the writes: frees an auth key a write takes over")
		case s.Invalid != nil:
			fmt.Fprintf(&b, " — invalid: %v", s.Invalid)
		case s.Refused != nil && s.Refused.Reason == ReasonOwnershipConflict:
			b.WriteString(" — refused: OwnershipConflict")
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
