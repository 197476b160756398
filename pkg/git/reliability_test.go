package git

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// observed returns a logger that records everything.
func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(core), logs
}

// logText renders every recorded entry with its fields.
func logText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "%s %s %v\n", e.Level, e.Message, e.ContextMap())
	}
	return b.String()
}

// TestG1ServerFailures: server errors, a hanging server, a server that is
// down, a deleted branch and a deleted path are typed errors; the Source
// keeps its last good commit and recovers.
func TestG1ServerFailures(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "g1")
	good := repo.commitFiles("good", map[string]string{"cfg/adc.yaml": "a: 1\n", "other/x.yaml": "x: 1\n"})
	srv := newHTTPServer(t, root, false)
	src := newSource(t, Options{URL: srv.repoURL(repo), Path: "cfg", Timeout: 2 * time.Second})
	mustFetch(t, src)

	t.Run("5xx", func(t *testing.T) {
		for _, code := range []int{500, 502, 503} {
			srv.set(func(s *httpServer) { s.status = code })
			e := fetchErr(t, src, ErrUnavailable)
			if e.Reason() != "FetchFailed" || !strings.Contains(e.Error(), fmt.Sprint(code)) {
				t.Errorf("%d: %v (reason %s)", code, e, e.Reason())
			}
		}
		srv.set(func(s *httpServer) { s.status = 0 })
	})

	t.Run("hang gives GitTimeout", func(t *testing.T) {
		srv.set(func(s *httpServer) { s.hang = true })
		short := newSource(t, Options{URL: srv.repoURL(repo), Path: "cfg", Timeout: 300 * time.Millisecond})
		e := fetchErr(t, short, ErrTimeout)
		<-srv.hung // the request did reach the server
		if e.Reason() != "GitTimeout" || !errors.Is(e, context.DeadlineExceeded) {
			t.Errorf("%v (reason %s)", e, e.Reason())
		}
		srv.set(func(s *httpServer) { s.hang = false })
	})

	t.Run("recovers with the last good commit", func(t *testing.T) {
		r := mustFetch(t, src)
		if !r.Unchanged || r.Commit.Hash != good {
			t.Errorf("after the outage: unchanged=%v commit=%s", r.Unchanged, r.Commit.Hash)
		}
	})

	t.Run("deleted path", func(t *testing.T) {
		repo.git("rm", "-q", "-r", "cfg")
		repo.commit("remove the path")
		e := fetchErr(t, src, ErrNotFound)
		if !strings.Contains(e.Error(), `"cfg" does not exist`) {
			t.Errorf("%v", e)
		}
		repo.git("reset", "-q", "--hard", good)
		repo.git("push", "-q", "-f", "origin", "HEAD:main")
	})

	t.Run("deleted branch", func(t *testing.T) {
		repo.git("push", "-q", "origin", "HEAD:refs/heads/keep")
		repo.bareGit("update-ref", "-d", "refs/heads/main")
		e := fetchErr(t, newSource(t, Options{URL: srv.repoURL(repo), Ref: "main"}), ErrNotFound)
		if !strings.Contains(e.Error(), "refs/heads/main not found") && !strings.Contains(e.Error(), `"main"`) {
			t.Errorf("%v", e)
		}
		// With the default ref the remote HEAD now dangles.
		fetchErr(t, src, ErrNotFound)
		repo.git("push", "-q", "-f", "origin", "HEAD:main")
	})

	t.Run("repository missing", func(t *testing.T) {
		e := fetchErr(t, newSource(t, Options{URL: srv.URL + "/nothing.git"}), ErrNotFound)
		if e.Reason() != "FetchFailed" {
			t.Errorf("%v (reason %s)", e, e.Reason())
		}
	})

	t.Run("server down", func(t *testing.T) {
		srv.Close()
		e := fetchErr(t, src, ErrUnavailable)
		if e.Reason() != "FetchFailed" {
			t.Errorf("%v (reason %s)", e, e.Reason())
		}
	})
}

