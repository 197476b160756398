package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Behaviour of the apisix flavour beyond what the corpus records.

func TestAPISIXAuthModes(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		method string
		token  string
		status int
		desc   string
	}{
		{"viewer reads", []Option{WithViewerToken(viewerKey)}, "GET", viewerKey, 200, ""},
		{"viewer may not write", []Option{WithViewerToken(viewerKey)}, "PUT", viewerKey, 401, "invalid method for role viewer"},
		{"no key configured refuses everything", nil, "GET", "anything", 401, "wrong apikey"},
		{"admin_key_required: false", []Option{WithoutAuth()}, "PUT", "", 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts...)
			var body any
			if tt.method == "PUT" {
				body = routeBody("/x")
			}
			r := h.call(tt.method, "/apisix/admin/routes/r1", tt.token, body)
			if tt.method == "GET" && tt.status == 200 {
				tt.status = 404 // authorised; the route does not exist
			}
			r.mustStatus(t, tt.status)
			if tt.desc != "" && at(r.body, "description") != tt.desc {
				t.Errorf("401 body %s", r.raw)
			}
		})
	}
}

func TestStreamMode(t *testing.T) {
	body := map[string]any{"server_port": 9100, "upstream": map[string]any{"nodes": map[string]any{"10.6.0.1:9100": 1}}}
	off := newHarness(t, WithAdminToken(adminKey))
	off.call("PUT", "/apisix/admin/stream_routes/s1", adminKey, body).mustStatus(t, 400)
	on := newHarness(t, WithAdminToken(adminKey), WithStreamMode())
	on.call("PUT", "/apisix/admin/stream_routes/s1", adminKey, body).mustStatus(t, 201)
	l := on.call("GET", "/apisix/admin/stream_routes", adminKey, nil).mustStatus(t, 200)
	if at(l.body, "total") != json.Number("1") || l.header.Get("X-API-VERSION") != "v3" {
		t.Errorf("list %s", l.raw)
	}
	on.call("PATCH", "/apisix/admin/stream_routes/s1", adminKey, map[string]any{"server_port": 1}).mustStatus(t, 405)
	on.call("DELETE", "/apisix/admin/stream_routes/s1", adminKey, nil).mustStatus(t, 200)
}

func TestEncryptedFieldEcho(t *testing.T) {
	consumer := map[string]any{"username": "alice", "plugins": map[string]any{"key-auth": map[string]any{"key": "alice-secret-key"}}}
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"ciphertext, as APISIX", nil, "UCyAJgoxoDwi1qb8o8lWqZ8kzTfqePfPKNvLbBND9JQ="},
		{"plaintext without data encryption", []Option{WithoutEncryption()}, "alice-secret-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, append([]Option{WithAdminToken(adminKey)}, tt.opts...)...)
			w := h.call("PUT", "/apisix/admin/consumers", adminKey, consumer).mustStatus(t, 201)
			if got := at(w.body, "value", "plugins", "key-auth", "key"); got != tt.want {
				t.Errorf("write echoes %v, want %v", got, tt.want)
			}
			g := h.call("GET", "/apisix/admin/consumers/alice", adminKey, nil).mustStatus(t, 200)
			if got := at(g.body, "value", "plugins", "key-auth", "key"); got != "alice-secret-key" {
				t.Errorf("GET shows %v, want the plaintext", got)
			}
		})
	}
}

func TestPluginSchemas(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithPlugins("cors", "key-auth", "limit-count"))
	tests := []struct {
		plugin string
		path   []any
		want   any
	}{
		{"cors", []any{"properties", "allow_origins", "default"}, "*"},
		{"cors", []any{"properties", "max_age", "default"}, json.Number("5")},
		{"key-auth", []any{"properties", "header", "default"}, "apikey"},
		{"key-auth", []any{"properties", "_meta", "type"}, "object"},
		{"limit-count", []any{"properties", "policy", "default"}, "local"},
	}
	for _, tt := range tests {
		r := h.call("GET", "/apisix/admin/plugins/"+tt.plugin, adminKey, nil).mustStatus(t, 200)
		if got := at(r.body, tt.path...); got != tt.want {
			t.Errorf("%s %v = %v, want %v", tt.plugin, tt.path, got, tt.want)
		}
	}
	l := h.call("GET", "/apisix/admin/plugins/list", adminKey, nil).mustStatus(t, 200)
	if l.raw != "[\"cors\",\"key-auth\",\"limit-count\"]\n" {
		t.Errorf("list %q (by priority, descending)", l.raw)
	}
	h.call("GET", "/apisix/admin/plugins/ip-restriction", adminKey, nil).mustStatus(t, 404)
	h.call("PUT", "/apisix/admin/routes/r1", adminKey, map[string]any{
		"uri": "/x", "plugins": map[string]any{"limit-count": map[string]any{"count": 1, "time_window": 60}},
		"upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}},
	}).mustStatus(t, 201)
	h.call("PUT", "/apisix/admin/routes/r2", adminKey, map[string]any{
		"uri": "/x", "plugins": map[string]any{"ip-restriction": map[string]any{"whitelist": []any{"10.0.0.0/8"}}},
		"upstream": map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}},
	}).mustStatus(t, 400)
}

