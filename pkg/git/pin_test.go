package git

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// pinRepo is a repository whose older commits no server advertises: main
// has 41 commits, and an unrelated history of two commits is reachable
// only from the annotated tag v2 (its branch was deleted). Every commit
// writes a.yaml, naming the commit, and 2 KB of noise, so that pack sizes
// tell how much history travelled. It has no work tree.
type pinRepo struct {
	*testRepo
	main     []string // main's commits, oldest first
	tagOnly  string   // the first commit of the tag's history: reachable from no ref tip
	tagged   string   // the commit v2 points to (advertised only as v2^{})
	dangling string   // a commit in the server's store that no ref reaches
}

func newPinRepo(t *testing.T, root string) *pinRepo {
	t.Helper()
	// git fast-import builds the 44 commits in one process.
	var in bytes.Buffer
	data := func(s string) { fmt.Fprintf(&in, "data %d\n%s\n", len(s), s) }
	commit := func(ref, name string, seed int) {
		fmt.Fprintf(&in, "commit %s\ncommitter Test Committer <committer@example.com> %d +0000\n", ref, 1_700_000_000+seed*60)
		data(name)
		in.WriteString("M 100644 inline a.yaml\n")
		data("v: " + name + "\n")
		in.WriteString("M 100644 inline noise.yaml\n")
		data(noise(seed, 2048))
	}
	for i := range 41 {
		commit("refs/heads/main", fmt.Sprintf("main-%d", i), i)
	}
	commit("refs/heads/release", "release-1", 100)
	commit("refs/heads/release", "release-2", 101)
	in.WriteString("tag v2\nfrom refs/heads/release\ntagger Test Committer <committer@example.com> 1700100000 +0000\n")
	data("release 2")
	commit("refs/heads/tmp", "dangling", 102)

	r := &pinRepo{testRepo: newTestRepo(t, root, "pinned")}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Stdin = r.bare, &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git fast-import: %v\n%s", err, out)
	}
	r.main = strings.Fields(r.bareGit("rev-list", "--reverse", "main"))
	r.tagOnly = r.bareGit("rev-parse", "v2^{}~1")
	r.tagged = r.bareGit("rev-parse", "v2^{}")
	r.dangling = r.bareGit("rev-parse", "tmp")
	// The branches go; the objects stay on the server.
	r.bareGit("update-ref", "-d", "refs/heads/release")
	r.bareGit("update-ref", "-d", "refs/heads/tmp")
	if len(r.main) != 41 {
		t.Fatalf("main has %d commits", len(r.main))
	}
	return r
}

// pinServer is one of the servers of TestPinnedCommit: the URL and
// credentials to reach the repository, and the server's own count of the
// requests it served (nil for file://, which has no server to count).
type pinServer struct {
	url  string
	auth Auth
	// requests counts advertisements and pack requests (HTTP) or
	// connections (git daemon, sshd).
	requests func() int64
	// reachable: the server takes a want of any commit reachable from a
	// ref, as git upload-pack does over smart HTTP (stateless RPC checks
	// reachability), without any setting.
	reachable bool
}

func pinServers() []struct {
	name  string
	serve func(t *testing.T, root string, repo *testRepo) pinServer
} {
	return []struct {
		name  string
		serve func(t *testing.T, root string, repo *testRepo) pinServer
	}{
		{"file", func(_ *testing.T, _ string, repo *testRepo) pinServer {
			return pinServer{url: repo.fileURL()}
		}},
		{"http-backend", func(t *testing.T, root string, repo *testRepo) pinServer {
			srv := newHTTPServer(t, root, false)
			return pinServer{url: srv.repoURL(repo), reachable: true,
				requests: func() int64 { return srv.infoRefs.Load() + srv.uploadPacks.Load() }}
		}},
		{"git-daemon", func(t *testing.T, root string, repo *testRepo) pinServer {
			d := startGitDaemon(t, root)
			return pinServer{url: "git://" + d.addr() + "/" + repo.name, requests: d.conns.Load}
		}},
		{"sshd", func(t *testing.T, _ string, repo *testRepo) pinServer {
			srv := startSSHD(t, "ed25519", "ed25519")
			return pinServer{url: srv.repoURL(repo), requests: srv.conns.Load,
				auth: Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: srv.knownHosts}}
		}},
	}
}

