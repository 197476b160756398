package git

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"go.uber.org/zap"
)

// treeEntry is one entry of a hand-made tree object.
type treeEntry struct {
	mode string // "100644", "40000", "120000", "160000"
	name string
	hash string
}

// mktree writes a tree object holding exactly the given entries, however
// crafted, bypassing git's own checks, and returns its hash.
func (r *testRepo) mktree(entries ...treeEntry) string {
	r.t.Helper()
	var raw bytes.Buffer
	for _, e := range entries {
		raw.WriteString(e.mode + " " + e.name + "\x00")
		h, err := hex.DecodeString(e.hash)
		if err != nil {
			r.t.Fatal(err)
		}
		raw.Write(h)
	}
	return r.hashObject("tree", raw.Bytes())
}

func (r *testRepo) hashObject(typ string, content []byte) string {
	r.t.Helper()
	cmd := exec.Command("git", "hash-object", "-t", typ, "-w", "--literally", "--stdin")
	cmd.Dir = r.bare
	cmd.Stdin = bytes.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("hash-object: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// branchAt commits tree on a new branch of the bare repository.
func (r *testRepo) branchAt(branch, tree string) {
	r.t.Helper()
	c := r.bareGit("commit-tree", tree, "-m", branch)
	r.bareGit("update-ref", "refs/heads/"+branch, c)
}

// TestB4UnsafeEntries: symlinks, submodules and crafted names are refused
// with an error naming the path and a security log line, never followed.
func TestB4UnsafeEntries(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "b4")
	repo.commitFiles("ok", map[string]string{"cfg/adc.yaml": "a: 1\n"})
	blob := repo.hashObject("blob", []byte("routes: []\n"))
	rel := repo.hashObject("blob", []byte("../../etc/passwd"))
	abs := repo.hashObject("blob", []byte("/etc/passwd"))
	lfs := repo.hashObject("blob", []byte("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n"))
	commit := repo.git("rev-parse", "HEAD")
	sub := func(entries ...treeEntry) string { return repo.mktree(entries...) }
	ok := treeEntry{"100644", "adc.yaml", blob}
	cfg := func(entries ...treeEntry) string {
		return repo.mktree(treeEntry{"40000", "cfg", sub(entries...)})
	}

	for _, tt := range []struct {
		name, tree, path, want string
	}{
		{"relative symlink", cfg(ok, treeEntry{"120000", "routes.yaml", rel}), "cfg/routes.yaml", "symbolic link"},
		{"absolute symlink", cfg(ok, treeEntry{"120000", "abs.yaml", abs}), "cfg/abs.yaml", "symbolic link"},
		{"symlinked directory", cfg(ok, treeEntry{"120000", "dir", abs}), "cfg/dir", "symbolic link"},
		{"submodule", cfg(ok, treeEntry{"160000", "vendor", commit}), "cfg/vendor", "submodule"},
		{"dot-dot", cfg(ok, treeEntry{"40000", "x", sub(treeEntry{"40000", "..", sub(treeEntry{"40000", "..", sub(treeEntry{"100644", "y.yaml", blob})})})}), `cfg/x/".."`, "invalid name"},
		{"slash in a name", cfg(ok, treeEntry{"100644", "../../y.yaml", blob}), `cfg/"../../y.yaml"`, "path separator"},
		{"backslash in a name", cfg(ok, treeEntry{"100644", `..\y.yaml`, blob}), `cfg/"..\\y.yaml"`, "path separator"},
		{"dot-git", cfg(ok, treeEntry{"40000", ".GIT", sub(treeEntry{"100644", "config", blob})}), `cfg/".GIT"`, "reserved"},
		{"duplicate", cfg(ok, ok), "cfg/adc.yaml", "duplicate"},
		{"symlink as the path", repo.mktree(treeEntry{"120000", "cfg", abs}), "cfg", "symbolic link"},
		{"lfs pointer", cfg(ok, treeEntry{"100644", "big.yaml", lfs}), "cfg/big.yaml", "LFS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			branch := strings.ReplaceAll(tt.name, " ", "-")
			repo.branchAt(branch, tt.tree)
			log, logs := observed()
			src := newSource(t, Options{URL: repo.fileURL(), Ref: branch, Path: "cfg", Logger: log})
			e := fetchErr(t, src, ErrUnsafeEntry)
			if e.Path != tt.path || !strings.Contains(e.Error(), tt.want) || e.Reason() != "ValidationFailed" {
				t.Errorf("error %v (path %q, reason %s), want path %q and %q", e, e.Path, e.Reason(), tt.path, tt.want)
			}
			sec := logs.FilterField(zap.Bool("security", true)).All()
			if len(sec) != 1 || sec[0].ContextMap()["path"] != tt.path {
				t.Errorf("security log lines: %s", logText(logs))
			}
		})
	}

	t.Run("outside the path", func(t *testing.T) {
		// Entries that are never read are not refused.
		tree := repo.mktree(
			treeEntry{"40000", "cfg", sub(ok)},
			treeEntry{"120000", "link", abs},
			treeEntry{"160000", "vendor", commit},
		)
		repo.branchAt("outside", tree)
		r := mustFetch(t, newSource(t, Options{URL: repo.fileURL(), Ref: "outside", Path: "cfg"}))
		if got := sortedKeys(fsFiles(t, r)); strings.Join(got, ",") != "adc.yaml" {
			t.Errorf("files %v", got)
		}
	})
}

