package diff

import (
	"cmp"
	"runtime"
	"slices"
	"sync"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Action is what a change does to one resource.
type Action string

// The actions.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// FieldChange is one changed location of a resource's body.
type FieldChange struct {
	// Path is an RFC 6901 JSON pointer into the normalised body in ADC's
	// format; "" would be the whole body.
	Path string
	// Old is the live value and New the desired value; nil means absent
	// (normalisation drops nulls). Secrets inside them are Masked.
	Old, New any
	// Secret is true when the location itself holds a secret: Old and New
	// then read Masked (or nil when absent) and only show that it changed.
	Secret bool
}

// Change is the difference for one resource.
type Change struct {
	Action Action
	Key    model.Key
	Name   string
	Parent model.Key
	// Origin is where the desired resource was declared (zero for deletes).
	Origin model.Origin
	// Fields are the changed locations, sorted by path. For a create they
	// are the top-level fields of the body to be written; for a delete, of
	// the live body as read (neither is normalised).
	Fields []FieldChange
	// Desired is the resource to write (its WriteForm) for create and
	// update; zero for delete. Its body is not masked: never print it.
	Desired model.Resource `json:"-"`
	// Live is the live resource for update and delete (Delete needs its
	// parent); zero for create. Its body is not masked: never print it.
	Live model.Resource `json:"-"`
}

// ChangeSet is every change between a desired and a live state, in a total
// order: kind in model.Kinds order, then consumer, then ID.
type ChangeSet struct {
	Changes []Change
}

// Empty reports whether the states are in sync.
func (c ChangeSet) Empty() bool { return len(c.Changes) == 0 }

// Summary counts changes by action.
type Summary struct {
	Create int `json:"create"`
	Update int `json:"update"`
	Delete int `json:"delete"`
	Total  int `json:"total"`
}

// Summary counts the changes.
func (c ChangeSet) Summary() Summary {
	var s Summary
	for _, ch := range c.Changes {
		switch ch.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		case ActionDelete:
			s.Delete++
		}
	}
	s.Total = len(c.Changes)
	return s
}

// Compute compares desired with live using the default options (no server
// defaults beyond the built-in ones, no ignore rules).
func Compute(desired, live []model.Resource) ChangeSet {
	d, _ := New(Options{}) // the zero options are always valid
	return d.Compute(desired, live)
}

// Compute normalises both sides and returns the changes that turn live into
// desired. Keys must be unique on each side; of duplicates the first wins.
// Inputs are not modified, and may already be normalised.
func (d *Differ) Compute(desired, live []model.Resource) ChangeSet {
	type pair struct {
		want, have *model.Resource
		key        model.Key
		rank       int
	}
	liveByKey := make(map[model.Key]int, len(live))
	for i, r := range live {
		if _, dup := liveByKey[r.Key]; !dup {
			liveByKey[r.Key] = i
		}
	}
	matched := make([]bool, len(live))
	pairs := make([]pair, 0, len(desired)+len(live))
	for i := range desired {
		want := &desired[i]
		p := pair{want: want, key: want.Key, rank: kindRank(want.Key.Kind)}
		if j, ok := liveByKey[want.Key]; ok {
			p.have = &live[j]
			matched[j] = true
		}
		pairs = append(pairs, p)
	}
	for i := range live {
		if !matched[i] {
			pairs = append(pairs, pair{have: &live[i], key: live[i].Key, rank: kindRank(live[i].Key.Kind)})
		}
	}
	// Stable: of pairs with the same key (duplicates in the input), the
	// first — a desired one before a live one — is kept.
	slices.SortStableFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), compareKeys(a.key, b.key))
	})
	pairs = slices.CompactFunc(pairs, func(a, b pair) bool { return a.key == b.key })

	// Normalising dominates; spread it over the CPUs, in two passes, so
	// that nothing but the result holds a Change: first the updates are
	// compared (a changed one is kept aside; an in-sync state keeps
	// nothing), then the result is filled in place, the creates and deletes
	// made there. Each pair's normalised copies are garbage as soon as it
	// is compared. Every goroutine is joined before Compute returns.
	workers := min(runtime.GOMAXPROCS(0), 1+len(pairs)/512)
	parallel := func(fn func(i int)) {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// Strided, so that each worker gets its share of every
				// kind (services cost more than routes).
				for i := w; i < len(pairs); i += workers {
					fn(i)
				}
			})
		}
		wg.Wait()
	}
	updated := make([]*Change, len(pairs))
	parallel(func(i int) {
		if p := pairs[i]; p.want != nil && p.have != nil {
			if c, changed := d.update(*p.want, *p.have); changed {
				updated[i] = new(Change) // c itself stays on the stack
				*updated[i] = c
			}
		}
	})
	at := make([]int32, len(pairs)) // position in out, or -1
	n := 0
	for i, p := range pairs {
		at[i] = -1
		if p.want == nil || p.have == nil || updated[i] != nil {
			at[i] = int32(n)
			n++
		}
	}
	out := make([]Change, n) // in the order of pairs, which were sorted
	parallel(func(i int) {
		switch p := pairs[i]; {
		case at[i] < 0:
		case p.have == nil:
			out[at[i]] = d.create(*p.want)
		case p.want == nil:
			out[at[i]] = d.delete(*p.have)
		default:
			out[at[i]] = *updated[i]
		}
	})
	return ChangeSet{Changes: out}
}

