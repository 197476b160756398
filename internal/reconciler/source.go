package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Source is where a target's desired state comes from: a Git repository
// (cmd/reconciler adapts pkg/git) or a local directory (DirSource).
type Source interface {
	// Fetch returns the current snapshot. A failed fetch is an error, never
	// an empty snapshot; the loop keeps its last good state. An error may
	// implement Reason() string to give the condition reason (pkg/git's
	// errors do); others count as FetchFailed. An error that refuses a
	// commit rewriting history (reason HistoryRewritten) may implement
	// RefusedRevision() string to name it.
	Fetch(ctx context.Context) (Snapshot, error)
}

// Snapshot is one version of the desired state's files.
type Snapshot struct {
	// Revision identifies the content: main@sha1:<hash> for Git,
	// local@sha256:<hash> for a directory. Equal revisions mean equal
	// files.
	Revision string
	Commit   Commit
	// Files are the configuration files, rooted at the configured path.
	Files fs.FS
	// Unchanged reports that the source knows the revision did not move
	// since its previous successful fetch (a Git ls-remote short-circuit).
	Unchanged bool
	// Rewritten reports that the previous revision is not an ancestor of
	// this one (a force-push that the source follows). The source reports
	// it once, when its tip moves; a source that refuses rewritten history
	// fails the fetch instead.
	Rewritten bool
}

// Commit describes where a revision came from, for status and the audit
// trail. Every field may be empty (a directory has no author).
type Commit struct {
	Hash    string    `json:"hash,omitempty"`
	Author  string    `json:"author,omitempty"` // "Name <email>"
	Message string    `json:"message,omitempty"`
	Date    time.Time `json:"date,omitzero"`
}

// ErrNoConfiguration is returned by a source whose tree holds no
// configuration file: a missing configuration is never an empty one.
var ErrNoConfiguration = errors.New("no *.yaml, *.yml or *.json file: refusing to treat a missing configuration as an empty one")

// DirSource reads a local directory. Each fetch reads every configuration
// file into memory, so that the files loaded are exactly the files hashed
// into the revision even if someone edits the directory meanwhile.
type DirSource struct {
	dir string

	mu   sync.Mutex
	last string // revision of the last successful fetch
}

// NewDirSource returns a source for dir (sub, when not empty, is a
// slash-separated directory inside it). Nothing is read yet.
func NewDirSource(dir, sub string) (*DirSource, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", dir, err)
	}
	if sub != "" {
		clean := path.Clean(filepath.ToSlash(sub))
		if !fs.ValidPath(clean) {
			return nil, fmt.Errorf("path %q: must be a relative path inside the source, without ..", sub)
		}
		root = filepath.Join(root, filepath.FromSlash(clean))
	}
	return &DirSource{dir: root}, nil
}

// Dir returns the directory read.
func (s *DirSource) Dir() string { return s.dir }

// Fetch reads the directory. Files and trees over the model's size limits
// are refused from their sizes before they are read (the error matches
// model.ErrTooLarge).
func (s *DirSource) Fetch(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	info, err := os.Stat(s.dir)
	switch {
	case err != nil:
		return Snapshot{}, fmt.Errorf("source %s: %w", s.dir, err)
	case !info.IsDir():
		return Snapshot{}, fmt.Errorf("source %s: not a directory", s.dir)
	}
	files := fstest.MapFS{}
	var names []string
	var total int64
	err = filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !model.IsConfigFile(rel) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: a symlink; refusing to follow it", rel)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() > model.MaxFileSize {
			return fmt.Errorf("%s: %d bytes, over the limit of %d: %w", rel, fi.Size(), model.MaxFileSize, model.ErrTooLarge)
		}
		if total += fi.Size(); total > model.MaxTreeSize {
			return fmt.Errorf("the files exceed %d bytes: %w", model.MaxTreeSize, model.ErrTooLarge)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = &fstest.MapFile{Data: data, Mode: 0o644}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("source %s: %w", s.dir, err)
	}
	if len(names) == 0 {
		return Snapshot{}, fmt.Errorf("source %s: %w", s.dir, ErrNoConfiguration)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(files[n].Data))
		h.Write(files[n].Data)
	}
	rev := "local@sha256:" + hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	unchanged := s.last == rev
	s.last = rev
	s.mu.Unlock()
	return Snapshot{Revision: rev, Files: files, Unchanged: unchanged}, nil
}
