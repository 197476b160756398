package main

import (
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/git"
)

// hermeticGit is the environment of every git command of these tests.
var hermeticGit = []string{
	"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
	"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
}

func gitRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), hermeticGit...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// gitExamples puts the examples under gateway/ of a bare repository and
// returns the bare repository's directory and the work tree.
func gitExamples(t *testing.T) (bare, work string) {
	t.Helper()
	root := t.TempDir()
	bare, work = filepath.Join(root, "config.git"), filepath.Join(t.TempDir(), "work")
	gitRun(t, "", "init", "-q", "--bare", "-b", "main", bare)
	gitRun(t, "", "init", "-q", "-b", "main", work)
	copyDir(t, examples(t), filepath.Join(work, "gateway"))
	writeFile(t, work, "README.md", "not configuration\n")
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "gateway configuration")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	return bare, work
}

// TestGitSource: diff and sync load the desired state from a Git URL, over
// file:// and over HTTPS with a bearer token and a CA bundle; a fetch that
// fails writes nothing.
func TestGitSource(t *testing.T) {
	bare, work := gitExamples(t)
	g := newGateway(t)
	url := "file://" + bare
	cache := t.TempDir()

	r := cli(t, g, nil, "diff", "--source", url, "--path", "gateway", "--git-cache-dir", cache)
	if r.code != 2 || !strings.Contains(r.stdout, "to create") {
		t.Fatalf("diff before sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	r = cli(t, g, nil, "sync", "--source", url, "--path", "gateway", "--ref", "main", "--git-cache-dir", cache)
	head := gitRun(t, work, "rev-parse", "HEAD")
	if r.code != 0 || !strings.Contains(r.stdout, "Git repository "+url+" path gateway at main@sha1:"+head) {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	if r = cli(t, g, nil, "diff", "--source", url, "--path", "gateway"); r.code != 0 {
		t.Fatalf("diff after sync (in-memory cache): exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}

	t.Run("https with a token", func(t *testing.T) {
		srv := gitHTTPS(t, filepath.Dir(bare), "tok-canary-7f3a")
		ca := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		tok := filepath.Join(t.TempDir(), "token")
		writeFile(t, filepath.Dir(tok), "token", "tok-canary-7f3a\n")
		args := []string{"diff", "--source", srv.URL + "/config.git", "--path", "gateway", "--git-token-file", tok, "--git-ca-cert-file", ca}
		if r := cli(t, g, nil, args...); r.code != 0 {
			t.Fatalf("diff over https: exit %d\n%s\n%s", r.code, r.stdout, r.err)
		}
		writeFile(t, filepath.Dir(tok), "token", "wrong\n")
		r := cli(t, g, nil, args...)
		if r.code != 1 || !strings.Contains(r.err, "authentication required") || strings.Contains(r.err+r.stdout, "canary") {
			t.Errorf("wrong token: exit %d\n%s", r.code, r.err)
		}
	})

	t.Run("a deleted path writes nothing", func(t *testing.T) {
		gitRun(t, work, "rm", "-q", "-r", "gateway")
		gitRun(t, work, "commit", "-q", "-m", "oops")
		gitRun(t, work, "push", "-q", bare, "HEAD:main")
		g.takeWrites()
		before := g.nonGET()
		r := cli(t, g, nil, "sync", "--source", url, "--path", "gateway", "--git-cache-dir", cache)
		if r.code != 1 || !strings.Contains(r.err, `path "gateway" does not exist`) {
			t.Errorf("sync of a deleted path: exit %d\n%s", r.code, r.err)
		}
		if g.nonGET() != before {
			t.Errorf("%d writes after a failed fetch", g.nonGET()-before)
		}
	})

	t.Run("git flags with a local directory", func(t *testing.T) {
		r := cli(t, g, nil, "diff", "--source", t.TempDir(), "--git-token-file", "x")
		if r.code != 1 || !strings.Contains(r.err, "--git-token-file apply to Git sources") {
			t.Errorf("exit %d\n%s", r.code, r.err)
		}
	})
}

// TestGitSourceVerification: --git-verify refuses an unsigned commit and
// accepts one git signed with a key of the allowed-signers file.
func TestGitSourceVerification(t *testing.T) {
	bare, work := gitExamples(t)
	g := newGateway(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "allowed_signers", "ops@example.com "+string(pub))
	args := []string{"diff", "--source", "file://" + bare, "--path", "gateway",
		"--git-verify", "head", "--git-ssh-allowed-signers-file", filepath.Join(dir, "allowed_signers")}

	r := cli(t, g, nil, args...)
	if r.code != 1 || !strings.Contains(r.err, "is not signed") {
		t.Fatalf("unsigned: exit %d\n%s", r.code, r.err)
	}
	gitRun(t, work, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key, "commit", "-q", "--allow-empty", "-S", "-m", "signed")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	if r := cli(t, g, nil, args...); r.code != 2 {
		t.Fatalf("signed: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	r = cli(t, g, nil, append(args[:len(args)-2], "--git-verify", "always")...)
	if r.code != 1 || !strings.Contains(r.err, "unknown verification mode") {
		t.Errorf("bad mode: exit %d\n%s", r.code, r.err)
	}
}

func TestGitOptions(t *testing.T) {
	env := func(m map[string]string) lookupEnv {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	opts := sourceOptions{
		Source: "git@github.com:org/gateway.git", Ref: "v1.2.0", Path: "prod",
		GitSSHKeyFile: "/keys/id", GitSSHPassFile: "/keys/pass", GitKnownHostsFile: "/keys/known_hosts",
		GitVerifyMode: "tag-and-head", GitPGPKeyringFile: "/keys/ring.asc", GitSSHSignersFile: "/keys/allowed",
	}
	o, err := gitOptions(opts, env(map[string]string{"HOME": "/home/op"}))
	if err != nil {
		t.Fatal(err)
	}
	want := git.Auth{SSHKeyFile: "/keys/id", SSHPassphraseFile: "/keys/pass", KnownHostsFile: "/keys/known_hosts"}
	if o.URL != opts.Source || o.Ref != "v1.2.0" || o.Path != "prod" || !reflect.DeepEqual(o.Auth, want) {
		t.Errorf("options %+v", o)
	}
	if o.Verify != (git.Verification{Mode: git.VerifyTagAndHead, PGPKeyringFile: "/keys/ring.asc", SSHAllowedSignersFile: "/keys/allowed"}) {
		t.Errorf("verification %+v", o.Verify)
	}
	if !strings.HasPrefix(o.CacheDir, "/home/op/.cache/reconciler/git/") {
		t.Errorf("cache %q", o.CacheDir)
	}
	if _, err := git.New(o); err != nil {
		t.Errorf("git.New refuses the mapped options: %v", err)
	}
	https := sourceOptions{Source: "https://h/r.git", GitUsername: "bot", GitPasswordFile: "/pw", GitCACertFile: "/ca", GitTokenFile: ""}
	o, _ = gitOptions(https, env(map[string]string{"XDG_CACHE_HOME": "/var/cache"}))
	if o.Auth != (git.Auth{Username: "bot", PasswordFile: "/pw", CAFile: "/ca"}) || !strings.HasPrefix(o.CacheDir, "/var/cache/reconciler/git/") {
		t.Errorf("https options %+v", o)
	}
	if o, _ := gitOptions(https, env(nil)); o.CacheDir != "" {
		t.Errorf("no HOME: cache %q, want in memory", o.CacheDir)
	}
	other := https
	other.Ref = "dev"
	if cacheKey(https) == cacheKey(other) {
		t.Error("two refs share a cache directory")
	}
	// The Git source reads what the model loads (model.IsConfigFile, tested
	// there against Load itself).
	o, _ = gitOptions(https, env(nil))
	for p, want := range map[string]bool{"a/b.YML": true, "a/.b/c.yaml": false, "README.md": false} {
		if o.Include == nil || o.Include(p) != want {
			t.Errorf("Include(%q) != %v", p, want)
		}
	}
}

// gitHTTPS serves the repositories under root with git http-backend over
// TLS, asking for a bearer token.
func gitHTTPS(t *testing.T, root, token string) *httptest.Server {
	t.Helper()
	execPath := gitRun(t, "", "--exec-path")
	backend := &cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Root:   "/",
		Env:    append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, hermeticGit...),
		Stderr: io.Discard,
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestDeletionGuardOverride (reliability row D1's override, as the
// daemon's): a commit that deletes over the guards is refused;
// --deletion-guard-override lifts them for that commit only — naming
// another commit it deletes nothing — never lifts allow-empty, and a
// directory, which has no commit, refuses it.
func TestDeletionGuardOverride(t *testing.T) {
	bare, work := gitExamples(t)
	g := newGateway(t)
	url := "file://" + bare
	if r := cli(t, g, nil, "sync", "--source", url, "--path", "gateway"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	previous := gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "rm", "-q", "-r", "gateway/services")
	gitRun(t, work, "commit", "-q", "-m", "retire the services")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	head := gitRun(t, work, "rev-parse", "HEAD")

	deletes := func(args ...string) (result, int) {
		before := len(g.em.Requests())
		r := cli(t, g, nil, append([]string{"sync", "--source", url, "--path", "gateway"}, args...)...)
		return r, countRequests(g.em.Requests()[before:]).deletes
	}
	if r, n := deletes(); r.code != 1 || n != 0 || !strings.Contains(r.err, "MaxDeletePercent") {
		t.Fatalf("without the override: exit %d, %d deletes\n%s", r.code, n, r.err)
	}
	if r, n := deletes("--deletion-guard-override", previous); r.code != 1 || n != 0 || !strings.Contains(r.err, "not this one, and the delete guards apply") {
		t.Fatalf("the override of another commit: exit %d, %d deletes\n%s", r.code, n, r.err)
	}
	// 3 services (each with its upstream, on APISIX), 6 routes, 1 extra upstream.
	if r, n := deletes("--deletion-guard-override", strings.ToUpper(head)); r.code != 0 || n != 13 || !strings.Contains(r.err, "lifted for commit "+head) {
		t.Fatalf("the override of this commit: exit %d, %d deletes, want 13\n%s", r.code, n, r.err)
	}
	// An empty desired state stays guarded by allow-empty.
	gitRun(t, work, "rm", "-q", "-r", "gateway")
	writeFile(t, work, "gateway/empty.yaml", "services: []\n")
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "empty")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	empty := gitRun(t, work, "rev-parse", "HEAD")
	if r, n := deletes("--deletion-guard-override", empty); r.code != 1 || n != 0 || !strings.Contains(r.err, "EmptyDesired") {
		t.Fatalf("the override of an empty commit: exit %d, %d deletes\n%s", r.code, n, r.err)
	}

	dir := t.TempDir()
	writeFile(t, dir, "x.yaml", "services: []\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", dir, "--deletion-guard-override", head}, "applies to Git sources"},
		{[]string{"--source", url, "--path", "gateway", "--deletion-guard-override", head[:12]}, "want the full hash"},
	} {
		before := g.nonGET()
		r := cli(t, g, nil, append([]string{"sync"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.err, tc.want) || g.nonGET() != before {
			t.Errorf("sync %v: exit %d, %d writes\n%s", tc.args, r.code, g.nonGET()-before, r.err)
		}
	}
}

// TestDeletionGuardOverrideFromConfig: sync --config/--target takes the
// target's sync.deletionGuardOverride when the flag is not given, with the
// flag's meaning: that commit's plan may delete past the guards.
func TestDeletionGuardOverrideFromConfig(t *testing.T) {
	bare, work := gitExamples(t)
	g := newGateway(t)
	url := "file://" + bare
	if r := cli(t, g, nil, "sync", "--source", url, "--path", "gateway"); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	previous := gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "rm", "-q", "-r", "gateway/services")
	gitRun(t, work, "commit", "-q", "-m", "retire the services")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	head := gitRun(t, work, "rev-parse", "HEAD")
	withOverride := func(commit string) string {
		dir := t.TempDir()
		writeFile(t, dir, "token", testToken)
		writeFile(t, dir, "reconciler.yaml", `targets:
  - name: prod
    source: {url: `+url+`, path: gateway}
    gateway: {server: `+g.srv.URL+`, tokenFile: `+filepath.Join(dir, "token")+`}
    sync: {prune: true, deletionGuardOverride: `+commit+`}
`)
		return filepath.Join(dir, "reconciler.yaml")
	}
	sync := func(cfg string) (result, int) {
		before := len(g.em.Requests())
		r := cli(t, g, nil, "sync", "--source", url, "--path", "gateway", "--config", cfg, "--target", "prod")
		return r, countRequests(g.em.Requests()[before:]).deletes
	}
	if r, n := sync(withOverride(previous)); r.code != 1 || n != 0 || !strings.Contains(r.err, "not this one") {
		t.Fatalf("the target's override of another commit: exit %d, %d deletes\n%s", r.code, n, r.err)
	}
	if r, n := sync(withOverride(head)); r.code != 0 || n != 13 || !strings.Contains(r.err, "lifted for commit "+head) {
		t.Fatalf("the target's override of this commit: exit %d, %d deletes, want 13\n%s", r.code, n, r.err)
	}
}

// TestGitSourcePinnedCommit: --ref with the full hash of a commit that is no
// longer a branch's tip (a rollback) loads that commit from a server that
// hands out only its tips (git upload-pack's default over file://), and a
// commit no branch or tag reaches is an error naming it.
func TestGitSourcePinnedCommit(t *testing.T) {
	bare, work := gitExamples(t)
	g := newGateway(t)
	url := "file://" + bare
	pinned := gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "rm", "-q", "-r", "gateway/services")
	gitRun(t, work, "commit", "-q", "-m", "retire the services")
	gitRun(t, work, "commit", "-q", "--allow-empty", "-m", "later")
	gitRun(t, work, "push", "-q", bare, "HEAD:main")
	cache := t.TempDir()

	r := cli(t, g, nil, "sync", "--source", url, "--path", "gateway", "--ref", pinned, "--git-cache-dir", cache)
	if r.code != 0 || !strings.Contains(r.stdout, "Git repository "+url+" path gateway at sha1:"+pinned) {
		t.Fatalf("sync of the pinned commit: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	// The services the tip retired are there: the pinned commit was applied.
	if r := cli(t, g, nil, "diff", "--source", url, "--path", "gateway", "--ref", pinned, "--git-cache-dir", cache); r.code != 0 {
		t.Fatalf("diff against the pinned commit after its sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	if r := cli(t, g, nil, "diff", "--source", url, "--path", "gateway"); r.code != 2 {
		t.Fatalf("diff against the tip, which retired the services: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}

	missing := strings.Repeat("0123456789", 4)
	before := g.nonGET()
	r = cli(t, g, nil, "sync", "--source", url, "--path", "gateway", "--ref", missing)
	if r.code != 1 || !strings.Contains(r.err, "commit "+missing+" is not in the history of any branch or tag") || g.nonGET() != before {
		t.Errorf("sync of a commit no ref reaches: exit %d, %d writes\n%s", r.code, g.nonGET()-before, r.err)
	}
}
