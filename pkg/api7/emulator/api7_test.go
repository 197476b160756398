package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	a7Token = "a7ee-user-token-canary"
	a7Admin = "a7adm-group-key-canary"
)

func newAPI7(t *testing.T, opts ...Option) *harness {
	t.Helper()
	base := []Option{
		WithBackend(BackendAPI7EE),
		WithToken("user", a7Token, RoleAdmin),
		WithToken("group-admin", a7Admin, RoleAdmin),
		WithGatewayGroups("default", "staging", "prod"),
	}
	return newHarness(t, append(base, opts...)...)
}

func svcBody(name string) map[string]any {
	return map[string]any{
		"name": name, "labels": map[string]any{"managed-by": "reconciler"},
		"upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.1", "port": 80, "weight": 100}}},
	}
}

func TestAPI7ControlPlane(t *testing.T) {
	h := newAPI7(t, WithAPI7Version("3.9.14"))
	tests := []struct {
		name  string
		path  string
		check func(t *testing.T, r reply)
	}{
		{"version", "/api/version", func(t *testing.T, r reply) {
			if at(r.body, "value") != "3.9.14" {
				t.Errorf("version %v", r.body)
			}
		}},
		{"every gateway group", "/api/gateway_groups", func(t *testing.T, r reply) {
			if at(r.body, "total") != json.Number("3") || at(r.body, "list", 1, "name") != "staging" {
				t.Errorf("groups %s", r.raw)
			}
		}},
		{"gateway group by name", "/api/gateway_groups?search=prod", func(t *testing.T, r reply) {
			if at(r.body, "total") != json.Number("1") || at(r.body, "list", 0, "id") != "gg-prod" {
				t.Errorf("groups %s", r.raw)
			}
		}},
		{"unknown gateway group name lists nothing", "/api/gateway_groups?name=nope", func(t *testing.T, r reply) {
			if at(r.body, "total") != json.Number("0") {
				t.Errorf("groups %s", r.raw)
			}
		}},
		{"schema core carries the defaults of §2.3", "/api/schema/core", func(t *testing.T, r reply) {
			for _, c := range []struct {
				path []any
				want any
			}{
				{[]any{"value", "route", "properties", "priority", "default"}, json.Number("0")},
				{[]any{"value", "route", "properties", "timeout", "properties", "connect", "default"}, json.Number("60")},
				{[]any{"value", "service", "properties", "strip_path_prefix", "default"}, true},
				{[]any{"value", "service", "properties", "upstream", "properties", "name", "default"}, "default"},
				{[]any{"value", "service", "properties", "upstream", "properties", "hash_on", "default"}, "vars"},
				{[]any{"value", "service", "properties", "upstream", "properties", "keepalive_pool", "properties", "size", "default"}, json.Number("320")},
				{[]any{"value", "service", "properties", "upstream", "properties", "retry_timeout", "default"}, json.Number("0")},
				{[]any{"value", "stream_service", "properties", "upstream", "properties", "scheme", "default"}, "tcp"},
				{[]any{"value", "service", "properties", "upstream", "properties", "nodes", "items", "properties", "priority", "default"}, json.Number("0")},
			} {
				if got := at(r.body, c.path...); got != c.want {
					t.Errorf("%v = %v, want %v", c.path, got, c.want)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, h.call(http.MethodGet, tt.path, a7Token, nil).mustStatus(t, 200))
		})
	}
}

func TestAPI7Auth(t *testing.T) {
	h := newAPI7(t, WithToken("reader", "a7ee-reader-canary", RoleViewer))
	h.call(http.MethodPut, "/apisix/admin/services/s1?gateway_group_id=default", a7Token, svcBody("s1")).mustStatus(t, 200)
	tests := []struct {
		name   string
		method string
		path   string
		hdr    http.Header
		status int
	}{
		{"no token", "GET", "/api/gateway_groups", nil, 401},
		{"wrong token", "GET", "/api/gateway_groups", http.Header{"X-API-KEY": {"a7ee-nope"}}, 401},
		{"token in header", "GET", "/api/gateway_groups", http.Header{"X-API-KEY": {a7Token}}, 200},
		{"token in X-API-KEY cookie", "GET", "/api/gateway_groups", http.Header{"Cookie": {"X-API-KEY=" + a7Token}}, 200},
		{"APISIX's x_api_key cookie is not API7's", "GET", "/api/gateway_groups", http.Header{"Cookie": {"x_api_key=" + a7Token}}, 401},
		{"APISIX's api_key query is not API7's", "GET", "/api/gateway_groups?api_key=" + a7Token, nil, 401},
		{"user token needs gateway_group_id", "GET", "/apisix/admin/services", http.Header{"X-API-KEY": {a7Token}}, 400},
		{"admin key does not", "GET", "/apisix/admin/services", http.Header{"X-API-KEY": {a7Admin}}, 200},
		{"unknown gateway group", "GET", "/apisix/admin/services?gateway_group_id=nope", http.Header{"X-API-KEY": {a7Token}}, 404},
		{"viewer reads", "GET", "/apisix/admin/services/s1?gateway_group_id=default", http.Header{"X-API-KEY": {"a7ee-reader-canary"}}, 200},
		{"viewer may not write", "DELETE", "/apisix/admin/services/s1?gateway_group_id=default", http.Header{"X-API-KEY": {"a7ee-reader-canary"}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.callCtx(t.Context(), tt.method, tt.path, tt.hdr, nil)
			r.mustStatus(t, tt.status)
			if tt.status >= 400 {
				if _, ok := at(r.body, "error_msg").(string); !ok {
					t.Errorf("error body %s, want {\"error_msg\": ...}", r.raw)
				}
			}
		})
	}
	for _, rq := range h.em.Requests() {
		if strings.Contains(rq.Path, "canary") || strings.Contains(rq.Token, "canary") {
			t.Errorf("request log leaks a token: %+v", rq)
		}
	}
}

func TestAPI7TokenExpiryAndRegeneration(t *testing.T) {
	clock := newFakeClock()
	h := newAPI7(t, WithClock(clock.Now))
	if err := h.em.AddToken("temp", "a7ee-temp-canary", RoleAdmin, clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	get := func(tok string) int { return h.call("GET", "/api/gateway_groups", tok, nil).status }
	steps := []struct {
		name string
		do   func()
		tok  string
		want int
	}{
		{"fresh token works", func() {}, "a7ee-temp-canary", 200},
		{"expired after its expiry", func() { clock.Advance(time.Hour) }, "a7ee-temp-canary", 401},
		{"renewed expiry works again", func() { _ = h.em.ExpireToken("temp", time.Time{}) }, "a7ee-temp-canary", 200},
		{"regenerated: the old value dies at once", func() { _ = h.em.RotateToken("temp", "a7ee-temp2-canary") }, "a7ee-temp-canary", 401},
		{"regenerated: the new value works", func() {}, "a7ee-temp2-canary", 200},
		{"revoked", func() { _ = h.em.RevokeToken("temp") }, "a7ee-temp2-canary", 401},
	}
	for _, s := range steps {
		s.do()
		if got := get(s.tok); got != s.want {
			t.Errorf("%s: status %d, want %d", s.name, got, s.want)
		}
	}
	reqs := h.em.Requests()
	if reqs[0].Token != "temp" || reqs[1].Token != IdentityExpired || reqs[3].Token != IdentityUnknown {
		t.Errorf("identities %q %q %q", reqs[0].Token, reqs[1].Token, reqs[3].Token)
	}
}

func TestAPI7Services(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	put := h.call("PUT", "/apisix/admin/services/svc1"+q, a7Token, map[string]any{
		"service_id": "svc1", "name": "orders", "path_prefix": "/orders", "hosts": []any{"a.example.com"},
		"upstream": map[string]any{"nodes": []any{map[string]any{"host": "10.0.0.1", "port": 80, "weight": 100}}},
	}).mustStatus(t, 200)
	v := at(put.body, "value")
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"id"}, "svc1"},
		{[]any{"type"}, "http"},
		{[]any{"strip_path_prefix"}, true},
		{[]any{"upstream", "name"}, "default"},
		{[]any{"upstream", "type"}, "roundrobin"},
		{[]any{"upstream", "scheme"}, "http"},
		{[]any{"upstream", "pass_host"}, "pass"},
		{[]any{"upstream", "hash_on"}, "vars"},
		{[]any{"upstream", "retry_timeout"}, json.Number("0")},
		{[]any{"upstream", "nodes", 0, "priority"}, json.Number("0")},
		// objects are not filled in: only scalars (ADC merges defaults the same way)
		{[]any{"upstream", "keepalive_pool"}, nil},
		{[]any{"upstream", "timeout"}, nil},
		{[]any{"service_id"}, nil},
	} {
		if got := at(v, c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	if at(v, "created_at") == nil || at(v, "updated_at") == nil || at(v, "create_time") != nil {
		t.Errorf("timestamps: %s", put.raw)
	}
	t.Run("stream service defaults its upstream scheme to tcp", func(t *testing.T) {
		b := svcBody("pg")
		b["type"] = "stream"
		r := h.call("PUT", "/apisix/admin/services/pg"+q, a7Token, b).mustStatus(t, 200)
		if at(r.body, "value", "upstream", "scheme") != "tcp" {
			t.Errorf("scheme %s", r.raw)
		}
	})
	t.Run("name is required", func(t *testing.T) {
		h.call("PUT", "/apisix/admin/services/bad"+q, a7Token, map[string]any{"upstream": svcBody("x")["upstream"]}).mustStatus(t, 400)
	})
	t.Run("body id must match the URL", func(t *testing.T) {
		b := svcBody("x")
		b["service_id"] = "other"
		h.call("PUT", "/apisix/admin/services/svc9"+q, a7Token, b).mustStatus(t, 400)
	})
	t.Run("default and extra upstreams", func(t *testing.T) {
		h.call("PUT", "/apisix/admin/services/svc1/upstreams/canary"+q, a7Token, map[string]any{
			"name": "canary", "nodes": []any{map[string]any{"host": "10.0.0.9", "port": 80, "weight": 1}},
		}).mustStatus(t, 200)
		r := h.call("GET", "/apisix/admin/services/svc1/upstreams"+q, a7Token, nil).mustStatus(t, 200)
		if at(r.body, "total") != json.Number("2") || at(r.body, "list", 0, "id") != "svc1" || at(r.body, "list", 1, "id") != "canary" {
			t.Errorf("upstreams %s", r.raw)
		}
		// The default upstream is edited through the service's id.
		h.call("PUT", "/apisix/admin/services/svc1/upstreams/svc1"+q, a7Token, map[string]any{
			"nodes": []any{map[string]any{"host": "10.0.0.2", "port": 81, "weight": 5}},
		}).mustStatus(t, 200)
		s := h.call("GET", "/apisix/admin/services/svc1"+q, a7Token, nil).mustStatus(t, 200)
		if at(s.body, "value", "upstream", "nodes", 0, "host") != "10.0.0.2" {
			t.Errorf("inline upstream not replaced: %s", s.raw)
		}
		h.call("DELETE", "/apisix/admin/services/svc1/upstreams/canary"+q, a7Token, nil).mustStatus(t, 200)
		h.call("DELETE", "/apisix/admin/services/svc1/upstreams/canary"+q, a7Token, nil).mustStatus(t, 404)
	})
}

func TestAPI7RoutesAndCascade(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	h.call("PUT", "/apisix/admin/services/s1"+q, a7Token, svcBody("s1")).mustStatus(t, 200)
	h.call("PUT", "/apisix/admin/services/s2"+q, a7Token, svcBody("s2")).mustStatus(t, 200)
	tests := []struct {
		name   string
		id     string
		body   map[string]any
		status int
	}{
		{"route with paths", "r1", map[string]any{"route_id": "r1", "name": "r1", "paths": []any{"/a"}, "service_id": "s1", "methods": []any{"GET"}}, 200},
		{"second route", "r2", map[string]any{"name": "r2", "paths": []any{"/b"}, "service_id": "s1"}, 200},
		{"route on the other service", "r3", map[string]any{"name": "r3", "paths": []any{"/c"}, "service_id": "s2"}, 200},
		{"uris are APISIX's, not API7's", "r4", map[string]any{"name": "r4", "uris": []any{"/d"}, "paths": []any{"/d"}, "service_id": "s1"}, 400},
		{"paths are required", "r5", map[string]any{"name": "r5", "service_id": "s1"}, 400},
		{"the service must exist", "r6", map[string]any{"name": "r6", "paths": []any{"/e"}, "service_id": "nope"}, 400},
		{"unknown plugin", "r7", map[string]any{"name": "r7", "paths": []any{"/e"}, "service_id": "s1", "plugins": map[string]any{"no-such-plugin": map[string]any{}}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.call("PUT", "/apisix/admin/routes/"+tt.id+q, a7Token, tt.body).mustStatus(t, tt.status)
		})
	}
	r := h.call("GET", "/apisix/admin/routes/r1"+q, a7Token, nil).mustStatus(t, 200)
	if at(r.body, "value", "priority") != json.Number("0") || at(r.body, "value", "route_id") != nil || at(r.body, "value", "id") != "r1" {
		t.Errorf("route %s", r.raw)
	}
	// Plugin defaults are checked but not stored: /api/schema/core reports
	// core defaults only, and a client merging those must see no drift.
	h.call("PUT", "/apisix/admin/routes/r8"+q, a7Token, map[string]any{"name": "r8", "paths": []any{"/k"}, "service_id": "s1",
		"plugins": map[string]any{"key-auth": map[string]any{}}}).mustStatus(t, 200)
	if r8 := h.call("GET", "/apisix/admin/routes/r8"+q, a7Token, nil); len(at(r8.body, "value", "plugins", "key-auth").(map[string]any)) != 0 {
		t.Errorf("plugin defaults stored: %s", r8.raw)
	}
	l := h.call("GET", "/apisix/admin/routes"+q+"&service_id=s1", a7Token, nil).mustStatus(t, 200)
	if at(l.body, "total") != json.Number("3") {
		t.Errorf("routes of s1: %s", l.raw)
	}
	h.call("PUT", "/apisix/admin/services/s1/upstreams/extra"+q, a7Token, map[string]any{
		"name": "extra", "nodes": []any{map[string]any{"host": "10.0.0.9", "port": 80, "weight": 1}},
	}).mustStatus(t, 200)
	h.call("DELETE", "/apisix/admin/services/s1"+q, a7Token, nil).mustStatus(t, 200)
	for _, p := range []string{"/apisix/admin/routes/r1", "/apisix/admin/routes/r2", "/apisix/admin/routes/r8", "/apisix/admin/services/s1"} {
		h.call("GET", p+q, a7Token, nil).mustStatus(t, 404)
	}
	h.call("GET", "/apisix/admin/routes/r3"+q, a7Token, nil).mustStatus(t, 200)
	if n := h.em.Count("default", "services/s1/upstreams"); n != 0 {
		t.Errorf("%d extra upstreams survived their service", n)
	}
}

func TestAPI7ConsumersCredentialsMetadata(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	h.call("PUT", "/apisix/admin/consumers/alice"+q, a7Token, map[string]any{"username": "alice", "labels": map[string]any{"team": "a"}}).mustStatus(t, 200)
	h.call("PUT", "/apisix/admin/consumers/alice/credentials/c1"+q, a7Token, map[string]any{
		"name": "main", "plugins": map[string]any{"key-auth": map[string]any{"key": "k-1"}},
	}).mustStatus(t, 200)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"credential with a non-auth plugin", "PUT", "/apisix/admin/consumers/alice/credentials/c2", map[string]any{"name": "x", "plugins": map[string]any{"cors": map[string]any{}}}, 400},
		{"credential for a missing consumer", "PUT", "/apisix/admin/consumers/bob/credentials/c1", map[string]any{"name": "x", "plugins": map[string]any{"key-auth": map[string]any{"key": "k-2"}}}, 404},
		{"username must match the URL", "PUT", "/apisix/admin/consumers/carol", map[string]any{"username": "dave"}, 400},
		{"plugin metadata", "PUT", "/apisix/admin/plugin_metadata/http-logger", map[string]any{"log_format": map[string]any{"host": "$host"}}, 200},
		{"metadata of an unknown plugin", "PUT", "/apisix/admin/plugin_metadata/nope", map[string]any{}, 400},
		{"a global rule", "PUT", "/apisix/admin/global_rules/prometheus", map[string]any{"plugins": map[string]any{"prometheus": map[string]any{}}}, 200},
		{"no standalone upstreams in API7", "GET", "/apisix/admin/upstreams", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.call(tt.method, tt.path+q, a7Token, tt.body).mustStatus(t, tt.status)
		})
	}
	md := h.call("GET", "/apisix/admin/plugin_metadata"+q, a7Token, nil).mustStatus(t, 200)
	if at(md.body, "value", "http-logger", "log_format", "host") != "$host" || at(md.body, "list") != nil {
		t.Errorf("plugin metadata is one map: %s", md.raw)
	}
	cl := h.call("GET", "/apisix/admin/consumers/alice/credentials"+q, a7Token, nil).mustStatus(t, 200)
	if at(cl.body, "list", 0, "plugins", "key-auth", "key") != "k-1" {
		t.Errorf("credentials %s", cl.raw)
	}
	h.call("DELETE", "/apisix/admin/consumers/alice"+q, a7Token, nil).mustStatus(t, 200)
	if n := h.em.Count("default", "consumers/alice/credentials"); n != 0 {
		t.Errorf("%d credentials survived their consumer", n)
	}
}

