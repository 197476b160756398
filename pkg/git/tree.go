package git

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Limits bound what one commit may make the daemon read. Sizes come from
// the object headers, so an oversize blob is refused before it is read.
// The file and tree limits apply to the files Fetch reads (see
// Options.Include).
type Limits struct {
	MaxFileSize int64 // bytes of one file; default model.MaxFileSize
	MaxTreeSize int64 // bytes of all files read together; default model.MaxTreeSize
	MaxFiles    int   // files read
	MaxPackSize int64 // bytes received from the server in one session, or in all of one search for a pinned commit
}

// The defaults: the model's own limits, so that what Fetch accepts the
// loader accepts, and this package's bounds on file count and transfer.
const (
	DefaultMaxFileSize int64 = model.MaxFileSize
	DefaultMaxTreeSize int64 = model.MaxTreeSize
	DefaultMaxFiles          = 50_000
	DefaultMaxPackSize int64 = 512 << 20
	maxTreeDepth             = 64 // directory nesting under the path
)

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultMaxFileSize
	}
	if l.MaxTreeSize <= 0 {
		l.MaxTreeSize = DefaultMaxTreeSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxPackSize <= 0 {
		l.MaxPackSize = DefaultMaxPackSize
	}
	return l
}

// lfsPointerPrefix starts every Git LFS pointer file.
const lfsPointerPrefix = "version https://git-lfs.github.com/spec/"

// cleanRepoPath validates and normalises the configured path inside the
// repository: "" and "." are the root; ".." and empty components are refused.
func cleanRepoPath(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return ".", nil
	}
	for _, c := range strings.Split(p, "/") {
		if c == "." {
			continue
		}
		if err := checkName(c); err != nil {
			return "", fmt.Errorf("path %q: %w", p, err)
		}
	}
	return path.Clean(p), nil
}

// checkName refuses entry names that could escape or confuse a path: the
// crafted names behind CVE-2023-49569 and Git's own verify_path rules.
func checkName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("invalid name %q", name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("name %q holds a path separator or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.EqualFold(strings.TrimRight(name, ". "), ".git"), strings.EqualFold(name, "git~1"):
		return fmt.Errorf("name %q is reserved by Git", name)
	}
	return nil
}

// unsafeEntry is the error for a refused tree entry.
func unsafeEntry(p string, err error) error {
	return &Error{Op: "read tree", Class: ErrUnsafeEntry, Path: p, Err: err}
}

// blobRef is a file found in the tree, before it is read.
type blobRef struct {
	path  string // relative to the configured path
	full  string // in the repository, for messages
	data  []byte // the content, when known from the previous snapshot
	known bool
	hash  plumbing.Hash
	size  int64
	mode  fs.FileMode
}

// readTree reads the files under dir (as cleaned by cleanRepoPath) of the
// commit's tree. It walks the tree objects only (there is no work tree),
// refuses symlinks, submodules and crafted names anywhere under dir, checks
// every blob's size from its header before reading any, and fails when dir
// is missing or holds no file: an empty desired state is never returned.
//
// known holds the blobs of the previous snapshot by hash: a blob found
// there is not read again, so a one-file commit reads one blob.
//
// include, when not nil, selects the files to read by their path relative
// to dir; the others are still checked for safety but neither read nor
// counted against the limits.
func readTree(s storer.EncodedObjectStorer, c *object.Commit, dir string, lim Limits, known map[plumbing.Hash][]byte, include func(string) bool) (*treeFS, error) {
	root, err := object.GetTree(s, c.TreeHash)
	if err != nil {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Err: fmt.Errorf("commit %s: %w", c.Hash, err)}
	}
	tree := root
	var single *object.TreeEntry // dir names one file rather than a directory
	if dir != "." {
		parts := strings.Split(dir, "/")
		for i, name := range parts {
			sofar := strings.Join(parts[:i+1], "/")
			e, err := findEntry(tree, name)
			if err != nil {
				return nil, unsafeEntry(sofar, err)
			}
			if e == nil {
				return nil, &Error{Op: "read tree", Class: ErrNotFound, Path: sofar,
					Err: fmt.Errorf("path %q does not exist in commit %s", dir, c.Hash)}
			}
			switch e.Mode {
			case filemode.Dir:
				tree, err = object.GetTree(s, e.Hash)
				if err != nil {
					return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: sofar, Err: err}
				}
			case filemode.Regular, filemode.Executable, filemode.Deprecated:
				if i != len(parts)-1 {
					return nil, &Error{Op: "read tree", Class: ErrNotFound, Path: sofar,
						Err: fmt.Errorf("path %q: %q is a file, not a directory", dir, sofar)}
				}
				single = e
			default:
				return nil, unsafeEntry(sofar, modeError(e.Mode))
			}
		}
	}

	var refs []blobRef
	var total int64
	// add records the file at rel (relative to dir; full in the repository).
	add := func(rel, full string, e object.TreeEntry) error {
		if include != nil && !include(rel) {
			return nil
		}
		data, isKnown := known[e.Hash]
		size := int64(len(data))
		if !isKnown {
			var err error
			if size, err = s.EncodedObjectSize(e.Hash); err != nil {
				return &Error{Op: "read tree", Class: ErrUnavailable, Path: full, Err: fmt.Errorf("size of blob %s: %w", e.Hash, err)}
			}
		}
		if size > lim.MaxFileSize {
			return &Error{Op: "read tree", Class: ErrTooLarge, Path: full,
				Err: fmt.Errorf("file is %d bytes, over the limit of %d", size, lim.MaxFileSize)}
		}
		total += size
		if total > lim.MaxTreeSize {
			return &Error{Op: "read tree", Class: ErrTooLarge, Path: full,
				Err: fmt.Errorf("files under %q exceed %d bytes together", dir, lim.MaxTreeSize)}
		}
		if len(refs) >= lim.MaxFiles {
			return &Error{Op: "read tree", Class: ErrTooLarge, Path: full,
				Err: fmt.Errorf("more than %d files under %q", lim.MaxFiles, dir)}
		}
		mode := fs.FileMode(0o644)
		if e.Mode == filemode.Executable {
			mode = 0o755
		}
		refs = append(refs, blobRef{path: rel, full: full, hash: e.Hash, size: size, mode: mode, data: data, known: isKnown})
		return nil
	}

	if single != nil {
		if err := add(path.Base(dir), dir, *single); err != nil {
			return nil, err
		}
	} else if err := walkTree(s, tree, dir, "", 0, add); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		what := "no files"
		if include != nil {
			what = "no configuration files"
		}
		return nil, &Error{Op: "read tree", Class: ErrNotFound, Path: dir,
			Err: fmt.Errorf("%s under %q in commit %s: refusing an empty desired state", what, dir, c.Hash)}
	}

	// Every size is known and within bounds: now read.
	out := newTreeFS(c.Committer.When.In(time.UTC))
	for _, r := range refs {
		data := r.data
		if !r.known {
			var err error
			if data, err = readBlob(s, r); err != nil {
				return nil, err
			}
		}
		if len(data) < 1024 && bytes.HasPrefix(data, []byte(lfsPointerPrefix)) {
			return nil, unsafeEntry(r.full, errors.New("Git LFS pointer: LFS objects are not fetched"))
		}
		out.add(r.path, data, r.mode)
		out.blobs[r.hash] = data
	}
	out.seal()
	return out, nil
}

