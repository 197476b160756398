package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/diff"
)

const testToken = "edd1c9f034335f136f87ad84b625c8f1"

// tb is what the helpers below need of a *testing.T, and what a *rapid.T
// offers too.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// gateway is an emulator served over HTTP on loopback, with a log of the
// bodies of the writes it received.
type gateway struct {
	em  *emulator.Emulator
	srv *httptest.Server

	mu     sync.Mutex
	writes []write
}

type write struct {
	Method string
	Path   string
	Body   map[string]any
}

func newGateway(t testing.TB, opts ...emulator.Option) *gateway {
	t.Helper()
	g := &gateway{}
	return g.start(t, append([]emulator.Option{emulator.WithHook(g.record)}, opts...)...)
}

// newQuietGateway is newGateway without the record of write bodies (for
// benchmarks, where decoding them would cost the emulator CPU).
func newQuietGateway(t testing.TB, opts ...emulator.Option) *gateway {
	t.Helper()
	return (&gateway{}).start(t, opts...)
}

func (g *gateway) start(t testing.TB, opts ...emulator.Option) *gateway {
	t.Helper()
	opts = append([]emulator.Option{emulator.WithAdminToken(testToken)}, opts...)
	em, err := emulator.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	g.em = em
	g.srv = httptest.NewServer(em)
	t.Cleanup(func() {
		em.Close()
		g.srv.Close()
	})
	return g
}

func (g *gateway) record(c emulator.Call) *emulator.Reply {
	if c.Method == http.MethodGet {
		return nil
	}
	w := write{Method: c.Method, Path: c.Path}
	if len(c.Body) > 0 {
		_ = json.Unmarshal(c.Body, &w.Body) // a body that is not an object is kept as nil
	}
	g.mu.Lock()
	g.writes = append(g.writes, w)
	g.mu.Unlock()
	return nil
}

// takeWrites returns the writes recorded since the last call.
func (g *gateway) takeWrites() []write {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.writes
	g.writes = nil
	return w
}

