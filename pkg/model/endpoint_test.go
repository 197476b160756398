package model

import (
	"errors"
	"strings"
	"testing"
)

// TestRepoCannotRedirectTheGateway (reliability A4: "an endpoint or
// credential field in repo content is rejected or ignored"): a file that
// names an Admin API endpoint, a token or a TLS setting — at the top, as
// ADC's own configuration does, or inside a resource — is refused with
// its file and line, and the error does not repeat the value.
func TestRepoCannotRedirectTheGateway(t *testing.T) {
	const value = "CANARY-evil-7f1e"
	for _, key := range []string{"adminURL", "server", "backend", "token", "tokenFile", "api_key", "tlsSkipVerify", "gateway", "gateway_group"} {
		for _, doc := range []string{
			key + ": " + value + "\nservices: []\n",
			"services:\n  - name: s\n    " + key + ": " + value + "\n    upstream:\n      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]\n",
		} {
			rs, err := loadString(doc)
			if err == nil {
				t.Errorf("%q accepted: %d resources", doc, len(rs))
				continue
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "config.yaml:") || !strings.Contains(err.Error(), key) {
				t.Errorf("%q: %v, want a validation error naming config.yaml and %s", doc, err, key)
			}
			if strings.Contains(err.Error(), value) {
				t.Errorf("%q: the error repeats the value: %v", doc, err)
			}
		}
	}
}
