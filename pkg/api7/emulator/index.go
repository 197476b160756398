package emulator

import "math/rand/v2"

// index is an ordered map with order statistics: a treap keyed by K, whose
// nodes carry their subtree size, so insert, delete, lookup, rank and
// "the i-th element" all cost O(log n). The emulator keeps two per
// collection: by etcd key (unpaged list order) and by createdIndex (paged
// list order), so neither a PUT nor a page of a list scans the collection.
type index[K any, V any] struct {
	root *node[K, V]
	less func(a, b K) bool
	rng  *rand.PCG
}

type node[K any, V any] struct {
	key         K
	val         V
	prio        uint64
	size        int
	left, right *node[K, V]
}

func newIndex[K any, V any](less func(a, b K) bool) *index[K, V] {
	return &index[K, V]{less: less, rng: rand.NewPCG(1, 2)}
}

func (n *node[K, V]) sz() int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *node[K, V]) fix() { n.size = 1 + n.left.sz() + n.right.sz() }

// Len is the number of entries.
func (t *index[K, V]) Len() int { return t.root.sz() }

// Get returns the value stored under k.
func (t *index[K, V]) Get(k K) (V, bool) {
	n := t.root
	for n != nil {
		switch {
		case t.less(k, n.key):
			n = n.left
		case t.less(n.key, k):
			n = n.right
		default:
			return n.val, true
		}
	}
	var zero V
	return zero, false
}

// split divides n into keys < k and keys >= k.
func (t *index[K, V]) split(n *node[K, V], k K) (l, r *node[K, V]) {
	if n == nil {
		return nil, nil
	}
	if t.less(n.key, k) {
		n.right, r = t.split(n.right, k)
		n.fix()
		return n, r
	}
	l, n.left = t.split(n.left, k)
	n.fix()
	return l, n
}

func merge[K any, V any](l, r *node[K, V]) *node[K, V] {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.right = merge(l.right, r)
		l.fix()
		return l
	default:
		r.left = merge(l, r.left)
		r.fix()
		return r
	}
}

// Set inserts or replaces the value under k.
func (t *index[K, V]) Set(k K, v V) {
	if n := t.find(k); n != nil {
		n.val = v
		return
	}
	nn := &node[K, V]{key: k, val: v, prio: t.rng.Uint64(), size: 1}
	l, r := t.split(t.root, k)
	t.root = merge(merge(l, nn), r)
}

func (t *index[K, V]) find(k K) *node[K, V] {
	n := t.root
	for n != nil {
		switch {
		case t.less(k, n.key):
			n = n.left
		case t.less(n.key, k):
			n = n.right
		default:
			return n
		}
	}
	return nil
}

// Delete removes k; it reports whether k was present.
func (t *index[K, V]) Delete(k K) bool {
	var removed bool
	t.root = t.del(t.root, k, &removed)
	return removed
}

func (t *index[K, V]) del(n *node[K, V], k K, removed *bool) *node[K, V] {
	if n == nil {
		return nil
	}
	switch {
	case t.less(k, n.key):
		n.left = t.del(n.left, k, removed)
	case t.less(n.key, k):
		n.right = t.del(n.right, k, removed)
	default:
		*removed = true
		return merge(n.left, n.right)
	}
	n.fix()
	return n
}

// Rank is the number of keys strictly less than k.
func (t *index[K, V]) Rank(k K) int {
	r, n := 0, t.root
	for n != nil {
		if t.less(n.key, k) {
			r += n.left.sz() + 1
			n = n.right
		} else {
			n = n.left
		}
	}
	return r
}

// Ascend calls fn for the entries from position `from` (0-based, in key
// order) onwards until fn returns false. Reaching position `from` costs
// O(log n); each further step is amortised O(1).
func (t *index[K, V]) Ascend(from int, fn func(k K, v V) bool) {
	if from < 0 {
		from = 0
	}
	// An explicit stack of the path to the from-th node, then an in-order walk.
	var stack []*node[K, V]
	n := t.root
	for n != nil {
		ls := n.left.sz()
		switch {
		case from < ls:
			stack = append(stack, n)
			n = n.left
		case from == ls:
			stack = append(stack, n)
			n = nil
		default:
			from -= ls + 1
			n = n.right
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !fn(n.key, n.val) {
			return
		}
		for c := n.right; c != nil; c = c.left {
			stack = append(stack, c)
		}
	}
}

// AscendFrom calls fn for the entries with keys >= k in order until fn
// returns false.
func (t *index[K, V]) AscendFrom(k K, fn func(k K, v V) bool) {
	t.Ascend(t.Rank(k), fn)
}