func TestReferencesAndForce(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey))
	h.call("PUT", "/apisix/admin/upstreams/u1", adminKey, map[string]any{"nodes": map[string]any{"10.0.0.1:80": 1}}).mustStatus(t, 201)
	h.call("PUT", "/apisix/admin/routes/r1", adminKey, map[string]any{"uri": "/x", "upstream_id": "u1"}).mustStatus(t, 201)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		msg    string
	}{
		{"blocked", "DELETE", "/apisix/admin/upstreams/u1", 400, "can not delete this upstream, route [r1] is still using it now"},
		{"force=1 is not force", "DELETE", "/apisix/admin/upstreams/u1?force=1", 400, ""},
		{"force=true", "DELETE", "/apisix/admin/upstreams/u1?force=true", 200, ""},
		{"the route still points at it", "GET", "/apisix/admin/routes/r1", 200, ""},
		{"and cannot be re-PUT", "PUT", "/apisix/admin/routes/r1", 400, "failed to fetch upstream info by upstream id [u1], response code: 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.method == "PUT" {
				body = map[string]any{"uri": "/x", "upstream_id": "u1"}
			}
			r := h.call(tt.method, tt.path, adminKey, body).mustStatus(t, tt.status)
			if tt.msg != "" && at(r.body, "error_msg") != tt.msg {
				t.Errorf("message %s", r.raw)
			}
		})
	}
}

