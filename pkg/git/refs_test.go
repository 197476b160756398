package git

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// TestDamagedCacheHeals: a cache damaged on disk (between processes) is
// detected, emptied and fetched afresh by the same Fetch, which returns the
// commit's files whole; a damaged object is never read, so a tree that lost
// entries never becomes a desired state missing resources.
func TestDamagedCacheHeals(t *testing.T) {
	t.Parallel()
	forEach := func(dir, glob string, f func(p string, b []byte) []byte) {
		paths, _ := filepath.Glob(filepath.Join(dir, glob))
		if len(paths) == 0 {
			t.Fatalf("no %s in the cache", glob)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_ = os.Chmod(p, 0o600)
			if err := os.WriteFile(p, f(p, b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	loose := func(dir, hash string) string { return filepath.Join(dir, "objects", hash[:2], hash[2:]) }
	cases := []struct {
		name string
		// damage damages the cache after the second fetch, which stored
		// the second commit's blob and trees as loose objects.
		damage func(t *testing.T, repo *testRepo, dir string)
	}{
		{"loose object removed", func(t *testing.T, repo *testRepo, dir string) {
			if err := os.Remove(loose(dir, repo.bareGit("rev-parse", "HEAD:b.yaml"))); err != nil {
				t.Fatalf("the incremental blob is not a loose object: %v", err)
			}
		}},
		{"loose objects garbled", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/??/*", func(string, []byte) []byte { return []byte("garbage") })
		}},
		{"loose objects emptied", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/??/*", func(string, []byte) []byte { return nil })
		}},
		{"tree lost an entry", func(t *testing.T, repo *testRepo, dir string) {
			// A well-formed object whose content no longer matches its
			// name: the root tree with b.yaml gone.
			tree := repo.bareGit("rev-parse", "HEAD^{tree}")
			raw := catFile(t, repo.bare, "tree", tree)
			first := raw[:bytes.IndexByte(raw, 0)+21]
			var buf bytes.Buffer
			zw := zlib.NewWriter(&buf)
			fmt.Fprintf(zw, "tree %d\x00%s", len(first), first)
			_ = zw.Close()
			p := loose(dir, tree)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("the new tree is not a loose object: %v", err)
			}
			_ = os.Chmod(p, 0o600)
			if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"pack truncated", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/pack/*.pack", func(_ string, b []byte) []byte { return b[:len(b)/2] })
		}},
		{"pack zeroed", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/pack/*.pack", func(_ string, b []byte) []byte { return make([]byte, len(b)) })
		}},
		{"pack index removed", func(t *testing.T, repo *testRepo, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "objects/pack/*.idx"))
			for _, p := range paths {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"pack index garbled", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/pack/*.idx", func(_ string, b []byte) []byte {
				for i := 8; i < len(b); i++ {
					b[i] = byte(i)
				}
				return b
			})
		}},
		{"pack index emptied", func(t *testing.T, repo *testRepo, dir string) {
			forEach(dir, "objects/pack/*.idx", func(string, []byte) []byte { return nil })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			repo := newTestRepo(t, root, "damaged")
			repo.commitFiles("one", map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
			src := newSource(t, Options{URL: repo.fileURL()})
			mustFetch(t, src)
			repo.commitFiles("two", map[string]string{"b.yaml": "b: 2\n"})
			mustFetch(t, src) // the new objects arrive in a thin pack, stored loose
			tc.damage(t, repo, src.opts.CacheDir)

			log, logs := observed()
			cold := newSource(t, Options{URL: repo.fileURL(), CacheDir: src.opts.CacheDir, Logger: log})
			r := mustFetch(t, cold)
			if got := fsFiles(t, r); len(got) != 2 || got["a.yaml"] != "a: 1\n" || got["b.yaml"] != "b: 2\n" {
				t.Errorf("files %v", got)
			}
			if r.Stats.PackRequests == 0 || !strings.Contains(logText(logs), "git cache damaged") {
				t.Errorf("the damage went unnoticed: stats %+v, log %s", r.Stats, logText(logs))
			}
			if r.Previous != r.Commit.Hash {
				t.Errorf("previous %s, want the last good commit %s kept across the reset", r.Previous, r.Commit.Hash)
			}
			// The cache is whole again: the next process reads it without
			// a pack.
			again := mustFetch(t, newSource(t, Options{URL: repo.fileURL(), CacheDir: src.opts.CacheDir}))
			if again.Stats.PackRequests != 0 {
				t.Errorf("after the refetch: stats %+v", again.Stats)
			}
		})
	}
}

// catFile returns an object's raw content from the git CLI.
func catFile(t *testing.T, dir, typ, hash string) []byte {
	t.Helper()
	cmd := exec.Command("git", "cat-file", typ, hash)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file %s %s: %v", typ, hash, err)
	}
	return out
}
