package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const oneServiceYAML = `services:
  - name: s1
    upstream: {nodes: [{host: 10.0.0.1, port: 80, weight: 1}]}
    routes:
      - name: r1
        uris: [/a]
`

// A value a flag's help does not allow is refused before anything is
// loaded or requested, with an error naming the flag — whether it comes
// from the command line or its RECONCILER_* variable — instead of being
// replaced by a default below (an empty --managed-by becoming
// "reconciler", a zero --concurrency or --timeout becoming the client's)
// or taken to mean something else (a negative percentage).
func TestBadFlagValuesAreRefusedNamingTheFlag(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, oneServiceYAML)
	certFile := tempFile(t, "cert.pem", "not used")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"diff concurrency 0", nil, []string{"diff", "--source", src, "--concurrency", "0"}, "--concurrency 0: want 1 or more"},
		{"diff concurrency from the environment", map[string]string{"RECONCILER_CONCURRENCY": "0"}, []string{"diff", "--source", src}, "--concurrency 0"},
		{"diff empty managed-by", nil, []string{"diff", "--source", src, "--managed-by", ""}, "--managed-by: must not be empty"},
		{"diff client cert without key", nil, []string{"diff", "--source", src, "--client-cert", certFile}, "--client-cert and --client-key"},
		{"sync timeout 0", nil, []string{"sync", "--source", src, "--timeout", "0"}, "--timeout 0s: want a positive duration"},
		{"sync negative percentage", nil, []string{"sync", "--source", src, "--max-delete-percent", "-1"}, "--max-delete-percent -1: must be 0 or more"},
		{"sync empty managed-by from the environment", map[string]string{"RECONCILER_MANAGED_BY": ""}, []string{"sync", "--source", src}, "--managed-by: must not be empty"},
		{"sync token and token file", nil, []string{"sync", "--source", src, "--token-file", certFile, "--token", "x"}, "give --token-file or --token, not both"},
		{"dump empty managed-by", nil, []string{"dump", "--managed-by", ""}, "--managed-by: must not be empty"},
		{"dump concurrency 0", nil, []string{"dump", "--concurrency", "0"}, "--concurrency 0"},
		{"run concurrency 0", nil, []string{"run", "--once", "--source", src, "--concurrency", "0"}, "--concurrency 0"},
		{"run empty managed-by", nil, []string{"run", "--once", "--source", src, "--managed-by", ""}, "--managed-by: must not be empty"},
		{"run short interval", nil, []string{"run", "--once", "--source", src, "--interval", "500ms"}, "--interval 500ms: at least 1s"},
		{"run empty mode from the environment", map[string]string{"RECONCILER_MODE": ""}, []string{"run", "--once", "--source", src}, `--mode "": want apply or detect`},
		{"dump empty gateway group", nil, []string{"dump", "--gateway-group", ""}, "--gateway-group: must not be empty"},
		{"run zero interval", nil, []string{"run", "--once", "--source", src, "--interval", "0"}, "--interval 0s: at least 1s"},
		{"run bad mode from the environment", map[string]string{"RECONCILER_MODE": "fix"}, []string{"run", "--once", "--source", src}, `--mode "fix": want apply or detect`},
		{"run bad name", nil, []string{"run", "--once", "--source", src, "--name", "Bad Name"}, "--name: want"},
		{"run negative percentage", nil, []string{"run", "--once", "--source", src, "--max-delete-percent", "-5"}, "--max-delete-percent -5"},
		{"run negative shutdown timeout", nil, []string{"run", "--once", "--source", src, "--shutdown-timeout", "-1s"}, "--shutdown-timeout -1s"},
		{"run no source", nil, []string{"run", "--once"}, "--source: required"},
		{"diff bad backend", nil, []string{"diff", "--source", src, "--backend", "kong"}, `--backend "kong": want apisix or api7ee`},
		{"run bad token transport", nil, []string{"run", "--once", "--source", src, "--token-transport", "query"}, `--token-transport "query": want header or cookie`},
		{"run audit log in a missing directory", nil, []string{"run", "--once", "--source", src, "--audit-log", filepath.Join(src, "no-such-dir", "audit.jsonl")}, "--audit-log: "},
		// cli gives --server the gateway's URL: these give their own.
		{"diff server with the admin path", nil, []string{"diff", "--source", src, "--server", g.srv.URL + "/apisix/admin"}, "without /apisix/admin (the client adds it)"},
		{"dump server without a scheme", nil, []string{"dump", "--server", strings.TrimPrefix(g.srv.URL, "http://")}, "want a URL such as http://127.0.0.1:9180"},
		{"run server with the api7 path", nil, []string{"run", "--once", "--source", src, "--backend", "api7ee", "--server", g.srv.URL + "/api/"}, "--server \"" + g.srv.URL + "/api/\": give the Admin API's base URL, without /api"},
		{"run config with a target variable", map[string]string{"RECONCILER_MODE": "detect"}, []string{"run", "--once", "--config", tempFile(t, "c.yaml", "targets: []\n")}, "RECONCILER_MODE (--mode): with --config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(g.em.Requests())
			gw, env := g, tt.env
			if slices.Contains(tt.args, "--server") {
				gw, env = nil, maps.Clone(tt.env)
				if env == nil {
					env = map[string]string{}
				}
				env["RECONCILER_TOKEN"] = testToken
			}
			r := cli(t, gw, env, append(tt.args, "--log-level", "error")...)
			if r.code != 1 || !strings.Contains(r.err, tt.want) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", r.code, tt.want, r.stdout, r.err)
			}
			if n := len(g.em.Requests()) - before; n != 0 {
				t.Errorf("%d requests reached the gateway before the flag was refused", n)
			}
		})
	}
}

