package reconciler

import (
	"strings"
	"testing"
)

// TestTLSVerifyDisabledIsLoud (reliability A3): a target whose Admin API
// certificate is not verified says so on every cycle and exports
// reconciler_tls_verify_disabled 1; a target that verifies exports 0 and
// logs nothing of it. (That the configuration file cannot set it is
// TestParseConfigErrors' "tls skip verify only from flags".)
func TestTLSVerifyDisabledIsLoud(t *testing.T) {
	const warning = "TLS verification of the Admin API is disabled"
	for _, disabled := range []bool{true, false} {
		h := newHarness(t, harnessOpts{configure: func(c *TargetConfig) { c.TLSVerifyDisabled = disabled }})
		for range 3 {
			h.once()
		}
		want, wantWarnings := 0.0, 0
		if disabled {
			want, wantWarnings = 1, 3
		}
		if got := h.gauge("reconciler_tls_verify_disabled", "target", "prod"); got != want {
			t.Errorf("disabled=%v: reconciler_tls_verify_disabled = %v, want %v", disabled, got, want)
		}
		if n := strings.Count(h.logs.String(), warning); n != wantWarnings {
			t.Errorf("disabled=%v: %d warnings in 3 cycles, want %d", disabled, n, wantWarnings)
		}
	}

}
