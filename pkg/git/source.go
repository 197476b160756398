// Package git fetches the desired state from a Git repository: one commit of
// one ref, read from the commit's tree objects (there is no work tree) into
// an in-memory fs.FS that the model's loader consumes.
//
// A Source keeps a shallow, single-ref object store in a cache directory and
// updates it incrementally. Every object read from the store is checked
// against its hash: a damaged store (an object missing, truncated, garbled
// or altered) is emptied and fetched afresh by the same Fetch, never read.
// Each Fetch first asks the server for its references; when the ref has not
// moved, nothing else is transferred. The
// files under the configured path are checked before anything is read:
// symlinks, submodules and crafted names are refused, and blob sizes are
// checked from the object headers against the limits. A missing path, a
// deleted ref or an empty tree is an error, never an empty desired state.
// Signatures can be required on the commit, the tag, or both.
//
// # Pinned commits
//
// A Ref that is a commit hash never moves: once the commit is in the
// cache, Fetch asks no server. git upload-pack with its default
// configuration (over SSH, git:// and file://) sends only the commits its
// refs point to, and refuses others with "not our ref". For such a server
// Fetch searches: it fetches the history of every advertised branch and tag
// 16, 256 and then 4,096 commits deep until the commit is among it. The
// search as a whole receives at most Limits.MaxPackSize bytes (ErrTooLarge
// beyond); a commit it does not find is ErrNotFound naming the commit, and
// is not searched for again until a branch or tag moves. Servers that take
// any reachable commit (smart HTTP, allow-reachable-sha1-in-want) are asked
// for the commit alone.
//
// Errors are *Error values classed by what the caller should do (see the
// Err* sentinels) and carry a reason from the daemon's closed set.
// Credentials never appear in errors, logs or URLs.
package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
	"go.uber.org/zap"
)

// DefaultTimeout bounds one Fetch when Options.Timeout is zero (Flux uses
// the same 60 s).
const DefaultTimeout = 60 * time.Second

// Options configure a Source.
type Options struct {
	// URL of the repository: https://, http://, ssh://, git://, file:// or
	// [user@]host:path. It must not hold a password.
	URL string
	// Ref is a branch, a tag, a full ref name (refs/…) or a full 40-digit
	// commit hash. Empty means the remote's HEAD. A commit is fetched from
	// any server that has it reachable from a branch or tag, within the
	// bounds of the package doc's "Pinned commits".
	Ref string
	// Path is the directory (or single file) inside the repository to
	// read; empty is the root.
	Path string
	// Auth names the credential files, re-read on every fetch.
	Auth Auth
	// Verify configures signature verification; off by default.
	Verify Verification
	// CacheDir is this source's own directory for the object store. Empty
	// keeps the store in memory for the life of the Source.
	CacheDir string
	// Timeout bounds one Fetch; zero means DefaultTimeout.
	Timeout time.Duration
	// Limits bound what one commit may make us read; zero fields take the
	// defaults.
	Limits Limits
	// Include selects the files to read, by path relative to Path (for
	// example the model's *.yaml, *.yml and *.json). Nil reads every file.
	// Entries it leaves out are still refused when unsafe, but are neither
	// read nor counted against the limits.
	Include func(path string) bool
	// History says what a fetch does when the ref has moved to a commit
	// that does not descend from the last good one (a force-push):
	// HistoryFollow (the default) takes it and reports Result.Rewritten;
	// HistoryRefuse fails with ErrHistoryRewritten.
	History HistoryPolicy
	// AcceptRewrite, with HistoryRefuse, is the full hash of the one commit
	// that may replace the last good commit without descending from it:
	// the acknowledgement of one force-push. It applies to no other commit,
	// and once that commit is taken the history descends from it, so the
	// acknowledgement is spent.
	AcceptRewrite string
	// Logger receives one line per fetch that found a new commit, one per
	// rewritten history, and a security line per refused tree entry. Nil
	// discards them.
	Logger *zap.Logger
}

// HistoryPolicy says whether a Source follows a force-push.
type HistoryPolicy string

