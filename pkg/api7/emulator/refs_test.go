package emulator

import (
	"os"
	"path/filepath"
	"testing"
)

// A consumer's group_id and an upstream's tls.client_cert_id are checked on
// write, as APISIX's check_conf does; a consumer group is refused on delete
// while a consumer names it, and an SSL is not (APISIX's ssl resource has
// no delete check), which pkg/apply relies on knowing.
func TestReferenceChecksOfGroupsAndClientCerts(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "conformance", "apisix-3.18", "fixtures", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ssl := func(typ string) map[string]any {
		return map[string]any{"type": typ, "snis": []any{"test.com"}, "cert": read("sample-tls.crt"), "key": read("sample-tls.key")}
	}
	upstream := map[string]any{"nodes": map[string]any{"10.0.0.1:443": 1}, "scheme": "https", "tls": map[string]any{"client_cert_id": "c1"}}
	msg := func(t *testing.T, r reply, want string) {
		t.Helper()
		if got := at(r.body, "error_msg"); got != want {
			t.Errorf("error_msg %v, want %q", got, want)
		}
	}

	t.Run("group_id", func(t *testing.T) {
		h := newHarness(t, WithAdminToken(adminKey), WithPlugins("limit-count"))
		alice := map[string]any{"username": "alice", "group_id": "g1"}
		msg(t, h.call("PUT", "/apisix/admin/consumers", adminKey, alice).mustStatus(t, 400),
			"failed to fetch consumer group info by consumer group id [g1], response code: 404")
		h.call("PUT", "/apisix/admin/consumer_groups/g1", adminKey, map[string]any{"plugins": map[string]any{}}).mustStatus(t, 201)
		h.call("PUT", "/apisix/admin/consumers", adminKey, alice).mustStatus(t, 201)
		msg(t, h.call("DELETE", "/apisix/admin/consumer_groups/g1", adminKey, nil).mustStatus(t, 400),
			"can not delete this consumer group, consumer [alice] is still using it now")
		h.call("DELETE", "/apisix/admin/consumers/alice", adminKey, nil).mustStatus(t, 200)
		h.call("DELETE", "/apisix/admin/consumer_groups/g1", adminKey, nil).mustStatus(t, 200)
	})

	for _, holder := range []struct{ name, path string }{
		{"an upstream", "/apisix/admin/upstreams/u1"},
		{"a service's inline upstream", "/apisix/admin/services/s1"},
	} {
		t.Run("tls.client_cert_id of "+holder.name, func(t *testing.T) {
			h := newHarness(t, WithAdminToken(adminKey))
			body := upstream
			if holder.path == "/apisix/admin/services/s1" {
				body = map[string]any{"upstream": upstream}
			}
			msg(t, h.call("PUT", holder.path, adminKey, body).mustStatus(t, 400),
				"failed to fetch ssl info by ssl id [c1], response code: 404")
			h.call("PUT", "/apisix/admin/ssls/c1", adminKey, ssl("server")).mustStatus(t, 201)
			msg(t, h.call("PUT", holder.path, adminKey, body).mustStatus(t, 400),
				"failed to get ssl cert by ssl id [c1], wrong ssl type")
			h.call("PUT", "/apisix/admin/ssls/c1", adminKey, ssl("client")).mustStatus(t, 200)
			h.call("PUT", holder.path, adminKey, body).mustStatus(t, 201)
			h.call("DELETE", "/apisix/admin/ssls/c1", adminKey, nil).mustStatus(t, 200)
		})
	}
}
