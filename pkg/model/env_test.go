package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestExpandVars(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": "", "BRACE": "}{"}[name]
		return v, ok
	}
	tests := []struct {
		in, want, missing string
		subst             bool
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha", subst: true},
		{in: "x-${A}-${B_2}-y", want: "x-alpha-beta-y", subst: true},
		{in: "${MISSING}", missing: "MISSING"},
		{in: "${MISSING:-dflt}", want: "dflt", subst: true},
		{in: "${EMPTY:-dflt}", want: "dflt", subst: true},
		{in: "${EMPTY}", want: "", subst: true},
		{in: "${A:-dflt}", want: "alpha", subst: true},
		{in: "${MISSING:-}", want: "", subst: true},
		{in: `\${A}`, want: "${A}"},
		{in: `\${A:-x}`, want: "${A:-x}"},
		{in: `\${A} and ${A}`, want: "${A} and alpha", subst: true},
		{in: "${http_x.y}", want: "${http_x.y}"},
		{in: `\${http_x.y}`, want: `\${http_x.y}`},
		{in: "$env://A", want: "$env://A"},
		{in: "$secret://vault/a/${A}", want: "$secret://vault/a/alpha", subst: true},
		{in: "${", want: "${"},
		{in: "${A", want: "${A"},
		{in: "${}", want: "${}"},
		{in: "$${A}", want: "$alpha", subst: true},
		{in: "${BRACE}", want: "}{", subst: true},
		{in: "${A:-x", want: "${A:-x"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, subst, missing := expandVars(tt.in, env)
			if got != tt.want || subst != tt.subst || missing != tt.missing {
				t.Errorf("expandVars(%q) = %q, %v, %q; want %q, %v, %q", tt.in, got, subst, missing, tt.want, tt.subst, tt.missing)
			}
			if tt.missing != "" || tt.subst {
				return
			}
			// A literal string escapes to something that expands back to it.
			esc, ok := escapeVars(got)
			if !ok {
				t.Fatalf("escapeVars(%q) failed", got)
			}
			if back, _, _ := expandVars(esc, env); back != got {
				t.Errorf("escapeVars(%q) = %q expands to %q", got, esc, back)
			}
		})
	}
}

// TestSubstitutedTypes checks that a substituted value takes the type of
// its field, as ADC's schema coerces it.
func TestSubstitutedTypes(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"PORT": "8080", "WS": "true", "BAD": "eighty"}[name]
		return v, ok
	}
	doc := "services:\n  - name: s\n    upstream:\n      nodes: [{host: h, port: \"${PORT}\", weight: 1}]\n    routes:\n      - {name: r, uris: [/], enable_websocket: \"${WS}\"}\n"
	rs, err := Load(fstest.MapFS{"c.yaml": {Data: []byte(doc)}}, LoadOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	port := rs[0].Body["upstream"].(map[string]any)["nodes"].([]any)[0].(map[string]any)["port"]
	if port != 8080.0 {
		t.Errorf("port = %#v, want 8080", port)
	}
	if ws := rs[1].Body["enable_websocket"]; ws != true {
		t.Errorf("enable_websocket = %#v, want true", ws)
	}
	bad := strings.ReplaceAll(doc, "${PORT}", "${BAD}")
	_, err = Load(fstest.MapFS{"c.yaml": {Data: []byte(bad)}}, LoadOptions{Env: env})
	if err == nil || strings.Contains(err.Error(), "eighty") {
		t.Errorf("got %v, want an error that does not show the value", err)
	}
}

// TestSecretsNeverInErrors puts a canary value in variables used in every
// kind of wrong place and checks that no error message shows it.
func TestSecretsNeverInErrors(t *testing.T) {
	const canary = "CANARY-7f3a9-secret-value"
	env := func(name string) (string, bool) {
		if name == "SECRET" {
			return canary, true
		}
		return "", false
	}
	doc := `services:
  - name: ${SECRET}
    id: ${SECRET}
    hosts: ["${SECRET}"]
    path_prefix: ${SECRET}
    labels: {team: "a ${SECRET}"}
    upstream:
      type: ${SECRET}
      scheme: ${SECRET}
      nodes: [{host: "${SECRET}", port: "${SECRET}", weight: "${SECRET}"}]
      tls: {client_cert_id: "${SECRET}"}
    routes:
      - name: r
        uris: [/]
        methods: ["${SECRET}"]
        remote_addrs: ["${SECRET}"]
        filter_func: ${SECRET}
        enable_websocket: ${SECRET}
consumers:
  - username: ${SECRET}
    credentials:
      - name: c
        type: ${SECRET}
        config: {key: "${SECRET}"}
  - username: bob
    credentials:
      - {name: a, type: key-auth, config: {key: "${SECRET}"}}
      - {name: b, type: key-auth, config: {key: "${SECRET}"}}
ssls:
  - snis: ["${SECRET}"]
    certificates: [{certificate: "${SECRET}", key: "${SECRET}"}]
    ssl_protocols: ["${SECRET}"]
global_rules:
  cors: {origins: "${SECRET}"}
`
	_, err := Load(fstest.MapFS{"c.yaml": {Data: []byte(doc)}}, LoadOptions{Env: env})
	var list Errors
	if !errors.As(err, &list) || len(list) < 15 {
		t.Fatalf("want many errors, got %v", err)
	}
	for _, e := range list {
		for _, s := range []string{e.Error(), fmt.Sprintf("%+v", *e), e.Resource, e.Message} {
			if strings.Contains(s, canary) || strings.Contains(s, "7f3a9") {
				t.Errorf("error shows the secret: %s", s)
			}
		}
	}
}

// TestSecretPointers checks the JSON pointers recorded for substituted
// values, including keys that need escaping.
func TestSecretPointers(t *testing.T) {
	env := func(string) (string, bool) { return "v", true }
	doc := "consumers:\n  - username: u\n    plugins:\n      response-rewrite:\n        headers:\n          set: {\"a/b~c\": \"${X}\", plain: p}\n        body: ${X}\n"
	rs, err := Load(fstest.MapFS{"c.yaml": {Data: []byte(doc)}}, LoadOptions{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/plugins/response-rewrite/headers/set/a~1b~0c", "/plugins/response-rewrite/body"}
	if diff := cmp.Diff(want, rs[0].Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
}