// The history policies.
const (
	// HistoryFollow takes the new tip, as Flux and Argo CD do, and reports
	// the rewrite once, in Result.Rewritten.
	HistoryFollow HistoryPolicy = "follow"
	// HistoryRefuse keeps the last good commit: a tip that does not descend
	// from it fails every fetch with ErrHistoryRewritten until the branch is
	// restored (its tip descends from the last good commit again) or
	// Options.AcceptRewrite names the tip. With a CacheDir the last good
	// commit is kept on disk, so a restart does not take the refused tip.
	HistoryRefuse HistoryPolicy = "refuse"
)

// Source fetches the desired state from one ref of one repository. It is
// safe for concurrent use; fetches are serialised.
type Source struct {
	opts   Options
	remote remote
	ref    refSpec
	path   string
	limits Limits
	log    *zap.Logger

	mu         sync.Mutex
	mem        *memory.Storage // the store when CacheDir is empty
	memState   cacheState
	last       *Result // the last successful fetch
	lastTarget plumbing.Hash
	lastSigned []signedObject // what its verification checked
	// refused is the tip HistoryRefuse turned down, with its error: while
	// the ref stays there, a poll costs one advertisement.
	refused    plumbing.Hash
	refusedErr error
	// pinMiss is the last search for a pinned commit that failed, with
	// the tips it searched (see fetchCommit).
	pinMiss *pinSearch
	// pinDepths overrides defaultPinDepths (tests).
	pinDepths []int
}

// Signature is a commit's author or committer.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Commit describes the fetched commit for status and the audit trail.
type Commit struct {
	Hash string
	// Ref is the full name of the fetched ref (refs/heads/main), empty when
	// a commit was asked for by hash.
	Ref string
	// Revision is written as Flux writes it: main@sha1:<hash>,
	// v1.2.0@sha1:<hash>, or sha1:<hash> for a pinned commit.
	Revision  string
	Author    Signature
	Committer Signature
	// Date is the committer date.
	Date    time.Time
	Message string
	// Signatures lists the signatures verified, when verification is on.
	Signatures []VerifiedSignature
}

// Stats count what one Fetch cost.
type Stats struct {
	Advertisements int   // reference advertisements asked for
	PackRequests   int   // upload-pack requests sent
	BytesReceived  int64 // bytes read from the server
	Duration       time.Duration
}

// Result is a successful fetch.
type Result struct {
	Commit Commit
	// Files are the files under the configured path, read from the
	// commit's tree, with paths relative to it. Never empty.
	Files fs.FS
	// Unchanged reports that the ref still points where it did at this
	// Source's previous successful Fetch: nothing but the reference
	// advertisement was transferred, and Files is the same snapshot.
	Unchanged bool
	// Previous is the last good commit recorded in the cache for this ref
	// (possibly by an earlier process), empty when there is none.
	Previous string
	// Rewritten reports a force-push: Previous is not an ancestor of this
	// commit. Also reported when Previous is not within the newest 1,024
	// commits, the most history a check will fetch. It is reported once,
	// by the fetch that found the ref moved; an unchanged poll of the same
	// tip reports false.
	Rewritten bool
	Stats     Stats
}

