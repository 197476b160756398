package git

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"go.uber.org/zap"
)

// Fetching a pinned commit. git upload-pack takes a want only for an
// advertised ref tip unless uploadpack.allowReachableSHA1InWant (or
// allowAnySHA1InWant) is set, and both are off by default: over file://,
// git://, SSH and most self-hosted servers an older commit is refused with
// "not our ref". Over smart HTTP, git upload-pack checks that the commit is
// reachable from a ref instead (stateless RPC cannot remember what it
// advertised); a server that allows that on every transport says so with
// allow-reachable-sha1-in-want.
//
// So a pinned commit is asked for directly, at depth 1, when the server
// advertises it (or the tag pointing to it), offers
// allow-reachable-sha1-in-want, or speaks HTTP. Otherwise (and when an HTTP
// server refuses it) the history of the advertised branches and tags is
// fetched at increasing depths until the commit is among it.

// defaultPinDepths are the depths, counted from the advertised branch and
// tag tips, at which the search for a pinned commit fetches their history
// in turn. Each round is one pack request; the search as a whole receives
// at most Limits.MaxPackSize bytes.
var defaultPinDepths = []int{16, 256, 4096}

// pinSearch is the outcome of a search that did not find the pinned commit,
// kept with the advertisement it searched: while the remote's tips stay
// where they were, a poll returns it after one advertisement instead of
// downloading the same history again.
type pinSearch struct {
	tips [sha256.Size]byte
	err  error
}

// fetchCommit fetches the pinned commit want into the store. sess is an
// open session whose advertisement is ar, not yet used for a pack request;
// fetchCommit uses it for its first request and leaves closing it to the
// caller. Sessions it opens itself, it closes.
func (s *Source) fetchCommit(ctx context.Context, d dialer, sess session, ar *packp.AdvRefs, c *cache, want plumbing.Hash, haves []plumbing.Hash) error {
	key := tipsKey(searchTips(ar))
	if s.pinMiss != nil && s.pinMiss.tips == key {
		return s.pinMiss.err
	}
	err := s.fetchCommitFrom(ctx, d, sess, ar, c, want, haves)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooLarge) {
		// The next poll would find the same, as long as the tips stay
		// put: it gets this error after one advertisement, instead of
		// downloading the same history again.
		var e *Error
		if errors.As(err, &e) && e.URL == "" {
			e.URL = s.remote.String()
		}
		s.pinMiss = &pinSearch{tips: key, err: err}
	}
	return err
}

func (s *Source) fetchCommitFrom(ctx context.Context, d dialer, sess session, ar *packp.AdvRefs, c *cache, want plumbing.Hash, haves []plumbing.Hash) error {
	switch tip, advertised := advertisedAs(ar, want); {
	case advertised:
		return fetchPack(ctx, sess, ar, c, []plumbing.Hash{tip}, 1, haves)
	case ar.Capabilities.Supports(capability.AllowReachableSHA1InWant):
		// The server takes any commit a ref reaches: its refusal is final.
		err := fetchPack(ctx, sess, ar, c, []plumbing.Hash{want}, 1, haves)
		if refusedWant(err) {
			return notFound(fmt.Errorf(`commit %s is not reachable from any ref of the remote: the server, which takes any commit its refs reach, refused it ("not our ref")`, want))
		}
		return err
	case s.remote.scheme == schemeHTTP || s.remote.scheme == schemeHTTPS:
		err := fetchPack(ctx, sess, ar, c, []plumbing.Hash{want}, 1, haves)
		if !refusedWant(err) {
			return err
		}
		// A server that takes advertised tips only: search, in new
		// sessions, since this one has had its pack request.
		sess = nil
	}
	return s.searchCommit(ctx, d, sess, ar, c, want)
}

// searchCommit fetches the history of the advertised branches and tags at
// increasing depths until it holds want. The first round uses sess when it
// is not nil.
func (s *Source) searchCommit(ctx context.Context, d dialer, sess session, ar *packp.AdvRefs, c *cache, want plumbing.Hash) error {
	depths := s.pinDepths
	if depths == nil {
		depths = defaultPinDepths
	}
	budget := d.maxRecv
	spent := d.stats.bytes.Load()
	for _, depth := range depths {
		err := func() error {
			if sess == nil {
				rd := d
				if budget > 0 {
					// What the earlier rounds received counts against
					// the limit; at least one byte is left to fail on.
					rd.maxRecv = max(budget-(d.stats.bytes.Load()-spent), 1)
				}
				var err error
				if sess, err = rd.open(ctx); err != nil {
					return err
				}
				defer sess.Close()
				if ar, err = sess.advertise(ctx); err != nil {
					return err
				}
			}
			tips := searchTips(ar)
			if len(tips) == 0 {
				return notFound(fmt.Errorf("commit %s: the remote has no branch or tag to search for it", want))
			}
			return fetchPack(ctx, sess, ar, c, tips, depth, nil)
		}()
		sess = nil
		var e *Error
		switch {
		case errors.As(err, &e) && e.Class == ErrTooLarge:
			return &Error{Op: "fetch", Class: ErrTooLarge, Err: fmt.Errorf("commit %s: the search of the history of the remote's branches and tags received more than %d bytes (the pack size limit) without finding it", want, budget)}
		case err != nil:
			return err
		case hasObject(c.store, want):
			s.log.Info("pinned commit found in the history of the remote's branches and tags",
				zap.String("revision", "sha1:"+want.String()), zap.Int64("bytes", d.stats.bytes.Load()-spent))
			return nil
		}
		if cut, err := c.store.Shallow(); err == nil && len(cut) == 0 {
			// The whole history of every branch and tag is here.
			return notFound(fmt.Errorf("commit %s is not in the history of any branch or tag of the remote", want))
		}
	}
	return notFound(fmt.Errorf("commit %s is not within %d commits of any branch or tag of the remote", want, depths[len(depths)-1]))
}

func notFound(err error) error { return &Error{Op: "fetch", Class: ErrNotFound, Err: err} }

// refusedWant reports whether err is a server's refusal of a want that is
// no advertised tip. The server says so in words only ("not our ref" from
// git upload-pack and the services built on it).
func refusedWant(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not our ref")
}

// advertisedAs returns the advertised object to want for the commit h: h
// itself when a ref points to it, the tag when an advertised tag peels to
// it.
func advertisedAs(ar *packp.AdvRefs, h plumbing.Hash) (plumbing.Hash, bool) {
	if ar.Head != nil && *ar.Head == h {
		return h, true
	}
	for _, v := range ar.References {
		if v == h {
			return h, true
		}
	}
	for name, v := range ar.Peeled {
		if v == h {
			if tag, ok := ar.References[name]; ok {
				return tag, true
			}
		}
	}
	return plumbing.ZeroHash, false
}

// searchTips lists, sorted and without repeats, what the search for a
// pinned commit starts from: the remote's HEAD, branches and tags (as git
// clone fetches them). Other refs, such as refs/pull/*, are left out: a
// hosting service may advertise thousands of them.
func searchTips(ar *packp.AdvRefs) []plumbing.Hash {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(h plumbing.Hash) {
		if !h.IsZero() && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	if ar.Head != nil {
		add(*ar.Head)
	}
	for name, h := range ar.References {
		if strings.HasPrefix(name, "refs/heads/") || strings.HasPrefix(name, "refs/tags/") {
			add(h)
		}
	}
	plumbing.HashesSort(out)
	return out
}

func tipsKey(tips []plumbing.Hash) [sha256.Size]byte {
	h := sha256.New()
	for _, t := range tips {
		h.Write(t[:])
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
