package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestAPI7DocumentedAssumptions walks the api7ee section of the package
// documentation, one step per claim the other api7ee tests do not already
// hold the emulator to. The steps share one emulator and run in order.
func TestAPI7DocumentedAssumptions(t *testing.T) {
	clock := newFakeClock()
	h := newAPI7(t, WithClock(clock.Now))
	q := "?gateway_group_id=default"
	hdr := func(tok string) http.Header { return http.Header{"X-API-KEY": {tok}} }
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+a7Token))}}
	svc := svcBody("s1")
	stream := svcBody("pg")
	stream["type"] = "stream"
	str := func(v any) string { s, _ := v.(string); return s }
	steps := []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		body   any
		status int
		check  func(t *testing.T, r reply)
		before func()
	}{
		// Tokens.
		{name: "HTTP Basic auth is not read: no token", method: "GET", path: "/api/gateway_groups", hdr: basic, status: 401},
		{name: "an a7adm- key without gateway_group_id writes to the first group", method: "PUT", path: "/apisix/admin/services/s0", hdr: hdr(a7Admin), body: svcBody("s0"), status: 200,
			check: func(t *testing.T, _ reply) {
				if h.em.Count("default", "services") != 1 {
					t.Error("the service is not in the first group")
				}
			}},
		// Gateway groups.
		{name: "a gateway group by id", method: "GET", path: "/api/gateway_groups/gg-staging", hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if at(r.body, "value", "name") != "staging" || at(r.body, "value", "id") != "gg-staging" {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "an unknown gateway group id", method: "GET", path: "/api/gateway_groups/gg-nope", hdr: hdr(a7Token), status: 404},
		{name: "search matches a substring of the name", method: "GET", path: "/api/gateway_groups?search=stag", hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if at(r.body, "total") != json.Number("1") || at(r.body, "list", 0, "name") != "staging" {
					t.Errorf("%s", r.raw)
				}
			}},
		// Envelopes and headers.
		{name: "a PUT answers 200 {value} without APISIX's headers", method: "PUT", path: "/apisix/admin/services/s1" + q, hdr: hdr(a7Token), body: svc, status: 200,
			check: func(t *testing.T, r reply) {
				if r.header.Get("Server") != "" || r.header.Get("X-API-VERSION") != "" {
					t.Errorf("headers %v", r.header)
				}
				if at(r.body, "value", "id") != "s1" || at(r.body, "key") != nil {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "the control API has no APISIX headers either", method: "GET", path: "/api/version", hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if r.header.Get("Server") != "" || r.header.Get("X-API-VERSION") != "" {
					t.Errorf("headers %v", r.header)
				}
			}},
		{name: "not found is 404 {error_msg: not found}", method: "GET", path: "/apisix/admin/routes/nope" + q, hdr: hdr(a7Token), status: 404,
			check: func(t *testing.T, r reply) {
				if at(r.body, "error_msg") != "not found" {
					t.Errorf("%s", r.raw)
				}
			}},
		// Timestamps are the server's.
		{name: "created_at and updated_at in a body are ignored", method: "PUT", path: "/apisix/admin/consumers/ts" + q, hdr: hdr(a7Token),
			body: map[string]any{"username": "ts", "created_at": 1, "updated_at": 2}, status: 200,
			check: func(t *testing.T, r reply) {
				want := json.Number("1795915800")
				if at(r.body, "value", "created_at") != want || at(r.body, "value", "updated_at") != want {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "a replace keeps created_at and moves updated_at", method: "PUT", path: "/apisix/admin/consumers/ts" + q, hdr: hdr(a7Token),
			body: map[string]any{"username": "ts", "desc": "again"}, status: 200, before: func() { clock.Advance(time.Minute) },
			check: func(t *testing.T, r reply) {
				if at(r.body, "value", "created_at") != json.Number("1795915800") || at(r.body, "value", "updated_at") != json.Number("1795915860") {
					t.Errorf("%s", r.raw)
				}
			}},
		// Services and routes.
		{name: "a stream service", method: "PUT", path: "/apisix/admin/services/pg" + q, hdr: hdr(a7Token), body: stream, status: 200},
		{name: "routes have no hosts (they live on the service)", method: "PUT", path: "/apisix/admin/routes/r1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "r1", "paths": []any{"/a"}, "service_id": "s1", "hosts": []any{"a.test"}}, status: 400},
		{name: "routes have no upstream (it is the service's)", method: "PUT", path: "/apisix/admin/routes/r1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "r1", "paths": []any{"/a"}, "service_id": "s1", "upstream": svc["upstream"]}, status: 400},
		{name: "a route needs an http service", method: "PUT", path: "/apisix/admin/routes/r1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "r1", "paths": []any{"/a"}, "service_id": "pg"}, status: 400},
		{name: "a stream route needs a stream service", method: "PUT", path: "/apisix/admin/stream_routes/sr1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "sr1", "service_id": "s1", "server_port": 9000}, status: 400},
		{name: "a stream route on a stream service", method: "PUT", path: "/apisix/admin/stream_routes/sr1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "sr1", "service_id": "pg", "server_port": 9000}, status: 200},
		{name: "a DELETE answers 200 {}", method: "DELETE", path: "/apisix/admin/stream_routes/sr1" + q, hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if m, ok := r.body.(map[string]any); !ok || len(m) != 0 {
					t.Errorf("%s", r.raw)
				}
			}},
		// Consumers and credentials.
		{name: "a consumer without credentials lists none, with 200", method: "GET", path: "/apisix/admin/consumers/ts/credentials" + q, hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if l, ok := at(r.body, "list").([]any); !ok || len(l) != 0 || at(r.body, "total") != json.Number("0") {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "a missing consumer's credentials are 404", method: "GET", path: "/apisix/admin/consumers/nobody/credentials" + q, hdr: hdr(a7Token), status: 404},
		{name: "write responses echo secrets in plaintext", method: "PUT", path: "/apisix/admin/consumers/ts/credentials/c1" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "c1", "plugins": map[string]any{"key-auth": map[string]any{"key": "plain-key-1"}}}, status: 200,
			check: func(t *testing.T, r reply) {
				if at(r.body, "value", "plugins", "key-auth", "key") != "plain-key-1" {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "duplicate auth keys are refused", method: "PUT", path: "/apisix/admin/consumers/ts/credentials/c2" + q, hdr: hdr(a7Token),
			body: map[string]any{"name": "c2", "plugins": map[string]any{"key-auth": map[string]any{"key": "plain-key-1"}}}, status: 400},
		// Plugins: every known plugin is enabled.
		{name: "plugins beyond APISIX's recorded five are enabled", method: "PUT", path: "/apisix/admin/global_rules/prometheus" + q, hdr: hdr(a7Token),
			body: map[string]any{"plugins": map[string]any{"prometheus": map[string]any{}}}, status: 200},
		// Lists.
		{name: "search filters by name", method: "GET", path: "/apisix/admin/services" + q + "&search=pg", hdr: hdr(a7Token), status: 200,
			check: func(t *testing.T, r reply) {
				if at(r.body, "total") != json.Number("1") || at(r.body, "list", 0, "id") != "pg" {
					t.Errorf("%s", r.raw)
				}
			}},
		{name: "order_by=updated_at, newest first", method: "GET", path: "/apisix/admin/services" + q + "&order_by=updated_at", hdr: hdr(a7Token), status: 200,
			before: func() {
				clock.Advance(time.Minute)
				h.call("PUT", "/apisix/admin/services/s0"+q, a7Token, svcBody("s0")).mustStatus(t, 200)
			},
			check: func(t *testing.T, r reply) {
				if str(at(r.body, "list", 0, "id")) != "s0" {
					t.Errorf("%s", r.raw)
				}
			}},
		// What the runtime API does not expose.
		{name: "no plugin configs", method: "GET", path: "/apisix/admin/plugin_configs" + q, hdr: hdr(a7Token), status: 404},
		{name: "no consumer groups", method: "GET", path: "/apisix/admin/consumer_groups" + q, hdr: hdr(a7Token), status: 404},
		{name: "no protos", method: "GET", path: "/apisix/admin/protos" + q, hdr: hdr(a7Token), status: 404},
		{name: "no secrets", method: "GET", path: "/apisix/admin/secrets" + q, hdr: hdr(a7Token), status: 404},
		// Token expiry names itself.
		{name: "an expired token is 401 and says so", method: "GET", path: "/api/version", hdr: hdr(a7Token), status: 401,
			before: func() { _ = h.em.ExpireToken("user", clock.Now()) },
			check: func(t *testing.T, r reply) {
				if at(r.body, "error_msg") != "unauthorized: API key expired" {
					t.Errorf("%s", r.raw)
				}
			}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		r := h.callCtx(t.Context(), s.method, s.path, s.hdr, s.body)
		if r.status != s.status {
			t.Errorf("%s: status %d, want %d (%s)", s.name, r.status, s.status, r.raw)
			continue
		}
		if s.check != nil {
			t.Run(s.name, func(t *testing.T) { s.check(t, r) })
		}
	}

	t.Run("WithPlugins limits the plugins", func(t *testing.T) {
		h := newAPI7(t, WithPlugins("key-auth"))
		r := h.call("PUT", "/apisix/admin/global_rules/prometheus"+q, a7Token, map[string]any{"plugins": map[string]any{"prometheus": map[string]any{}}}).mustStatus(t, 400)
		if at(r.body, "error_msg") != "unknown plugin [prometheus]" {
			t.Errorf("%s", r.raw)
		}
	})
}
