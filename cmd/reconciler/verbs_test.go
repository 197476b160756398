package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

const ordersYAML = `services:
  - name: orders
    description: order management backend
    upstream:
      nodes:
        - {host: 10.20.0.11, port: 8080, weight: 100}
    routes:
      - name: list
        uris: [/orders]
        methods: [GET]
      - name: create
        uris: [/orders]
        methods: [POST]
        plugins:
          key-auth: {}
consumers:
  - username: shop
    credentials:
      - name: main
        type: key-auth
        config:
          key: ${SHOP_KEY}
`

func ordersDir(t testing.TB, content string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "orders.yaml", content)
	return dir
}

var shopKey = map[string]string{"SHOP_KEY": "CANARY-shop-key-4711"}

func TestDiffExitCodesAndFormats(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML)

	for _, format := range []string{"text", "json", "markdown"} {
		r := cli(t, g, shopKey, "diff", "--source", src, "-o", format)
		if r.code != 2 {
			t.Fatalf("diff -o %s with drift: exit %d\n%s", format, r.code, r.err)
		}
		if strings.Contains(r.stdout, "CANARY") || strings.Contains(r.err, "CANARY") {
			t.Errorf("diff -o %s shows the substituted key:\n%s", format, r.stdout)
		}
		if strings.Contains(r.stdout, "\x1b[") {
			t.Errorf("diff -o %s to a pipe is coloured", format)
		}
		switch format {
		case "json":
			var doc struct {
				APIVersion string       `json:"apiVersion"`
				Summary    diff.Summary `json:"summary"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("diff -o json is not JSON: %v\n%s", err, r.stdout)
			}
			if doc.APIVersion != diff.JSONAPIVersion || doc.Summary != (diff.Summary{Create: 5, Total: 5}) {
				t.Errorf("diff -o json: %+v", doc)
			}
		case "markdown":
			if !strings.Contains(r.stdout, "### Gateway diff") || !strings.Contains(r.stdout, "| create | route | list |") {
				t.Errorf("diff -o markdown:\n%s", r.stdout)
			}
		case "text":
			if !strings.Contains(r.stdout, "Summary: 5 to create, 0 to update, 0 to delete.") {
				t.Errorf("diff -o text:\n%s", r.stdout)
			}
		}
	}
	if r := cli(t, g, shopKey, "sync", "--source", src); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, shopKey, "diff", "--source", src); r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("diff in sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}

	errorCases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown format", shopKey, []string{"-o", "yaml"}, `-o "yaml"`},
		{"unset variable", nil, nil, "variable SHOP_KEY is not set"},
		{"missing source", shopKey, []string{"--source", filepath.Join(src, "nope")}, "no such file or directory"},
		{"empty source", shopKey, []string{"--source", t.TempDir()}, "no *.yaml"},
		{"git source", shopKey, []string{"--source", "https://user:pw@git.example.com/x.git"}, "https://***@git.example.com/x.git"},
		{"gateway group with APISIX", shopKey, []string{"--gateway-group", "prod"}, "--gateway-group \"prod\" applies to the api7ee backend"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"diff", "--source", src}, tc.args...)
			r := cli(t, g, tc.env, args...)
			if r.code != 1 || !strings.Contains(r.err, tc.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s", r.code, tc.want, r.err)
			}
		})
	}
	t.Run("gateway unreachable", func(t *testing.T) {
		dead := newGateway(t)
		dead.srv.Close()
		r := cli(t, dead, shopKey, "diff", "--source", src, "--timeout", "2s")
		if r.code != 1 {
			t.Errorf("exit %d, want 1\n%s", r.code, r.err)
		}
	})
}

// TestSyncDryRunSendsNoWrite: --dry-run prints the changes and the plan,
// and no request but GET reaches the gateway.
func TestSyncDryRunSendsNoWrite(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML)
	r := cli(t, g, shopKey, "sync", "--dry-run", "--source", src)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.err)
	}
	for _, want := range []string{"Summary: 5 to create", "Plan: 5 writes, then 0 deletes.", "create consumer_credential/shop/"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := g.nonGET(); n != 0 {
		t.Errorf("%d non-GET requests reached the gateway", n)
	}
	if strings.Contains(r.stdout, "CANARY") {
		t.Errorf("the dry run shows the key:\n%s", r.stdout)
	}

	// Against a populated gateway, a dry run that would delete too much
	// says so and exits 1, still without writing.
	if r := cli(t, g, shopKey, "sync", "--source", src); r.code != 0 {
		t.Fatal(r.err)
	}
	before := g.nonGET()
	r = cli(t, g, nil, "sync", "--dry-run", "--source", ordersDir(t, "services: []\n"))
	if r.code != 1 || !strings.Contains(r.err, "EmptyDesired") || g.nonGET() != before {
		t.Errorf("dry run of an empty state: exit %d, %d new non-GET requests\n%s\n%s", r.code, g.nonGET()-before, r.stdout, r.err)
	}
}

// TestSyncListsEachFailure: sync exits 1 and names every failed resource
// with its file, line and the Admin API's message; the rest is applied.
func TestSyncListsEachFailure(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML+`  - username: robot
    plugins:
      limit-count: {count: 1, time_window: 60}
`)
	rejected := "/apisix/admin/routes/" + model.RouteID("orders", "list")
	g.em.AddHook(emulator.Reject(http.MethodPut, rejected, http.StatusBadRequest,
		`{"error_msg":"failed to check the configuration of plugin proxy-rewrite err: property \"uri\" validation failed"}`))

	r := cli(t, g, shopKey, "sync", "--source", src)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.err)
	}
	for _, want := range []string{
		`failed: create route/` + model.RouteID("orders", "list") + ` "list" at orders.yaml:8:`,
		`400: failed to check the configuration of plugin proxy-rewrite err: property "uri" validation failed`,
		`failed: create consumer/robot "robot" at orders.yaml:`,
		`unknown plugin [limit-count]`,
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if !strings.Contains(r.stdout, "4 applied, 2 failed, 0 skipped") {
		t.Errorf("summary: %s", r.stdout)
	}
}

// TestUnlabeledKindsManagedOnlyWhenDeclared: global rules and plugin
// metadata carry no ownership label, so one that is not declared is left
// alone unless --prune-unlabeled.
func TestUnlabeledKindsManagedOnlyWhenDeclared(t *testing.T) {
	g := newGateway(t)
	with := ordersDir(t, ordersYAML+"global_rules:\n  ip-restriction:\n    whitelist: [10.0.0.0/8]\n")
	without := ordersDir(t, ordersYAML)
	if r := cli(t, g, shopKey, "sync", "--source", with); r.code != 0 {
		t.Fatalf("sync: exit %d\n%s", r.code, r.err)
	}
	if r := cli(t, g, shopKey, "diff", "--source", without); r.code != 0 {
		t.Errorf("an undeclared global rule shows as drift: exit %d\n%s", r.code, r.stdout)
	}
	r := cli(t, g, shopKey, "diff", "--source", without, "--prune-unlabeled")
	if r.code != 2 || !strings.Contains(r.stdout, `delete global_rule "ip-restriction"`) {
		t.Errorf("with --prune-unlabeled: exit %d\n%s", r.code, r.stdout)
	}
	if r := cli(t, g, shopKey, "sync", "--source", without, "--prune-unlabeled", "--max-delete-percent", "100"); r.code != 0 {
		t.Fatalf("sync --prune-unlabeled: exit %d\n%s", r.code, r.err)
	}
	if n := g.em.Count("", "global_rules"); n != 0 {
		t.Errorf("%d global rules left", n)
	}
}

// TestNoSecretInOutput (A2 for the verbs): with debug logging, a canary
// token and a canary credential key, neither appears — raw, base64 or
// URL-encoded — in anything diff, sync or dump print, failures included.
func TestNoSecretInOutput(t *testing.T) {
	const token = "CANARY-token-9f8e7d6c"
	g := newGateway(t, emulator.WithToken("ops", token, emulator.RoleAdmin))
	key := "CANARY-credential-key-1234"
	env := map[string]string{"SHOP_KEY": key, "RECONCILER_TOKEN": token}
	src := ordersDir(t, ordersYAML)
	g.em.AddHook(emulator.Reject(http.MethodPut, "/apisix/admin/routes/"+model.RouteID("orders", "create"), http.StatusBadRequest, `{"error_msg":"rejected"}`))
	var outputs []string
	run := func(args ...string) {
		var out, errOut strings.Builder
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		code := run(t.Context(), append(args, "--server", g.srv.URL, "--log-level", "debug"), streams{in: strings.NewReader(""), out: &out, err: &errOut}, lookup)
		outputs = append(outputs, fmt.Sprintf("exit %d\n%s\n%s", code, out.String(), errOut.String()))
	}
	run("diff", "--source", src)
	run("diff", "--source", src, "-o", "json")
	run("diff", "--source", src, "-o", "markdown")
	run("sync", "--source", src, "--dry-run")
	run("sync", "--source", src)
	run("sync", "--source", src)
	run("dump")
	for _, canary := range []string{token, key} {
		forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), url.QueryEscape(canary)}
		for _, out := range outputs {
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("output shows %q:\n%s", f, out)
				}
			}
		}
	}
	if !strings.Contains(strings.Join(outputs, ""), "rejected") {
		t.Error("the injected failure never showed: the test did not exercise the failure path")
	}
}

// TestDumpWithID: --with-id writes every id, and the dump still diffs clean.
func TestDumpWithID(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML)
	if r := cli(t, g, shopKey, "sync", "--source", src); r.code != 0 {
		t.Fatal(r.err)
	}
	r := cli(t, g, nil, "dump", "--with-id")
	if r.code != 0 {
		t.Fatalf("dump: exit %d\n%s", r.code, r.err)
	}
	for _, id := range []string{model.ServiceID("orders"), model.RouteID("orders", "list"), model.CredentialID("shop", "main")} {
		if !strings.Contains(r.stdout, "id: "+id) {
			t.Errorf("dump --with-id lacks id %s:\n%s", id, r.stdout)
		}
	}
	dir := ordersDir(t, r.stdout)
	if d := cli(t, g, map[string]string{"CREDENTIAL_SHOP_MAIN_KEY": shopKey["SHOP_KEY"]}, "diff", "--source", dir); d.code != 0 {
		t.Errorf("diff of the dump: exit %d\n%s\n%s", d.code, d.stdout, d.err)
	}
}

// TestRenameCredential: a renamed credential keeps its key under a new ID;
// APISIX 3.18 refuses a key held twice, so the old one must go first.
func TestRenameCredential(t *testing.T) {
	g := newGateway(t)
	if r := cli(t, g, shopKey, "sync", "--source", ordersDir(t, ordersYAML)); r.code != 0 {
		t.Fatal(r.err)
	}
	renamed := ordersDir(t, strings.Replace(ordersYAML, "      - name: main\n", "      - name: primary\n", 1))
	if r := cli(t, g, shopKey, "sync", "--source", renamed, "--max-delete-percent", "100"); r.code != 0 {
		t.Fatalf("sync of the rename: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	if r := cli(t, g, shopKey, "diff", "--source", renamed); r.code != 0 {
		t.Errorf("diff after the rename: exit %d\n%s", r.code, r.stdout)
	}
}

// TestEncryptedSourceRefused (reliability row B5 for the one-shot verbs):
// a file with SOPS ciphertext is refused by the loader, so diff and sync
// exit 1 naming it, and not a single request reaches the gateway.
func TestEncryptedSourceRefused(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, ordersYAML)
	writeFile(t, src, "secrets/shop.yaml", "consumers:\n  - username: vault\n    credentials:\n      - name: main\n        type: key-auth\n        config:\n          key: ENC[AES256_GCM,data:c2VjcmV0,iv:aXY=,tag:dGFn,type:str]\n")
	for _, verb := range [][]string{{"diff"}, {"sync"}, {"sync", "--dry-run"}} {
		r := cli(t, g, shopKey, append(verb, "--source", src)...)
		if r.code != 1 || !strings.Contains(r.err, "secrets/shop.yaml:7") || !strings.Contains(r.err, "SOPS") {
			t.Errorf("%v: exit %d, want 1 naming secrets/shop.yaml:7 and SOPS\n%s", verb, r.code, r.err)
		}
		if strings.Contains(r.err+r.stdout, "c2VjcmV0") {
			t.Errorf("%v shows the ciphertext", verb)
		}
	}
	if n := len(g.em.Requests()); n != 0 {
		t.Errorf("%d requests reached the gateway", n)
	}
}

// TestPlaintextSecretWarned (reliability row B5): diff and sync warn of a
// secret written in plain text in the files, without showing it.
func TestPlaintextSecretWarned(t *testing.T) {
	g := newGateway(t)
	src := ordersDir(t, strings.Replace(ordersYAML, "${SHOP_KEY}", "CANARY-plain-0815", 1))
	for _, verb := range []string{"diff", "sync"} {
		r := cli(t, g, nil, verb, "--source", src)
		if !strings.Contains(r.err, `warning: orders.yaml:19: consumer_credential "shop/main": config.key is a secret written in plain text`) {
			t.Errorf("%s does not warn:\n%s", verb, r.err)
		}
		if strings.Contains(r.err+r.stdout, "CANARY") {
			t.Errorf("%s shows the secret", verb)
		}
	}
}