// New validates the options and returns a Source. It reads no file and
// does no I/O: credentials and keys are read on each Fetch.
func New(o Options) (*Source, error) {
	r, err := parseRemote(o.URL)
	if err != nil {
		return nil, err
	}
	ref, err := parseRefSpec(o.Ref)
	if err != nil {
		return nil, err
	}
	p, err := cleanRepoPath(o.Path)
	if err != nil {
		return nil, err
	}
	if err := o.Auth.validate(r); err != nil {
		return nil, fmt.Errorf("git source %s: %w", r, err)
	}
	if err := o.Verify.validate(); err != nil {
		return nil, fmt.Errorf("git source %s: %w", r, err)
	}
	if o.Verify.Mode.tag() && ref.kind == refCommit {
		return nil, fmt.Errorf("git source %s: verification mode %q needs a tag ref, not a commit", r, o.Verify.Mode)
	}
	switch o.History {
	case "":
		o.History = HistoryFollow
	case HistoryFollow, HistoryRefuse:
	default:
		return nil, fmt.Errorf("git source %s: history policy %q: want %q or %q", r, o.History, HistoryFollow, HistoryRefuse)
	}
	if o.AcceptRewrite != "" {
		if o.History != HistoryRefuse {
			return nil, fmt.Errorf("git source %s: accepting the rewritten commit %s means nothing while rewritten history is followed anyway", r, o.AcceptRewrite)
		}
		if len(o.AcceptRewrite) != 40 || !plumbing.IsHash(o.AcceptRewrite) {
			return nil, fmt.Errorf("git source %s: the accepted rewritten commit %q must be a full 40-digit commit hash", r, o.AcceptRewrite)
		}
		o.AcceptRewrite = strings.ToLower(o.AcceptRewrite)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Source{
		opts:   o,
		remote: r,
		ref:    ref,
		path:   p,
		limits: o.Limits.withDefaults(),
		log:    log,
	}
	if o.CacheDir == "" {
		s.mem = memory.NewStorage()
		s.memState = cacheState{URL: r.String()}
	}
	if r.scheme == schemeHTTP && (o.Auth.TokenFile != "" || o.Auth.PasswordFile != "") {
		log.Warn("Git credentials will be sent over plain HTTP; use https", zap.String("url", r.String()))
	}
	return s, nil
}

// URL returns the repository URL without user information, for display.
func (s *Source) URL() string { return s.remote.String() }

// Fetch returns the commit the ref points to and the files under the path.
// On error, nothing about the previous result changes: the caller keeps
// serving its last good commit.
func (s *Source) Fetch(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var ws wireStats
	res, err := s.fetch(ctx, &ws)
	var dmg *damagedError
	if errors.As(err, &dmg) {
		// The cache could not give back an object it holds or should
		// hold; it is empty now. Fetch afresh once rather than fail every
		// poll until a restart, or read a damaged tree.
		s.log.Warn("git cache damaged: emptied it and fetching afresh",
			zap.String("url", s.remote.String()), zap.Error(dmg.err))
		if ctx.Err() == nil {
			res, err = s.fetch(ctx, &ws)
		}
		if errors.As(err, &dmg) {
			err = dmg.err
		}
	}
	stats := Stats{
		Advertisements: int(ws.advertisements.Load()),
		PackRequests:   int(ws.packRequests.Load()),
		BytesReceived:  ws.bytes.Load(),
		Duration:       time.Since(start),
	}
	if err != nil {
		err = classify(ctx, s.remote.String(), err)
		var e *Error
		if errors.As(err, &e) && errors.Is(e, ErrUnsafeEntry) {
			// B4: a refused entry is a security event, logged as such
			// besides being returned.
			s.log.Error("refused unsafe tree entry", zap.Bool("security", true),
				zap.String("url", s.remote.String()), zap.String("path", e.Path), zap.Error(err))
		}
		return Result{Stats: stats}, err
	}
	res.Stats = stats
	switch {
	case res.Unchanged:
		s.log.Debug("git ref unchanged", zap.String("revision", res.Commit.Revision), zap.Duration("duration", stats.Duration))
	default:
		s.log.Info("fetched git revision", zap.String("revision", res.Commit.Revision),
			zap.Duration("duration", stats.Duration), zap.Int64("bytes", stats.BytesReceived))
	}
	if res.Rewritten {
		s.log.Warn("git history rewritten: the previous commit is not an ancestor of the new one",
			zap.String("revision", res.Commit.Revision), zap.String("previous", res.Previous))
	}
	return res, nil
}

func (s *Source) fetch(ctx context.Context, ws *wireStats) (Result, error) {
	if s.ref.kind == refCommit && s.last != nil {
		// A pinned commit never moves.
		return s.unchanged()
	}
	// Credentials are read when the network is needed: a pinned commit in
	// the cache needs none.
	var d *dialer
	dial := func() (*dialer, error) {
		if d == nil {
			creds, err := s.opts.Auth.load(s.remote)
			if err != nil {
				return nil, err
			}
			d = &dialer{remote: s.remote, creds: creds, maxRecv: s.limits.MaxPackSize, stats: ws}
		}
		return d, nil
	}

	var (
		sess session
		ar   *packp.AdvRefs
		tgt  target
	)
	closeSession := func() {
		if sess != nil {
			_ = sess.Close()
			sess = nil
		}
	}
	defer closeSession()
	advertise := func() error {
		d, err := dial()
		if err != nil {
			return err
		}
		if sess, err = d.open(ctx); err != nil {
			return err
		}
		ar, err = sess.advertise(ctx)
		return err
	}

	if s.ref.kind == refCommit {
		tgt = target{kind: refCommit, hash: s.ref.hash}
	} else {
		if err := advertise(); err != nil {
			return Result{}, err
		}
		var err error
		if tgt, err = resolveRef(ar, s.ref); err != nil {
			return Result{}, err
		}
		if s.last != nil && tgt.hash == s.lastTarget {
			return s.unchanged()
		}
		if s.refusedErr != nil && tgt.hash == s.refused {
			return Result{}, s.refusedErr
		}
	}

	c, err := s.openCache()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	var previous plumbing.Hash
	if c.state.Ref == s.stateRef() && plumbing.IsHash(c.state.Commit) {
		previous = plumbing.NewHash(c.state.Commit)
	}

	if !hasObject(c.store, tgt.hash) {
		if c.overgrown() {
			if err := c.reset(); err != nil {
				return Result{}, err
			}
		}
		if sess == nil {
			if err := advertise(); err != nil {
				return Result{}, err
			}
		}
		haves := havesFor(c.store, previous)
		if tgt.kind == refCommit {
			d, err := dial()
			if err != nil {
				return Result{}, err
			}
			if err := s.fetchCommit(ctx, *d, sess, ar, c, tgt.hash, haves); err != nil {
				return Result{}, s.damaged(c, err)
			}
		} else if err := fetchPack(ctx, sess, ar, c, []plumbing.Hash{tgt.hash}, 1, haves); err != nil {
			return Result{}, s.damaged(c, err)
		}
	}
	closeSession()

	// What the commit says is read through hash checks: a damaged cache
	// is refetched, never read. (Wrapped at each use: a fetch reopens
	// c.store.)
	commit, tag, err := peel(verifiedStore{c.store}, tgt.hash)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			// Not a ref to something other than a commit: the store
			// failed to read or decode an object it said it has.
			err = &Error{Op: "read cache", Class: ErrUnavailable, Err: err}
		}
		return Result{}, s.damaged(c, err)
	}
	var signed []signedObject
	if s.opts.Verify.Mode != VerifyOff {
		if signed, err = s.signedObjects(verifiedStore{c.store}, tgt, commit, tag); err != nil {
			if isDamage(err) {
				return Result{}, s.damaged(c, err)
			}
			return Result{}, &Error{Op: "verify", Class: ErrVerification, Err: err}
		}
	}
	sigs, err := s.verify(signed)
	if err != nil {
		return Result{}, err
	}
	rewritten := false
	if !previous.IsZero() && previous != commit.Hash {
		d, err := dial()
		if err != nil {
			return Result{}, err
		}
		ff, err := s.isAncestor(ctx, *d, c, tgt, previous, commit.Hash)
		if err != nil {
			return Result{}, err
		}
		rewritten = !ff
	}
	if rewritten && s.opts.History == HistoryRefuse && commit.Hash.String() != s.opts.AcceptRewrite {
		// The last good commit stays in the cache state: the commits
		// that follow must descend from it.
		err := &Error{Op: "fetch", URL: s.remote.String(), Class: ErrHistoryRewritten, Err: &RewriteError{
			Previous: previous.String(), Commit: commit.Hash.String(), Revision: tgt.revision(commit.Hash),
		}}
		s.log.Warn("git history rewritten: refusing the new commit, which does not descend from the last good one",
			zap.String("revision", tgt.revision(commit.Hash)), zap.String("previous", previous.String()))
		s.refused, s.refusedErr = tgt.hash, err
		return Result{}, err
	}
	var known map[plumbing.Hash][]byte
	if s.last != nil {
		known = s.last.Files.(*treeFS).blobs
	}
	files, err := readTree(verifiedStore{c.store}, commit, s.path, s.limits, known, s.opts.Include)
	if err != nil {
		return Result{}, s.damaged(c, err)
	}

	c.state.Ref = s.stateRef()
	c.state.Target = tgt.hash.String()
	c.state.Commit = commit.Hash.String()
	if err := c.saveState(); err != nil {
		return Result{}, err
	}
	if s.mem != nil {
		s.memState = c.state
	}
	res := Result{
		Commit:    describeCommit(commit, tgt, sigs),
		Files:     files,
		Rewritten: rewritten,
	}
	if !previous.IsZero() {
		res.Previous = previous.String()
	}
	s.last = &res
	s.lastTarget = tgt.hash
	s.lastSigned = signed
	s.refused, s.refusedErr = plumbing.ZeroHash, nil
	s.pinMiss = nil
	return res, nil
}

