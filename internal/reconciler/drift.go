package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// desiredState is a loaded revision.
type desiredState struct {
	revision  string
	commit    Commit
	resources []model.Resource
	// intents fingerprint each desired resource (its parent and body as
	// loaded), so that a later revision shows which resources Git changed.
	intents map[model.Key]string
	// warnings are the revision's secrets written in plain text.
	warnings []Warning
}

func newDesiredState(snap Snapshot, rs []model.Resource) *desiredState {
	d := &desiredState{revision: snap.Revision, commit: snap.Commit, resources: rs, intents: make(map[model.Key]string, len(rs))}
	ws := model.PlaintextSecrets(rs)
	d.warnings = make([]Warning, len(ws))
	for i, w := range ws {
		d.warnings[i] = Warning{File: w.File, Line: w.Line, Resource: w.Resource, Field: w.Field, Message: w.Message}
	}
	for _, r := range rs {
		d.intents[r.Key] = fingerprint(struct {
			Parent model.Key
			Body   map[string]any
		}{r.Parent, r.Body})
	}
	return d
}

// fingerprint hashes v's JSON (maps are encoded in key order).
func fingerprint(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Bodies are decoded JSON and always encode; make a failure
		// distinct rather than equal to anything.
		return "unencodable:" + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// keyState is what the last observation established about one resource.
//
// Drift is defined per resource. A difference is drift when the desired
// state of that resource is the same as when the gateway last matched it
// (observed by a read, or written by us): the gateway moved, Git did not.
// It is pending when the desired state of that resource changed since (a
// new revision created, changed or removed it): Git moved and the gateway
// has not caught up. A resource that stays different keeps its type until
// its desired state changes. The first cycle after a start has no earlier
// observation: what it finds is pending.
type keyState struct {
	// intent is the fingerprint of the desired resource at the last
	// observation; "" when it was not desired.
	intent string
	// inSync reports that the gateway matched intent at the end of the
	// last observed cycle.
	inSync bool
	// typ is the classification of a difference that persists.
	typ DriftType
	// healed reports that the last observed cycle corrected its drift
	// (a self-heal write, not the apply of a new revision).
	healed bool
	// flaps counts consecutive corrections undone by another writer;
	// holdUntil is when self-heal may write it again.
	flaps     int
	holdUntil time.Time
	// reported is the fingerprint of the drift last reported, so that a
	// drift that persists is reported once.
	reported string
}

// state returns the key's state, creating it (absent from both sides, in
// sync) when unknown.
func (t *Target) state(k model.Key) *keyState {
	st, ok := t.known[k]
	if !ok {
		st = &keyState{inSync: true}
		t.known[k] = st
	}
	return st
}

// classify returns the type of a difference, and whether it undoes the
// drift correction of the previous observed cycle (another writer fighting
// us).
func (t *Target) classify(ch diff.Change, intent string) (DriftType, bool) {
	if !t.observed {
		return DriftPending, false
	}
	st := t.state(ch.Key)
	switch {
	case st.intent != intent:
		return DriftPending, false
	case st.inSync:
		return Drift, st.healed
	case st.typ == "":
		return DriftPending, false
	}
	return st.typ, false
}

// learn records what this cycle established, for the next classification:
// every desired or owned key with its intent and whether it is in sync
// (unchanged, or written successfully). Keys on neither side are
// forgotten: absent on both sides is in sync.
func (p *pass) learn() {
	t := p.t
	changed := make(map[model.Key]diff.Change, len(p.changes.Changes))
	for _, ch := range p.changes.Changes {
		changed[ch.Key] = ch
	}
	next := make(map[model.Key]*keyState, len(p.desired.resources)+len(p.inv.Owned))
	visit := func(k model.Key) {
		if _, done := next[k]; done {
			return
		}
		st := t.state(k)
		_, differs := changed[k]
		st.intent = p.desired.intents[k]
		st.healed = p.written[k] && p.types[k] == Drift
		switch {
		case !differs:
			// Observed in sync: any fight is over.
			st.inSync, st.typ, st.flaps, st.holdUntil, st.reported = true, "", 0, time.Time{}, ""
		case p.written[k]:
			// Written (a delete leaves it absent from both sides: kept
			// for one more cycle, to notice another writer re-creating
			// it).
			st.inSync, st.typ, st.reported = true, "", ""
		default:
			st.inSync, st.typ = false, p.types[k]
		}
		next[k] = st
	}
	for _, r := range p.desired.resources {
		visit(r.Key)
	}
	for _, r := range p.inv.Owned {
		visit(r.Key)
	}
	t.known = next
}

func newItem(ch diff.Change, typ DriftType) Item {
	it := Item{
		Kind: ch.Key.Kind, Key: ch.Key.String(), Name: ch.Name, Action: ch.Action, Type: typ,
		Fields: fields(ch),
	}
	if ch.Origin.File != "" {
		it.Origin = ch.Origin.String()
	}
	return it
}

// fields converts a change's field changes, whose values diff has masked.
func fields(ch diff.Change) []Field {
	if len(ch.Fields) == 0 {
		return nil
	}
	out := make([]Field, len(ch.Fields))
	for i, f := range ch.Fields {
		out[i] = Field{Path: f.Path, Old: f.Old, New: f.New, Secret: f.Secret}
	}
	return out
}

// changeFingerprint identifies a difference by its action and masked
// fields.
func changeFingerprint(ch diff.Change) string {
	return fingerprint(struct {
		A diff.Action
		F []Field
	}{ch.Action, fields(ch)})
}
