package emulator

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestReferenceFacts checks, over real HTTP, the facts of the reference's
// §1 tables that the recorded corpus does not exercise: exact status, body
// and X-API-VERSION for each, at the APISIX version the fact belongs to.
func TestReferenceFacts(t *testing.T) {
	up := map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}
	route := func(extra map[string]any) map[string]any {
		b := map[string]any{"uri": "/a"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	type call struct {
		method, path string
		body         any
	}
	// setup is sent first, and must succeed (2xx).
	setup := []call{
		{"PUT", "/apisix/admin/upstreams/u1", up},
		{"PUT", "/apisix/admin/services/s1", map[string]any{"upstream_id": "u1"}},
		{"PUT", "/apisix/admin/plugin_configs/pc1", map[string]any{"plugins": map[string]any{}}},
		{"PUT", "/apisix/admin/consumer_groups/g1", map[string]any{"plugins": map[string]any{}}},
		{"PUT", "/apisix/admin/routes/r1", route(map[string]any{"service_id": "s1", "plugin_config_id": "pc1"})},
		{"PUT", "/apisix/admin/routes/r2", route(map[string]any{"upstream_id": "u1"})},
		{"PUT", "/apisix/admin/consumers", map[string]any{"username": "c1", "group_id": "g1"}},
	}
	tests := []struct {
		name    string
		version string // default 3.18.0
		token   string // default the admin key
		call
		status int
		want   string // the body: JSON compared as values, text byte for byte
		noV3   bool   // X-API-VERSION absent
	}{
		// References on write (§1.7).
		{name: "dangling upstream_id", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "nope"})}, status: 400,
			want: `{"error_msg":"failed to fetch upstream info by upstream id [nope], response code: 404"}`},
		{name: "dangling service_id", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"service_id": "nope"})}, status: 400,
			want: `{"error_msg":"failed to fetch service info by service id [nope], response code: 404"}`},
		{name: "dangling plugin_config_id", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "plugin_config_id": "nope"})}, status: 400,
			want: `{"error_msg":"failed to fetch plugin config info by plugin config id [nope], response code: 404"}`},
		{name: "dangling service upstream_id", call: call{"PUT", "/apisix/admin/services/x", map[string]any{"upstream_id": "nope"}}, status: 400,
			want: `{"error_msg":"failed to fetch upstream info by upstream id [nope], response code: 404"}`},
		{name: "dangling consumer group_id", call: call{"PUT", "/apisix/admin/consumers/c2", map[string]any{"username": "c2", "group_id": "nope"}}, status: 400,
			want: `{"error_msg":"failed to fetch consumer group info by consumer group id [nope], response code: 404"}`},
		{name: "dangling tls.client_cert_id", call: call{"PUT", "/apisix/admin/upstreams/x", map[string]any{"nodes": up["nodes"], "tls": map[string]any{"client_cert_id": "nope"}}}, status: 400,
			want: `{"error_msg":"failed to fetch ssl info by ssl id [nope], response code: 404"}`},
		// Delete checks (§1.3, §1.7).
		{name: "upstream used by a route (routes are checked before services)", call: call{"DELETE", "/apisix/admin/upstreams/u1", nil}, status: 400,
			want: `{"error_msg":"can not delete this upstream, route [r2] is still using it now"}`},
		{name: "service used by a route", call: call{"DELETE", "/apisix/admin/services/s1", nil}, status: 400,
			want: `{"error_msg":"can not delete this service directly, route [r1] is still using it now"}`},
		{name: "plugin config used by a route", call: call{"DELETE", "/apisix/admin/plugin_configs/pc1", nil}, status: 400,
			want: `{"error_msg":"can not delete this plugin config, route [r1] is still using it now"}`},
		{name: "consumer group used by a consumer", call: call{"DELETE", "/apisix/admin/consumer_groups/g1", nil}, status: 400,
			want: `{"error_msg":"can not delete this consumer group, consumer [c1] is still using it now"}`},
		{name: "force=true skips the check", call: call{"DELETE", "/apisix/admin/consumer_groups/g1?force=true", nil}, status: 200,
			want: `{"deleted":"1","key":"/apisix/consumer_groups/g1"}`},
		// Not found and 405s (§1.2, §1.5).
		{name: "GET of a missing key", call: call{"GET", "/apisix/admin/routes/nope", nil}, status: 404, want: `{"message":"Key not found"}`},
		{name: "PATCH of a missing key", call: call{"PATCH", "/apisix/admin/routes/nope", map[string]any{}}, status: 404, want: `{"message":"Key not found"}`},
		{name: "DELETE of a missing key", call: call{"DELETE", "/apisix/admin/routes/nope", nil}, status: 404, want: `{"message":"Key not found"}`},
		{name: "credentials of a consumer without any", call: call{"GET", "/apisix/admin/consumers/c1/credentials", nil}, status: 404, want: `{"message":"Key not found"}`},
		{name: "POST plugin config", call: call{"POST", "/apisix/admin/plugin_configs", map[string]any{}}, status: 405,
			want: "{\"error_msg\":\"not supported `POST` method for plugin config\"}"},
		{name: "POST consumer group", call: call{"POST", "/apisix/admin/consumer_groups", map[string]any{}}, status: 405,
			want: "{\"error_msg\":\"not supported `POST` method for consumer group\"}"},
		{name: "PATCH plugin metadata", call: call{"PATCH", "/apisix/admin/plugin_metadata/cors", map[string]any{}}, status: 405,
			want: "{\"error_msg\":\"not supported `PATCH` method for plugin_metadata\"}"},
		{name: "PATCH consumer", call: call{"PATCH", "/apisix/admin/consumers/c1", map[string]any{}}, status: 405,
			want: "{\"error_msg\":\"not supported `PATCH` method for consumer\"}"},
		{name: "POST secret", call: call{"POST", "/apisix/admin/secrets/vault", map[string]any{}}, status: 405,
			want: "{\"error_msg\":\"not supported `POST` method for secret\"}"},
		// Bodies (§1.1, §1.5).
		{name: "empty PUT body", call: call{"PUT", "/apisix/admin/routes/x", ""}, status: 400, want: `{"error_msg":"missing configurations"}`},
		{name: "empty PATCH body", call: call{"PATCH", "/apisix/admin/routes/r2", ""}, status: 400, want: `{"error_msg":"missing new configuration"}`},
		{name: "body over 1.5 MiB", call: call{"PUT", "/apisix/admin/routes/x", strings.Repeat(" ", 1572865)}, status: 400, noV3: true,
			want: `{"error_msg":"invalid request body: request size 1572865 is greater than the maximum size 1572864 allowed"}`},
		{name: "non-numeric ttl", call: call{"PUT", "/apisix/admin/routes/x?ttl=soon", route(map[string]any{"upstream_id": "u1"})}, status: 400,
			want: `{"error_msg":"invalid argument ttl: should be a number"}`},
		// Server-managed timestamps: Lua's `if conf[k]` (null is truthy, false is not).
		{name: "create_time", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "create_time": 1})}, status: 400,
			want: `{"error_msg":"the property is forbidden:  create_time"}`},
		{name: "create_time null", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "create_time": nil})}, status: 400,
			want: `{"error_msg":"the property is forbidden:  create_time"}`},
		{name: "plugins.update_time", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "plugins": map[string]any{"update_time": 1}})}, status: 400,
			want: `{"error_msg":"the property is forbidden:  plugins.update_time"}`},
		{name: "create_time false is left to the schema", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "create_time": false})}, status: 400,
			want: `{"error_msg":"invalid configuration: property \"create_time\" validation failed: wrong type: expected integer, got boolean"}`},
		// Schema texts (§1.7).
		{name: "wrong type", call: call{"PUT", "/apisix/admin/routes/x", map[string]any{"uri": 1, "upstream_id": "u1"}}, status: 400,
			want: `{"error_msg":"invalid configuration: property \"uri\" validation failed: wrong type: expected string, got number"}`},
		{name: "unknown field", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "foo": 1})}, status: 400,
			want: `{"error_msg":"invalid configuration: additional properties forbidden, found foo"}`},
		{name: "remote_addr and remote_addrs", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "remote_addr": "10.0.0.1", "remote_addrs": []any{"10.0.0.1"}})}, status: 400,
			want: `{"error_msg":"only one of remote_addr or remote_addrs is allowed"}`},
		{name: "bad vars", call: call{"PUT", "/apisix/admin/routes/x", route(map[string]any{"upstream_id": "u1", "vars": []any{[]any{"arg_a", "=", "1"}}})}, status: 400,
			want: `{"error_msg":"failed to validate the 'vars' expression: invalid operator '='"}`},
		// Pagination bounds (§1.6).
		{name: "page_size 9", call: call{"GET", "/apisix/admin/routes?page=1&page_size=9", nil}, status: 400, want: "page_size must be between 10 and 500"},
		{name: "page_size 501", call: call{"GET", "/apisix/admin/routes?page=1&page_size=501", nil}, status: 400, want: "page_size must be between 10 and 500"},
		{name: "page_size 500 is inside", call: call{"GET", "/apisix/admin/upstreams?page=1&page_size=500", nil}, status: 200,
			want: `{"list":[{"createdIndex":15,"key":"/apisix/upstreams/u1","modifiedIndex":15,"value":{"create_time":1795915800,"id":"u1","nodes":{"10.0.0.1:80":1},"update_time":1795915800}}],"total":1}`},
		{name: "page_size 10 is inside", call: call{"GET", "/apisix/admin/upstreams?page=1&page_size=10", nil}, status: 200,
			want: `{"list":[{"createdIndex":15,"key":"/apisix/upstreams/u1","modifiedIndex":15,"value":{"create_time":1795915800,"id":"u1","nodes":{"10.0.0.1:80":1},"update_time":1795915800}}],"total":1}`},
		{name: "page 0 is page 1", call: call{"GET", "/apisix/admin/upstreams?page=0&page_size=10", nil}, status: 200,
			want: `{"list":[{"createdIndex":15,"key":"/apisix/upstreams/u1","modifiedIndex":15,"value":{"create_time":1795915800,"id":"u1","nodes":{"10.0.0.1:80":1},"update_time":1795915800}}],"total":1}`},
		{name: "a page that is not a number: no paging, no bounds", call: call{"GET", "/apisix/admin/upstreams?page=x&page_size=9", nil}, status: 200,
			want: `{"list":[{"createdIndex":15,"key":"/apisix/upstreams/u1","modifiedIndex":15,"value":{"create_time":1795915800,"id":"u1","nodes":{"10.0.0.1:80":1},"update_time":1795915800}}],"total":1}`},
		{name: "an empty page is an object", call: call{"GET", "/apisix/admin/upstreams?page=2&page_size=10", nil}, status: 200, want: `{"list":{},"total":1}`},
		{name: "filter by upstream_id", call: call{"GET", "/apisix/admin/routes?filter=upstream_id%3Du1", nil}, status: 200,
			want: `{"list":[{"createdIndex":20,"key":"/apisix/routes/r2","modifiedIndex":20,"value":{"create_time":1795915800,"id":"r2","update_time":1795915800,"upstream_id":"u1","uri":"/a"}}],"total":1}`},
		{name: "no filter= before 3.13: ignored", version: "3.12.0", call: call{"GET", "/apisix/admin/routes?filter=upstream_id%3Dnope", nil}, status: 200,
			want: `{"list":[{"createdIndex":19,"key":"/apisix/routes/r1","modifiedIndex":19,"value":{"create_time":1795915800,"id":"r1","plugin_config_id":"pc1","priority":0,"service_id":"s1","status":1,"update_time":1795915800,"uri":"/a"}},` +
				`{"createdIndex":20,"key":"/apisix/routes/r2","modifiedIndex":20,"value":{"create_time":1795915800,"id":"r2","priority":0,"status":1,"update_time":1795915800,"upstream_id":"u1","uri":"/a"}}],"total":2}`},
		// Roles (§1.1).
		{name: "viewer reads", token: viewerKey, call: call{"GET", "/apisix/admin/routes/r2", nil}, status: 200,
			want: `{"createdIndex":20,"key":"/apisix/routes/r2","modifiedIndex":20,"value":{"create_time":1795915800,"id":"r2","update_time":1795915800,"upstream_id":"u1","uri":"/a"}}`},
		{name: "viewer may not PUT", token: viewerKey, call: call{"PUT", "/apisix/admin/routes/r2", route(map[string]any{"upstream_id": "u1"})}, status: 401, noV3: true,
			want: `{"description":"invalid method for role viewer","error_msg":"failed to check token"}`},
		{name: "viewer may not DELETE", token: viewerKey, call: call{"DELETE", "/apisix/admin/routes/r2", nil}, status: 401, noV3: true,
			want: `{"description":"invalid method for role viewer","error_msg":"failed to check token"}`},
		{name: "viewer may not validate", token: viewerKey, call: call{"POST", "/apisix/admin/configs/validate", map[string]any{}}, status: 401, noV3: true,
			want: `{"description":"invalid method for role viewer","error_msg":"failed to check token"}`},
		// Endpoints by version (§1.11, §1.12).
		{name: "configs/validate", call: call{"POST", "/apisix/admin/configs/validate", map[string]any{}}, status: 200, noV3: true, want: `{}`},
		{name: "no configs/validate before 3.17", version: "3.16.0", call: call{"POST", "/apisix/admin/configs/validate", map[string]any{}}, status: 404, noV3: true,
			want: `{"error_msg":"Unsupported resource type: configs"}`},
		{name: "unknown core schema", call: call{"GET", "/apisix/admin/schema/nope", nil}, status: 400, want: `{"error_msg":"not found schema: nope"}`},
		{name: "unknown plugin", call: call{"GET", "/apisix/admin/plugins/nope", nil}, status: 404, want: `{"error_msg":"plugin not found in subsystem http"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver := tt.version
			if ver == "" {
				ver = "3.18.0"
			}
			clock := newFakeClock()
			h := newHarness(t, WithAdminToken(adminKey), WithViewerToken(viewerKey), WithAPISIXVersion(ver), WithClock(clock.Now))
			for _, s := range setup {
				if r := h.call(s.method, s.path, adminKey, s.body); r.status >= 300 {
					t.Fatalf("setup %s %s: %d %s", s.method, s.path, r.status, r.raw)
				}
			}
			tok := tt.token
			if tok == "" {
				tok = adminKey
			}
			r := h.call(tt.method, tt.path, tok, tt.call.body)
			got, want := r.raw, tt.want
			if strings.HasPrefix(want, "{") {
				// APISIX ends JSON with a newline; key order is random.
				if !strings.HasSuffix(got, "}\n") {
					t.Errorf("JSON body without its newline: %q", got)
				}
				var w any
				if err := json.Unmarshal([]byte(want), &w); err != nil {
					t.Fatalf("the test's body: %v", err)
				}
				got, want = string(canonicalJSON(r.body)), string(canonicalJSON(w))
			}
			if r.status != tt.status || got != want {
				t.Errorf("%s %s:\n got %d %s\nwant %d %s", tt.method, tt.path, r.status, got, tt.status, want)
			}
			if got, want := r.header.Get("X-API-VERSION"), map[bool]string{false: "v3", true: ""}[tt.noV3]; got != want {
				t.Errorf("X-API-VERSION %q, want %q", got, want)
			}
		})
	}
}

// TestStreamRouteDeleteChecks: in stream mode a service named by a stream
// route cannot be deleted, but an upstream named by one can (APISIX's
// upstream delete_checker does not look at stream routes), and the stream
// route keeps its now dangling upstream_id.
func TestStreamRouteDeleteChecks(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithStreamMode())
	steps := []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"PUT", "/apisix/admin/upstreams/u1", map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}, 201, ""},
		{"PUT", "/apisix/admin/services/s1", map[string]any{"upstream_id": "u1"}, 201, ""},
		{"PUT", "/apisix/admin/stream_routes/sr1", map[string]any{"service_id": "s1"}, 201, ""},
		{"PUT", "/apisix/admin/stream_routes/sr2", map[string]any{"upstream_id": "u1"}, 201, ""},
		{"DELETE", "/apisix/admin/services/s1", nil, 400, "can not delete this service directly, stream_route [sr1] is still using it now"},
		{"DELETE", "/apisix/admin/stream_routes/sr1", nil, 200, ""},
		{"DELETE", "/apisix/admin/services/s1", nil, 200, ""},
		{"DELETE", "/apisix/admin/upstreams/u1", nil, 200, ""},
		{"GET", "/apisix/admin/stream_routes/sr2", nil, 200, ""},
	}
	for i, s := range steps {
		r := h.call(s.method, s.path, adminKey, s.body)
		if r.status != s.status || (s.want != "" && at(r.body, "error_msg") != s.want) {
			t.Fatalf("step %d %s %s: %d %s, want %d %s", i+1, s.method, s.path, r.status, r.raw, s.status, s.want)
		}
	}
	if r := h.call("GET", "/apisix/admin/stream_routes/sr2", adminKey, nil); at(r.body, "value", "upstream_id") != "u1" {
		t.Errorf("the dangling reference is gone: %s", r.raw)
	}
}
