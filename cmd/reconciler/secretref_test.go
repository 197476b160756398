package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestSecretReferencesPassThrough (reliability B5: "$secret:// and $env://
// references pass through untouched"): references in secret fields reach
// the gateway exactly as written — not substituted, not masked, not
// warned of as plain text — and the next diff is empty.
func TestSecretReferencesPassThrough(t *testing.T) {
	g := newGateway(t, emulator.WithPlugins(append(emulator.DefaultPlugins(), "basic-auth")...))
	src := ordersDir(t, `consumers:
  - username: shop
    plugins:
      key-auth:
        key: $env://SHOP_CONSUMER_KEY
    credentials:
      - name: main
        type: key-auth
        config:
          key: $secret://vault/shop/key
      - name: basic
        type: basic-auth
        config:
          username: shop
          password: $secret://aws/shop/password
`)
	r := cli(t, g, map[string]string{"SHOP_CONSUMER_KEY": "not-this"}, "sync", "--source", src)
	if r.code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
	}
	if strings.Contains(r.err, "plain text") {
		t.Errorf("a reference was warned of as a plaintext secret:\n%s", r.err)
	}
	want := map[string]string{
		"/apisix/admin/consumers/shop": "$env://SHOP_CONSUMER_KEY",
		"/apisix/admin/consumers/shop/credentials/" + model.CredentialID("shop", "main"):  "$secret://vault/shop/key",
		"/apisix/admin/consumers/shop/credentials/" + model.CredentialID("shop", "basic"): "$secret://aws/shop/password",
	}
	for _, w := range g.takeWrites() {
		ref, ok := want[w.Path]
		if !ok || w.Method != http.MethodPut {
			continue
		}
		body, err := json.Marshal(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), `"`+ref+`"`) {
			t.Errorf("PUT %s does not carry %s as written: %s", w.Path, ref, body)
		}
		delete(want, w.Path)
	}
	if len(want) != 0 {
		t.Errorf("not written: %v", want)
	}
	if r := cli(t, g, nil, "diff", "--source", src); r.code != 0 {
		t.Errorf("diff after sync: exit %d\n%s", r.code, r.stdout)
	}
}
