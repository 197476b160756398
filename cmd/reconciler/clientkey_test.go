package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// paths lists the method and path of writes (their bodies hold keys).
func paths(ws []write) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Method + " " + w.Path
	}
	return out
}

// writesOf drops the pre-flight POST to configs/validate (which writes
// nothing) from ws.
func writesOf(ws []write) []write {
	return slices.DeleteFunc(ws, func(w write) bool {
		return w.Method == http.MethodPost && w.Path == "/apisix/admin/configs/validate"
	})
}

// newKeyPEM returns a fresh private key in PEM, as a file would hold it.
func newKeyPEM(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// mtlsConfig is a service whose default upstream and extra upstream both
// present a client certificate to their nodes (upstream mTLS).
func mtlsConfig(cert, inlineKey, extraKey string) string {
	return fmt.Sprintf(`services:
  - name: billing
    upstream:
      scheme: https
      nodes:
        - {host: 10.50.0.7, port: 443, weight: 1}
      tls:
        client_cert: %s
        client_key: %s
    upstreams:
      - name: billing-canary
        scheme: https
        nodes:
          - {host: 10.50.0.8, port: 443, weight: 1}
        tls:
          client_cert: %s
          client_key: %s
    routes:
      - name: invoices
        uris: [/invoices]
`, jsonQuote(cert), jsonQuote(inlineKey), jsonQuote(cert), jsonQuote(extraKey))
}

// admin sends one Admin API request as a person would with curl and
// decodes the answer's object ("value" of either flavour's envelope).
func admin(t testing.TB, g *gateway, method, path string, body map[string]any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	var env struct {
		Value map[string]any `json:"value"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	g.takeWrites()
	return env.Value
}

// stripFingerprintByHand rewrites an object as a tool without the key
// fingerprint (ADC) would: what GET shows, without the label at labels
// (or at upstream.labels).
func stripFingerprintByHand(t testing.TB, g *gateway, path string, inline bool) {
	t.Helper()
	v := admin(t, g, http.MethodGet, path, nil)
	for _, f := range []string{"id", "create_time", "update_time", "created_at", "updated_at"} {
		delete(v, f)
	}
	holder := v
	if inline {
		holder, _ = v["upstream"].(map[string]any)
	}
	labels, _ := holder["labels"].(map[string]any)
	if _, ok := labels[diff.FingerprintLabel]; !ok {
		t.Fatalf("%s: no %s label to strip: %v", path, diff.FingerprintLabel, holder["labels"])
	}
	delete(labels, diff.FingerprintLabel)
	admin(t, g, http.MethodPut, path, v)
}

// TestUpstreamClientKeyNoFalseDrift: an upstream's tls.client_key reads back
// encrypted from APISIX (it decrypts plugin fields only), so it is never
// compared: once synced, a service whose default and extra upstreams carry
// a client certificate and key is in sync (no write, diff exits 0, dump
// round-trips), a changed key is still noticed through the fingerprint
// label and written with one request, the key shows in no output, and an
// object written without the fingerprint (by ADC) is compared without it.
func TestUpstreamClientKeyNoFalseDrift(t *testing.T) {
	certData, err := os.ReadFile("testdata/tls/sample-tls.crt")
	if err != nil {
		t.Fatal(err)
	}
	cert := string(certData)
	keyA, keyB, keyC := newKeyPEM(t), newKeyPEM(t), newKeyPEM(t)
	sid := model.ServiceID("billing")
	uid := model.UpstreamID("billing", "billing-canary")

	flavours := []struct {
		name string
		opts []emulator.Option
		args []string
		// the objects that hold the default and the extra upstream, and
		// whether the default one is inline in the service
		inlinePath, extraPath string
		inline                bool
		// the path of the default upstream's client key in the object
		keyAt []string
	}{
		{
			name: "apisix-3.18", inlinePath: "/apisix/admin/upstreams/" + sid, extraPath: "/apisix/admin/upstreams/" + uid,
			keyAt: []string{"tls", "client_key"},
		},
		{
			name: "apisix-3.13", opts: []emulator.Option{emulator.WithAPISIXVersion("3.13.0")},
			inlinePath: "/apisix/admin/upstreams/" + sid, extraPath: "/apisix/admin/upstreams/" + uid,
			keyAt: []string{"tls", "client_key"},
		},
		{
			name: "api7ee", opts: []emulator.Option{emulator.WithBackend(emulator.BackendAPI7EE)},
			args:       []string{"--backend", "api7ee", "--gateway-group", "default"},
			inlinePath: "/apisix/admin/services/" + sid + "?gateway_group_id=default",
			extraPath:  "/apisix/admin/services/" + sid + "/upstreams/" + uid + "?gateway_group_id=default",
			inline:     true, keyAt: []string{"upstream", "tls", "client_key"},
		},
	}
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			g := newGateway(t, fl.opts...)
			with := func(args ...string) []string { return append(args, fl.args...) }
			src := t.TempDir()
			writeFile(t, src, "billing.yaml", mtlsConfig(cert, keyA, keyB))

			if r := cli(t, g, nil, with("sync", "--source", src)...); r.code != 0 {
				t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			stored := admin(t, g, http.MethodGet, fl.inlinePath, nil)
			var got any = stored
			for _, seg := range fl.keyAt {
				m, _ := got.(map[string]any)
				got = m[seg]
			}
			storedKey, _ := got.(string)
			if storedKey == "" {
				t.Fatalf("the gateway holds no client key at %v: %v", fl.keyAt, stored)
			}
			t.Logf("%s: GET shows the client key as written: %v", fl.name, storedKey == keyA)
			if !fl.inline && storedKey == keyA {
				t.Fatalf("APISIX reads upstream client keys back encrypted; the emulator showed it as written")
			}
			leaks := func(what, out string) {
				t.Helper()
				for _, secret := range []string{keyA, keyB, keyC, storedKey, "PRIVATE KEY"} {
					if strings.Contains(out, strings.TrimSpace(secret)) {
						t.Errorf("%s shows a client key:\n%s", what, out)
						return
					}
				}
			}

			// In sync: no write, diff exits 0 whatever the output.
			inSync := func(when string) {
				t.Helper()
				g.takeWrites()
				if r := cli(t, g, nil, with("sync", "--source", src)...); r.code != 0 {
					t.Fatalf("%s: sync: exit %d\n%s", when, r.code, r.err)
				}
				if w := g.takeWrites(); len(w) != 0 {
					t.Fatalf("%s: a sync with nothing changed wrote %d times: %v", when, len(w), paths(w))
				}
				for _, o := range []string{"text", "json", "markdown"} {
					if r := cli(t, g, nil, with("diff", "-o", o, "--source", src)...); r.code != 0 {
						t.Fatalf("%s: diff -o %s: exit %d\n%s\n%s", when, o, r.code, r.stdout, r.err)
					}
				}
			}
			inSync("after the first sync")

			// The dump round-trips: the keys become variables (the
			// gateway does not give them back as written), and no
			// fingerprint label shows.
			dir := t.TempDir()
			r := cli(t, g, nil, with("dump", "-o", filepath.Join(dir, "gateway.yaml"))...)
			if r.code != 0 {
				t.Fatalf("dump: exit %d\n%s", r.code, r.err)
			}
			data, _ := os.ReadFile(filepath.Join(dir, "gateway.yaml"))
			leaks("the dump", string(data))
			if strings.Contains(string(data), diff.FingerprintLabel) {
				t.Errorf("the dump holds the fingerprint label:\n%s", data)
			}
			env := map[string]string{"SERVICE_BILLING_CLIENT_KEY": keyA, "UPSTREAM_BILLING_CANARY_CLIENT_KEY": keyB}
			for name := range env {
				if !strings.Contains(r.err, "set "+name+" ") {
					t.Errorf("the dump does not ask for %s:\n%s", name, r.err)
				}
			}
			if r := cli(t, g, env, with("diff", "--source", dir)...); r.code != 0 {
				t.Errorf("diff of the dump: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			plain := t.TempDir()
			if r := cli(t, g, nil, with("dump", "--include-secrets", "-o", filepath.Join(plain, "gateway.yaml"))...); r.code != 0 {
				t.Fatalf("dump --include-secrets: exit %d\n%s", r.code, r.err)
			}
			if r := cli(t, g, env, with("diff", "--source", plain)...); r.code != 0 {
				t.Errorf("diff of the dump with secrets: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}

			// A changed default-upstream key is noticed, masked, and
			// written once; then in sync again.
			writeFile(t, src, "billing.yaml", mtlsConfig(cert, keyC, keyB))
			for _, o := range []string{"text", "json", "markdown"} {
				r := cli(t, g, nil, with("diff", "-o", o, "--source", src)...)
				if r.code != 2 || !strings.Contains(r.stdout, "/upstream/labels/"+diff.FingerprintLabel) {
					t.Fatalf("diff -o %s of a changed client key: exit %d\n%s\n%s", o, r.code, r.stdout, r.err)
				}
				leaks("diff -o "+o, r.stdout+r.err)
			}
			r = cli(t, g, nil, with("sync", "--source", src)...)
			if r.code != 0 {
				t.Fatalf("sync of a changed client key: exit %d\n%s", r.code, r.err)
			}
			leaks("sync", r.stdout+r.err)
			w := writesOf(g.takeWrites())
			if len(w) != 1 || w[0].Method != http.MethodPut || w[0].Path != strings.Split(fl.inlinePath, "?")[0] {
				t.Fatalf("sync of a changed client key wrote %v, want one PUT %s", paths(w), fl.inlinePath)
			}
			var sent any = w[0].Body
			for _, seg := range fl.keyAt {
				m, _ := sent.(map[string]any)
				sent = m[seg]
			}
			if sent != keyC {
				t.Errorf("the new client key was not sent")
			}
			inSync("after the key change")

			// The same for the extra upstream.
			writeFile(t, src, "billing.yaml", mtlsConfig(cert, keyC, keyA))
			if r := cli(t, g, nil, with("diff", "--source", src)...); r.code != 2 || !strings.Contains(r.stdout, "/labels/"+diff.FingerprintLabel) {
				t.Fatalf("diff of a changed extra-upstream client key: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			if r := cli(t, g, nil, with("sync", "--source", src)...); r.code != 0 {
				t.Fatalf("sync of a changed extra-upstream key: exit %d\n%s", r.code, r.err)
			}
			if w := writesOf(g.takeWrites()); len(w) != 1 || w[0].Path != strings.Split(fl.extraPath, "?")[0] {
				t.Fatalf("sync of a changed extra-upstream key wrote %v, want one PUT %s", paths(w), fl.extraPath)
			}
			inSync("after the extra key change")

			// Written without the fingerprint (by ADC, by hand): the key
			// cannot be checked, and nothing else differs.
			stripFingerprintByHand(t, g, fl.inlinePath, fl.inline)
			stripFingerprintByHand(t, g, fl.extraPath, false)
			inSync("after ADC wrote them without the fingerprint")
		})
	}
}
