package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// jwtConsumerConfig is a consumer authenticating with jwt-auth both in its
// own plugins and through a credential of type jwt-auth; credExp, when not
// empty, sets the credential's exp.
func jwtConsumerConfig(credExp string) string {
	exp := ""
	if credExp != "" {
		exp = "\n          exp: " + credExp
	}
	return fmt.Sprintf(`consumers:
  - username: alice
    plugins:
      jwt-auth:
        key: alice-consumer
        secret: alice-consumer-secret
    credentials:
      - name: primary
        type: jwt-auth
        config:
          key: alice-credential
          secret: alice-credential-secret%s
services:
  - name: api
    upstream:
      nodes:
        - {host: 10.60.0.1, port: 80, weight: 1}
    routes:
      - name: protected
        uris: [/protected]
        plugins:
          jwt-auth: {}
`, exp)
}

// TestConsumerPluginDefaultsNoFalseDrift: APISIX before 3.14 stores the
// defaults of an auth plugin's consumer schema (jwt-auth: algorithm,
// exp, base64_secret, lifetime_grace_period) in a consumer's plugins and
// in a credential's config. Once synced, such a consumer and credential
// are in sync (diff exits 0, a sync writes nothing); a value in Git that
// differs from the default is still drift, and is written.
func TestConsumerPluginDefaultsNoFalseDrift(t *testing.T) {
	for _, version := range []string{"3.13.0", "3.18.0"} {
		t.Run(version, func(t *testing.T) {
			g := newGateway(t, emulator.WithAPISIXVersion(version),
				emulator.WithPlugins(append(emulator.DefaultPlugins(), "jwt-auth")...))
			src := t.TempDir()
			writeFile(t, src, "alice.yaml", jwtConsumerConfig(""))

			if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
				t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			credPath := "/apisix/admin/consumers/alice/credentials/" + model.CredentialID("alice", "primary")
			stored := admin(t, g, http.MethodGet, credPath, nil)
			conf, _ := stored["plugins"].(map[string]any)["jwt-auth"].(map[string]any)
			_, hasExp := conf["exp"]
			if want := version == "3.13.0"; hasExp != want {
				t.Fatalf("APISIX %s stores the credential's exp default: %v, want %v (%v)", version, hasExp, want, conf)
			}

			inSync := func(when string) {
				t.Helper()
				g.takeWrites()
				if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
					t.Fatalf("%s: diff: exit %d\n%s\n%s", when, r.code, r.stdout, r.err)
				}
				if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
					t.Fatalf("%s: sync: exit %d\n%s", when, r.code, r.err)
				}
				if w := writesOf(g.takeWrites()); len(w) != 0 {
					t.Fatalf("%s: a sync with nothing changed wrote %d times: %v", when, len(w), paths(w))
				}
			}
			inSync("after the first sync")

			// exp 3600 in Git differs from the stored default 86400.
			writeFile(t, src, "alice.yaml", jwtConsumerConfig("3600"))
			r := cli(t, g, nil, "diff", "--source", src)
			if r.code == 0 || !strings.Contains(r.stdout, "exp") {
				t.Fatalf("a changed exp shows no drift: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			g.takeWrites()
			if r := cli(t, g, nil, "sync", "--source", src); r.code != 0 {
				t.Fatalf("sync of exp 3600: exit %d\n%s", r.code, r.err)
			}
			w := writesOf(g.takeWrites())
			if len(w) != 1 || w[0].Method != http.MethodPut || !strings.HasPrefix(w[0].Path, credPath) {
				t.Fatalf("a changed exp wrote %v, want one PUT of the credential", paths(w))
			}
			inSync("after syncing exp 3600")
		})
	}
}