// TestB3Limits: oversize files, trees and packs are refused with
// InputTooLarge, from sizes known before the content is read.
func TestB3Limits(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	huge := newTestRepo(t, root, "huge")
	if err := os.MkdirAll(filepath.Join(huge.work, "cfg"), 0o755); err != nil {
		t.Fatal(err)
	}
	// 50 MiB of zeros: a pack of some 50 KB, a file far over the limit.
	if err := os.WriteFile(filepath.Join(huge.work, "cfg", "huge.yaml"), make([]byte, 50<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	huge.commitFiles("huge", map[string]string{"cfg/adc.yaml": "a: 1\n"})
	small := newTestRepo(t, root, "small")
	small.commitFiles("small", map[string]string{"small/a.yaml": noise(1, 3000), "small/b.yaml": noise(2, 3000)})

	for _, tt := range []struct {
		name   string
		repo   *testRepo
		path   string
		limits Limits
		want   string
	}{
		{"50 MiB file, default limits", huge, "cfg", Limits{}, "52428800 bytes, over the limit of 4194304"},
		{"file limit", small, "small", Limits{MaxFileSize: 2000}, "over the limit of 2000"},
		{"tree limit", small, "small", Limits{MaxTreeSize: 5000}, "exceed 5000 bytes together"},
		{"file count", small, "small", Limits{MaxFiles: 1}, "more than 1 files"},
		{"pack limit", small, "small", Limits{MaxPackSize: 4000}, "more than 4000 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := fetchErr(t, newSource(t, Options{URL: tt.repo.fileURL(), Path: tt.path, Limits: tt.limits}), ErrTooLarge)
			if !strings.Contains(e.Error(), tt.want) || e.Reason() != "InputTooLarge" {
				t.Errorf("%v (reason %s), want %q", e, e.Reason(), tt.want)
			}
		})
	}
}

// recordingStorer records which blobs were read.
type recordingStorer struct {
	storer.EncodedObjectStorer
	mu   sync.Mutex
	read map[plumbing.Hash]bool
}

func (s *recordingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.EncodedObjectStorer.EncodedObject(t, h)
	if err == nil && o.Type() == plumbing.BlobObject {
		s.mu.Lock()
		s.read[h] = true
		s.mu.Unlock()
	}
	return o, err
}

// TestReadTreeChecksSizesFirst: no blob is read when one of them is over
// the limit, wherever it sits in the tree.
func TestReadTreeChecksSizesFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "sizes")
	repo.commitFiles("c", map[string]string{
		"a/first.yaml":  "x: 1\n",
		"b/second.yaml": "y: 2\n",
		"z/huge.yaml":   noise(3, 5000),
	})
	st := &recordingStorer{EncodedObjectStorer: openBare(t, repo.bare), read: map[plumbing.Hash]bool{}}
	c, err := object.GetCommit(st, hashOf(repo.git("rev-parse", "HEAD")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = readTree(st, c, ".", Limits{MaxFileSize: 4096}.withDefaults(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "z/huge.yaml") {
		t.Fatalf("error %v", err)
	}
	if len(st.read) != 0 {
		t.Errorf("%d blobs were read before the size check failed", len(st.read))
	}
	fsys, err := readTree(st, c, ".", Limits{}.withDefaults(), nil, nil)
	if err != nil || fsys.Len() != 3 || len(st.read) != 3 {
		t.Fatalf("with room: %v, %d files, %d reads", err, fsys.Len(), len(st.read))
	}

	// The next commit changes one file: only that blob is read.
	next := hashOf(repo.commitFiles("one", map[string]string{"b/second.yaml": "y: 3\n"}))
	st.read = map[plumbing.Hash]bool{}
	c2, err := object.GetCommit(st, next)
	if err != nil {
		t.Fatal(err)
	}
	fsys2, err := readTree(st, c2, ".", Limits{}.withDefaults(), fsys.blobs, nil)
	if err != nil || len(st.read) != 1 {
		t.Fatalf("incremental read: %v, %d blobs read", err, len(st.read))
	}
	if b, _ := fsys2.ReadFile("b/second.yaml"); string(b) != "y: 3\n" {
		t.Errorf("b/second.yaml = %q", b)
	}
	if b, _ := fsys2.ReadFile("z/huge.yaml"); string(b) != noise(3, 5000) {
		t.Error("z/huge.yaml differs when taken from the previous snapshot")
	}
}