// TestG1OtherTransports: refused connections, missing repositories and a
// silent SSH server over the stream transports.
func TestG1OtherTransports(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "g1s")
	repo.commitFiles("c", map[string]string{"a.yaml": "a: 1\n"})

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()
	fetchErr(t, newSource(t, Options{URL: "git://" + deadAddr + "/g1s.git"}), ErrUnavailable)

	daemon := startGitDaemon(t, root)
	e := fetchErr(t, newSource(t, Options{URL: "git://" + daemon.addr() + "/missing.git"}), ErrNotFound)
	if e.Reason() != "FetchFailed" {
		t.Errorf("%v", e)
	}
	fetchErr(t, newSource(t, Options{URL: "file://" + filepath.Join(root, "missing.git")}), ErrNotFound)

	t.Run("ssh server that never speaks", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var conns []net.Conn
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			ln.Close()
			wg.Wait()
			for _, c := range conns {
				c.Close()
			}
		})
		dir := t.TempDir()
		key := sshKeygen(t, dir, "k", "ed25519")
		kh := writeFile(t, filepath.Join(dir, "kh"), "")
		src := newSource(t, Options{URL: "ssh://git@" + ln.Addr().String() + "/repo.git", Timeout: 300 * time.Millisecond,
			Auth: Auth{SSHKeyFile: key, KnownHostsFile: kh}})
		if e := fetchErr(t, src, ErrTimeout); e.Reason() != "GitTimeout" {
			t.Errorf("%v", e)
		}
	})

	t.Run("ssh repository missing", func(t *testing.T) {
		srv := startSSHD(t, "ed25519", "ed25519")
		src := newSource(t, Options{URL: "ssh://" + srv.user + "@" + srv.addr() + filepath.Join(root, "missing.git"),
			Auth: Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: srv.knownHosts}})
		if e := fetchErr(t, src, ErrNotFound); !strings.Contains(e.Error(), "not appear to be a git repository") {
			t.Errorf("%v", e)
		}
	})
}