// stateRef is the configured ref as the cache state records it: a commit
// hash in lower case, however it was written.
func (s *Source) stateRef() string {
	if s.ref.kind == refCommit {
		return s.ref.hash.String()
	}
	return s.opts.Ref
}

// unchanged returns the last result again. With verification on, its
// signatures are checked again with the key files as they are now, so that
// a key removed from them takes effect without a new commit.
func (s *Source) unchanged() (Result, error) {
	sigs, err := s.verify(s.lastSigned)
	if err != nil {
		return Result{}, err
	}
	r := *s.last
	r.Unchanged = true
	// The force-push, if any, was reported by the fetch that found it.
	r.Rewritten = false
	r.Previous = r.Commit.Hash
	r.Commit.Signatures = sigs
	return r, nil
}

// damagedError marks an error that found the cache damaged and emptied it:
// Fetch then fetches afresh once.
type damagedError struct{ err error }

func (e *damagedError) Error() string { return e.err.Error() }
func (e *damagedError) Unwrap() error { return e.err }

// isDamage reports whether err says the store could not give back an
// object it holds or should hold: missing, unreadable (a truncated or
// garbled pack, index or loose object), or of the wrong size or hash.
// Refusals of what the commit holds (unsafe entries, sizes over a limit, a
// missing path, a bad signature) are not damage.
func isDamage(err error) bool {
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && errors.Is(e.Class, ErrUnavailable) &&
		(e.Op == "read tree" || e.Op == "read cache")
}

