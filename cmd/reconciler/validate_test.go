package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runValidate(t *testing.T, env lookupEnv, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	code := run(context.Background(), append([]string{"validate"}, args...), streams{in: strings.NewReader(""), out: &out, err: &errOut}, env)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	code, out, errOut := runValidate(t, nil, "../../examples")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	want := "valid: 3 services, 6 routes, 1 upstream, 2 consumers, 3 credentials, 1 SSL, 1 global rule, 1 plugin metadata\n"
	if out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if errOut != "" {
		t.Errorf("the examples draw warnings (they keep every secret out of the files):\n%s", errOut)
	}
}

// TestValidateWarnsOfPlaintextSecrets (reliability row B5): a secret
// written in plain text is valid but draws a warning naming the file, line,
// resource and field, never the value.
func TestValidateWarnsOfPlaintextSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "consumers.yaml"), []byte("consumers:\n  - username: shop\n    credentials:\n      - name: main\n        type: key-auth\n        config: {key: CANARY-plain-key}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, out, errOut := runValidate(t, nil, ".")
	if code != 0 || out != "valid: 1 consumer, 1 credential\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := "warning: consumers.yaml:4: consumer_credential \"shop/main\": config.key is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git\n"
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
}

func TestValidateMistakes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"services.yaml":  "services:\n  - name: orders\n    upstream:\n      nodes:\n        - {host: 10.0.0.1, port: 80}\n    routes:\n      - name: list\n        uris: [/orders]\n        methods: [GET, FETCH]\n",
		"consumers.yaml": "consumers:\n  - username: alice\n    credentials:\n      - name: main\n        type: key-auth\n        config: {key: \"${ALICE_KEY}\"}\n",
		"more/dup.yaml":  "services:\n  - name: orders\n    upstream: {nodes: []}\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	code, out, errOut := runValidate(t, nil, ".")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q", code, out)
	}
	want := `consumers.yaml:6: consumer_credential "alice/main": config.key: variable ALICE_KEY is not set (write ${ALICE_KEY:-default} to give a default)
services.yaml:2: service "orders": declared twice: also at more/dup.yaml:2
services.yaml:5: service "orders": upstream.nodes[0]: weight is required
services.yaml:9: route "orders/list": methods[1]: must be one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, CONNECT, TRACE, PURGE, got "FETCH"
`
	if errOut != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}

	// Named files are loaded together, and the environment is used.
	env := func(name string) (string, bool) { return "k", name == "ALICE_KEY" }
	code, out, errOut = runValidate(t, env, "consumers.yaml", "more/dup.yaml")
	if code != 0 || out != "valid: 1 service, 1 consumer, 1 credential\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, _, errOut = runValidate(t, nil, "missing")
	if code != 1 || !strings.Contains(errOut, "missing") {
		t.Errorf("a missing path: exit %d, stderr %q", code, errOut)
	}
}
