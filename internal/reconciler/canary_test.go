package reconciler

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"strings"

	"github.com/prometheus/common/expfmt"
)

// assertNoTokenLeak (reliability A2: the canary token is used through the
// whole suite with debug logging on) runs when every harness test ends:
// the Admin API token shows, in no form, in the debug log, the audit log,
// the status or the metrics — whatever the test did to the target (faults,
// rotations, drift, refused commits).
func (h *harness) assertNoTokenLeak() {
	t := h.t
	t.Helper()
	places := map[string]string{"log": h.logs.String()}
	if st, err := json.Marshal(h.target.Status()); err == nil {
		places["status"] = string(st)
	} else {
		t.Errorf("status: %v", err)
	}
	if data, err := os.ReadFile(h.auditF); err == nil {
		places["audit log"] = string(data)
	}
	if mfs, err := h.reg.Gather(); err == nil {
		var b strings.Builder
		for _, mf := range mfs {
			_, _ = expfmt.MetricFamilyToText(&b, mf)
		}
		places["metrics"] = b.String()
	}
	for _, f := range []string{
		adminToken,
		base64.StdEncoding.EncodeToString([]byte(adminToken)),
		base64.URLEncoding.EncodeToString([]byte(adminToken)),
		url.QueryEscape(adminToken),
	} {
		for where, text := range places {
			if strings.Contains(text, f) {
				t.Errorf("the %s holds the Admin API token (%q)", where, f)
			}
		}
	}
}