func TestAPI7GatewayGroupsAreSeparate(t *testing.T) {
	h := newAPI7(t)
	h.call("PUT", "/apisix/admin/services/s1?gateway_group_id=gg-staging", a7Token, svcBody("s1")).mustStatus(t, 200)
	h.call("GET", "/apisix/admin/services/s1?gateway_group_id=gg-staging", a7Token, nil).mustStatus(t, 200)
	h.call("GET", "/apisix/admin/services/s1?gateway_group_id=gg-prod", a7Token, nil).mustStatus(t, 404)
	if h.em.Count("gg-staging", "services") != 1 || h.em.Count("gg-prod", "services") != 0 {
		t.Error("gateway groups share objects")
	}
}

func TestAPI7ListsFiltersAndPages(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	for i := range 25 {
		b := svcBody("svc")
		team := "a"
		if i%2 == 1 {
			team = "b"
		}
		b["labels"] = map[string]any{"team": team}
		h.call("PUT", "/apisix/admin/services/s"+string(rune('a'+i))+q, a7Token, b).mustStatus(t, 200)
	}
	tests := []struct {
		name      string
		query     string
		total     string
		n         int
		firstID   string
		wantEmpty bool
	}{
		{"all, newest first", "", "25", 25, "sy", false},
		{"ascending", "&direction=asc", "25", 25, "sa", false},
		{"by label", "&labels[team]=b", "12", 12, "sx", false},
		{"page 2 of 10", "&page=2&page_size=10&direction=asc", "25", 10, "sk", false},
		{"beyond the last page", "&page=4&page_size=10", "25", 0, "", true},
		{"label filter with paging", "&labels[team]=a&page=2&page_size=5&direction=asc", "13", 5, "sk", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call("GET", "/apisix/admin/services"+q+tt.query, a7Token, nil).mustStatus(t, 200)
			list, _ := at(r.body, "list").([]any)
			if at(r.body, "total") != json.Number(tt.total) || len(list) != tt.n {
				t.Fatalf("total %v, %d items; want %s, %d", at(r.body, "total"), len(list), tt.total, tt.n)
			}
			if !tt.wantEmpty && at(list, 0, "id") != tt.firstID {
				t.Errorf("first %v, want %s", at(list, 0, "id"), tt.firstID)
			}
		})
	}
	h.call("GET", "/apisix/admin/services"+q+"&page_size=0", a7Token, nil).mustStatus(t, 400)
}

