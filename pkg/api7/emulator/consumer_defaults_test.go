package emulator

import (
	"encoding/json"
	"testing"
)

// TestConsumerSchemaDefaults: before 3.14 an auth plugin's consumer schema
// defaults are stored in a consumer's plugins and a credential's plugins
// (jwt-auth in 3.13: algorithm, exp, base64_secret, lifetime_grace_period);
// 3.14 and later store what they are sent. GET /plugins/{name} serves the
// consumer schema with ?schema_type=consumer, and "not found schema" for a
// plugin without one.
func TestConsumerSchemaDefaults(t *testing.T) {
	jwt := map[string]any{"key": "alice-key", "secret": "alice-secret"}
	stored := map[string]any{"algorithm": "HS256", "exp": json.Number("86400"), "base64_secret": false, "lifetime_grace_period": json.Number("0")}
	for _, tt := range []struct {
		version  string
		defaults bool
	}{{"3.13.0", true}, {"3.18.0", false}} {
		t.Run(tt.version, func(t *testing.T) {
			h := newHarness(t, WithAdminToken(adminKey), WithAPISIXVersion(tt.version),
				WithPlugins(append(DefaultPlugins(), "jwt-auth")...))
			h.call("PUT", "/apisix/admin/consumers", adminKey,
				map[string]any{"username": "alice", "plugins": map[string]any{"jwt-auth": jwt}}).mustStatus(t, 201)
			h.call("PUT", "/apisix/admin/consumers/alice/credentials/c1", adminKey,
				map[string]any{"plugins": map[string]any{"jwt-auth": map[string]any{"key": "alice-cred", "secret": "s"}}}).mustStatus(t, 201)
			h.call("PUT", "/apisix/admin/consumers", adminKey,
				map[string]any{"username": "bob", "plugins": map[string]any{"key-auth": map[string]any{"key": "bob-key"}}}).mustStatus(t, 201)

			consumer := h.call("GET", "/apisix/admin/consumers/alice", adminKey, nil).mustStatus(t, 200)
			cred := h.call("GET", "/apisix/admin/consumers/alice/credentials/c1", adminKey, nil).mustStatus(t, 200)
			for what, conf := range map[string]any{
				"consumer":   at(consumer.body, "value", "plugins", "jwt-auth"),
				"credential": at(cred.body, "value", "plugins", "jwt-auth"),
			} {
				for k, v := range stored {
					got, ok := conf.(map[string]any)[k]
					if ok != tt.defaults || (ok && got != v) {
						t.Errorf("%s: jwt-auth %s = %v (present %v), want %v stored: %v", what, k, got, ok, tt.defaults, conf)
					}
				}
			}
			// key-auth's consumer schema has no defaults: stored as sent.
			bob := h.call("GET", "/apisix/admin/consumers/bob", adminKey, nil).mustStatus(t, 200)
			if ka, _ := at(bob.body, "value", "plugins", "key-auth").(map[string]any); len(ka) != 1 {
				t.Errorf("key-auth on a consumer %v, want only its key", ka)
			}

			s := h.call("GET", "/apisix/admin/plugins/jwt-auth?schema_type=consumer", adminKey, nil).mustStatus(t, 200)
			if at(s.body, "properties", "exp", "default") != json.Number("86400") || at(s.body, "required", 0) != "key" {
				t.Errorf("jwt-auth consumer schema %s", s.raw)
			}
			r := h.call("GET", "/apisix/admin/plugins/jwt-auth", adminKey, nil).mustStatus(t, 200)
			if at(r.body, "properties", "exp") != nil || at(r.body, "properties", "header", "default") != "authorization" {
				t.Errorf("jwt-auth schema %s", r.raw)
			}
			none := h.call("GET", "/apisix/admin/plugins/cors?schema_type=consumer", adminKey, nil).mustStatus(t, 400)
			if at(none.body, "error_msg") != "not found schema" {
				t.Errorf("consumer schema of cors: %s", none.raw)
			}
		})
	}
}
