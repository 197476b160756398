package git

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// transportCase builds a server for a repository root and returns the URL
// and credentials to reach repo through it.
type transportCase struct {
	name  string
	serve func(t *testing.T, root string, repo *testRepo) (url string, auth Auth)
}

func transportCases() []transportCase {
	return []transportCase{
		{"file", func(_ *testing.T, _ string, repo *testRepo) (string, Auth) {
			return repo.fileURL(), Auth{}
		}},
		{"http-anonymous", func(t *testing.T, root string, repo *testRepo) (string, Auth) {
			return newHTTPServer(t, root, false).repoURL(repo), Auth{}
		}},
		{"http-basic", func(t *testing.T, root string, repo *testRepo) (string, Auth) {
			srv := newHTTPServer(t, root, false)
			srv.set(func(s *httpServer) { s.user, s.password = "alice", "s3cret-pw" })
			pw := writeFile(t, filepath.Join(t.TempDir(), "pw"), "s3cret-pw\n")
			return srv.repoURL(repo), Auth{Username: "alice", PasswordFile: pw}
		}},
		{"https-bearer-ca", func(t *testing.T, root string, repo *testRepo) (string, Auth) {
			srv := newHTTPServer(t, root, true)
			srv.set(func(s *httpServer) { s.token = "tok-123" })
			tok := writeFile(t, filepath.Join(t.TempDir(), "token"), "tok-123\n")
			return srv.repoURL(repo), Auth{TokenFile: tok, CAFile: srv.caFile(t)}
		}},
		{"git-daemon", func(t *testing.T, root string, repo *testRepo) (string, Auth) {
			d := startGitDaemon(t, root)
			return "git://" + d.addr() + "/" + repo.name, Auth{}
		}},
		{"ssh-ed25519", sshCase("ed25519", "ed25519")},
		{"ssh-ecdsa", sshCase("ecdsa", "ecdsa")},
		{"ssh-rsa", sshCase("rsa", "rsa")},
	}
}

func sshCase(hostType, clientType string) func(t *testing.T, root string, repo *testRepo) (string, Auth) {
	return func(t *testing.T, _ string, repo *testRepo) (string, Auth) {
		srv := startSSHD(t, hostType, clientType)
		return srv.repoURL(repo), Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: srv.knownHosts}
	}
}

// TestFetchTransports fetches over every transport: a first (shallow)
// fetch, a poll that finds nothing new, and an incremental fetch of a
// one-file commit.
func TestFetchTransports(t *testing.T) {
	t.Parallel()
	for _, tc := range transportCases() {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			repo := newTestRepo(t, root, "config")
			files := map[string]string{
				"gateway/adc.yaml":            "services: []\n",
				"gateway/routes/r1.yaml":      "routes: []\n",
				"gateway/consumers/alice.yml": "consumers: []\n",
				"README.md":                   "outside the path\n",
			}
			for i := range 40 {
				files[fmt.Sprintf("gateway/bulk/f%02d.yaml", i)] = noise(i, 2048)
			}
			first := repo.commitFiles("first commit\n\nwith a body", files)
			url, auth := tc.serve(t, root, repo)
			src := newSource(t, Options{URL: url, Path: "gateway", Auth: auth})

			r1 := mustFetch(t, src)
			if got, want := r1.Commit.Revision, "main@sha1:"+first; got != want {
				t.Errorf("revision %q, want %q", got, want)
			}
			if r1.Commit.Hash != first || r1.Commit.Ref != "refs/heads/main" {
				t.Errorf("commit %s ref %s", r1.Commit.Hash, r1.Commit.Ref)
			}
			if r1.Commit.Author.Name != "Test Author" || r1.Commit.Committer.Email != "committer@example.com" {
				t.Errorf("author %+v committer %+v", r1.Commit.Author, r1.Commit.Committer)
			}
			if r1.Commit.Message != "first commit\n\nwith a body" || r1.Commit.Date.IsZero() {
				t.Errorf("message %q date %v", r1.Commit.Message, r1.Commit.Date)
			}
			if r1.Unchanged || r1.Rewritten || r1.Previous != "" {
				t.Errorf("first fetch: unchanged=%v rewritten=%v previous=%q", r1.Unchanged, r1.Rewritten, r1.Previous)
			}
			if r1.Stats.Advertisements != 1 || r1.Stats.PackRequests != 1 {
				t.Errorf("first fetch stats %+v, want 1 advertisement and 1 pack", r1.Stats)
			}
			got := fsFiles(t, r1)
			if len(got) != 43 || got["adc.yaml"] != "services: []\n" || got["consumers/alice.yml"] != "consumers: []\n" {
				t.Errorf("files %v", sortedKeys(got))
			}
			if _, ok := got["README.md"]; ok {
				t.Error("a file outside the path was read")
			}

			r2 := mustFetch(t, src)
			if !r2.Unchanged || r2.Commit.Hash != first {
				t.Errorf("poll: unchanged=%v commit %s", r2.Unchanged, r2.Commit.Hash)
			}
			if r2.Stats.Advertisements != 1 || r2.Stats.PackRequests != 0 {
				t.Errorf("poll stats %+v, want 1 advertisement and no pack", r2.Stats)
			}
			if r2.Files != r1.Files {
				t.Error("an unchanged poll returned a new snapshot")
			}

			second := repo.commitFiles("edit one file", map[string]string{"gateway/routes/r1.yaml": "routes: [{name: r1}]\n"})
			r3 := mustFetch(t, src)
			if r3.Unchanged || r3.Commit.Hash != second || r3.Rewritten || r3.Previous != first {
				t.Errorf("after a commit: unchanged=%v commit=%s rewritten=%v previous=%s", r3.Unchanged, r3.Commit.Hash, r3.Rewritten, r3.Previous)
			}
			if r3.Stats.PackRequests != 1 {
				t.Errorf("incremental fetch stats %+v, want one pack request", r3.Stats)
			}
			// Only the new commit, three trees and one blob travel: well
			// under the first fetch's 40 × 2 KB of noise.
			if r3.Stats.BytesReceived*5 > r1.Stats.BytesReceived {
				t.Errorf("incremental fetch received %d bytes, first fetch %d", r3.Stats.BytesReceived, r1.Stats.BytesReceived)
			}
			if got := fsFiles(t, r3)["routes/r1.yaml"]; got != "routes: [{name: r1}]\n" {
				t.Errorf("routes/r1.yaml = %q", got)
			}
		})
	}
}

