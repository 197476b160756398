package git

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	objcache "github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The cache directory of a source holds a bare object store (objects/,
// shallow) and two files of ours: the state (which URL, ref and last good
// commit the store belongs to) and the lock.
const (
	stateFile = "reconciler-source.json"
	lockFile  = "reconciler.lock"
	// maxPacks and maxLoose bound what the store collects (a pack per first
	// fetch, a few loose objects per incremental one) before it is emptied
	// and the next fetch starts afresh with one shallow pack.
	maxPacks = 32
	maxLoose = 20_000
)

// storeEntries are the names go-git's storage creates: what a reset removes.
var storeEntries = []string{"objects", "refs", "shallow", "packed-refs", "config", "HEAD", "index"}

// cacheState is what the cache remembers between processes.
type cacheState struct {
	URL    string `json:"url"`    // without user information
	Ref    string `json:"ref"`    // as configured
	Target string `json:"target"` // what the ref pointed to (tag object or commit)
	Commit string `json:"commit"` // the last good commit
}

// cache is an open object store: on disk with its lock held, or in memory.
type cache struct {
	store storage.Storer
	dir   string // "" in memory
	fsys  *filesystem.Storage
	lock  *os.File
	state cacheState
}

// openCache locks and opens the store in dir. A directory holding something
// other than our cache is refused, never emptied.
func openCache(dir, url string) (*cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, err
	}
	c := &cache{dir: dir, lock: lock}
	ok := false
	defer func() {
		if !ok {
			unlockDir(lock)
		}
	}()
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("cache directory: %w", err)
		}
		for _, e := range entries {
			if e.Name() != lockFile {
				return nil, fmt.Errorf("cache directory %s is not empty and is not a reconciler cache: refusing to use it", dir)
			}
		}
		c.state = cacheState{URL: url}
		if err := c.saveState(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("cache state: %w", err)
	default:
		if err := json.Unmarshal(data, &c.state); err != nil || c.state.URL != url {
			// Another repository's (or a damaged) cache: start again.
			if err := c.reset(); err != nil {
				return nil, err
			}
			c.state = cacheState{URL: url}
			if err := c.saveState(); err != nil {
				return nil, err
			}
		}
	}
	c.open()
	ok = true
	return c, nil
}

// open opens the store with exclusive access (we hold the lock): go-git
// then lists loose objects and packs once instead of probing the disk for
// each object, which matters when a tree of 10,000 files is read.
func (c *cache) open() {
	c.fsys = filesystem.NewStorageWithOptions(osfs.New(c.dir), objcache.NewObjectLRU(16*objcache.MiByte),
		filesystem.Options{ExclusiveAccess: true, KeepDescriptors: true})
	c.store = c.fsys
}

// refresh reopens the store after objects were written, since the lists an
// exclusive-access store keeps do not see new packs.
func (c *cache) refresh() error {
	if c.fsys == nil {
		return nil
	}
	if err := c.fsys.Close(); err != nil {
		return fmt.Errorf("close object store: %w", err)
	}
	c.open()
	return nil
}

// memCache wraps an in-memory store kept by the Source between fetches.
func memCache(s *memory.Storage, st cacheState) *cache {
	return &cache{store: s, state: st}
}

// overgrown reports whether the store holds more packs or loose objects
// than it should keep.
func (c *cache) overgrown() bool {
	if c.dir == "" {
		return false
	}
	packs, _ := filepath.Glob(filepath.Join(c.dir, "objects", "pack", "*.pack"))
	if len(packs) > maxPacks {
		return true
	}
	loose := 0
	for i := range 256 {
		entries, _ := os.ReadDir(filepath.Join(c.dir, "objects", fmt.Sprintf("%02x", i)))
		if loose += len(entries); loose > maxLoose {
			return true
		}
	}
	return false
}

// reset empties the object store, keeping the state and the lock.
func (c *cache) reset() error {
	if c.dir == "" {
		return nil
	}
	if c.fsys != nil {
		_ = c.fsys.Close()
	}
	for _, name := range storeEntries {
		if err := os.RemoveAll(filepath.Join(c.dir, name)); err != nil {
			return fmt.Errorf("reset cache: %w", err)
		}
	}
	if c.fsys != nil {
		c.open()
	}
	return nil
}

func (c *cache) saveState() error {
	if c.dir == "" {
		return nil
	}
	data, err := json.Marshal(c.state)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write cache state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, stateFile)); err != nil {
		return fmt.Errorf("write cache state: %w", err)
	}
	return nil
}

// Close releases the store's file descriptors and the lock.
func (c *cache) Close() error {
	var err error
	if c.fsys != nil {
		err = c.fsys.Close()
	}
	if c.lock != nil {
		unlockDir(c.lock)
	}
	return err
}