// damaged empties the store when err says it is damaged (see isDamage), so
// that the fetch starts afresh instead of failing the same way forever or
// reading a damaged tree. It returns err, marked when the store was
// emptied.
func (s *Source) damaged(c *cache, err error) error {
	if !isDamage(err) {
		return err
	}
	if s.mem != nil {
		s.mem = memory.NewStorage()
		return &damagedError{err}
	}
	if rerr := c.reset(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return &damagedError{err}
}

func (s *Source) openCache() (*cache, error) {
	if s.mem != nil {
		if len(s.mem.Objects) > maxLoose {
			s.mem = memory.NewStorage()
		}
		return memCache(s.mem, s.memState), nil
	}
	return openCache(s.opts.CacheDir, s.remote.String())
}

// fetchPack asks for wants (and their history to depth, 0 for all of it,
// when the server can cut history), telling the server which commits we
// have and where our history is cut, then stores the pack and the new cut.
func fetchPack(ctx context.Context, sess session, ar *packp.AdvRefs, c *cache, wants []plumbing.Hash, depth int, haves []plumbing.Hash) (err error) {
	st := c.store
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	// With haves, ask for a thin pack: for a shallow request, git
	// upload-pack leaves out the objects we have only when the pack may be
	// thin (it sends the whole tree otherwise). A thin pack's deltas refer
	// to objects we hold, so it is parsed into the store object by object
	// rather than written as a pack of its own.
	thin := len(haves) > 0 && ar.Capabilities.Supports(capability.ThinPack)
	if !thin {
		req.Capabilities.Delete(capability.ThinPack)
	}
	if ar.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	if depth > 0 && ar.Capabilities.Supports(capability.Shallow) {
		_ = req.Capabilities.Set(capability.Shallow)
		req.Depth = packp.DepthCommits(depth)
		if req.Shallows, err = st.Shallow(); err != nil {
			return fmt.Errorf("read shallow list: %w", err)
		}
	}
	req.Wants = wants
	req.Haves = haves
	resp, err := sess.uploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := resp.Close(); err == nil && cerr != nil && !errors.Is(cerr, io.EOF) {
			err = cerr
		}
	}()
	if err := storePack(st, req, resp, thin); err != nil {
		return err
	}
	if !req.Depth.IsZero() {
		if err := updateShallow(st, resp.ShallowUpdate); err != nil {
			return err
		}
	}
	if err := c.refresh(); err != nil {
		return err
	}
	for _, want := range wants {
		if !hasObject(c.store, want) {
			// The pack was stored, yet the object cannot be read: a
			// damaged object already in the store (the pack skips what we
			// have), or a server that did not send it.
			return &Error{Op: "read cache", Class: ErrUnavailable, Err: fmt.Errorf("%s is not readable from the cache after the fetch (damaged cache, or the server did not send it)", want)}
		}
	}
	return nil
}