// nonGET counts the requests other than GET in the emulator's log.
func (g *gateway) nonGET() int {
	n := 0
	for _, r := range g.em.Requests() {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

type result struct {
	code        int
	stdout, err string
}

// cli runs the command line as main does, with the token in the
// environment.
func cli(t tb, g *gateway, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) {
		if k == "RECONCILER_TOKEN" && g != nil {
			return testToken, true
		}
		v, ok := env[k]
		return v, ok
	}
	if g != nil {
		args = append(args, "--server", g.srv.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errOut}, lookup)
	return result{code: code, stdout: out.String(), err: errOut.String()}
}

func writeFile(t tb, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, to, rel, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// examples copies examples/ into a temporary directory, with the edge
// certificate and key inline instead of $env:// references. (The emulator
// refuses $env:// references shorter than a certificate, which real APISIX
// accepts; reported to its owner.)
func examples(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, "../../examples", dir)
	cert, err := os.ReadFile("testdata/tls/sample-tls.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/tls/sample-tls.key")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "platform.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "$env://GATEWAY_TLS_CERT", jsonQuote(string(cert)), 1)
	s = strings.Replace(s, "$env://GATEWAY_TLS_KEY", jsonQuote(string(key)), 1)
	writeFile(t, dir, "platform.yaml", s)
	return dir
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestExamplesSyncDiffDump(t *testing.T) {
	g := newGateway(t)
	src := examples(t)

	r := cli(t, g, nil, "diff", "--source", src)
	if r.code != 2 || !strings.Contains(r.stdout, "to create") {
		t.Fatalf("diff before sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	r = cli(t, g, nil, "sync", "--source", src)
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	t.Logf("sync: %s", r.stdout)
	r = cli(t, g, nil, "diff", "--source", src)
	if r.code != 0 {
		t.Fatalf("diff after sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	g.takeWrites()
	r = cli(t, g, nil, "sync", "--source", src)
	if w := g.takeWrites(); r.code != 0 || len(w) != 0 {
		t.Fatalf("second sync: exit %d, %d writes %v\n%s", r.code, len(w), w, r.err)
	}

	dir := t.TempDir()
	dumped := filepath.Join(dir, "gateway.yaml")
	r = cli(t, g, nil, "dump", "-o", dumped)
	if r.code != 0 {
		t.Fatalf("dump: exit %d\n%s", r.code, r.err)
	}
	for _, want := range []string{
		"set SSL_KEY_API_EXAMPLE_COM to the certificates/0/key of ssl/",
		"set CREDENTIAL_ORDERS_APP_MAIN_KEY to the config/key of consumer_credential/orders-app/",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("dump does not say which variables to set (%q):\n%s", want, r.err)
		}
	}
	data, _ := os.ReadFile(dumped)
	if strings.Contains(string(data), "PRIVATE KEY") || strings.Contains(string(data), diff.FingerprintLabel) {
		t.Errorf("the dump holds a private key or its fingerprint:\n%s", data)
	}
	r = cli(t, nil, nil, "validate", dir)
	if r.code != 1 || !strings.Contains(r.err, "variable SSL_KEY_API_EXAMPLE_COM is not set") {
		t.Errorf("validate of the dump without the key: exit %d\n%s", r.code, r.err)
	}
	env := dumpEnv(t)
	if r = cli(t, nil, env, "validate", dir); r.code != 0 {
		t.Errorf("validate of the dump: exit %d\n%s", r.code, r.err)
	}
	r = cli(t, g, env, "diff", "--source", dir)
	if r.code != 0 {
		t.Fatalf("diff of the dump: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}

	// --include-secrets: the credential keys as read; only the SSL key,
	// which the gateway never returns, remains a variable.
	plain := t.TempDir()
	if r := cli(t, g, nil, "dump", "--include-secrets", "-o", filepath.Join(plain, "gateway.yaml")); r.code != 0 || !strings.Contains(r.err, "plaintext") {
		t.Fatalf("dump --include-secrets: exit %d\n%s", r.code, r.err)
	}
	sslOnly := map[string]string{"SSL_KEY_API_EXAMPLE_COM": env["SSL_KEY_API_EXAMPLE_COM"]}
	if r := cli(t, g, sslOnly, "diff", "--source", plain); r.code != 0 {
		t.Fatalf("diff of the dump with secrets: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
}

// dumpEnv sets the variables a dump of the examples asks for: the edge
// key and the development credential keys of examples/consumers.yaml.
func dumpEnv(t testing.TB) map[string]string {
	t.Helper()
	key, err := os.ReadFile("testdata/tls/sample-tls.key")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"SSL_KEY_API_EXAMPLE_COM":             string(key),
		"CREDENTIAL_ORDERS_APP_MAIN_KEY":      "orders-app-dev-key",
		"CREDENTIAL_WAREHOUSE_UI_PRIMARY_KEY": "warehouse-ui-dev-key",
		"CREDENTIAL_WAREHOUSE_UI_BACKUP_KEY":  "warehouse-ui-dev-backup-key",
	}
}

var _ = io.Discard

// TestAPI7EEBackend: diff, sync --dry-run, sync and dump against the API7
// Enterprise flavour of the emulator.
func TestAPI7EEBackend(t *testing.T) {
	g := newGateway(t, emulator.WithBackend(emulator.BackendAPI7EE))
	src := examples(t)
	api7 := []string{"--backend", "api7ee", "--gateway-group", "default"}
	with := func(args ...string) []string { return append(args, api7...) }

	if r := cli(t, g, nil, with("diff", "--source", src)...); r.code != 2 {
		t.Fatalf("diff before sync: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, nil, with("sync", "--dry-run", "--source", src)...); r.code != 0 || g.nonGET() != 0 {
		t.Fatalf("dry run: exit %d, %d non-GET requests\n%s", r.code, g.nonGET(), r.err)
	}
	if r := cli(t, g, nil, with("sync", "--source", src)...); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	if r := cli(t, g, nil, with("diff", "--source", src)...); r.code != 0 {
		t.Fatalf("diff after sync: exit %d\n%s", r.code, r.stdout)
	}
	g.takeWrites()
	if r := cli(t, g, nil, with("sync", "--source", src)...); r.code != 0 || len(g.takeWrites()) != 0 {
		t.Fatalf("second sync: exit %d or wrote\n%s", r.code, r.err)
	}
	dir := t.TempDir()
	if r := cli(t, g, nil, with("dump", "-o", filepath.Join(dir, "gateway.yaml"))...); r.code != 0 {
		t.Fatalf("dump: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, dumpEnv(t), with("diff", "--source", dir)...); r.code != 0 {
		t.Fatalf("diff of the dump: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	empty := t.TempDir()
	writeFile(t, empty, "empty.yaml", "services: []\n")
	if r := cli(t, g, nil, with("sync", "--source", empty, "--allow-empty", "--max-delete-percent", "100", "--prune-unlabeled")...); r.code != 0 {
		t.Fatalf("delete all: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, nil, with("diff", "--source", empty, "--prune-unlabeled")...); r.code != 0 {
		t.Fatalf("diff after delete all: exit %d\n%s", r.code, r.stdout)
	}
}
