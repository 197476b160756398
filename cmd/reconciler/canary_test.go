package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// canaryForms are the ways a secret could show: as written, base64,
// URL-encoded and JSON-escaped. A multi-line secret (a PEM key) is
// checked by each of its lines of 32 characters or more, so that a key
// re-wrapped or escaped differently is still caught.
func canaryForms(secret string) []string {
	forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), url.QueryEscape(secret)}
	if js, err := json.Marshal(secret); err == nil {
		forms = append(forms, strings.Trim(string(js), `"`))
	}
	if strings.Contains(secret, "\n") {
		forms = forms[:0]
		for _, line := range strings.Split(secret, "\n") {
			if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				forms = append(forms, line)
			}
		}
	}
	return forms
}

// assertNoCanary fails t for every place whose text holds a form of one
// of the secrets.
func assertNoCanary(t *testing.T, places map[string]string, secrets map[string]string) {
	t.Helper()
	for what, secret := range secrets {
		for _, f := range canaryForms(secret) {
			for where, text := range places {
				if strings.Contains(text, f) {
					i := strings.Index(text, f)
					t.Errorf("%s shows the %s (%q) near: %q", where, what, f, text[max(0, i-200):min(len(text), i+len(f)+50)])
				}
			}
		}
	}
}

// gitBasicAuth serves the repositories under root over HTTPS (git
// http-backend) to the one user name and password given, and returns the
// server and a file holding its CA certificate.
func gitBasicAuth(t *testing.T, root, user, password string) (*httptest.Server, string) {
	t.Helper()
	backend := &cgi.Handler{
		Path:   filepath.Join(gitRun(t, "", "--exec-path"), "git-http-backend"),
		Root:   "/",
		Env:    append([]string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}, hermeticGit...),
		Stderr: io.Discard,
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

// secretConfig declares one of each secret the files can hold: a
// credential key substituted from ${APP_KEY}, an SSL private key and an
// upstream's TLS client key, both written in the file.
func secretConfig(cert, sslKey, clientKey string) string {
	return `services:
  - name: billing
    upstream:
      scheme: https
      nodes:
        - {host: 10.50.0.7, port: 443, weight: 1}
      tls:
        client_cert: ` + jsonQuote(cert) + `
        client_key: ` + jsonQuote(clientKey) + `
    routes:
      - name: invoices
        uris: [/invoices]
consumers:
  - username: app
    credentials:
      - name: main
        type: key-auth
        config:
          key: ${APP_KEY}
ssls:
  - snis: [gw.sample-tls.test]
    certificates:
      - certificate: ` + jsonQuote(cert) + `
        key: ` + jsonQuote(sslKey) + `
`
}

// TestDaemonSecretCanaries (reliability A2 and I4, the charter's "secrets
// never appear in logs, errors, metrics, status or URLs"): a daemon at
// debug level handles one canary of every kind of secret — the Admin API
// token from --token-file, a Git basic-auth password from a file, a
// credential key substituted from the environment, an SSL private key, an
// upstream TLS client key, the webhook secret, and a key set by hand on
// the gateway — through drift, a signed and a forged webhook, a Git
// server refusing the password and a gateway refusing a write. None of
// them shows in its log, /status, /metrics, the status page, the webhook's
// answers or the audit log — not even when the gateway's error message
// quotes the key.
func TestDaemonSecretCanaries(t *testing.T) {
	const (
		gitPassword   = "gitpw-CANARY-7e21+x/y"
		credKey       = "credkey-CANARY-5a90"
		handKey       = "handkey-CANARY-91d2"
		webhookSecret = "webhook-CANARY-0b8e"
	)
	cert, err := os.ReadFile("testdata/tls/sample-tls.crt")
	if err != nil {
		t.Fatal(err)
	}
	sslKey, err := os.ReadFile("testdata/tls/sample-tls.key")
	if err != nil {
		t.Fatal(err)
	}
	clientKey := newKeyPEM(t)
	secrets := map[string]string{
		"Admin API token": daemonToken, "Git password": gitPassword, "credential key": credKey,
		"hand-set key": handKey, "webhook secret": webhookSecret, "SSL key": string(sslKey), "client key": clientKey,
	}

	gw := startGateway(t)
	repo := newDRepo(t)
	repo.commit("secrets", map[string]string{"gateway.yaml": secretConfig(string(cert), string(sslKey), clientKey)})
	srv, ca := gitBasicAuth(t, repo.root, "alice", gitPassword)
	pwFile := tempFile(t, "git-password", gitPassword+"\n")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	env := func(k string) (string, bool) {
		if k == "APP_KEY" {
			return credKey, true
		}
		return "", false
	}
	p := startInProcessEnv(t, &daemonHooks{}, env,
		"--name", "shop", "--source", srv.URL+"/gateway.git", "--ref", "main",
		"--git-username", "alice", "--git-password-file", pwFile, "--git-ca-cert-file", ca,
		"--server", gw.srv.URL, "--token-file", tempFile(t, "token", daemonToken),
		"--webhook-secret-file", tempFile(t, "webhook", webhookSecret),
		"--audit-log", audit, "--interval", "1h")
	first := p.waitCycle(t, "shop", func(reconciler.Cycle) bool { return true })
	if first.Result != reconciler.ResultSuccess || first.Counts.Applied < 5 {
		t.Fatalf("first cycle: %+v\n%s", first, tail(p.stderr.String(), 3000))
	}

	var answers []string
	webhook := func(secret string, want int) {
		t.Helper()
		code, body := p.webhookBody(t, "shop", secret)
		answers = append(answers, body)
		if code != want {
			t.Fatalf("webhook: %d %s, want %d", code, body, want)
		}
	}
	byWebhook := func(c reconciler.Cycle) bool { return c.Trigger == reconciler.TriggerWebhook }

	// Drift on a secret field: the credential's key is set by hand; the
	// next cycle (run by a signed webhook, after a forged one is refused)
	// reports and corrects it.
	credPath := "/apisix/admin/consumers/app/credentials/" + model.CredentialID("app", "main")
	handPut(t, gw.srv.URL, handToken, credPath, `{"plugins":{"key-auth":{"key":"`+handKey+`"}}}`)
	webhook(webhookSecret+"-forged", http.StatusUnauthorized)
	webhook(webhookSecret, http.StatusAccepted)
	if c := p.waitCycle(t, "shop", byWebhook); c.Result != reconciler.ResultSuccess || c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Fatalf("drift cycle: %+v", c)
	}

	// The gateway refuses a write of the credential, changed in Git.
	changed := strings.Replace(secretConfig(string(cert), string(sslKey), clientKey), "        type: key-auth\n", "        type: key-auth\n        description: v2\n", 1)
	repo.commit("describe the credential", map[string]string{"gateway.yaml": changed})
	// Its message quotes the key, as APISIX's schema errors quote a value
	// that fails a pattern.
	remove := gw.em.AddHook(emulator.Reject(http.MethodPut, credPath, http.StatusBadRequest,
		`{"error_msg":"invalid credential: property \"key\" validation failed: failed to match pattern \"^x\" with \"`+credKey+`\""}`))
	webhook(webhookSecret, http.StatusAccepted)
	if c := p.waitCycle(t, "shop", byWebhook); c.Result == reconciler.ResultSuccess {
		t.Fatalf("a refused write succeeded: %+v", c)
	}
	remove()

	// The Git server refuses the password (rotated on the server first).
	if err := os.WriteFile(pwFile, []byte(gitPassword+"-old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repo.commit("another", map[string]string{"README.md": "x\n"})
	webhook(webhookSecret, http.StatusAccepted)
	if c := p.waitCycle(t, "shop", byWebhook); c.Result == reconciler.ResultSuccess || !strings.Contains(c.Error, "GitAuthenticationFailed") && !strings.Contains(c.Error, "authentication") {
		t.Fatalf("a refused Git password: %+v", c)
	}

	places := map[string]string{"webhook answers": strings.Join(answers, "\n")}
	for _, path := range []string{"/status", "/metrics", "/", "/readyz", "/healthz"} {
		_, body := p.get(t, path)
		places[path] = body
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	places["log"] = p.stderr.String()
	data, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	places["audit log"] = string(data)
	for where, text := range places {
		if len(text) == 0 && where != "webhook answers" {
			t.Errorf("%s is empty: nothing was checked", where)
		}
	}
	if !strings.Contains(places["log"], "invalid credential") || !strings.Contains(places["/status"], "GitAuthentication") {
		t.Errorf("the failures did not show: the test did not exercise them\n%s", tail(places["log"], 2000))
	}
	assertNoCanary(t, places, secrets)
}

// handPut writes body to path on the gateway at server, as a person would
// with curl.
func handPut(t *testing.T, server, token, path, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, server+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("hand PUT %s: %d %s", path, resp.StatusCode, msg)
	}
}

// TestVerbSecretCanaries (reliability A2 and B5 for the one-shot verbs):
// diff (text, JSON, Markdown), sync, sync --dry-run and dump at debug
// level, with the Admin API token from --token-file, the desired state
// from a Git server that takes a basic-auth password from a file, and a
// substituted credential key, an SSL key and an upstream client key in
// the files; failures included (a refused password, a password written in
// the source URL, a refused write). No secret shows in what they print;
// dump writes ${VAR} references unless --include-secrets asks for them.
func TestVerbSecretCanaries(t *testing.T) {
	const (
		token       = "verb-token-CANARY-33f1"
		gitPassword = "verb-gitpw-CANARY-8c0d"
		credKey     = "verb-credkey-CANARY-12ab"
		handKey     = "verb-handkey-CANARY-e4e4"
	)
	cert, err := os.ReadFile("testdata/tls/sample-tls.crt")
	if err != nil {
		t.Fatal(err)
	}
	sslKey, err := os.ReadFile("testdata/tls/sample-tls.key")
	if err != nil {
		t.Fatal(err)
	}
	clientKey := newKeyPEM(t)
	secrets := map[string]string{
		"Admin API token": token, "Git password": gitPassword, "credential key": credKey,
		"hand-set key": handKey, "SSL key": string(sslKey), "client key": clientKey,
	}
	g := newGateway(t, emulator.WithToken("ops", token, emulator.RoleAdmin))
	repo := newDRepo(t)
	repo.commit("secrets", map[string]string{"gateway.yaml": secretConfig(string(cert), string(sslKey), clientKey)})
	srv, ca := gitBasicAuth(t, repo.root, "alice", gitPassword)
	pwFile := tempFile(t, "git-password", gitPassword+"\n")
	tokenFile := tempFile(t, "token", token+"\n")
	source := []string{"--source", srv.URL + "/gateway.git", "--git-username", "alice", "--git-password-file", pwFile, "--git-ca-cert-file", ca}
	env := map[string]string{"APP_KEY": credKey}

	var outputs []string
	verb := func(want int, args ...string) result {
		t.Helper()
		var out, errOut strings.Builder
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		args = append(args, "--server", g.srv.URL, "--token-file", tokenFile, "--log-level", "debug")
		code := run(t.Context(), args, streams{in: strings.NewReader(""), out: &out, err: &errOut}, lookup)
		r := result{code: code, stdout: out.String(), err: errOut.String()}
		outputs = append(outputs, strings.Join(args[:1], " ")+"\n"+r.stdout+r.err)
		if code != want {
			t.Errorf("%v: exit %d, want %d\n%s\n%s", args, code, want, r.stdout, r.err)
		}
		return r
	}
	withSource := func(args ...string) []string { return append(args, source...) }

	verb(2, withSource("diff")...)
	verb(2, withSource("diff", "-o", "json")...)
	verb(2, withSource("diff", "-o", "markdown")...)
	verb(2, withSource("diff", "--token-transport", "cookie")...)
	verb(0, withSource("sync", "--dry-run")...)
	verb(0, withSource("sync")...)
	// Drift on the secret: the key is changed by hand; diff shows it masked.
	credPath := "/apisix/admin/consumers/app/credentials/" + model.CredentialID("app", "main")
	handPut(t, g.srv.URL, token, credPath, `{"name":"main","plugins":{"key-auth":{"key":"`+handKey+`"}},"labels":{"managed-by":"reconciler"}}`)
	if r := verb(2, withSource("diff")...); !strings.Contains(r.stdout, "config.key") && !strings.Contains(r.stdout, "/config/key") {
		t.Errorf("the drift of the key does not show:\n%s", r.stdout)
	}
	verb(2, withSource("diff", "-o", "json")...)
	dump := verb(0, "dump")
	if !strings.Contains(dump.stdout, "${") {
		t.Errorf("dump has no ${VAR} reference:\n%s", dump.stdout)
	}
	// A refused write.
	g.em.AddHook(emulator.Reject(http.MethodPut, credPath, http.StatusBadRequest,
		`{"error_msg":"invalid credential: failed to match pattern \"^x\" with \"`+credKey+`\""}`))
	if r := verb(1, withSource("sync")...); !strings.Contains(r.stdout+r.err, "invalid credential") {
		t.Errorf("the refused write does not show:\n%s", r.err)
	}
	// A refused password.
	if err := os.WriteFile(pwFile, []byte(gitPassword+"-old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := verb(1, withSource("diff")...); !strings.Contains(r.err, "authentication") {
		t.Errorf("a refused password: %s", r.err)
	}
	// A password written in the source URL, in the shapes that confuse a
	// URL parser.
	host := strings.TrimPrefix(srv.URL, "https://")
	for _, u := range []string{
		"https://alice:" + gitPassword + "@" + host + "/gateway.git",
		"https://alice:" + gitPassword + "/x@" + host + "/gateway.git",
		"https://alice:" + gitPassword + "#x@" + host + "/gateway.git",
		"alice:" + gitPassword + "@" + host + ":gateway.git",
	} {
		verb(1, "diff", "--source", u)
		verb(1, "run", "--once", "--listen", "127.0.0.1:0", "--source", u)
	}
	places := map[string]string{}
	for i, out := range outputs {
		places[fmt.Sprintf("output %d (%s)", i, strings.SplitN(out, "\n", 2)[0])] = out
	}
	assertNoCanary(t, places, secrets)

	// Asked for, dump writes the key as read (the only way to see it).
	if r := verb(0, "dump", "--include-secrets"); !strings.Contains(r.stdout, handKey) {
		t.Errorf("dump --include-secrets does not show the key:\n%s", r.stdout)
	}
}