// TestPinnedCommit: a full commit hash as the ref fetches that commit from
// servers with git's default configuration, which refuse a want that is no
// advertised tip (uploadpack.allowReachableSHA1InWant and
// allowAnySHA1InWant off): the tip, commits one, several and 40 behind it,
// and commits reachable only from a tag. The commit, once fetched, is read
// from the cache: polls and a restarted Source ask no server.
func TestPinnedCommit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newPinRepo(t, root)
	m := repo.main
	pins := []struct {
		name   string
		hash   string
		want   string // a.yaml
		rounds int    // pack requests when the server takes advertised tips only
	}{
		{"tip", m[40], "v: main-40\n", 1},
		{"one behind", m[39], "v: main-39\n", 1},
		{"several behind", m[35], "v: main-35\n", 1},
		{"40 behind", m[0], "v: main-0\n", 2},
		{"behind a tag only", repo.tagOnly, "v: release-1\n", 1},
		{"peeled tag", repo.tagged, "v: release-2\n", 1},
	}
	for _, sc := range pinServers() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			srv := sc.serve(t, root, repo.testRepo)
			requests := func() int64 {
				if srv.requests == nil {
					return 0
				}
				return srv.requests()
			}
			var oneBehind, deep int64
			for _, p := range pins {
				t.Run(p.name, func(t *testing.T) {
					src := newSource(t, Options{URL: srv.url, Auth: srv.auth, Ref: strings.ToUpper(p.hash)})
					before := requests()
					r := mustFetch(t, src)
					if r.Commit.Hash != p.hash || r.Commit.Revision != "sha1:"+p.hash || r.Commit.Ref != "" {
						t.Errorf("commit %s revision %s ref %q, want %s", r.Commit.Hash, r.Commit.Revision, r.Commit.Ref, p.hash)
					}
					if got := fsFiles(t, r)["a.yaml"]; got != p.want {
						t.Errorf("a.yaml = %q, want %q", got, p.want)
					}
					if r.Unchanged || r.Rewritten || r.Previous != "" {
						t.Errorf("first fetch: unchanged=%v rewritten=%v previous=%q", r.Unchanged, r.Rewritten, r.Previous)
					}
					t.Logf("first fetch: %+v", r.Stats)
					rounds := p.rounds
					if srv.reachable {
						rounds = 1
					}
					if r.Stats.PackRequests != rounds || r.Stats.Advertisements != rounds {
						t.Errorf("first fetch stats %+v, want %d advertisements and pack requests", r.Stats, rounds)
					}
					if srv.requests != nil && requests() == before {
						t.Error("the server counted no request for the first fetch")
					}
					switch p.name {
					case "one behind":
						oneBehind = r.Stats.BytesReceived
					case "40 behind":
						deep = r.Stats.BytesReceived
					}

					// A pinned commit never moves: polls ask nobody.
					before = requests()
					for range 3 {
						again := mustFetch(t, src)
						if !again.Unchanged || again.Commit.Hash != p.hash || again.Stats != (Stats{Duration: again.Stats.Duration}) {
							t.Errorf("poll: unchanged=%v commit %s stats %+v", again.Unchanged, again.Commit.Hash, again.Stats)
						}
						if again.Files != r.Files {
							t.Error("a poll of a pinned commit returned a new snapshot")
						}
					}
					// Nor does a restarted Source with the cache.
					cold := newSource(t, Options{URL: srv.url, Auth: srv.auth, Ref: p.hash, CacheDir: src.opts.CacheDir})
					c := mustFetch(t, cold)
					if c.Commit.Hash != p.hash || c.Stats.Advertisements != 0 || c.Stats.PackRequests != 0 || c.Previous != p.hash {
						t.Errorf("restart on the cache: commit %s previous %s stats %+v", c.Commit.Hash, c.Previous, c.Stats)
					}
					if got := fsFiles(t, c)["a.yaml"]; got != p.want {
						t.Errorf("restart: a.yaml = %q, want %q", got, p.want)
					}
					if n := requests() - before; n != 0 {
						t.Errorf("polls and a restart with the cache made %d requests to the server", n)
					}
				})
			}
			// The search deepens step by step: a commit near a tip costs
			// a shallow pack, not the history of the repository.
			if !srv.reachable && (oneBehind == 0 || oneBehind*2 > deep) {
				t.Errorf("one commit behind received %d bytes, 40 behind %d: the search fetched more history than it needed", oneBehind, deep)
			}
		})
	}
}