// TestG2Authentication: refused credentials are GitAuthenticationFailed,
// distinct from network errors; credential files are re-read, so rotation
// needs no restart; no credential appears in errors or logs.
func TestG2Authentication(t *testing.T) {
	t.Parallel()
	const canary = "canary-Zq8!x/y+z=secret"
	root := t.TempDir()
	repo := newTestRepo(t, root, "g2")
	repo.commitFiles("c", map[string]string{"a.yaml": "a: 1\n"})
	leaks := func(t *testing.T, text string) {
		t.Helper()
		for _, form := range []string{
			canary,
			base64.StdEncoding.EncodeToString([]byte(canary)),
			base64.StdEncoding.EncodeToString([]byte("alice:" + canary)),
			url.QueryEscape(canary),
			url.PathEscape(canary),
		} {
			if strings.Contains(text, form) {
				t.Errorf("credential leaked (%q) in: %s", form, text)
			}
		}
	}

	t.Run("wrong password", func(t *testing.T) {
		srv := newHTTPServer(t, root, false)
		srv.set(func(s *httpServer) { s.user, s.password = "alice", "right" })
		pw := writeFile(t, filepath.Join(t.TempDir(), "pw"), canary+"\n")
		log, logs := observed()
		src := newSource(t, Options{URL: srv.repoURL(repo), Auth: Auth{Username: "alice", PasswordFile: pw}, Logger: log.Named("git")})
		e := fetchErr(t, src, ErrAuthentication)
		if e.Reason() != "GitAuthenticationFailed" || errors.Is(e, ErrUnavailable) {
			t.Errorf("%v (reason %s)", e, e.Reason())
		}
		leaks(t, fmt.Sprintf("%v %+v %#v", e, e, e))
		leaks(t, logText(logs))
		// The file is re-read: fixing it fixes the next fetch.
		writeFile(t, pw, "right\n")
		mustFetch(t, src)
	})

	t.Run("rotated token", func(t *testing.T) {
		srv := newHTTPServer(t, root, true)
		srv.set(func(s *httpServer) { s.token = "token-A" })
		tok := writeFile(t, filepath.Join(t.TempDir(), "token"), "token-A")
		src := newSource(t, Options{URL: srv.repoURL(repo), Auth: Auth{TokenFile: tok, CAFile: srv.caFile(t)}})
		mustFetch(t, src)
		srv.set(func(s *httpServer) { s.token = canary })
		e := fetchErr(t, src, ErrAuthentication)
		leaks(t, e.Error())
		writeFile(t, tok, canary+"\n")
		r := mustFetch(t, src)
		if !r.Unchanged {
			t.Error("the fetch after rotation should find the same commit")
		}
		writeFile(t, tok, "  \n")
		if e := fetchErr(t, src, ErrAuthentication); !strings.Contains(e.Error(), "is empty") {
			t.Errorf("empty token file: %v", e)
		}
		os.Remove(tok)
		fetchErr(t, src, ErrAuthentication)
	})

	t.Run("untrusted TLS certificate", func(t *testing.T) {
		srv := newHTTPServer(t, root, true)
		e := fetchErr(t, newSource(t, Options{URL: srv.repoURL(repo)}), ErrAuthentication)
		if !strings.Contains(e.Error(), "certificate") {
			t.Errorf("%v", e)
		}
		mustFetch(t, newSource(t, Options{URL: srv.repoURL(repo), Auth: Auth{CAFile: srv.caFile(t)}}))
	})

	t.Run("ssh", func(t *testing.T) {
		srv := startSSHD(t, "ed25519", "ed25519")
		url := srv.repoURL(repo)
		other := sshKeygen(t, t.TempDir(), "other", "ed25519")
		otherPub := strings.Fields(readFile(t, other+".pub"))
		_, port, _ := net.SplitHostPort(srv.addr())
		wrongHost := writeFile(t, filepath.Join(t.TempDir(), "kh"), "[127.0.0.1]:"+port+" "+otherPub[0]+" "+otherPub[1]+"\n")
		emptyHosts := writeFile(t, filepath.Join(t.TempDir(), "kh-empty"), "")
		for _, tt := range []struct {
			name string
			auth Auth
			want string
		}{
			{"host key mismatch", Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: wrongHost}, "knownhosts"},
			{"unknown host", Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: emptyHosts}, "knownhosts"},
			{"unauthorized key", Auth{SSHKeyFile: other, KnownHostsFile: srv.knownHosts}, "unable to authenticate"},
			{"missing known_hosts", Auth{SSHKeyFile: srv.clientKey, KnownHostsFile: filepath.Join(srv.dir, "none")}, "known_hosts"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := fetchErr(t, newSource(t, Options{URL: url, Auth: tt.auth}), ErrAuthentication)
				if !strings.Contains(e.Error(), tt.want) || e.Reason() != "GitAuthenticationFailed" {
					t.Errorf("%v (reason %s), want %q", e, e.Reason(), tt.want)
				}
			})
		}
		t.Run("encrypted key", func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "enc")
			if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", canary, "-f", key).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
			f, err := os.OpenFile(filepath.Join(srv.dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(readFile(t, key+".pub"))
			f.Close()
			pass := writeFile(t, filepath.Join(dir, "pass"), "wrong\n")
			log, logs := observed()
			src := newSource(t, Options{URL: url, Auth: Auth{SSHKeyFile: key, SSHPassphraseFile: pass, KnownHostsFile: srv.knownHosts}, Logger: log})
			e := fetchErr(t, src, ErrAuthentication)
			leaks(t, fmt.Sprintf("%v %+v %#v", e, e, e))
			writeFile(t, pass, canary+"\n")
			mustFetch(t, src)
			// The passphrase changed again, wrongly: the error and the log
			// still show neither.
			writeFile(t, pass, canary+"-other\n")
			leaks(t, fetchErr(t, src, ErrAuthentication).Error())
			leaks(t, logText(logs))
			nopass := newSource(t, Options{URL: url, Auth: Auth{SSHKeyFile: key, KnownHostsFile: srv.knownHosts}})
			if e := fetchErr(t, nopass, ErrAuthentication); !strings.Contains(e.Error(), "passphrase") {
				t.Errorf("%v", e)
			}
		})
	})

	t.Run("password in URL refused", func(t *testing.T) {
		_, err := New(Options{URL: "https://alice:" + canary + "@example.com/r.git"})
		if err == nil {
			t.Fatal("accepted")
		}
		leaks(t, err.Error())
	})
}

