package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A Secret prints as Redacted under every verb, alone, in an exported
// field, and in an unexported one (where fmt does not call its methods).
func TestSecretNeverPrints(t *testing.T) {
	const canary = "canary-secret-93c1"
	s := NewSecret(canary)
	type holder struct {
		Exported   Secret
		unexported Secret
		ptr        *Secret
	}
	h := holder{Exported: s, unexported: s, ptr: &s}
	for _, v := range []any{s, &s, h, &h, []Secret{s}, map[string]Secret{"k": s}, struct{ h holder }{h}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, canary) {
				t.Errorf("%s of %T: %s", verb, v, out)
			}
		}
	}
	b, err := json.Marshal(h)
	if err != nil || strings.Contains(string(b), canary) {
		t.Errorf("json: %s %v", b, err)
	}
	if s.Reveal() != canary || s.IsZero() || !(Secret{}).IsZero() || (Secret{}).Reveal() != "" || !NewSecret("").IsZero() {
		t.Error("Reveal or IsZero")
	}
}