type storerWithShallow interface {
	storer.EncodedObjectStorer
	storer.ShallowStorer
}

func storePack(st storerWithShallow, req *packp.UploadPackRequest, resp *packp.UploadPackResponse, thin bool) error {
	var r io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		r = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		r = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	var err error
	if _, isWriter := st.(storer.PackfileWriter); isWriter && !thin {
		// A self-contained pack is kept as it came, with an index.
		full, _ := st.(storer.Storer)
		err = packfile.UpdateObjectStorage(full, r)
	} else {
		var p *packfile.Parser
		if p, err = packfile.NewParserWithStorage(packfile.NewScanner(r), st); err == nil {
			_, err = p.Parse()
		}
	}
	if err != nil && !errors.Is(err, packfile.ErrEmptyPackfile) {
		return fmt.Errorf("store pack: %w", err)
	}
	return nil
}

// updateShallow records where our history is now cut. It runs only after
// the pack is stored, so an interrupted fetch never leaves a cut that points
// at objects we do not have.
func updateShallow(st storer.ShallowStorer, u packp.ShallowUpdate) error {
	cur, err := st.Shallow()
	if err != nil {
		return fmt.Errorf("read shallow list: %w", err)
	}
	set := make(map[plumbing.Hash]struct{}, len(cur)+len(u.Shallows))
	for _, h := range cur {
		set[h] = struct{}{}
	}
	for _, h := range u.Shallows {
		set[h] = struct{}{}
	}
	for _, h := range u.Unshallows {
		delete(set, h)
	}
	out := make([]plumbing.Hash, 0, len(set))
	for h := range set {
		out = append(out, h)
	}
	plumbing.HashesSort(out)
	if err := st.SetShallow(out); err != nil {
		return fmt.Errorf("write shallow list: %w", err)
	}
	return nil
}

// hasObject reports whether the store holds h. It asks for the size rather
// than using HasEncodedObject, which go-git's exclusive-access store gets
// wrong for packed objects (it stops at the loose-object miss).
func hasObject(s storer.EncodedObjectStorer, h plumbing.Hash) bool {
	_, err := s.EncodedObjectSize(h)
	return err == nil
}

// havesFor lists the commits we can tell the server we have: the last good
// one, when its objects are in the store.
func havesFor(s storer.EncodedObjectStorer, previous plumbing.Hash) []plumbing.Hash {
	if previous.IsZero() || !hasObject(s, previous) {
		return nil
	}
	return []plumbing.Hash{previous}
}

// peel follows h through annotated tags to a commit. It returns the
// outermost tag, nil when h is a commit.
func peel(s storer.EncodedObjectStorer, h plumbing.Hash) (*object.Commit, *object.Tag, error) {
	var outer *object.Tag
	for range 8 {
		obj, err := s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, nil, fmt.Errorf("object %s: %w", h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			c, err := object.DecodeCommit(s, obj)
			if err != nil {
				return nil, nil, fmt.Errorf("commit %s: %w", h, err)
			}
			return c, outer, nil
		case plumbing.TagObject:
			t, err := object.DecodeTag(s, obj)
			if err != nil {
				return nil, nil, fmt.Errorf("tag %s: %w", h, err)
			}
			if outer == nil {
				outer = t
			}
			h = t.Target
		default:
			return nil, nil, &Error{Op: "fetch", Class: ErrNotFound, Err: fmt.Errorf("ref points to a %s, not a commit", obj.Type())}
		}
	}
	return nil, nil, &Error{Op: "fetch", Class: ErrNotFound, Err: errors.New("tag chain longer than 8")}
}