// TestPinnedCommitNotFound: a commit no advertised ref reaches within the
// search's depth is ErrNotFound naming the commit, and polls while the
// server's refs stay put do not search again.
func TestPinnedCommitNotFound(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newPinRepo(t, root)
	srv := newHTTPServer(t, root, false)
	missing := strings.Repeat("ab", 20)
	for _, tt := range []struct {
		name, url, hash string
	}{
		{"dangling file", repo.fileURL(), repo.dangling},
		{"absent file", repo.fileURL(), missing},
		{"dangling http", srv.repoURL(repo.testRepo), repo.dangling},
		{"absent http", srv.repoURL(repo.testRepo), missing},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(t, Options{URL: tt.url, Ref: tt.hash})
			e := fetchErr(t, src, ErrNotFound)
			// The search stopped when it held the whole history, before
			// its last and deepest round.
			if !strings.Contains(e.Error(), "commit "+tt.hash+" is not in the history of any branch or tag of the remote") || e.Reason() != string(ReasonFetchFailed) {
				t.Errorf("error %v (reason %s)", e, e.Reason())
			}
			if e.URL != tt.url {
				t.Errorf("error URL %q", e.URL)
			}
			// The refs have not moved: a poll costs one advertisement.
			ctx := t.Context()
			r, err := src.Fetch(ctx)
			if err == nil || err.Error() != e.Error() {
				t.Fatalf("second fetch: %v, want %v", err, e)
			}
			if r.Stats.Advertisements != 1 || r.Stats.PackRequests != 0 {
				t.Errorf("poll of a missing commit: stats %+v, want one advertisement", r.Stats)
			}
		})
	}

	t.Run("beyond the depth bound", func(t *testing.T) {
		src := newSource(t, Options{URL: repo.fileURL(), Ref: repo.main[30]})
		src.pinDepths = []int{4}
		e := fetchErr(t, src, ErrNotFound)
		if !strings.Contains(e.Error(), "commit "+repo.main[30]) || !strings.Contains(e.Error(), "is not within 4 commits of any branch or tag") {
			t.Errorf("error %v", e)
		}
		// A new tip can bring it within reach: the search runs again.
		repo.bareGit("branch", "rollback", repo.main[31])
		r := mustFetch(t, src)
		if r.Commit.Hash != repo.main[30] || fsFiles(t, r)["a.yaml"] != "v: main-30\n" {
			t.Errorf("after a new branch: commit %s", r.Commit.Hash)
		}
	})

	t.Run("in memory", func(t *testing.T) {
		src, err := New(Options{URL: repo.fileURL(), Ref: repo.main[0]})
		if err != nil {
			t.Fatal(err)
		}
		r := mustFetch(t, src)
		if fsFiles(t, r)["a.yaml"] != "v: main-0\n" {
			t.Errorf("a.yaml = %q", fsFiles(t, r)["a.yaml"])
		}
		if again := mustFetch(t, src); !again.Unchanged || again.Stats.Advertisements != 0 {
			t.Errorf("poll: %+v", again.Stats)
		}
	})

	// The first round (26 KB) passes, the second goes past the limit that
	// bounds the search as a whole. Over HTTP, the search follows the
	// server's refusal of a commit no ref reaches.
	for _, tt := range []struct{ name, url, hash string }{
		{"pack limit file", repo.fileURL(), repo.main[0]},
		{"pack limit http", srv.repoURL(repo.testRepo), repo.dangling},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newSource(t, Options{URL: tt.url, Ref: tt.hash, Limits: Limits{MaxPackSize: 40 << 10}})
			e := fetchErr(t, src, ErrTooLarge)
			if !strings.Contains(e.Error(), "commit "+tt.hash) || e.Reason() != string(ReasonInputTooLarge) {
				t.Errorf("error %v", e)
			}
			// Polls while the refs stay put do not search again.
			r, err := src.Fetch(t.Context())
			if !errors.Is(err, ErrTooLarge) || r.Stats.PackRequests != 0 || r.Stats.BytesReceived > 4<<10 {
				t.Errorf("poll: %v, stats %+v", err, r.Stats)
			}
		})
	}
}

// TestPinnedCommitServerAllowsReachable: a server that offers
// allow-reachable-sha1-in-want is asked for the commit alone, at depth 1,
// and its refusal is final (nothing else reaches the commit).
func TestPinnedCommitServerAllowsReachable(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newPinRepo(t, root)
	repo.bareGit("config", "uploadpack.allowReachableSHA1InWant", "true")
	src := newSource(t, Options{URL: repo.fileURL(), Ref: repo.main[0]})
	r := mustFetch(t, src)
	// One commit, its tree and two blobs: about 1 KB of compressed noise.
	if fsFiles(t, r)["a.yaml"] != "v: main-0\n" || r.Stats.PackRequests != 1 || r.Stats.Advertisements != 1 || r.Stats.BytesReceived > 6<<10 {
		t.Errorf("a.yaml %q stats %+v", fsFiles(t, r)["a.yaml"], r.Stats)
	}
	for _, h := range []string{repo.dangling, strings.Repeat("cd", 20)} {
		missing := newSource(t, Options{URL: repo.fileURL(), Ref: h})
		ctx := t.Context()
		r, err := missing.Fetch(ctx)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "commit "+h+" is not reachable from any ref of the remote") {
			t.Errorf("commit %s: error %v", h, err)
		}
		if r.Stats.PackRequests != 1 {
			t.Errorf("commit %s: stats %+v, want the one refused request and no search", h, r.Stats)
		}
	}
}