// quick runs a verb that must fail at once, bounded so that a verb that
// serves instead (the fault) ends and fails the test.
func quick(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errb}, noEnv)
	if ctx.Err() != nil {
		t.Fatalf("%v ran until stopped instead of refusing its flags\nstdout: %s\nstderr: %s", args, out.String(), errb.String())
	}
	return result{code: code, stdout: out.String(), err: errb.String()}
}

// The emulator's and the quickstart's flags that would be accepted and
// ignored (API7 Enterprise settings on APISIX, a zero interval that became
// a minute) or found wrong only at shutdown (an unwritable --state, whose
// store would then be lost) are refused at start.
func TestServingVerbsRefuseBadFlagsAtStart(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir", "state.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"emulator gateway group on apisix", []string{"emulator", "--listen", "127.0.0.1:0", "--token", "t", "--gateway-group", "prod"}, "--gateway-group applies to --backend api7ee"},
		{"emulator api7 version on apisix", []string{"emulator", "--listen", "127.0.0.1:0", "--token", "t", "--api7-version", "3.9.1"}, "--api7-version applies to --backend api7ee"},
		{"emulator negative delete-check lag", []string{"emulator", "--listen", "127.0.0.1:0", "--token", "t", "--delete-check-lag", "-1s"}, "--delete-check-lag -1s"},
		{"emulator negative shutdown timeout", []string{"emulator", "--listen", "127.0.0.1:0", "--token", "t", "--shutdown-timeout", "-1s"}, "--shutdown-timeout -1s"},
		{"emulator state that cannot be written", []string{"emulator", "--listen", "127.0.0.1:0", "--token", "t", "--state", missing}, "--state"},
		{"quickstart zero interval", []string{"quickstart", "--gateway-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--interval", "0"}, "--interval 0s: at least 1s"},
		{"quickstart bad log level", []string{"quickstart", "--gateway-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--once", "--log-level", "loud"}, `--log-level "loud"`},
		{"quickstart empty gateway address", []string{"quickstart", "--gateway-listen", "", "--listen", "127.0.0.1:0", "--once"}, "--gateway-listen: must not be empty"},
		{"emulator empty address", []string{"emulator", "--listen", "", "--token", "t"}, "--listen: must not be empty"},
		{"run empty address", []string{"run", "--listen", "", "--source", missing, "--token", "t"}, "--listen: must not be empty"},
		{"quickstart missing examples", []string{"quickstart", "--gateway-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--examples", missing}, "--examples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := quick(t, tt.args...)
			if r.code != 1 || !strings.Contains(r.err, tt.want) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", r.code, tt.want, r.stdout, r.err)
			}
			if strings.Contains(r.stdout, "http://") {
				t.Errorf("it served before refusing:\n%s", r.stdout)
			}
		})
	}
	// The same flags work where they apply.
	url, stop, stderr := startEmulator(t, nil, "--backend", "api7ee", "--token", "t", "--gateway-group", "prod", "--api7-version", "3.9.1",
		"--state", filepath.Join(t.TempDir(), "state.json"))
	if code := do(t, "GET", url+"/api/version", "t", ""); code != 200 {
		t.Errorf("GET /api/version: %d", code)
	}
	if code := stop(); code != 0 {
		t.Errorf("emulator exit %d\n%s", code, stderr)
	}
}