// An upstream named by a traffic-split plugin cannot be deleted, whoever
// holds the plugin, with the messages of APISIX's t/admin/upstream5.t.
func TestUpstreamDeleteCheckTrafficSplit(t *testing.T) {
	split := func(extra map[string]any) map[string]any {
		m := map[string]any{"plugins": map[string]any{"traffic-split": map[string]any{"rules": []any{map[string]any{
			"weighted_upstreams": []any{map[string]any{"upstream_id": 1, "weight": 1}, map[string]any{"weight": 1}},
		}}}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	up := map[string]any{"nodes": map[string]any{"127.0.0.1:1980": 1}, "type": "roundrobin"}
	tests := []struct {
		name, holder string
		body         map[string]any
		msg          string
	}{
		{"route", "/apisix/admin/routes/1", split(map[string]any{"uri": "/hello", "upstream": up}), "plugin in route [1]"},
		{"service", "/apisix/admin/services/1", split(nil), "plugin in service [1]"},
		{"global rule", "/apisix/admin/global_rules/1", split(nil), "plugin in global_rules [1]"},
		{"plugin config", "/apisix/admin/plugin_configs/1", split(nil), "plugin in plugin_config [1]"},
		{"consumer", "/apisix/admin/consumers/test", split(map[string]any{"username": "test"}), "plugin in consumer [test]"},
		{"consumer group", "/apisix/admin/consumer_groups/1", split(nil), "plugin in consumer_group [1]"},
		{"a route's own upstream_id", "/apisix/admin/routes/2", map[string]any{"uri": "/x", "upstream_id": "1"}, "route [2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, WithAdminToken(adminKey), WithPlugins("traffic-split", "key-auth"))
			h.call("PUT", "/apisix/admin/upstreams/1", adminKey, up).mustStatus(t, 201)
			h.call("PUT", tt.holder, adminKey, tt.body).mustStatus(t, 201)
			r := h.call("DELETE", "/apisix/admin/upstreams/1", adminKey, nil).mustStatus(t, 400)
			if want := "can not delete this upstream, " + tt.msg + " is still using it now"; at(r.body, "error_msg") != want {
				t.Errorf("got %s, want %q", r.raw, want)
			}
			// Once the holder is gone, the upstream goes.
			h.call("DELETE", tt.holder, adminKey, nil).mustStatus(t, 200)
			h.call("DELETE", "/apisix/admin/upstreams/1", adminKey, nil).mustStatus(t, 200)
		})
	}
	t.Run("force deletes anyway; a rewrite without the plugin frees it", func(t *testing.T) {
		h := newHarness(t, WithAdminToken(adminKey), WithPlugins("traffic-split"))
		h.call("PUT", "/apisix/admin/upstreams/1", adminKey, up).mustStatus(t, 201)
		h.call("PUT", "/apisix/admin/upstreams/2", adminKey, up).mustStatus(t, 201)
		h.call("PUT", "/apisix/admin/services/1", adminKey, split(nil)).mustStatus(t, 201)
		h.call("DELETE", "/apisix/admin/upstreams/1?force=true", adminKey, nil).mustStatus(t, 200)
		h.call("PUT", "/apisix/admin/services/2", adminKey, map[string]any{"plugins": map[string]any{"traffic-split": map[string]any{
			"rules": []any{map[string]any{"weighted_upstreams": []any{map[string]any{"upstream_id": "2", "weight": 1}}}}}}}).mustStatus(t, 201)
		h.call("DELETE", "/apisix/admin/upstreams/2", adminKey, nil).mustStatus(t, 400)
		h.call("PUT", "/apisix/admin/services/2", adminKey, map[string]any{"desc": "no split"}).mustStatus(t, 200)
		h.call("DELETE", "/apisix/admin/upstreams/2", adminKey, nil).mustStatus(t, 200)
	})
}

// An upstream's tls.client_key is stored encrypted (check_upstream_conf)
// and GET shows the ciphertext: only plugin fields are decrypted on reads.
func TestUpstreamClientKeyEncrypted(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "conformance", "apisix-3.18", "fixtures", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cert, key := read("sample-tls.crt"), read("sample-tls.key")
	upstream := func(k string) map[string]any {
		return map[string]any{"nodes": map[string]any{"10.0.0.1:443": 1}, "scheme": "https",
			"tls": map[string]any{"client_cert": cert, "client_key": k}}
	}
	tests := []struct {
		name      string
		opts      []Option
		path      string
		body      map[string]any
		at        []any
		encrypted bool
	}{
		{"upstream", nil, "/apisix/admin/upstreams/u1", upstream(key), []any{"tls", "client_key"}, true},
		{"a service's inline upstream", nil, "/apisix/admin/services/s1", map[string]any{"upstream": upstream(key)}, []any{"upstream", "tls", "client_key"}, true},
		{"a route's inline upstream", nil, "/apisix/admin/routes/r1", map[string]any{"uri": "/x", "upstream": upstream(key)}, []any{"upstream", "tls", "client_key"}, true},
		{"3.13 too", []Option{WithAPISIXVersion("3.13.0")}, "/apisix/admin/upstreams/u1", upstream(key), []any{"tls", "client_key"}, true},
		{"a secret reference is no PEM", nil, "/apisix/admin/upstreams/u1", upstream("$env://CLIENT_KEY"), []any{"tls", "client_key"}, false},
		{"without encryption", []Option{WithoutEncryption()}, "/apisix/admin/upstreams/u1", upstream(key), []any{"tls", "client_key"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, append([]Option{WithAdminToken(adminKey)}, tt.opts...)...)
			sent := at(tt.body, tt.at...).(string)
			w := h.call("PUT", tt.path, adminKey, tt.body).mustStatus(t, 201)
			g := h.call("GET", tt.path, adminKey, nil).mustStatus(t, 200)
			for _, r := range []reply{w, g} {
				got, _ := at(r.body, append([]any{"value"}, tt.at...)...).(string)
				if (got != sent) != tt.encrypted {
					t.Errorf("client_key %.40q…, sent %.40q…; want encrypted: %v", got, sent, tt.encrypted)
				}
				if tt.encrypted && got != encryptField(sent) {
					t.Errorf("client_key is not the default keyring's ciphertext")
				}
			}
		})
	}
}

func TestCredentialsListAndCascade(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey))
	h.call("PUT", "/apisix/admin/consumers/jack", adminKey, map[string]any{"username": "jack"}).mustStatus(t, 201)
	h.call("GET", "/apisix/admin/consumers/jack/credentials", adminKey, nil).mustStatus(t, 404)
	for _, id := range []string{"c2", "c1"} {
		h.call("PUT", "/apisix/admin/consumers/jack/credentials/"+id, adminKey, map[string]any{
			"plugins": map[string]any{"key-auth": map[string]any{"key": "key-" + id}}}).mustStatus(t, 201)
	}
	l := h.call("GET", "/apisix/admin/consumers/jack/credentials", adminKey, nil).mustStatus(t, 200)
	if at(l.body, "list", 0, "key") != "/apisix/consumers/jack/credentials/c1" || at(l.body, "total") != json.Number("2") {
		t.Errorf("credentials %s", l.raw)
	}
	dup := h.call("PUT", "/apisix/admin/consumers/jill", adminKey, map[string]any{"username": "jill",
		"plugins": map[string]any{"key-auth": map[string]any{"key": "key-c1"}}}).mustStatus(t, 400)
	if at(dup.body, "error_msg") != "duplicate key of plugin key-auth found with credential: c1 of consumer: jack" {
		t.Errorf("duplicate %s", dup.raw)
	}
	if c := h.call("GET", "/apisix/admin/consumers", adminKey, nil); at(c.body, "total") != json.Number("1") {
		t.Errorf("consumers list includes credentials: %s", c.raw)
	}
	h.call("DELETE", "/apisix/admin/consumers/jack", adminKey, nil).mustStatus(t, 200)
	h.call("GET", "/apisix/admin/consumers/jack/credentials/c1", adminKey, nil).mustStatus(t, 404)
	// The key is free again once its credential is gone.
	h.call("PUT", "/apisix/admin/consumers/jill", adminKey, map[string]any{"username": "jill",
		"plugins": map[string]any{"key-auth": map[string]any{"key": "key-c1"}}}).mustStatus(t, 201)
}

