package emulator

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// The api7ee flavour returns an upstream's tls.client_key as written, in
// plain text, on GET (inline and extra upstreams), where APISIX returns it
// encrypted: a known difference the package doc states. If this test fails,
// the flavour changed and the doc must say so.
func TestAPI7ClientKeyReadsBackInPlainText(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "conformance", "apisix-3.18", "fixtures", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cert, key := read("sample-tls.crt"), read("sample-tls.key")
	up := map[string]any{"name": "extra", "scheme": "https", "nodes": []any{map[string]any{"host": "10.0.0.1", "port": 443, "weight": 1}},
		"tls": map[string]any{"client_cert": cert, "client_key": key}}
	svc := svcBody("s1")
	svc["upstream"] = up

	h := newAPI7(t)
	const q = "?gateway_group_id=default"
	h.call(http.MethodPut, "/apisix/admin/services/s1"+q, a7Token, svc).mustStatus(t, 200)
	h.call(http.MethodPut, "/apisix/admin/services/s1/upstreams/u1"+q, a7Token, up).mustStatus(t, 200)
	for path, at1 := range map[string][]any{
		"/apisix/admin/services/s1" + q:              {"value", "upstream", "tls", "client_key"},
		"/apisix/admin/services/s1/upstreams/u1" + q: {"value", "tls", "client_key"},
	} {
		if got := at(h.call(http.MethodGet, path, a7Token, nil).mustStatus(t, 200).body, at1...); got != key {
			t.Errorf("GET %s: tls.client_key is not the key as written: %.40v…", path, got)
		}
	}
}