// A webhook secret file that is missing or empty is refused when the
// daemon starts, naming the setting, rather than by the first webhook
// (which would answer 503).
func TestRunRefusesUnusableWebhookSecretAtStart(t *testing.T) {
	gw := startGateway(t)
	src := ordersDir(t, oneServiceYAML)
	token := tempFile(t, "token", daemonToken)
	empty := tempFile(t, "empty", "\n")
	missing := filepath.Join(t.TempDir(), "secret")
	config := tempFile(t, "c.yaml", "targets:\n  - name: a\n    source: {url: "+src+"}\n    gateway: {server: "+gw.srv.URL+", tokenFile: "+token+"}\n    sync: {prune: true}\n    webhook: {secretFile: "+empty+"}\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"flag", []string{"--source", src, "--server", gw.srv.URL, "--token-file", token, "--webhook-secret-file", missing}, `target "default": --webhook-secret-file: open ` + missing},
		{"file", []string{"--config", config}, `target "a": webhook.secretFile: ` + empty + ": empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := quick(t, append([]string{"run", "--log-level", "error", "--listen", "127.0.0.1:0"}, tt.args...)...)
			if r.code != 1 || !strings.Contains(r.err, tt.want) {
				t.Fatalf("exit %d, want 1 with %q\nstdout: %s\nstderr: %s", r.code, tt.want, r.stdout, r.err)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the missing secret exists")
	}
}

// quickstart --examples starts the repository from that directory, and
// --keep leaves the temporary directory (the repository and the token) in
// place; without --keep it is removed.
func TestQuickstartExamplesAndKeep(t *testing.T) {
	examples := ordersDir(t, oneServiceYAML)
	tokenDir := regexp.MustCompile(`token in (\S+)/admin-token`)
	for _, keep := range []bool{true, false} {
		args := []string{"quickstart", "--once", "--gateway-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--examples", examples}
		if keep {
			args = append(args, "--keep")
		}
		r := quick(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "success, 2 objects applied") {
			t.Fatalf("keep=%v: exit %d, want 0 with the 2 objects of --examples\nstdout: %s\nstderr: %s", keep, r.code, r.stdout, r.err)
		}
		m := tokenDir.FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no directory in the output:\n%s", r.stdout)
		}
		_, err := os.Stat(filepath.Join(m[1], "gateway-config", "orders.yaml"))
		switch {
		case keep && err != nil:
			t.Errorf("--keep: the repository is gone: %v", err)
		case !keep && err == nil:
			t.Errorf("without --keep the directory %s is left behind", m[1])
		}
		if keep {
			if err := os.RemoveAll(m[1]); err != nil {
				t.Error(err)
			}
		}
	}
}

// run's --git-cache-dir is where each target keeps a store of its own
// (DIR/<target>-<hash>), in flag mode as with --config, so that the
// daemon's last good commit is never shared with a one-shot verb's fetches
// into DIR itself; with a directory source it is refused, not ignored.
func TestRunGitCacheDirHoldsOneStorePerTarget(t *testing.T) {
	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("first", map[string]string{"routes.yaml": shopRoutes(1, "v1")})
	token := tempFile(t, "token", daemonToken)
	cache := t.TempDir()
	args := []string{"run", "--log-level", "error", "--once", "--source", repo.fileURL(), "--server", gw.srv.URL, "--token-file", token, "--git-cache-dir", cache}
	if r := quick(t, args...); r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.err)
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !entries[0].IsDir() || !strings.HasPrefix(entries[0].Name(), "default-") {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("--git-cache-dir holds %v, want one directory default-<hash>", names)
	}
	if _, err := os.Stat(filepath.Join(cache, entries[0].Name(), "objects")); err != nil {
		t.Errorf("the target's store has no objects: %v", err)
	}

	r := quick(t, "run", "--once", "--source", t.TempDir(), "--server", gw.srv.URL, "--token-file", token, "--git-cache-dir", cache)
	if r.code != 1 || !strings.Contains(r.err, "--git-cache-dir applies to Git sources") {
		t.Errorf("--git-cache-dir with a directory: exit %d\n%s", r.code, r.err)
	}
}