// rawObject returns an object's content as stored.
func rawObject(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	obj, err := s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// signedObject is a commit or tag as signed: what verification checks.
type signedObject struct {
	name    string // "commit <hash>" or "tag <name>"
	payload []byte
	sig     string
	when    time.Time
}

// signedObjects extracts what the verification mode covers from the store.
func (s *Source) signedObjects(st storer.EncodedObjectStorer, tgt target, c *object.Commit, tag *object.Tag) ([]signedObject, error) {
	mode := s.opts.Verify.Mode
	var out []signedObject
	if mode.tag() {
		if tag == nil {
			return nil, fmt.Errorf("mode %q needs an annotated tag, and ref %s is not one", mode, tgt.display())
		}
		raw, err := rawObject(st, tag.Hash)
		if err != nil {
			return nil, &Error{Op: "read cache", Class: ErrUnavailable, Err: err}
		}
		payload, sig, err := splitTagSignature(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, signedObject{name: "tag " + tag.Name, payload: payload, sig: sig, when: tag.Tagger.When})
	}
	if mode.head() {
		raw, err := rawObject(st, c.Hash)
		if err != nil {
			return nil, &Error{Op: "read cache", Class: ErrUnavailable, Err: err}
		}
		payload, sig, err := splitCommitSignature(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, signedObject{name: "commit " + c.Hash.String(), payload: payload, sig: sig, when: c.Committer.When})
	}
	return out, nil
}

// verify checks the signatures with the keys as the files hold them now.
func (s *Source) verify(objs []signedObject) ([]VerifiedSignature, error) {
	if s.opts.Verify.Mode == VerifyOff {
		return nil, nil
	}
	fail := func(err error) error { return &Error{Op: "verify", Class: ErrVerification, Err: err} }
	t, err := s.opts.Verify.load()
	if err != nil {
		return nil, fail(err)
	}
	out := make([]VerifiedSignature, 0, len(objs))
	for _, o := range objs {
		vs, err := t.check(o.name, o.payload, o.sig, o.when)
		if err != nil {
			return nil, fail(err)
		}
		out = append(out, vs)
	}
	return out, nil
}

// probeDepths are the history depths fetched, in turn, to find out whether
// the previous commit is an ancestor of the new one, when the commits we
// hold do not tell.
var probeDepths = [...]int{16, 128, 1024}

// isAncestor reports whether old is an ancestor of new. It looks at the
// commits in the store first; when their history is cut before it can tell,
// it deepens the history from the server a few times.
func (s *Source) isAncestor(ctx context.Context, d dialer, c *cache, tgt target, old, new plumbing.Hash) (bool, error) {
	for i := 0; ; i++ {
		found, complete := walkAncestry(verifiedStore{c.store}, old, new)
		if found {
			return true, nil
		}
		if complete || i == len(probeDepths) {
			return false, nil
		}
		sess, err := d.open(ctx)
		if err != nil {
			return false, err
		}
		err = func() error {
			defer sess.Close()
			ar, err := sess.advertise(ctx)
			if err != nil {
				return err
			}
			if tgt.kind != refCommit {
				now, err := resolveRef(ar, s.ref)
				if err != nil {
					return err
				}
				if now.hash != tgt.hash {
					return &Error{Op: "fetch", Class: ErrUnavailable, Err: errors.New("the ref moved during the fetch; retrying on the next one")}
				}
			}
			return fetchPack(ctx, sess, ar, c, []plumbing.Hash{tgt.hash}, probeDepths[i], havesFor(c.store, old))
		}()
		if err != nil {
			return false, err
		}
	}
}

// maxWalk bounds the commits walkAncestry visits.
const maxWalk = 20_000

// walkAncestry walks the history of new held in the store. found: old is on
// it. complete: every commit reachable from new was there (so not found
// means not an ancestor).
func walkAncestry(s storer.EncodedObjectStorer, old, new plumbing.Hash) (found, complete bool) {
	seen := map[plumbing.Hash]bool{new: true}
	queue := []plumbing.Hash{new}
	complete = true
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == old {
			return true, true
		}
		if len(seen) > maxWalk {
			return false, false
		}
		c, err := object.GetCommit(s, h)
		if err != nil {
			complete = false
			continue
		}
		for _, p := range c.ParentHashes {
			if p == old {
				return true, true
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, complete
}

func describeCommit(c *object.Commit, tgt target, sigs []VerifiedSignature) Commit {
	return Commit{
		Hash:       c.Hash.String(),
		Ref:        string(tgt.name),
		Revision:   tgt.revision(c.Hash),
		Author:     Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer:  Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Date:       c.Committer.When,
		Message:    strings.TrimRight(c.Message, "\n"),
		Signatures: sigs,
	}
}