// compareKeys is the total order of changes.
func compareKeys(a, b model.Key) int {
	return cmp.Or(
		cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
		cmp.Compare(a.Kind, b.Kind),
		cmp.Compare(a.Consumer, b.Consumer),
		cmp.Compare(a.ID, b.ID),
	)
}

// kindRank is the position of k in model.Kinds; unknown kinds go last.
func kindRank(k model.Kind) int {
	switch k {
	case model.KindSSL:
		return 0
	case model.KindService:
		return 1
	case model.KindUpstream:
		return 2
	case model.KindRoute:
		return 3
	case model.KindStreamRoute:
		return 4
	case model.KindConsumerGroup:
		return 5
	case model.KindConsumer:
		return 6
	case model.KindCredential:
		return 7
	case model.KindGlobalRule:
		return 8
	case model.KindPluginMetadata:
		return 9
	}
	return 10
}

// credTypes are the plugins of a credential's bodies.
func credTypes(bodies ...map[string]any) []string {
	var ts []string
	for _, b := range bodies {
		if t, ok := b["type"].(string); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// create lists the fields of the resource as it will be written (not
// normalised: what the file says, and what goes on the wire).
func (d *Differ) create(want model.Resource) Change {
	w := WriteForm(want)
	m := newMasker(want.Key, credTypes(w.Body), want.Secrets)
	return Change{
		Action:  ActionCreate,
		Key:     want.Key,
		Name:    want.Name,
		Parent:  want.Parent,
		Origin:  want.Origin,
		Fields:  topLevel(m, w.Body, false),
		Desired: w,
	}
}

// delete lists the fields of the live resource as read.
func (d *Differ) delete(have model.Resource) Change {
	m := newMasker(have.Key, credTypes(have.Body), have.Secrets)
	return Change{
		Action: ActionDelete,
		Key:    have.Key,
		Name:   have.Name,
		Parent: have.Parent,
		Fields: topLevel(m, have.Body, true),
		Live:   have,
	}
}

func (d *Differ) update(want, have model.Resource) (Change, bool) {
	if want.Name == have.Name && want.Parent == have.Parent && want.Key.Kind != model.KindSSL && equal(want.Body, have.Body) {
		// Normalising is a function of these alone: equal in, equal out.
		return Change{}, false
	}
	// The desired side in its write form: with the fingerprint of its
	// private keys, which the live side carries instead of the keys.
	w, h := d.Normalize(WriteForm(want)), d.Normalize(have)
	w.Body = withoutUnmatchedFingerprint(want.Key.Kind, w.Body, h.Body)
	h.Body = withoutWrittenUpstreamName(want.Key.Kind, w.Body, h.Body)
	if want.Parent != have.Parent {
		w.Body, h.Body = withServiceLink(want, w.Body), withServiceLink(have, h.Body)
	}
	if equal(w.Body, h.Body) {
		return Change{}, false
	}
	m := newMasker(want.Key, credTypes(w.Body, h.Body), w.Secrets, h.Secrets)
	var fields []FieldChange
	compare(m, pointer{}, h.Body, w.Body, &fields)
	return Change{
		Action:  ActionUpdate,
		Key:     want.Key,
		Name:    want.Name,
		Parent:  want.Parent,
		Origin:  want.Origin,
		Fields:  fields,
		Desired: WriteForm(want),
		Live:    have,
	}, true
}

// topLevel lists the top-level fields of a body as changes from (or, for a
// delete, to) absent. Values are shared with b where nothing is masked;
// nulls are left out.
func topLevel(m masker, b map[string]any, removed bool) []FieldChange {
	out := make([]FieldChange, 0, len(b))
	for _, k := range sortedKeys(b) {
		if b[k] == nil {
			continue
		}
		p := pointer{k}
		fc := FieldChange{Path: p.String(), Secret: m.secret(p)}
		v := m.mask(p, b[k])
		if removed {
			fc.Old = v
		} else {
			fc.New = v
		}
		out = append(out, fc)
	}
	return out
}

// compare appends the differences between old and new at p: it descends
// into objects present on both sides, and into arrays of objects of equal
// length; anything else is reported whole.
func compare(m masker, p pointer, old, new any, out *[]FieldChange) {
	if equal(old, new) {
		return
	}
	if om, ok := old.(map[string]any); ok {
		if nm, ok := new.(map[string]any); ok && !m.secret(p) {
			keys := sortedKeys(om)
			for k := range nm {
				if _, ok := om[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				compare(m, p.child(k), om[k], nm[k], out)
			}
			return
		}
	}
	if oa, ok := old.([]any); ok {
		if na, ok := new.([]any); ok && len(oa) == len(na) && objects(oa) && objects(na) && !m.secret(p) {
			for i := range oa {
				compare(m, p.child(itoa(i)), oa[i], na[i], out)
			}
			return
		}
	}
	*out = append(*out, FieldChange{
		Path:   p.String(),
		Old:    m.mask(p, old),
		New:    m.mask(p, new),
		Secret: m.secret(p),
	})
}

func objects(s []any) bool {
	for _, e := range s {
		if _, ok := e.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// WriteForm returns the resource to send to the gateway for desired: r
// itself, except that the object carrying a private key carries
// FingerprintLabel for it: an SSL for its certificates' keys, an upstream
// for its tls.client_key, a service's inline upstream for its. r is not
// modified.
func WriteForm(r model.Resource) model.Resource {
	switch r.Key.Kind {
	case model.KindSSL:
		var keys []string
		certs, _ := r.Body["certificates"].([]any)
		for _, c := range certs {
			if cm, ok := c.(map[string]any); ok {
				if k, ok := cm["key"].(string); ok && k != "" {
					keys = append(keys, k)
				}
			}
		}
		r.Body, _ = withFingerprint(r.Body, keys)
	case model.KindUpstream:
		r.Body, _ = withFingerprint(r.Body, clientKey(r.Body))
	case model.KindService:
		u, _ := r.Body["upstream"].(map[string]any)
		if nu, changed := withFingerprint(u, clientKey(u)); changed {
			r.Body = withField(r.Body, "upstream", nu)
		}
	}
	return r
}

// clientKey is an upstream's TLS client key, as a list of one or none.
func clientKey(u map[string]any) []string {
	tls, _ := u["tls"].(map[string]any)
	if k, ok := tls["client_key"].(string); ok && k != "" {
		return []string{k}
	}
	return nil
}

// withFingerprint returns obj with FingerprintLabel for keys among its
// labels: obj itself when there are no keys or it has the label already,
// else a copy (changed).
func withFingerprint(obj map[string]any, keys []string) (_ map[string]any, changed bool) {
	if len(keys) == 0 {
		return obj, false
	}
	labels, _ := obj["labels"].(map[string]any)
	if _, ok := labels[FingerprintLabel]; ok {
		return obj, false
	}
	nl := make(map[string]any, len(labels)+1)
	for k, v := range labels {
		nl[k] = v
	}
	nl[FingerprintLabel] = Fingerprint(keys)
	return withField(obj, "labels", nl), true
}

// withoutFingerprint returns obj without FingerprintLabel among its
// labels: obj itself when it has none, else a copy (changed).
func withoutFingerprint(obj map[string]any) (_ map[string]any, changed bool) {
	labels, _ := obj["labels"].(map[string]any)
	if _, ok := labels[FingerprintLabel]; !ok {
		return obj, false
	}
	nl := make(map[string]any, len(labels))
	for k, v := range labels {
		if k != FingerprintLabel {
			nl[k] = v
		}
	}
	if len(nl) == 0 {
		return withField(obj, "labels", nil), true
	}
	return withField(obj, "labels", nl), true
}

// withField returns a shallow copy of m with key set to v, or removed when
// v is nil.
func withField(m map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, e := range m {
		out[k] = e
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

// fingerprintHolder returns the object of a body of kind k whose labels
// carry FingerprintLabel: the body of an SSL or an upstream, the inline
// upstream of a service; nil for other kinds.
func fingerprintHolder(k model.Kind, body map[string]any) map[string]any {
	switch k {
	case model.KindSSL, model.KindUpstream:
		return body
	case model.KindService:
		u, _ := body["upstream"].(map[string]any)
		return u
	}
	return nil
}

// withoutUnmatchedFingerprint returns the normalised desired body w
// without FingerprintLabel where the normalised live body h has none: a
// live object written by another tool (ADC) cannot have its key checked,
// so it is compared without it. w is not modified.
func withoutUnmatchedFingerprint(k model.Kind, w, h map[string]any) map[string]any {
	wh := fingerprintHolder(k, w)
	wl, _ := wh["labels"].(map[string]any)
	if _, ok := wl[FingerprintLabel]; !ok {
		return w
	}
	hl, _ := fingerprintHolder(k, h)["labels"].(map[string]any)
	if _, ok := hl[FingerprintLabel]; ok {
		return w
	}
	nh, _ := withoutFingerprint(wh)
	if k == model.KindService {
		return withField(w, "upstream", nh)
	}
	return nh
}

// StripFingerprint returns r without FingerprintLabel, for showing a live
// resource in ADC's format (dump): an SSL, an upstream or a service's
// inline upstream. r is not modified.
func StripFingerprint(r model.Resource) model.Resource {
	switch r.Key.Kind {
	case model.KindSSL, model.KindUpstream:
		r.Body, _ = withoutFingerprint(r.Body)
	case model.KindService:
		u, _ := r.Body["upstream"].(map[string]any)
		if nu, changed := withoutFingerprint(u); changed {
			r.Body = withField(r.Body, "upstream", nu)
		}
	}
	return r
}

// WriteOnlyPointers lists the locations in r's body, as RFC 6901 pointers,
// of the private keys the Admin API never reads back as written: every
// certificate's key of an SSL (GET strips them, so they are listed whether
// present or not) and an upstream's tls.client_key, of an extra upstream
// or a service's inline one (APISIX shows its ciphertext). A dump writes
// them as variable references even when asked for secrets.
func WriteOnlyPointers(r model.Resource) []string {
	var out []string
	switch r.Key.Kind {
	case model.KindSSL:
		certs, _ := r.Body["certificates"].([]any)
		for i := range certs {
			out = append(out, pointer{"certificates", itoa(i), "key"}.String())
		}
	case model.KindUpstream:
		if clientKey(r.Body) != nil {
			out = append(out, pointer{"tls", "client_key"}.String())
		}
	case model.KindService:
		if u, _ := r.Body["upstream"].(map[string]any); clientKey(u) != nil {
			out = append(out, pointer{"upstream", "tls", "client_key"}.String())
		}
	}
	return out
}