// --prune and --no-prune are one setting: the form on the command line
// wins over either variable (RECONCILER_PRUNE=true must not turn a
// command line's --no-prune into deletes), and both forms at once are
// refused.
func TestPruneFormOnTheCommandLineWinsOverTheEnvironment(t *testing.T) {
	g := newGateway(t)
	if r := cli(t, g, nil, "sync", "--source", ordersDir(t, oneServiceYAML)); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	g.takeWrites()
	other := ordersDir(t, strings.ReplaceAll(oneServiceYAML, "s1", "s2"))
	dry := func(env map[string]string, args ...string) result {
		t.Helper()
		return cli(t, g, env, append([]string{"sync", "--dry-run", "--source", other, "--max-delete-percent", "100"}, args...)...)
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		held    bool // the deletes are held back by PruneDisabled
		wantErr string
	}{
		{"--no-prune over RECONCILER_PRUNE", map[string]string{"RECONCILER_PRUNE": "true"}, []string{"--no-prune"}, 0, true, ""},
		{"--prune over RECONCILER_NO_PRUNE", map[string]string{"RECONCILER_NO_PRUNE": "true"}, []string{"--prune"}, 0, false, ""},
		{"--prune=false over RECONCILER_NO_PRUNE=false", map[string]string{"RECONCILER_NO_PRUNE": "false"}, []string{"--prune=false"}, 0, true, ""},
		{"RECONCILER_NO_PRUNE alone", map[string]string{"RECONCILER_NO_PRUNE": "true"}, nil, 0, true, ""},
		{"both flags", nil, []string{"--prune", "--no-prune"}, 1, false, "--no-prune and --prune: give one"},
		{"both variables", map[string]string{"RECONCILER_PRUNE": "true", "RECONCILER_NO_PRUNE": "true"}, nil, 1, false, "RECONCILER_NO_PRUNE and RECONCILER_PRUNE: set one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dry(tt.env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.err, tt.wantErr) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", r.code, tt.code, tt.wantErr, r.stdout, r.err)
			}
			if tt.code != 0 {
				return
			}
			if held := strings.Contains(r.stdout, "PruneDisabled"); held != tt.held {
				t.Errorf("deletes held back: %v, want %v\n%s", held, tt.held, r.stdout)
			}
		})
	}
	if w := g.takeWrites(); len(w) != 0 {
		t.Errorf("a dry run wrote %v", w)
	}
}

// A token file given on the command line wins over RECONCILER_TOKEN (and
// --token over RECONCILER_TOKEN_FILE), as every flag on the command line
// wins over the environment, instead of the two being refused as "both".
func TestTokenFlagOnTheCommandLineWinsOverTheOtherVariable(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, oneServiceYAML)
	good := tempFile(t, "token", testToken)
	// cli puts the right token in RECONCILER_TOKEN; the file on the command
	// line holds a wrong one, which must be the one sent.
	wrong := tempFile(t, "wrong", "wrong-token")
	if r := cli(t, g, nil, "diff", "--source", src, "--token-file", wrong); r.code != 1 || !strings.Contains(r.err, "401") {
		t.Errorf("--token-file over RECONCILER_TOKEN: exit %d, want 1 with a 401\n%s", r.code, r.err)
	}
	if r := cli(t, g, nil, "diff", "--source", src, "--token-file", good); r.code != 2 {
		t.Errorf("--token-file over RECONCILER_TOKEN: exit %d, want 2\n%s", r.code, r.err)
	}
	if r := cli(t, g, map[string]string{"RECONCILER_TOKEN_FILE": wrong}, "diff", "--source", src, "--token", testToken); r.code != 2 {
		t.Errorf("--token over RECONCILER_TOKEN_FILE: exit %d, want 2\n%s", r.code, r.err)
	}
}

// RECONCILER_OUTPUT is diff's format and dump's file: set to a format for
// diff, it must not make dump write a file called "json" and print nothing.
// A file name from the variable, or -o json on the command line, is taken.
func TestDumpRefusesDiffFormatFromTheEnvironment(t *testing.T) {
	g := newGateway(t)
	if r := cli(t, g, nil, "sync", "--source", ordersDir(t, oneServiceYAML)); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	t.Chdir(t.TempDir())
	r := cli(t, g, map[string]string{"RECONCILER_OUTPUT": "json"}, "dump")
	if r.code != 1 || !strings.Contains(r.err, "RECONCILER_OUTPUT=json is diff's output format") {
		t.Errorf("dump with RECONCILER_OUTPUT=json: exit %d\n%s", r.code, r.err)
	}
	if _, err := os.Stat("json"); err == nil {
		t.Error("dump wrote a file called json")
	}
	if r := cli(t, g, map[string]string{"RECONCILER_OUTPUT": "json"}, "diff", "--source", ordersDir(t, oneServiceYAML)); r.code != 0 || !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("diff with RECONCILER_OUTPUT=json: exit %d\n%s%s", r.code, r.stdout, r.err)
	}
	if r := cli(t, g, map[string]string{"RECONCILER_OUTPUT": "gateway.yaml"}, "dump"); r.code != 0 {
		t.Errorf("dump with RECONCILER_OUTPUT=gateway.yaml: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, nil, "dump", "-o", "json"); r.code != 0 {
		t.Errorf("dump -o json: exit %d\n%s", r.code, r.err)
	}
	for _, f := range []string{"gateway.yaml", "json"} {
		if data, err := os.ReadFile(f); err != nil || !strings.Contains(string(data), "name: s1") {
			t.Errorf("%s: %v\n%s", f, err, data)
		}
	}
}
