package reconciler

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/testcert"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// mtlsServices is a service whose default and extra upstreams present a
// client certificate to their nodes.
func mtlsServices(cert, key string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`services:
  - name: billing
    upstream:
      scheme: https
      nodes: [{host: 10.50.0.7, port: 443, weight: 1}]
      tls: {client_cert: %s, client_key: %s}
    upstreams:
      - name: billing-canary
        scheme: https
        nodes: [{host: 10.50.0.8, port: 443, weight: 1}]
        tls: {client_cert: %s, client_key: %s}
    routes:
      - name: invoices
        uris: [/invoices]
`, q(cert), q(key), q(cert), q(key))
}

// TestNoFalseDriftOnUpstreamClientKeys: APISIX reads an upstream's
// tls.client_key back encrypted. After the first cycle applies a service
// whose upstreams carry one, the daemon agrees with the one-shot verbs: no
// change, no write, drift gauge 0, in sync; a changed key in Git is then
// pending, applied with one write, and in sync again.
func TestNoFalseDriftOnUpstreamClientKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		emu  []emulator.Option
	}{
		{"apisix-3.18", nil},
		{"apisix-3.13", []emulator.Option{emulator.WithAPISIXVersion("3.13.0")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert, key := testcert.New(t, testcert.Options{CommonName: "gateway-client", ClientAuth: true, NotBefore: start})
			h := newHarness(t, harnessOpts{emu: tt.emu, files: map[string]string{"billing.yaml": mtlsServices(cert, key)}})
			if c := h.once(); c.Result != ResultSuccess || c.Counts.Applied != 3 {
				t.Fatalf("first cycle = %+v, want the service, its extra upstream and route applied", c)
			}
			inSync := func(when string) {
				t.Helper()
				writes := h.gw.writes()
				for range 2 {
					if c := h.once(); c.Result != ResultSuccess || c.Changes != 0 {
						t.Fatalf("%s: false drift: %+v", when, c.Items)
					}
				}
				if n := h.gw.writes() - writes; n != 0 {
					t.Errorf("%s: in-sync cycles wrote %d times", when, n)
				}
				if d := h.drift(); d != 0 || h.gauge("reconciler_in_sync", "target", "prod") != 1 {
					t.Errorf("%s: drift gauge %v, in_sync %v", when, d, h.gauge("reconciler_in_sync", "target", "prod"))
				}
			}
			inSync("after the first apply")

			_, key2 := testcert.New(t, testcert.Options{CommonName: "gateway-client", ClientAuth: true, NotBefore: start})
			h.repo.commit("rotate the client key", map[string]string{"billing.yaml": mtlsServices(cert, key2)})
			writes := h.gw.writes()
			c := h.once()
			if c.Result != ResultSuccess || c.Counts.Pending != 2 || c.Counts.Drift != 0 || c.Counts.Applied != 2 {
				t.Fatalf("cycle after the key rotation = %+v, want the service and the extra upstream pending and applied", c.Counts)
			}
			if n := h.gw.writes() - writes; n != 2 {
				t.Errorf("the key rotation took %d writes, want 2 (one per upstream)", n)
			}
			inSync("after the key rotation")
		})
	}
}
