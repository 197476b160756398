package git

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestRefs resolves every form of ref against a real repository.
func TestRefs(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "refs")
	repo.git("checkout", "-q", "-b", "trunk")
	older := repo.commitFiles("older", map[string]string{"a.yaml": "v: 0\n"})
	trunk := repo.commitFiles("trunk", map[string]string{"a.yaml": "v: 1\n"})
	repo.git("tag", "-a", "v1", "-m", "release v1")
	repo.git("push", "-q", "origin", "v1")
	repo.git("checkout", "-q", "-b", "dev")
	dev := repo.commitFiles("dev", map[string]string{"a.yaml": "v: 2\n"})
	repo.git("tag", "light")
	repo.git("tag", "both")
	repo.git("branch", "both")
	repo.git("push", "-q", "origin", "light", "refs/tags/both", "refs/heads/both")
	repo.bareGit("symbolic-ref", "HEAD", "refs/heads/trunk")

	tests := []struct {
		ref          string
		wantRevision string
		wantRef      string
		wantV        string
	}{
		{"", "trunk@sha1:" + trunk, "refs/heads/trunk", "v: 1\n"},
		{"HEAD", "trunk@sha1:" + trunk, "refs/heads/trunk", "v: 1\n"},
		{"dev", "dev@sha1:" + dev, "refs/heads/dev", "v: 2\n"},
		{"refs/heads/dev", "dev@sha1:" + dev, "refs/heads/dev", "v: 2\n"},
		{"v1", "v1@sha1:" + trunk, "refs/tags/v1", "v: 1\n"},
		{"refs/tags/v1", "v1@sha1:" + trunk, "refs/tags/v1", "v: 1\n"},
		{"light", "light@sha1:" + dev, "refs/tags/light", "v: 2\n"},
		{"refs/tags/both", "both@sha1:" + dev, "refs/tags/both", "v: 2\n"},
		{trunk, "sha1:" + trunk, "", "v: 1\n"},
		{older, "sha1:" + older, "", "v: 0\n"}, // no tip: see TestPinnedCommit
		{strings.ToUpper(dev), "sha1:" + dev, "", "v: 2\n"},
	}
	for _, tt := range tests {
		t.Run("ref="+tt.ref, func(t *testing.T) {
			src := newSource(t, Options{URL: repo.fileURL(), Ref: tt.ref})
			r := mustFetch(t, src)
			if r.Commit.Revision != tt.wantRevision || r.Commit.Ref != tt.wantRef {
				t.Errorf("revision %q ref %q, want %q %q", r.Commit.Revision, r.Commit.Ref, tt.wantRevision, tt.wantRef)
			}
			if got := fsFiles(t, r)["a.yaml"]; got != tt.wantV {
				t.Errorf("a.yaml = %q, want %q", got, tt.wantV)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct{ ref, want string }{
			{"both", "both a branch and a tag"},
			{"nope", `no branch or tag "nope"`},
			{trunk[:7], "full 40-digit hash"},
			{"refs/heads/gone", "refs/heads/gone not found"},
		} {
			src := newSource(t, Options{URL: repo.fileURL(), Ref: tt.ref})
			e := fetchErr(t, src, ErrNotFound)
			if !strings.Contains(e.Error(), tt.want) || e.Reason() != "FetchFailed" {
				t.Errorf("ref %q: %v (reason %s), want %q", tt.ref, e, e.Reason(), tt.want)
			}
		}
	})
}

// TestPaths reads sub-directories and single files, and refuses missing
// paths and empty trees instead of returning an empty desired state.
func TestPaths(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "paths")
	repo.commitFiles("layout", map[string]string{
		"clusters/prod/adc.yaml":          "prod: true\n",
		"clusters/prod/routes/r.yaml":     "r: 1\n",
		"clusters/staging/adc.yaml":       "staging: true\n",
		"README.md":                       "readme\n",
		"clusters/prod/nested/deep/x.yml": "x: 1\n",
	})
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"", []string{"README.md", "clusters/prod/adc.yaml", "clusters/prod/nested/deep/x.yml", "clusters/prod/routes/r.yaml", "clusters/staging/adc.yaml"}},
		{"clusters/prod", []string{"adc.yaml", "nested/deep/x.yml", "routes/r.yaml"}},
		{"/clusters/prod/", []string{"adc.yaml", "nested/deep/x.yml", "routes/r.yaml"}},
		{"./clusters/staging", []string{"adc.yaml"}},
		{"clusters/staging/adc.yaml", []string{"adc.yaml"}},
	} {
		t.Run("path="+tt.path, func(t *testing.T) {
			r := mustFetch(t, newSource(t, Options{URL: repo.fileURL(), Path: tt.path}))
			if got := sortedKeys(fsFiles(t, r)); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("files %v, want %v", got, tt.want)
			}
		})
	}
	for _, tt := range []struct{ path, want string }{
		{"clusters/dev", `path "clusters/dev" does not exist`},
		{"README.md/x", "is a file, not a directory"},
	} {
		t.Run("missing="+tt.path, func(t *testing.T) {
			e := fetchErr(t, newSource(t, Options{URL: repo.fileURL(), Path: tt.path}), ErrNotFound)
			if !strings.Contains(e.Error(), tt.want) || e.Reason() != "FetchFailed" {
				t.Errorf("error %v (reason %s)", e, e.Reason())
			}
		})
	}
	t.Run("crafted path option", func(t *testing.T) {
		for _, p := range []string{"../etc", "a/../../b", "a/.git/b"} {
			if _, err := New(Options{URL: repo.fileURL(), Path: p}); err == nil {
				t.Errorf("path %q accepted", p)
			}
		}
	})
	t.Run("empty tree", func(t *testing.T) {
		empty := repo.bareGit("hash-object", "-t", "tree", "-w", "--stdin")
		commit := repo.bareGit("commit-tree", empty, "-m", "empty")
		repo.bareGit("update-ref", "refs/heads/empty", commit)
		e := fetchErr(t, newSource(t, Options{URL: repo.fileURL(), Ref: "empty"}), ErrNotFound)
		if !strings.Contains(e.Error(), "refusing an empty desired state") {
			t.Errorf("error %v", e)
		}
	})
}

