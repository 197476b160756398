package api7

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// authPluginsEnabled are the default plugins and the auth plugins the
// emulator knows.
func authPluginsEnabled() emulator.Option {
	return emulator.WithPlugins(append(emulator.DefaultPlugins(), "jwt-auth", "basic-auth", "hmac-auth", "limit-count")...)
}

// jwt313ConsumerDefaults is what APISIX 3.13's jwt-auth consumer schema
// defaults (apisix/plugins/jwt-auth.lua).
var jwt313ConsumerDefaults = map[string]any{"algorithm": "HS256", "exp": 86400.0, "base64_secret": false, "lifetime_grace_period": 0.0}

// TestConsumerPluginDefaults: before 3.14 the Client reads each enabled auth
// plugin's consumer schema and reports its defaults (only jwt-auth has
// any), once per server version; 3.14 and later, and API7 Enterprise,
// report none and read no plugin schema.
func TestConsumerPluginDefaults(t *testing.T) {
	tests := []struct {
		name string
		opts []emulator.Option
		want map[string]map[string]any
	}{
		{"apisix 3.13", []emulator.Option{emulator.WithAPISIXVersion("3.13.0")}, map[string]map[string]any{"jwt-auth": jwt313ConsumerDefaults}},
		{"apisix 3.18", nil, nil},
		{"api7ee", []emulator.Option{emulator.WithBackend(emulator.BackendAPI7EE)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Config{}, append(tt.opts, authPluginsEnabled())...)
			ctx := ctxFor(t, 10*time.Second)
			d, err := f.client.Defaults(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, d.ConsumerPlugins); diff != "" {
				t.Errorf("ConsumerPlugins (-want +got):\n%s", diff)
			}
			var consumerReads []string
			for _, r := range f.em.Requests() {
				if strings.Contains(r.Path, "schema_type=consumer") {
					consumerReads = append(consumerReads, r.Path)
				}
			}
			wantReads := 0
			if tt.want != nil {
				wantReads = 4 // key-auth, jwt-auth, basic-auth, hmac-auth; not cors, limit-count…
			}
			if len(consumerReads) != wantReads {
				t.Errorf("read %d consumer schemas, want %d: %v", len(consumerReads), wantReads, consumerReads)
			}
			if tt.want != nil {
				// The route schema's defaults of an auth plugin stay on
				// routes and services.
				if d.Plugins["jwt-auth"] != nil {
					t.Errorf("jwt-auth's route defaults apply to consumers: %v", d.Plugins["jwt-auth"])
				}
				rp, _ := d.Kinds[model.KindRoute]["plugins"].(map[string]any)
				if jw, _ := rp["jwt-auth"].(map[string]any); jw["header"] != "authorization" || jw["exp"] != nil {
					t.Errorf("route jwt-auth defaults %v", rp["jwt-auth"])
				}
			}

			// Cached: a second call sends nothing, and hands out a copy.
			n := len(f.em.Requests())
			if d.ConsumerPlugins != nil {
				d.ConsumerPlugins["jwt-auth"]["exp"] = 1.0
			}
			again, err := f.client.Defaults(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.em.Requests()) != n {
				t.Errorf("a second Defaults sent %d requests", len(f.em.Requests())-n)
			}
			if diff := cmp.Diff(tt.want, again.ConsumerPlugins); diff != "" {
				t.Errorf("the cached ConsumerPlugins changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConsumerSchemaReadFailures: a consumer schema the server does not
// have means no defaults; any other failed read of one fails Defaults
// (nothing is written after a failed read).
func TestConsumerSchemaReadFailures(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string // "" means no error and no jwt-auth defaults
	}{
		{"404", http.StatusNotFound, `{"error_msg":"plugin not found"}`, ""},
		{"400 not found schema", http.StatusBadRequest, `{"error_msg":"not found schema"}`, ""},
		{"other 400", http.StatusBadRequest, `{"error_msg":"unsupported subsystem: x"}`, "unsupported subsystem"},
		{"403", http.StatusForbidden, `{"error_msg":"forbidden"}`, "403"},
		{"500", http.StatusInternalServerError, `{"error_msg":"boom"}`, "500"},
		{"not JSON", http.StatusOK, `<html>`, "decode the consumer schema of plugin jwt-auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hook := func(c emulator.Call) *emulator.Reply {
				if c.Path == "/apisix/admin/plugins/jwt-auth" && c.Query.Get("schema_type") == "consumer" {
					return &emulator.Reply{Status: tt.status, Body: tt.body, Header: http.Header{"Content-Type": {"application/json"}}}
				}
				return nil
			}
			f := newFixture(t, Config{Retry: RetryPolicy{MaxRetries: -1}},
				emulator.WithAPISIXVersion("3.13.0"), authPluginsEnabled(), emulator.WithHook(hook))
			ctx := ctxFor(t, 10*time.Second)
			d, err := f.client.Defaults(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				var apiErr *APIError
				if tt.status != http.StatusOK && !errors.As(err, &apiErr) {
					t.Errorf("err = %v, want an *APIError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.ConsumerPlugins["jwt-auth"] != nil {
				t.Errorf("defaults for a consumer schema the server does not have: %v", d.ConsumerPlugins)
			}
			if d.Kinds[model.KindRoute]["plugins"].(map[string]any)["jwt-auth"] == nil {
				t.Error("the route schema's defaults went missing")
			}
		})
	}
}

// TestEmulatorConsumerSchema: the emulator serves an auth plugin's consumer
// schema, and "not found schema" for a plugin that has none, as
// apisix/admin/plugins.lua does.
func TestEmulatorConsumerSchema(t *testing.T) {
	f := newFixture(t, Config{}, emulator.WithAPISIXVersion("3.13.0"), authPluginsEnabled())
	ctx := ctxFor(t, 10*time.Second)
	def, err := f.client.pluginSchemaDefaults(ctx, "jwt-auth", map[string][]string{"schema_type": {"consumer"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jwt313ConsumerDefaults, def); diff != "" {
		t.Errorf("jwt-auth consumer defaults (-want +got):\n%s", diff)
	}
	_, err = f.client.do(ctx, request{method: http.MethodGet, path: apisixPrefix + "/plugins/cors", query: map[string][]string{"schema_type": {"consumer"}}})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Message != "not found schema" {
		t.Errorf("consumer schema of cors: %v, want 400 not found schema", err)
	}
}

// TestConsumerPluginDefaultsFallback: a server without plugins/list gets
// the built-in 3.13 consumer defaults before 3.14, and none after.
func TestConsumerPluginDefaultsFallback(t *testing.T) {
	d13 := apisixDefaults(parseVersion(BackendAPISIX, "3.13.0"), apisix313Plugins(), apisix313ConsumerPlugins())
	if diff := cmp.Diff(map[string]map[string]any{"jwt-auth": jwt313ConsumerDefaults}, d13.ConsumerPlugins); diff != "" {
		t.Errorf("3.13 fallback (-want +got):\n%s", diff)
	}
	if d18 := apisixDefaults(v318, apisix313Plugins(), apisix313ConsumerPlugins()); d18.ConsumerPlugins != nil {
		t.Errorf("3.18 stores no consumer defaults, got %v", d18.ConsumerPlugins)
	}
	// Empty entries are left out.
	d := apisixDefaults(parseVersion(BackendAPISIX, "3.13.0"), nil, map[string]map[string]any{"key-auth": {}})
	if d.ConsumerPlugins != nil {
		t.Errorf("an empty entry: %v", d.ConsumerPlugins)
	}
}
