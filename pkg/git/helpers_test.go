package git

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	objcache "github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// --- repositories built with the git CLI ---

// testRepo is a bare repository under a served root, with a work tree to
// build commits in.
type testRepo struct {
	t    testing.TB
	root string // directory the servers export
	name string // "name.git"
	bare string
	work string
}

func newTestRepo(t testing.TB, root, name string) *testRepo {
	t.Helper()
	r := &testRepo{t: t, root: root, name: name + ".git", bare: filepath.Join(root, name+".git"), work: filepath.Join(t.TempDir(), name)}
	runGit(t, "", "init", "-q", "--bare", "-b", "main", r.bare)
	runGit(t, "", "init", "-q", "-b", "main", r.work)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// runGit runs git hermetically (TestMain set the environment) and returns
// its trimmed output.
func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return runGit(r.t, r.work, args...)
}

// write sets files in the work tree; an empty content removes the file.
func (r *testRepo) write(files map[string]string) {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// commit commits everything and force-pushes the work tree's branch.
func (r *testRepo) commit(msg string, extra ...string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git(append([]string{"commit", "-q", "--allow-empty", "-m", msg}, extra...)...)
	branch := r.git("rev-parse", "--abbrev-ref", "HEAD")
	r.git("push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return r.git("rev-parse", "HEAD")
}

// commitFiles writes files and commits them.
func (r *testRepo) commitFiles(msg string, files map[string]string) string {
	r.t.Helper()
	r.write(files)
	return r.commit(msg)
}

// bareGit runs git in the bare repository.
func (r *testRepo) bareGit(args ...string) string {
	r.t.Helper()
	return runGit(r.t, r.bare, args...)
}

// fileURL is the repository's file:// URL.
func (r *testRepo) fileURL() string { return "file://" + r.bare }

// --- smart HTTP: git http-backend behind net/http/cgi ---

// httpServer serves every repository under root through git http-backend,
// with optional basic or bearer authentication, failure injection and
// request counters.
type httpServer struct {
	*httptest.Server
	root string

	mu       sync.Mutex
	user     string // basic auth when user != ""
	password string
	token    string // bearer auth when token != ""
	status   int    // when non-zero, every request gets this status
	hang     bool   // when true, requests wait for the client to give up

	infoRefs    atomic.Int64
	uploadPacks atomic.Int64
	packBytes   atomic.Int64 // bytes of upload-pack responses
	hung        chan struct{}
}

func gitExecPath(t testing.TB) string {
	t.Helper()
	return runGit(t, "", "--exec-path")
}

func newHTTPServer(t testing.TB, root string, tlsOn bool) *httpServer {
	t.Helper()
	s := &httpServer{root: root, hung: make(chan struct{}, 16)}
	backend := &cgi.Handler{
		Path: filepath.Join(gitExecPath(t), "git-http-backend"),
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_CONFIG_NOSYSTEM=1",
		},
		Stderr: io.Discard,                 // "Not a git repository" for the missing-repository cases
		Logger: log.New(io.Discard, "", 0), // copy errors when a limit cuts a response short
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		user, password, token, status, hang := s.user, s.password, s.token, s.status, s.hang
		s.mu.Unlock()
		if hang {
			s.hung <- struct{}{}
			<-req.Context().Done()
			return
		}
		if status != 0 {
			http.Error(w, "injected failure", status)
			return
		}
		switch {
		case token != "":
			got := req.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		case user != "":
			u, p, ok := req.BasicAuth()
			if !ok || u != user || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case strings.HasSuffix(req.URL.Path, "/info/refs"):
			s.infoRefs.Add(1)
			backend.ServeHTTP(w, req)
		case strings.HasSuffix(req.URL.Path, "/git-upload-pack"):
			s.uploadPacks.Add(1)
			backend.ServeHTTP(&countingWriter{ResponseWriter: w, n: &s.packBytes}, req)
		default:
			http.NotFound(w, req)
		}
	})
	s.Server = httptest.NewUnstartedServer(h)
	// Refused certificates are what some tests are about.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *httpServer) set(f func(s *httpServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *httpServer) resetCounters() {
	s.infoRefs.Store(0)
	s.uploadPacks.Store(0)
	s.packBytes.Store(0)
}

func (s *httpServer) repoURL(r *testRepo) string { return s.URL + "/" + r.name }

// caFile writes the server's certificate as a PEM CA bundle.
func (s *httpServer) caFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// --- inetd-style servers: git daemon and sshd on a loopback listener ---

// inetdServer accepts loopback connections and hands each to a new process
// as its stdin and stdout, as inetd does: the real git daemon and sshd
// serve them, and the port is the listener's own (no race for a free port).
type inetdServer struct {
	ln    net.Listener
	conns atomic.Int64
	wg    sync.WaitGroup

	mu    sync.Mutex
	procs []*exec.Cmd
	logs  bytes.Buffer
}

func startInetd(t testing.TB, command func() *exec.Cmd) *inetdServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &inetdServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			f, err := conn.(*net.TCPConn).File()
			_ = conn.Close()
			if err != nil {
				continue
			}
			cmd := command()
			cmd.Stdin, cmd.Stdout = f, f
			s.mu.Lock()
			cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.logs}
			s.mu.Unlock()
			if err := cmd.Start(); err != nil {
				_ = f.Close()
				continue
			}
			_ = f.Close()
			s.mu.Lock()
			s.procs = append(s.procs, cmd)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_ = cmd.Wait()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for _, p := range s.procs {
			_ = p.Process.Kill() // they have normally exited already
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *inetdServer) addr() string { return s.ln.Addr().String() }