// TestG3ForcePush: the Source follows a force-push and reports it; a
// fast-forward of several commits is not reported, whatever the depth of
// the cached history.
func TestG3ForcePush(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "g3")
	base := repo.commitFiles("base", map[string]string{"a.yaml": "v: 0\n"})
	srv := newHTTPServer(t, root, false)
	log, logs := observed()
	src := newSource(t, Options{URL: srv.repoURL(repo), Logger: log})
	mustFetch(t, src)

	// One commit: the new commit's parent is the old tip.
	one := repo.commitFiles("one", map[string]string{"a.yaml": "v: 1\n"})
	r := mustFetch(t, src)
	if r.Rewritten || r.Previous != base || r.Stats.PackRequests != 1 {
		t.Errorf("one commit: rewritten=%v previous=%s stats %+v", r.Rewritten, r.Previous, r.Stats)
	}

	// Three commits: the shallow fetch cannot tell; one probe can.
	for i := 2; i <= 4; i++ {
		repo.commitFiles(fmt.Sprint("c", i), map[string]string{"a.yaml": fmt.Sprintf("v: %d\n", i)})
	}
	r = mustFetch(t, src)
	if r.Rewritten || r.Previous != one || r.Stats.PackRequests != 2 || fsFiles(t, r)["a.yaml"] != "v: 4\n" {
		t.Errorf("fast-forward of 3: rewritten=%v previous=%s stats %+v", r.Rewritten, r.Previous, r.Stats)
	}
	ff := r.Commit.Hash

	// Amend the tip: its parent is the old tip's parent.
	repo.write(map[string]string{"a.yaml": "v: amended\n"})
	repo.git("add", "-A")
	repo.git("commit", "-q", "--amend", "-m", "amended")
	repo.git("push", "-q", "-f", "origin", "HEAD:main")
	r = mustFetch(t, src)
	if !r.Rewritten || r.Previous != ff || fsFiles(t, r)["a.yaml"] != "v: amended\n" {
		t.Errorf("amend: rewritten=%v previous=%s", r.Rewritten, r.Previous)
	}
	if !strings.Contains(logText(logs), "history rewritten") {
		t.Errorf("no log line for the rewrite:\n%s", logText(logs))
	}
	if strings.Contains(logText(logs), "cache damaged") {
		t.Errorf("deepening the history to check ancestry damaged the cache:\n%s", logText(logs))
	}
	amended := r.Commit.Hash
	// The rewrite is reported once, by the fetch that found the ref
	// moved: polls of the same tip are plain no-change polls.
	for range 2 {
		r = mustFetch(t, src)
		if !r.Unchanged || r.Rewritten || r.Previous != amended || r.Stats.PackRequests != 0 {
			t.Errorf("poll after the amend: unchanged=%v rewritten=%v previous=%s stats %+v", r.Unchanged, r.Rewritten, r.Previous, r.Stats)
		}
	}

	// An unrelated history, force-pushed.
	repo.git("checkout", "-q", "--orphan", "fresh")
	repo.git("rm", "-q", "-r", "-f", ".")
	repo.commitFiles("unrelated 1", map[string]string{"b.yaml": "b: 1\n"})
	repo.commitFiles("unrelated 2", map[string]string{"b.yaml": "b: 2\n"})
	repo.git("push", "-q", "-f", "origin", "fresh:main")
	r = mustFetch(t, src)
	if !r.Rewritten || r.Previous != amended {
		t.Errorf("unrelated history: rewritten=%v previous=%s", r.Rewritten, r.Previous)
	}
	if got := sortedKeys(fsFiles(t, r)); strings.Join(got, ",") != "b.yaml" {
		t.Errorf("files after the force-push: %v", got)
	}
	unrelated := r.Commit.Hash

	// A restarted process remembers the last good commit in its cache.
	repo.git("checkout", "-q", "-B", "main", base)
	repo.commitFiles("back on the old line", map[string]string{"a.yaml": "v: back\n"})
	cold := newSource(t, Options{URL: srv.repoURL(repo), CacheDir: src.opts.CacheDir})
	r = mustFetch(t, cold)
	if !r.Rewritten || r.Previous != unrelated {
		t.Errorf("after restart: rewritten=%v previous=%s", r.Rewritten, r.Previous)
	}
}

