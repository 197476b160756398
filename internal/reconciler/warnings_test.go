package reconciler

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Reliability row B5: a revision holding secrets written in plain text is
// applied, and each such secret is logged once, when its revision is
// loaded, and listed in the status while that revision is served — by file,
// line, resource and field, never by value.
func TestPlaintextSecretWarnings(t *testing.T) {
	const canary = "plaintext-canary-5e1f0a"
	const logMsg = "a secret is written in plain text in Git"
	consumers := func(keys ...string) string {
		var b strings.Builder
		b.WriteString("consumers:\n  - username: app\n    credentials:\n")
		for i, k := range keys {
			b.WriteString("      - name: c" + string(rune('0'+i)) + "\n        type: key-auth\n        config: {key: \"" + k + "\"}\n")
		}
		return b.String()
	}
	h := newHarness(t, harnessOpts{files: map[string]string{
		"routes.yaml":    routesConfig(1, "v1"),
		"consumers.yaml": consumers(canary, "$env://APP_KEY"),
	}})
	warnings := func() []Warning {
		t.Helper()
		var st struct {
			Warnings []Warning `json:"warnings"`
		}
		b, err := json.Marshal(h.target.Status())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Warnings == nil {
			t.Fatalf("no warnings list in the status: %s", b)
		}
		return st.Warnings
	}
	logged := func() int { return strings.Count(h.logs.String(), logMsg) }

	if c := h.once(); c.Result != ResultSuccess || c.Counts.Applied != 5 {
		t.Fatalf("first cycle: %+v", c)
	}
	want := []Warning{{
		File: "consumers.yaml", Line: 4, Resource: `consumer_credential "app/c0"`, Field: "config.key",
		Message: "config.key is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git",
	}}
	if diff := cmp.Diff(want, warnings()); diff != "" {
		t.Fatalf("status warnings (-want +got):\n%s", diff)
	}
	if n := logged(); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, h.logs.String())
	}
	for _, field := range []string{`"file":"consumers.yaml"`, `"line":4`, `"resource":"consumer_credential \"app/c0\""`, `"field":"config.key"`} {
		if !strings.Contains(h.logs.String(), field) {
			t.Errorf("the log line lacks %s", field)
		}
	}

	// The same revision again: nothing new to say; the status still says it.
	h.once()
	if n := logged(); n != 1 {
		t.Errorf("logged %d times after a second cycle of the same revision, want once", n)
	}
	if len(warnings()) != 1 {
		t.Errorf("the status lost the warning: %+v", warnings())
	}

	// A revision that fixes it has no warning.
	h.repo.commit("keys from the environment", map[string]string{"consumers.yaml": consumers("$env://K0", "$env://APP_KEY")})
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("fixed revision: %+v", c)
	}
	if w := warnings(); len(w) != 0 || logged() != 1 {
		t.Errorf("after the fix: %d warnings in the status, %d logged", len(w), logged())
	}

	// A revision that brings two back logs both, once.
	h.repo.commit("two plain keys", map[string]string{"consumers.yaml": consumers(canary, canary+"-2")})
	h.once()
	if w := warnings(); len(w) != 2 || logged() != 3 {
		t.Errorf("two plain keys: %d warnings in the status, %d logged in all", len(w), logged())
	}

	st, err := json.Marshal(h.target.Status())
	if err != nil {
		t.Fatal(err)
	}
	audit, err := os.ReadFile(h.auditF)
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"logs": h.logs.String(), "status": string(st), "audit log": string(audit)} {
		if strings.Contains(s, canary) {
			t.Errorf("the secret shows in the %s", what)
		}
	}
}