// TestInclude reads only the selected files: the others are neither read
// nor counted against the limits, and a path with none is an error.
func TestInclude(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "include")
	repo.commitFiles("mixed", map[string]string{
		"cfg/adc.yaml":     "a: 1\n",
		"cfg/logo.png":     noise(1, 20_000),
		"cfg/sub/x.json":   "{}\n",
		"docs/README.md":   "readme\n",
		"docs/diagram.svg": noise(2, 100),
	})
	yamlOnly := func(p string) bool { return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".json") }
	r := mustFetch(t, newSource(t, Options{URL: repo.fileURL(), Path: "cfg", Include: yamlOnly, Limits: Limits{MaxFileSize: 1000}}))
	if got := strings.Join(sortedKeys(fsFiles(t, r)), ","); got != "adc.yaml,sub/x.json" {
		t.Errorf("files %s", got)
	}
	e := fetchErr(t, newSource(t, Options{URL: repo.fileURL(), Path: "docs", Include: yamlOnly}), ErrNotFound)
	if !strings.Contains(e.Error(), "no configuration files") {
		t.Errorf("%v", e)
	}
}

// TestDamagedCacheHeals: an object missing from the cache fails one fetch
// and empties the cache, so that the next fetch starts afresh.
func TestDamagedCacheHeals(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "damaged")
	repo.commitFiles("one", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	src := newSource(t, Options{URL: repo.fileURL()})
	mustFetch(t, src)
	repo.commitFiles("two", map[string]string{"b.yaml": "b: 2\n"})
	mustFetch(t, src) // the new blob arrives in a thin pack, stored loose
	blob := repo.bareGit("rev-parse", "HEAD:b.yaml")
	loose := filepath.Join(src.opts.CacheDir, "objects", blob[:2], blob[2:])
	if err := os.Remove(loose); err != nil {
		t.Fatalf("the incremental blob is not a loose object: %v", err)
	}
	cold := newSource(t, Options{URL: repo.fileURL(), CacheDir: src.opts.CacheDir})
	e := fetchErr(t, cold, ErrUnavailable)
	if !errors.Is(e, plumbing.ErrObjectNotFound) {
		t.Errorf("%v", e)
	}
	r := mustFetch(t, cold)
	if fsFiles(t, r)["b.yaml"] != "b: 2\n" || r.Stats.PackRequests != 1 {
		t.Errorf("after the reset: files %v stats %+v", fsFiles(t, r), r.Stats)
	}
}