// TestG3RefuseRewrite: with HistoryRefuse a force-push fails every fetch
// with HistoryRewritten — also after more commits on top of it and after a
// restart — until the branch is restored or AcceptRewrite names the tip.
// The acknowledgement is spent once taken: the next force-push is refused.
func TestG3RefuseRewrite(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "g3refuse")
	repo.commitFiles("base", map[string]string{"a.yaml": "v: 0\n"})
	good := repo.commitFiles("good", map[string]string{"a.yaml": "v: 1\n"})
	srv := newHTTPServer(t, root, false)
	cache := filepath.Join(t.TempDir(), "cache")
	log, logs := observed()
	open := func(accept string) *Source {
		return newSource(t, Options{URL: srv.repoURL(repo), CacheDir: cache, History: HistoryRefuse, AcceptRewrite: accept, Logger: log})
	}
	src := open("")
	mustFetch(t, src)

	refused := func(s *Source, tip string) Stats {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r, err := s.Fetch(ctx)
		var e *Error
		var rw *RewriteError
		if !errors.As(err, &e) || !errors.Is(err, ErrHistoryRewritten) || !errors.As(err, &rw) || r.Files != nil {
			t.Fatalf("fetch of %s: %v (files %v), want ErrHistoryRewritten", tip[:7], err, r.Files != nil)
		}
		if e.Reason() != string(ReasonHistoryRewritten) || rw.Previous != good || rw.Commit != tip || rw.Revision != "main@sha1:"+tip {
			t.Errorf("refusal: reason %s, %+v", e.Reason(), rw)
		}
		return r.Stats
	}

	// An amended tip is refused, and so is every poll of it, cheaply.
	repo.write(map[string]string{"a.yaml": "v: amended\n"})
	repo.git("add", "-A")
	repo.git("commit", "-q", "--amend", "-m", "amended")
	repo.git("push", "-q", "-f", "origin", "HEAD:main")
	amended := repo.git("rev-parse", "HEAD")
	refused(src, amended)
	if st := refused(src, amended); st.Advertisements != 1 || st.PackRequests != 0 {
		t.Errorf("poll of the refused tip: %+v, want one advertisement", st)
	}
	if n := strings.Count(logText(logs), "refusing the new commit"); n != 1 {
		t.Errorf("the refusal of one tip is logged %d times, want once:\n%s", n, logText(logs))
	}
	// A commit on top of the refused history does not launder it.
	onTop := repo.commitFiles("on top", map[string]string{"a.yaml": "v: 2\n"})
	refused(src, onTop)
	// Nor does a restart: the last good commit is in the cache.
	src = open("")
	refused(src, onTop)

	// Accepting the amended commit does nothing for the tip on top of it.
	src = open(amended)
	refused(src, onTop)
	// Accepting the tip takes it, reported as a rewrite, once.
	src = open(onTop)
	r := mustFetch(t, src)
	if r.Commit.Hash != onTop || !r.Rewritten || r.Previous != good || fsFiles(t, r)["a.yaml"] != "v: 2\n" {
		t.Errorf("accepted: commit %s rewritten=%v previous=%s", r.Commit.Hash[:7], r.Rewritten, r.Previous)
	}
	if r = mustFetch(t, src); !r.Unchanged || r.Rewritten {
		t.Errorf("poll after the acceptance: unchanged=%v rewritten=%v", r.Unchanged, r.Rewritten)
	}
	// Commits on top of the accepted one are taken.
	next := repo.commitFiles("next", map[string]string{"a.yaml": "v: 3\n"})
	if r = mustFetch(t, src); r.Commit.Hash != next || r.Rewritten {
		t.Errorf("fast-forward after the acceptance: commit %s rewritten=%v", r.Commit.Hash[:7], r.Rewritten)
	}
	// The acknowledgement is spent: going back to before it is a new
	// rewrite, refused.
	repo.git("reset", "-q", "--hard", good)
	repo.git("push", "-q", "-f", "origin", "HEAD:main")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := src.Fetch(ctx); !errors.Is(err, ErrHistoryRewritten) {
		t.Errorf("a second force-push with a spent acknowledgement: %v", err)
	}
	// Restoring the branch (its tip descends from the last good commit
	// again) ends the refusal without any acknowledgement.
	repo.git("reset", "-q", "--hard", next)
	restored := repo.commitFiles("restored", map[string]string{"a.yaml": "v: 4\n"})
	if r = mustFetch(t, src); r.Commit.Hash != restored || r.Rewritten || r.Previous != next {
		t.Errorf("restored: commit %s rewritten=%v previous=%s", r.Commit.Hash[:7], r.Rewritten, r.Previous)
	}
}

