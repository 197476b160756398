package diff_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestPluginSecretsMasked (reliability B5: diffs mask secret fields on
// both sides): the secret fields of plugins whose names do not say so —
// APISIX's encrypt_fields of jwe-decrypt and of the AI plugins, whose
// API keys sit under header names — and a few named ones are masked in
// every rendering of a change, on the desired and the live side, and
// listed by SecretPointers (so dump writes ${VAR} for each leaf, not for
// the object holding it).
func TestPluginSecretsMasked(t *testing.T) {
	const canary = "CANARY-9e1"
	secret := func(side string) string { return canary + "-" + side }
	tests := []struct {
		name    string
		key     model.Key
		body    func(s string) map[string]any
		secrets []string // SecretPointers of the body
	}{
		{"jwe-decrypt credential", model.Key{Kind: model.KindCredential, Consumer: "u", ID: "c"},
			func(s string) map[string]any {
				return map[string]any{"name": "c", "type": "jwe-decrypt", "config": map[string]any{"key": s, "secret": s + "x", "is_base64_encoded": false}}
			}, []string{"/config/key", "/config/secret"}},
		{"jwe-decrypt on a consumer", model.Key{Kind: model.KindConsumer, ID: "u"},
			func(s string) map[string]any {
				return map[string]any{"username": "u", "plugins": map[string]any{"jwe-decrypt": map[string]any{"key": s, "secret": s + "x"}}}
			}, []string{"/plugins/jwe-decrypt/key", "/plugins/jwe-decrypt/secret"}},
		{"ai-proxy header and query", model.Key{Kind: model.KindRoute, ID: "r"},
			func(s string) map[string]any {
				return map[string]any{"name": "r", "plugins": map[string]any{"ai-proxy": map[string]any{
					"provider": "openai",
					"auth":     map[string]any{"header": map[string]any{"Authorization": "Bearer " + s}, "query": map[string]any{"api-key": s}},
				}}}
			}, []string{"/plugins/ai-proxy/auth/header/Authorization", "/plugins/ai-proxy/auth/query/api-key"}},
		{"ai-proxy gcp service account", model.Key{Kind: model.KindService, ID: "s"},
			func(s string) map[string]any {
				return map[string]any{"name": "s", "plugins": map[string]any{"ai-proxy": map[string]any{
					"provider": "vertex-ai", "auth": map[string]any{"gcp": map[string]any{"service_account_json": `{"private_key":"` + s + `"}`}},
				}}}
			}, []string{"/plugins/ai-proxy/auth/gcp/service_account_json"}},
		{"ai-proxy-multi instances", model.Key{Kind: model.KindRoute, ID: "r"},
			func(s string) map[string]any {
				return map[string]any{"name": "r", "plugins": map[string]any{"ai-proxy-multi": map[string]any{"instances": []any{
					map[string]any{"name": "a", "provider": "openai", "weight": 1.0, "auth": map[string]any{"header": map[string]any{"Authorization": "Bearer " + s}}},
					map[string]any{"name": "b", "provider": "deepseek", "weight": 1.0, "auth": map[string]any{"header": map[string]any{"x-api-key": s}}},
				}}}}
			}, []string{"/plugins/ai-proxy-multi/instances/0/auth/header/Authorization", "/plugins/ai-proxy-multi/instances/1/auth/header/x-api-key"}},
		{"ai-request-rewrite", model.Key{Kind: model.KindGlobalRule, ID: "ai-request-rewrite"},
			func(s string) map[string]any {
				return map[string]any{"prompt": "p", "provider": "openai", "auth": map[string]any{"header": map[string]any{"Authorization": "Bearer " + s}}}
			}, []string{"/auth/header/Authorization"}},
		{"http-logger auth_header", model.Key{Kind: model.KindRoute, ID: "r"},
			func(s string) map[string]any {
				return map[string]any{"name": "r", "plugins": map[string]any{"http-logger": map[string]any{"uri": "http://127.0.0.1/log", "auth_header": "Bearer " + s}}}
			}, []string{"/plugins/http-logger/auth_header"}},
		{"aws-lambda IAM secret key", model.Key{Kind: model.KindRoute, ID: "r"},
			func(s string) map[string]any {
				return map[string]any{"name": "r", "plugins": map[string]any{"aws-lambda": map[string]any{
					"function_uri":  "https://x.lambda-url.us-east-1.on.aws/",
					"authorization": map[string]any{"iam": map[string]any{"accesskey": "AKIA", "secretkey": s}},
				}}}
			}, []string{"/plugins/aws-lambda/authorization/iam/secretkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired := model.Resource{Key: tt.key, Name: tt.key.ID, Body: tt.body(secret("desired"))}
			live := model.Resource{Key: tt.key, Name: tt.key.ID, Body: tt.body(secret("live"))}
			if got := diff.SecretPointers(desired); !cmp.Equal(got, tt.secrets) {
				t.Errorf("SecretPointers = %q, want %q", got, tt.secrets)
			}
			for name, cs := range map[string]diff.ChangeSet{
				"update": diff.Compute([]model.Resource{desired}, []model.Resource{live}),
				"create": diff.Compute([]model.Resource{desired}, nil),
				"delete": diff.Compute(nil, []model.Resource{live}),
			} {
				if cs.Empty() {
					t.Fatalf("%s: no change", name)
				}
				js, err := diff.JSON(cs)
				if err != nil {
					t.Fatal(err)
				}
				for format, out := range map[string][]byte{"text": diff.Text(cs, diff.TextOptions{}), "json": js, "markdown": diff.Markdown(cs)} {
					if strings.Contains(string(out), canary) {
						t.Errorf("%s as %s shows a secret:\n%s", name, format, out)
					}
				}
			}
		})
	}
}
