package diff_test

import (
	"encoding/json"
	"errors"
	"fmt"
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

// apiError stands for a typed error of the gateway client.
type apiError struct{ msg string }

func (e *apiError) Error() string { return e.msg }

// TestRedactError: a server message quoting a secret of the resource —
// raw, or JSON-escaped as a PEM key is in a JSON answer — loses it; the
// error still unwraps to the client's typed error; an error without a
// secret is returned as it is; secrets shorter than 4 characters are left
// (replacing them would garble the message).
func TestRedactError(t *testing.T) {
	pemKey := "-----BEGIN PRIVATE KEY-----\nCANARYpem0123456789\n-----END PRIVATE KEY-----\n"
	cred := model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: "u", ID: "c"},
		Body: map[string]any{"name": "c", "type": "key-auth", "config": map[string]any{"key": "CANARY-key-77"}}}
	ssl := model.Resource{Key: model.Key{Kind: model.KindSSL, ID: "s"},
		Body: map[string]any{"snis": []any{"a.example.com"}, "certificates": []any{map[string]any{"certificate": "C", "key": pemKey}}}}
	short := model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: "u", ID: "c"},
		Body: map[string]any{"name": "c", "type": "key-auth", "config": map[string]any{"key": "abc"}}}
	subst := model.Resource{Key: model.Key{Kind: model.KindRoute, ID: "r"}, Secrets: []string{"/labels/token"},
		Body: map[string]any{"name": "r", "labels": map[string]any{"token": "CANARY-label-5"}}}

	if got := diff.SecretValues(ssl); !cmp.Equal(got, []string{pemKey}) {
		t.Errorf("SecretValues(ssl) = %q", got)
	}
	pemJSON, _ := json.Marshal(pemKey)
	tests := []struct {
		name string
		msg  string
		rs   []model.Resource
		want string
	}{
		{"quoted key", `failed to match pattern "^x" with "CANARY-key-77"`, []model.Resource{cred}, `failed to match pattern "^x" with "[redacted]"`},
		{"escaped PEM", `invalid key: ` + string(pemJSON), []model.Resource{ssl}, `invalid key: "[redacted]"`},
		{"substituted label", `label token "CANARY-label-5" is invalid`, []model.Resource{subst}, `label token "[redacted]" is invalid`},
		{"live side", `CANARY-key-77 is held by another consumer`, []model.Resource{{}, cred}, `[redacted] is held by another consumer`},
		{"nothing secret", `duplicate route`, []model.Resource{cred}, `duplicate route`},
		{"short secret kept", `key abc is taken`, []model.Resource{short}, `key abc is taken`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := fmt.Errorf("put: %w", &apiError{msg: tt.msg})
			err := diff.RedactError(orig, tt.rs...)
			if want := "put: " + tt.want; err.Error() != want {
				t.Errorf("got %q, want %q", err.Error(), want)
			}
			var ae *apiError
			if !errors.As(err, &ae) || !errors.Is(err, orig) {
				t.Error("the redacted error does not unwrap to the original")
			}
			if tt.want == tt.msg && err != orig {
				t.Error("an error without a secret was wrapped")
			}
		})
	}
	if diff.RedactError(nil, cred) != nil {
		t.Error("RedactError(nil) is not nil")
	}
}