func TestHistoryOptions(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("a", 40)
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown policy", Options{History: "ignore"}, "history policy"},
		{"acceptance while following", Options{AcceptRewrite: hash}, "means nothing"},
		{"short hash", Options{History: HistoryRefuse, AcceptRewrite: "abc1234"}, "full 40-digit"},
		{"not hex", Options{History: HistoryRefuse, AcceptRewrite: strings.Repeat("z", 40)}, "full 40-digit"},
	} {
		tt.o.URL = "https://git.example.com/r.git"
		if _, err := New(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := New(Options{URL: "https://git.example.com/r.git", History: HistoryRefuse, AcceptRewrite: strings.ToUpper(hash)}); err != nil {
		t.Errorf("an upper-case hash: %v", err)
	}
}

func TestWalkAncestry(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	repo := newTestRepo(t, root, "walk")
	a := repo.commitFiles("a", map[string]string{"x": "1"})
	b := repo.commitFiles("b", map[string]string{"x": "2"})
	repo.git("checkout", "-q", "-b", "side", a)
	c := repo.commitFiles("c", map[string]string{"y": "1"})
	repo.git("checkout", "-q", "main")
	repo.git("merge", "-q", "--no-edit", "side")
	repo.git("push", "-q", "origin", "main")
	m := repo.git("rev-parse", "HEAD")
	st := openBare(t, repo.bare)
	h := hashOf
	for _, tt := range []struct {
		old, new        string
		found, complete bool
	}{
		{a, m, true, true},
		{b, m, true, true},
		{c, m, true, true},
		{m, a, false, true},
		{b, c, false, true},
		{strings.Repeat("1", 40), m, false, true},
	} {
		found, complete := walkAncestry(st, h(tt.old), h(tt.new))
		if found != tt.found || complete != tt.complete {
			t.Errorf("walk %s..%s = %v %v, want %v %v", tt.old[:7], tt.new[:7], found, complete, tt.found, tt.complete)
		}
	}
}