// TestHTTPRequestCounts checks, at the server, that a poll with nothing new
// is one reference advertisement and no pack request, and that a one-file
// commit transfers only a small pack.
func TestHTTPRequestCounts(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "counted")
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("conf/f%03d.yaml", i)] = noise(i, 1024)
	}
	repo.commitFiles("many files", files)
	srv := newHTTPServer(t, root, false)
	src := newSource(t, Options{URL: srv.repoURL(repo)})

	mustFetch(t, src)
	if srv.infoRefs.Load() != 1 || srv.uploadPacks.Load() != 1 {
		t.Fatalf("first fetch: %d advertisements, %d packs", srv.infoRefs.Load(), srv.uploadPacks.Load())
	}
	firstPack := srv.packBytes.Load()

	srv.resetCounters()
	for range 3 {
		if r := mustFetch(t, src); !r.Unchanged {
			t.Fatal("poll not unchanged")
		}
	}
	if srv.infoRefs.Load() != 3 || srv.uploadPacks.Load() != 0 {
		t.Errorf("3 polls: %d advertisements and %d pack requests, want 3 and 0", srv.infoRefs.Load(), srv.uploadPacks.Load())
	}

	srv.resetCounters()
	repo.commitFiles("one file", map[string]string{"conf/f007.yaml": "changed: true\n"})
	mustFetch(t, src)
	if srv.infoRefs.Load() != 1 || srv.uploadPacks.Load() != 1 {
		t.Errorf("incremental fetch: %d advertisements, %d packs", srv.infoRefs.Load(), srv.uploadPacks.Load())
	}
	if small := srv.packBytes.Load(); small > 4096 || small*20 > firstPack {
		t.Errorf("incremental pack response %d bytes (first %d): more than the new objects", small, firstPack)
	}

	// A new Source on the same cache (a restarted daemon) transfers nothing
	// for a ref that has not moved.
	srv.resetCounters()
	again := newSource(t, Options{URL: srv.repoURL(repo), CacheDir: src.opts.CacheDir})
	r := mustFetch(t, again)
	if r.Unchanged || r.Previous != r.Commit.Hash {
		t.Errorf("restart: unchanged=%v previous=%s commit=%s", r.Unchanged, r.Previous, r.Commit.Hash)
	}
	if srv.infoRefs.Load() != 1 || srv.uploadPacks.Load() != 0 {
		t.Errorf("restart with a warm cache: %d advertisements, %d packs", srv.infoRefs.Load(), srv.uploadPacks.Load())
	}
}

// TestFilesFS checks the returned file system against testing/fstest.
func TestFilesFS(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "fsys")
	repo.commitFiles("files", map[string]string{
		"a.yaml":         "a: 1\n",
		"dir/b.yaml":     "b: 2\n",
		"dir/sub/c.yaml": "c: 3\n",
		"dir/sub/d.json": "{}\n",
	})
	if err := os.Chmod(filepath.Join(repo.work, "dir", "b.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo.commit("exec bit")
	src := newSource(t, Options{URL: repo.fileURL()})
	r := mustFetch(t, src)
	if err := fstest.TestFS(r.Files, "a.yaml", "dir/b.yaml", "dir/sub/c.yaml", "dir/sub/d.json"); err != nil {
		t.Fatal(err)
	}
	info, err := fs.Stat(r.Files, "dir/b.yaml")
	if err != nil || info.Mode() != 0o755 || !info.ModTime().Equal(r.Commit.Date) {
		t.Errorf("stat dir/b.yaml: %v %v", info, err)
	}
	b, err := fs.ReadFile(r.Files, "dir/sub/c.yaml")
	if err != nil || string(b) != "c: 3\n" {
		t.Fatalf("ReadFile: %q %v", b, err)
	}
	b[0] = 'X' // the caller may modify what ReadFile returns
	if b2, _ := fs.ReadFile(r.Files, "dir/sub/c.yaml"); string(b2) != "c: 3\n" {
		t.Error("ReadFile returned the snapshot's own buffer")
	}
}

// noise returns n bytes of poorly compressible, seeded text (a comment
// line of hex), so that pack sizes reflect how many files travel.
func noise(seed, n int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 42))
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	b[0] = '#'
	for i := 1; i < n-1; i++ {
		b[i] = hex[rng.IntN(16)]
	}
	b[n-1] = '\n'
	return string(b)
}
