package emulator

import (
	"container/heap"
	"sort"
	"strings"
	"time"
)

// object is one stored value, as etcd holds it under /apisix/<col>/<id>.
type object struct {
	col      string         // collection: "routes", "consumers/alice/credentials", "secrets"
	id       string         // id inside the collection ("r1", "vault/team-a")
	value    map[string]any // the stored value, secrets in plaintext
	created  int64          // createdIndex
	modified int64          // modifiedIndex
	enc      []byte         // the value as reads show it, encoded once (nil until first read)
	item     []byte         // the v3 list item / GET envelope, encoded once
	lease    uint64         // the etcd lease (?ttl=) the key is attached to, 0 for none
}

// lease is an etcd lease from ?ttl=: the key is deleted when it expires,
// unless a later write detached it.
type lease struct {
	at      time.Time
	col, id string
	seq     uint64
}

// leaseHeap is a min-heap of leases by expiry.
type leaseHeap []lease

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h leaseHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *leaseHeap) Push(x any)        { *h = append(*h, x.(lease)) }
func (h *leaseHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (o *object) key() string { return "/apisix/" + o.col + "/" + o.id }

// collection is one etcd directory, indexed by key (unpaged list order) and
// by createdIndex (paged list order).
type collection struct {
	byKey     *index[string, *object]
	byCreated *index[int64, *object]
}

func newCollection() *collection {
	return &collection{
		byKey:     newIndex[string, *object](func(a, b string) bool { return a < b }),
		byCreated: newIndex[int64, *object](func(a, b int64) bool { return a < b }),
	}
}

// ghost is a reference that was removed less than the delete-check lag ago:
// APISIX's delete checks read a watch-fed cache that still holds it.
type ghost struct {
	target   string // "services/pay"
	referrer string // "routes/pay-charge"
	until    time.Time
}

// store is the configuration of one gateway: what one APISIX's etcd holds,
// or one API7 gateway group. It is not safe for concurrent use; the
// emulator serialises access with its own lock.
type store struct {
	rev    int64
	cols   map[string]*collection
	refs   map[string]map[string]struct{} // target ("services/x") -> referrers ("routes/y")
	ghosts []ghost
	// auth maps "<plugin>\x00<key>" to the consumer or credential using it
	// ("consumers/alice", "consumers/jack/credentials/c1").
	auth map[string]string
	// leases expire keys written with ?ttl=.
	leases   leaseHeap
	leaseSeq uint64
}

// attachLease makes o expire at at (a write with ?ttl=).
func (s *store) attachLease(o *object, at time.Time) {
	s.leaseSeq++
	o.lease = s.leaseSeq
	heap.Push(&s.leases, lease{at: at, col: o.col, id: o.id, seq: o.lease})
}

// expire deletes the keys whose lease has run out; it costs O(log n) per
// expired key and nothing otherwise.
func (s *store) expire(now time.Time) {
	for len(s.leases) > 0 && !now.Before(s.leases[0].at) {
		l := heap.Pop(&s.leases).(lease)
		if o, ok := s.get(l.col, l.id); ok && o.lease == l.seq {
			s.del(l.col, l.id, 0, now)
		}
	}
}

// firstRevision is the etcd revision before the first user write: `apisix
// init` writes 13 keys into a fresh etcd, so the first object gets 15.
const firstRevision = 14

func newStore() *store {
	return &store{rev: firstRevision, cols: map[string]*collection{}, refs: map[string]map[string]struct{}{}, auth: map[string]string{}}
}

func (s *store) col(name string, create bool) *collection {
	c := s.cols[name]
	if c == nil && create {
		c = newCollection()
		s.cols[name] = c
	}
	return c
}

func (s *store) get(col, id string) (*object, bool) {
	c := s.col(col, false)
	if c == nil {
		return nil, false
	}
	return c.byKey.Get(id)
}

// nextRev consumes one revision (POST's generated id uses one).
func (s *store) nextRev() int64 {
	s.rev++
	return s.rev
}

// put stores value under col/id and reports whether it was created.
func (s *store) put(col, id string, value map[string]any, lag time.Duration, now time.Time) (*object, bool) {
	c := s.col(col, true)
	s.rev++
	old, exists := c.byKey.Get(id)
	if exists {
		s.unlink(old, lag, now)
		s.unindexAuth(old)
		old.value = value
		old.enc, old.item = nil, nil
		old.lease = 0
		old.modified = s.rev
		s.link(old)
		s.indexAuth(old)
		return old, false
	}
	o := &object{col: col, id: id, value: value, created: s.rev, modified: s.rev}
	c.byKey.Set(id, o)
	c.byCreated.Set(o.created, o)
	s.link(o)
	s.indexAuth(o)
	return o, true
}

// del removes col/id; it reports whether it existed.
func (s *store) del(col, id string, lag time.Duration, now time.Time) bool {
	c := s.col(col, false)
	if c == nil {
		return false
	}
	o, ok := c.byKey.Get(id)
	if !ok {
		return false
	}
	s.rev++
	s.remove(c, o, lag, now)
	return true
}

func (s *store) remove(c *collection, o *object, lag time.Duration, now time.Time) {
	c.byKey.Delete(o.id)
	c.byCreated.Delete(o.created)
	s.unlink(o, lag, now)
	s.unindexAuth(o)
	if c.byKey.Len() == 0 && strings.Contains(o.col, "/") {
		delete(s.cols, o.col)
	}
}

// dropCollection removes a whole directory (a consumer's credentials) in
// one revision.
func (s *store) dropCollection(col string, lag time.Duration, now time.Time) {
	c := s.col(col, false)
	if c == nil {
		return
	}
	var all []*object
	c.byKey.Ascend(0, func(_ string, o *object) bool { all = append(all, o); return true })
	for _, o := range all {
		s.remove(c, o, lag, now)
	}
	delete(s.cols, col)
	s.rev++
}

// refTargets lists what a stored value refers to, as "collection/id".
func refTargets(col string, v map[string]any) []string {
	var out []string
	add := func(target, field string) {
		if id, ok := idString(v[field]); ok {
			out = append(out, target+"/"+id)
		}
	}
	switch col {
	case "routes":
		add("services", "service_id")
		add("upstreams", "upstream_id")
		add("plugin_configs", "plugin_config_id")
	case "services":
		add("upstreams", "upstream_id")
	case "stream_routes":
		add("services", "service_id")
		add("upstreams", "upstream_id")
		if p, ok := v["protocol"].(map[string]any); ok {
			if id, ok := idString(p["superior_id"]); ok {
				out = append(out, "stream_routes/"+id)
			}
		}
	case "consumers":
		add("consumer_groups", "group_id")
	}
	switch col {
	case "routes", "services", "plugin_configs", "consumers", "consumer_groups", "global_rules":
		for _, id := range trafficSplitUpstreams(v) {
			out = append(out, pluginRefPrefix+"upstreams/"+id)
		}
	}
	return out
}

// pluginRefPrefix marks a reference made from inside a plugin's
// configuration (traffic-split's weighted upstreams), which APISIX's delete
// check reports as "plugin in <kind> [id]".
const pluginRefPrefix = "plugin:"

// trafficSplitUpstreams lists the upstream ids a traffic-split plugin
// configuration names in rules[].weighted_upstreams[].upstream_id.
func trafficSplitUpstreams(v map[string]any) []string {
	plugins, _ := v["plugins"].(map[string]any)
	ts, _ := plugins["traffic-split"].(map[string]any)
	rules, _ := ts["rules"].([]any)
	var out []string
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		wus, _ := rm["weighted_upstreams"].([]any)
		for _, wu := range wus {
			wm, _ := wu.(map[string]any)
			if id, ok := idString(wm["upstream_id"]); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

func (s *store) link(o *object) {
	for _, t := range refTargets(o.col, o.value) {
		m := s.refs[t]
		if m == nil {
			m = map[string]struct{}{}
			s.refs[t] = m
		}
		m[o.col+"/"+o.id] = struct{}{}
	}
}

func (s *store) unlink(o *object, lag time.Duration, now time.Time) {
	self := o.col + "/" + o.id
	for _, t := range refTargets(o.col, o.value) {
		if m := s.refs[t]; m != nil {
			delete(m, self)
			if len(m) == 0 {
				delete(s.refs, t)
			}
		}
		if lag > 0 {
			s.ghosts = append(s.ghosts, ghost{target: t, referrer: self, until: now.Add(lag)})
		}
	}
}

// referrers lists who refers to target, in key order, including references
// removed less than the delete-check lag ago.
func (s *store) referrers(target string, now time.Time) []string {
	seen := map[string]struct{}{}
	for r := range s.refs[target] {
		seen[r] = struct{}{}
	}
	live := s.ghosts[:0]
	for _, g := range s.ghosts {
		if now.Before(g.until) {
			live = append(live, g)
			if g.target == target {
				seen[g.referrer] = struct{}{}
			}
		}
	}
	s.ghosts = live
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// count is the number of objects in a collection.
func (s *store) count(col string) int {
	c := s.col(col, false)
	if c == nil {
		return 0
	}
	return c.byKey.Len()
}

// authEntries lists the auth-plugin keys a consumer or credential uses.
func authEntries(o *object) []string {
	if o.col != "consumers" && !strings.HasSuffix(o.col, "/credentials") {
		return nil
	}
	pm, _ := o.value["plugins"].(map[string]any)
	var out []string
	for name, c := range pm {
		f := authKeyField(name)
		cfg, _ := c.(map[string]any)
		if v, ok := cfg[f].(string); ok && f != "" {
			out = append(out, name+"\x00"+v)
		}
	}
	return out
}

func (s *store) indexAuth(o *object) {
	for _, k := range authEntries(o) {
		s.auth[k] = o.col + "/" + o.id
	}
}

func (s *store) unindexAuth(o *object) {
	self := o.col + "/" + o.id
	for _, k := range authEntries(o) {
		if s.auth[k] == self {
			delete(s.auth, k)
		}
	}
}