// walkTree visits the entries of t (at repository path base, relative path
// rel) depth first, refusing anything but files and directories.
func walkTree(s storer.EncodedObjectStorer, t *object.Tree, base, rel string, depth int, add func(rel, full string, e object.TreeEntry) error) error {
	if depth > maxTreeDepth {
		return &Error{Op: "read tree", Class: ErrTooLarge, Path: joinPath(base, rel),
			Err: fmt.Errorf("directories nested deeper than %d levels", maxTreeDepth)}
	}
	seen := make(map[string]struct{}, len(t.Entries))
	for _, e := range t.Entries {
		p := joinRel(rel, e.Name)
		full := joinPath(base, p)
		if err := checkName(e.Name); err != nil {
			return unsafeEntry(joinPath(base, joinRel(rel, fmt.Sprintf("%q", e.Name))), err)
		}
		if _, dup := seen[e.Name]; dup {
			return unsafeEntry(full, errors.New("duplicate entry name in tree"))
		}
		seen[e.Name] = struct{}{}
		switch e.Mode {
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			if err := add(p, full, e); err != nil {
				return err
			}
		case filemode.Dir:
			sub, err := object.GetTree(s, e.Hash)
			if err != nil {
				return &Error{Op: "read tree", Class: ErrUnavailable, Path: full, Err: err}
			}
			if err := walkTree(s, sub, base, p, depth+1, add); err != nil {
				return err
			}
		default:
			return unsafeEntry(full, modeError(e.Mode))
		}
	}
	return nil
}

func modeError(m filemode.FileMode) error {
	switch m {
	case filemode.Symlink:
		return errors.New("symbolic link (mode 120000): symlinks are refused, never followed")
	case filemode.Submodule:
		return errors.New("submodule (mode 160000): submodules are refused")
	}
	return fmt.Errorf("unsupported entry mode %o", uint32(m))
}

// findEntry returns the entry called name in t, nil when there is none. It
// refuses a tree holding the name twice.
func findEntry(t *object.Tree, name string) (*object.TreeEntry, error) {
	var found *object.TreeEntry
	for i := range t.Entries {
		if t.Entries[i].Name != name {
			continue
		}
		if found != nil {
			return nil, errors.New("duplicate entry name in tree")
		}
		found = &t.Entries[i]
	}
	return found, nil
}

func readBlob(s storer.EncodedObjectStorer, r blobRef) ([]byte, error) {
	obj, err := s.EncodedObject(plumbing.BlobObject, r.hash)
	if err != nil {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: r.full, Err: fmt.Errorf("blob %s: %w", r.hash, err)}
	}
	if h, ok := obj.(*heldObject); ok && h.Size() == r.size {
		// Read and checked against its hash already.
		return h.content, nil
	}
	if obj.Size() != r.size {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: r.full,
			Err: fmt.Errorf("blob %s: size %d, header said %d", r.hash, obj.Size(), r.size)}
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: r.full, Err: err}
	}
	defer rd.Close()
	data := make([]byte, 0, r.size)
	buf := bytes.NewBuffer(data)
	if _, err := io.Copy(buf, io.LimitReader(rd, r.size+1)); err != nil {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: r.full, Err: err}
	}
	if int64(buf.Len()) != r.size {
		return nil, &Error{Op: "read tree", Class: ErrUnavailable, Path: r.full,
			Err: fmt.Errorf("blob %s: read %d bytes, want %d", r.hash, buf.Len(), r.size)}
	}
	return buf.Bytes(), nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// joinPath renders a path inside the repository for messages.
func joinPath(base, rel string) string {
	if base == "." || base == "" {
		return rel
	}
	if rel == "" {
		return base
	}
	return base + "/" + rel
}
