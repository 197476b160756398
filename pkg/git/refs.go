package git

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// refKind is what a configured ref, or the ref it resolved to, names.
type refKind int

const (
	refHead   refKind = iota // the remote's HEAD (the default)
	refBranch                // refs/heads/…
	refTag                   // refs/tags/…
	refCommit                // a full commit hash
	refOther                 // another full ref name (refs/pull/1/head…)
	refShort                 // a short name: a branch or a tag, whichever exists
)

// refSpec is the configured ref, parsed.
type refSpec struct {
	kind refKind
	name string        // full ref name for refBranch/refTag/refOther, short name for refShort
	hash plumbing.Hash // refCommit
}

func parseRefSpec(s string) (refSpec, error) {
	switch {
	case s == "" || s == "HEAD":
		return refSpec{kind: refHead}, nil
	case len(s) == 40 && plumbing.IsHash(s):
		return refSpec{kind: refCommit, hash: plumbing.NewHash(strings.ToLower(s))}, nil
	}
	if err := checkRefName(s); err != nil {
		return refSpec{}, fmt.Errorf("ref %q: %w", s, err)
	}
	switch {
	case strings.HasPrefix(s, "refs/heads/"):
		return refSpec{kind: refBranch, name: s}, nil
	case strings.HasPrefix(s, "refs/tags/"):
		return refSpec{kind: refTag, name: s}, nil
	case strings.HasPrefix(s, "refs/"):
		return refSpec{kind: refOther, name: s}, nil
	}
	return refSpec{kind: refShort, name: s}, nil
}

// checkRefName applies the rules of git check-ref-format that matter here.
func checkRefName(s string) error {
	switch {
	case strings.ContainsAny(s, " ~^:?*[\\\x7f"):
		return errors.New("invalid character in ref name")
	case strings.Contains(s, ".."), strings.Contains(s, "@{"), strings.Contains(s, "//"):
		return errors.New(`ref name holds "..", "@{" or "//"`)
	case strings.HasSuffix(s, "/"), strings.HasSuffix(s, "."), strings.HasSuffix(s, ".lock"), strings.HasPrefix(s, "/"), strings.HasPrefix(s, "-"):
		return errors.New("invalid ref name")
	}
	for _, r := range s {
		if r < 0x20 {
			return errors.New("control character in ref name")
		}
	}
	for _, c := range strings.Split(s, "/") {
		if strings.HasPrefix(c, ".") {
			return errors.New(`ref name component starts with "."`)
		}
	}
	return nil
}

// target is what the ref resolved to on the server.
type target struct {
	kind refKind                // refHead, refBranch, refTag, refCommit or refOther
	name plumbing.ReferenceName // empty for refCommit, "HEAD" for a detached HEAD
	hash plumbing.Hash          // what the ref points to: a commit or a tag object
}

// display is the ref's short name, for revisions and messages.
func (t target) display() string {
	switch t.kind {
	case refBranch, refTag:
		return t.name.Short()
	case refCommit:
		return t.hash.String()
	}
	return string(t.name)
}

// revision formats the commit's revision as Flux does.
func (t target) revision(commit plumbing.Hash) string {
	if t.kind == refCommit {
		return "sha1:" + commit.String()
	}
	return t.display() + "@sha1:" + commit.String()
}

// resolveRef finds the configured ref in the server's advertisement. A ref
// that is not there is ErrNotFound: a deleted branch is an error, never an
// empty desired state.
func resolveRef(ar *packp.AdvRefs, spec refSpec) (target, error) {
	notFound := func(err error) (target, error) {
		return target{}, &Error{Op: "resolve ref", Class: ErrNotFound, Err: err}
	}
	switch spec.kind {
	case refHead:
		for _, v := range ar.Capabilities.Get(capability.SymRef) {
			from, to, ok := strings.Cut(v, ":")
			if !ok || from != "HEAD" || !strings.HasPrefix(to, "refs/heads/") {
				continue
			}
			if h, ok := ar.References[to]; ok {
				return target{kind: refBranch, name: plumbing.ReferenceName(to), hash: h}, nil
			}
		}
		if ar.Head != nil {
			return target{kind: refHead, name: plumbing.HEAD, hash: *ar.Head}, nil
		}
		return notFound(errors.New("the remote has no HEAD: set a ref"))
	case refBranch, refTag, refOther:
		h, ok := ar.References[spec.name]
		if !ok {
			return notFound(fmt.Errorf("ref %s not found on the remote", spec.name))
		}
		return target{kind: spec.kind, name: plumbing.ReferenceName(spec.name), hash: h}, nil
	case refShort:
		branch, isBranch := ar.References["refs/heads/"+spec.name]
		tag, isTag := ar.References["refs/tags/"+spec.name]
		switch {
		case isBranch && isTag:
			return notFound(fmt.Errorf("ref %q is both a branch and a tag: write refs/heads/%s or refs/tags/%s", spec.name, spec.name, spec.name))
		case isBranch:
			return target{kind: refBranch, name: plumbing.NewBranchReferenceName(spec.name), hash: branch}, nil
		case isTag:
			return target{kind: refTag, name: plumbing.NewTagReferenceName(spec.name), hash: tag}, nil
		}
		return notFound(fmt.Errorf("no branch or tag %q on the remote (commits need the full 40-digit hash); %s", spec.name, someRefs(ar)))
	}
	return notFound(fmt.Errorf("unsupported ref kind %d", spec.kind))
}

// someRefs lists a few of the advertised branches, to help fix a typo.
func someRefs(ar *packp.AdvRefs) string {
	var names []string
	for name := range ar.References {
		if strings.HasPrefix(name, "refs/heads/") {
			names = append(names, strings.TrimPrefix(name, "refs/heads/"))
		}
	}
	sort.Strings(names)
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	if len(names) == 0 {
		return "the remote has no branch"
	}
	return "branches: " + strings.Join(names, ", ")
}