func (s *inetdServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// startGitDaemon serves root over git:// with the real git daemon.
func startGitDaemon(t testing.TB, root string) *inetdServer {
	t.Helper()
	return startInetd(t, func() *exec.Cmd {
		return exec.Command("git", "daemon", "--inetd", "--export-all", "--base-path="+root,
			"--informative-errors", "--log-destination=stderr")
	})
}

// sshServer is a real sshd (inetd mode) with generated host keys and one
// authorized client key.
type sshServer struct {
	*inetdServer
	dir        string
	user       string
	hostPub    map[string]string // key type → public key line
	knownHosts string            // known_hosts file trusting the host key
	clientKey  string            // private key file of the authorized client
}

func sshdPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/sshd", "/usr/local/sbin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	t.Skip("sshd is not installed (apt-get install openssh-server): skipping SSH tests")
	return ""
}

// sshKeygen generates a key pair of the given type ("ed25519", "ecdsa",
// "rsa") and returns the private key's path.
func sshKeygen(t testing.TB, dir, name, typ string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	args := []string{"-q", "-t", typ, "-N", "", "-C", name, "-f", p}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	out, err := exec.Command("ssh-keygen", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return p
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, p, content string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startSSHD starts sshd with a host key of hostKeyType and a client key of
// clientKeyType.
func startSSHD(t testing.TB, hostKeyType, clientKeyType string) *sshServer {
	t.Helper()
	sshd := sshdPath(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege separation directory,
		// which the package's service normally creates at boot.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshd needs /run/sshd: %v", err)
		}
	} else if sh := loginShell(u.Uid); strings.HasSuffix(sh, "/nologin") || strings.HasSuffix(sh, "/false") {
		// Without root, sshd can only log in as this user, through its
		// login shell.
		t.Skipf("user %s has the login shell %s, which cannot run git-upload-pack over SSH: skipping SSH tests", u.Username, sh)
	}
	dir := t.TempDir()
	hostKey := sshKeygen(t, dir, "host_"+hostKeyType, hostKeyType)
	clientKey := sshKeygen(t, dir, "client_"+clientKeyType, clientKeyType)
	authorized := writeFile(t, filepath.Join(dir, "authorized_keys"), readFile(t, clientKey+".pub"))
	cfg := writeFile(t, filepath.Join(dir, "sshd_config"), strings.Join([]string{
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized,
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"PidFile none",
		"LogLevel ERROR",
		"AllowUsers " + u.Username,
		"SetEnv GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null",
		"",
	}, "\n"))
	if out, err := exec.Command(sshd, "-t", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("sshd -t: %v\n%s", err, out)
	}
	srv := startInetd(t, func() *exec.Cmd { return exec.Command(sshd, "-i", "-e", "-f", cfg) })
	hostPub := strings.Fields(readFile(t, hostKey+".pub"))
	_, port, _ := net.SplitHostPort(srv.addr())
	known := writeFile(t, filepath.Join(dir, "known_hosts"), "[127.0.0.1]:"+port+" "+hostPub[0]+" "+hostPub[1]+"\n")
	return &sshServer{
		inetdServer: srv,
		dir:         dir,
		user:        u.Username,
		hostPub:     map[string]string{hostKeyType: hostPub[0] + " " + hostPub[1]},
		knownHosts:  known,
		clientKey:   clientKey,
	}
}

// loginShell returns the login shell of the user uid from /etc/passwd, ""
// when it is not there.
func loginShell(uid string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[2] == uid {
			return f[6]
		}
	}
	return ""
}

func (s *sshServer) repoURL(r *testRepo) string {
	return "ssh://" + s.user + "@" + s.addr() + r.bare
}

// --- assertions ---

// fsFiles returns every file of fsys with its content.
func fsFiles(t testing.TB, r Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	tf, ok := r.Files.(*treeFS)
	if !ok {
		t.Fatalf("Files is %T", r.Files)
	}
	for p, f := range tf.files {
		out[p] = string(f.data)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mustFetch fetches and fails the test on error.
func mustFetch(t testing.TB, s *Source) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	return r
}

// fetchErr fetches and expects an error of the given class.
func fetchErr(t testing.TB, s *Source, class error) *Error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Fetch(ctx)
	if err == nil {
		t.Fatalf("Fetch succeeded (revision %s), want %v", r.Commit.Revision, class)
	}
	if r.Files != nil {
		t.Errorf("a failed Fetch returned files")
	}
	if !errors.Is(err, class) {
		t.Fatalf("Fetch error %v (reason %s), want class %v", err, ReasonOf(err), class)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Fetch error %T is not an *Error", err)
	}
	return e
}

func newSource(t testing.TB, o Options) *Source {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// openBare opens a repository's object store with go-git.
func openBare(t testing.TB, dir string) *filesystem.Storage {
	t.Helper()
	st := filesystem.NewStorage(osfs.New(dir), objcache.NewObjectLRUDefault())
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func hashOf(s string) plumbing.Hash { return plumbing.NewHash(s) }