func TestSaveAndLoad(t *testing.T) {
	a := newHarness(t, WithAdminToken(adminKey))
	a.call("PUT", "/apisix/admin/routes/r1", adminKey, routeBody("/a")).mustStatus(t, 201)
	a.call("PUT", "/apisix/admin/consumers", adminKey, map[string]any{"username": "u1", "plugins": map[string]any{"key-auth": map[string]any{"key": "k"}}}).mustStatus(t, 201)
	a.call("PUT", "/apisix/admin/consumers/u1/credentials/c1", adminKey, map[string]any{"plugins": map[string]any{"key-auth": map[string]any{"key": "k2"}}}).mustStatus(t, 201)
	before := a.call("GET", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
	var buf bytes.Buffer
	if err := a.em.Save(&buf); err != nil {
		t.Fatal(err)
	}
	b := newHarness(t, WithAdminToken(adminKey))
	if err := b.em.Load(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	after := b.call("GET", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
	if before.raw != after.raw {
		t.Errorf("after load\n%s\nwant\n%s", after.raw, before.raw)
	}
	b.call("GET", "/apisix/admin/consumers/u1/credentials/c1", adminKey, nil).mustStatus(t, 200)
	// Indexes survive: the duplicate key is still refused, and new writes get
	// a later revision.
	b.call("PUT", "/apisix/admin/consumers/u2", adminKey, map[string]any{"username": "u2", "plugins": map[string]any{"key-auth": map[string]any{"key": "k2"}}}).mustStatus(t, 400)
	b.call("PUT", "/apisix/admin/routes/r2", adminKey, routeBody("/b")).mustStatus(t, 201)
	r2 := b.call("GET", "/apisix/admin/routes/r2", adminKey, nil)
	ci1, _ := num(at(after.body, "createdIndex"))
	ci2, _ := num(at(r2.body, "createdIndex"))
	if ci2 <= ci1 {
		t.Errorf("revision went back after load: %v then %v", ci1, ci2)
	}
	api7 := newHarness(t, WithBackend(BackendAPI7EE))
	if err := api7.em.Load(bytes.NewReader(buf.Bytes())); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Errorf("loading apisix state into api7ee: %v", err)
	}
}

func TestConfigsValidateConsumersAndMetadata(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey))
	r := h.call("POST", "/apisix/admin/configs/validate", adminKey, map[string]any{
		"consumers":       []any{map[string]any{"username": "bad name"}},
		"plugin_metadata": []any{map[string]any{"id": "limit-count"}},
		"ssls":            []any{map[string]any{"snis": []any{"a.test"}, "cert": strings.Repeat("x", 200), "key": strings.Repeat("y", 200)}},
	}).mustStatus(t, 400)
	errs, _ := at(r.body, "errors").([]any)
	if len(errs) != 3 || r.header.Get("X-API-VERSION") != "" {
		t.Errorf("errors %s", r.raw)
	}
	h.call("POST", "/apisix/admin/configs/validate", adminKey, "{not json").mustStatus(t, 400)
	if n := h.em.Count("", "consumers"); n != 0 {
		t.Error("configs/validate wrote something")
	}
}