func TestAPI7ConfigsValidate(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	h.call("POST", "/apisix/admin/configs/validate"+q, a7Token, map[string]any{
		"services": []any{svcBody("ok")},
		"routes":   []any{map[string]any{"name": "r", "paths": []any{"/a"}, "service_id": "nowhere"}},
	}).mustStatus(t, 200)
	r := h.call("POST", "/apisix/admin/configs/validate"+q, a7Token, map[string]any{
		"routes": []any{map[string]any{"name": "r", "uris": []any{"/a"}, "service_id": "s"}},
	}).mustStatus(t, 400)
	if at(r.body, "errors", 0, "resource_type") != "routes" || at(r.body, "errors", 0, "index") != json.Number("0") {
		t.Errorf("errors %s", r.raw)
	}
}

func TestAPI7ErrorWording(t *testing.T) {
	h := newAPI7(t)
	q := "?gateway_group_id=default"
	h.call("PUT", "/apisix/admin/services/s1"+q, a7Token, svcBody("s1")).mustStatus(t, 200)
	tests := []struct {
		name string
		path string
		body map[string]any
		want string
	}{
		{"wrong type", "/apisix/admin/services/s2", map[string]any{"name": "s2", "path_prefix": 1}, `Error at "/path_prefix": value must be a string`},
		{"missing property", "/apisix/admin/services/s2", map[string]any{"hosts": []any{"a.test"}}, `Error at "/name": property "name" is missing`},
		{"unsupported property", "/apisix/admin/routes/r1", map[string]any{"name": "r", "paths": []any{"/a"}, "service_id": "s1", "uris": []any{"/a"}}, `Error at "/uris": property "uris" is unsupported`},
		{"nested item", "/apisix/admin/services/s2", map[string]any{"name": "s2", "upstream": map[string]any{"nodes": []any{map[string]any{"host": "a", "weight": "x"}}}},
			`Error at "/upstream/nodes/0/weight": value must be an integer`},
		{"pattern", "/apisix/admin/services/s2", map[string]any{"name": "s2", "path_prefix": "api"}, `Error at "/path_prefix": string doesn't match the regular expression "^/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call("PUT", tt.path+q, a7Token, tt.body).mustStatus(t, 400)
			if got := at(r.body, "error_msg"); got != tt.want {
				t.Errorf("error_msg %q, want %q", got, tt.want)
			}
		})
	}
}