func TestHeadersOnEveryAnswer(t *testing.T) {
	h := newHarness(t, WithAdminToken(adminKey), WithAPISIXVersion("3.11.2"))
	for _, p := range []string{"/apisix/admin/routes", "/apisix/admin/nope", "/elsewhere"} {
		r := h.call("GET", p, adminKey, nil)
		if r.header.Get("Server") != "APISIX/3.11.2" {
			t.Errorf("%s: Server %q", p, r.header.Get("Server"))
		}
	}
	if _, err := New(WithAPISIXVersion("3.x")); err == nil {
		t.Error("bad version accepted")
	}
	if _, err := New(WithBackend("kong")); err == nil {
		t.Error("unknown backend accepted")
	}
	r := h.call("GET", "/apisix/admin/routes", adminKey, nil)
	if r.header.Get("Content-Type") != "application/json" || !strings.HasSuffix(r.raw, "\n") {
		t.Errorf("JSON answers end with a newline: %q %q", r.header.Get("Content-Type"), r.raw)
	}
}

func TestTTLLeases(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, WithAdminToken(adminKey), WithClock(clock.Now))
	r := h.call("PUT", "/apisix/admin/routes/r1?ttl=abc", adminKey, routeBody("/x")).mustStatus(t, 400)
	if at(r.body, "error_msg") != "invalid argument ttl: should be a number" {
		t.Errorf("message %s", r.raw)
	}
	h.call("PUT", "/apisix/admin/routes/r1?ttl=5", adminKey, routeBody("/x")).mustStatus(t, 201)
	h.call("PUT", "/apisix/admin/routes/r2?ttl=5", adminKey, routeBody("/y")).mustStatus(t, 201)
	h.call("PUT", "/apisix/admin/routes/r2", adminKey, routeBody("/y")).mustStatus(t, 200) // detaches the lease
	clock.Advance(4 * time.Second)
	h.call("GET", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 200)
	clock.Advance(time.Second)
	h.call("GET", "/apisix/admin/routes/r1", adminKey, nil).mustStatus(t, 404)
	h.call("GET", "/apisix/admin/routes/r2", adminKey, nil).mustStatus(t, 200)
}

// TestAPISIXTokenRotation: a rotated, revoked or expired key stops working
// on the very next request, on the same keep-alive connection, with
// APISIX's exact 401; the other keys are untouched.
func TestAPISIXTokenRotation(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, WithAdminToken(adminKey), WithViewerToken(viewerKey), WithClock(clock.Now))
	const wrong = `{"description":"wrong apikey","error_msg":"failed to check token"}` + "\n"
	steps := []struct {
		name   string
		do     func() error
		token  string
		status int
		body   string
	}{
		{"the admin key works", func() error { return nil }, adminKey, 200, ""},
		{"rotated: the old key fails at once", func() error { return h.em.RotateToken(TokenNameAdmin, "rotated-admin-canary") }, adminKey, 401, wrong},
		{"rotated: the new key works", func() error { return nil }, "rotated-admin-canary", 200, ""},
		{"the viewer key is untouched", func() error { return nil }, viewerKey, 200, ""},
		{"expired now: fails", func() error { return h.em.ExpireToken(TokenNameAdmin, clock.Now()) }, "rotated-admin-canary", 401, wrong},
		{"expiry lifted: works", func() error { return h.em.ExpireToken(TokenNameAdmin, time.Time{}) }, "rotated-admin-canary", 200, ""},
		{"revoked: fails", func() error { return h.em.RevokeToken(TokenNameAdmin) }, "rotated-admin-canary", 401, wrong},
		{"rotating a revoked key is an error", func() error {
			if h.em.RotateToken(TokenNameAdmin, "x") == nil {
				return errors.New("accepted")
			}
			return nil
		}, viewerKey, 200, ""},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		r := h.call("GET", "/apisix/admin/routes", s.token, nil)
		if r.status != s.status || (s.body != "" && r.raw != s.body) {
			t.Errorf("%s: %d %q, want %d %q", s.name, r.status, r.raw, s.status, s.body)
		}
	}
	for _, rq := range h.em.Requests() {
		if strings.Contains(rq.Token, "canary") {
			t.Errorf("the request log holds a key: %+v", rq)
		}
	}
}
