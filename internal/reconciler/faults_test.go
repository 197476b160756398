package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// httpSource serves the harness's repository over smart HTTP.
func httpSource(srv **gitServer, token string, o git.Options) func(h *harness) Source {
	return func(h *harness) Source {
		*srv = newGitServer(h.t, h.repo.root, token)
		o.URL = (*srv).URL + "/" + h.repo.name
		o.Ref = "main"
		gs, err := git.New(o)
		if err != nil {
			h.t.Fatal(err)
		}
		return gitSource{gs}
	}
}

// G1: the Git server fails. The fetch error sets FetchFailed and nothing is
// deleted or created from the missing state: the last good commit keeps
// serving, and a hand edit is still corrected. When Git is back, the new
// commit is applied.
func TestGitDownKeepsLastGood(t *testing.T) {
	var srv *gitServer
	h := newHarness(t, harnessOpts{source: httpSource(&srv, "", git.Options{})})
	first := h.once()
	fetched := h.gauge("reconciler_git_last_success_timestamp_seconds", "target", "prod")
	if fetched != float64(start.Unix()) {
		t.Fatalf("git_last_success_timestamp_seconds = %v after the first fetch, want %d", fetched, start.Unix())
	}
	srv.status.Store(http.StatusServiceUnavailable)
	h.repo.commit("second", map[string]string{"routes.yaml": routesConfig(3, "v2")})
	h.gw.editRoute(t, routeID(2), "hand")
	h.clk.Advance(30 * time.Minute)
	c := h.once()
	if !hasReason(c, metrics.ReasonFetchFailed) || c.Revision != first.Revision {
		t.Fatalf("cycle with Git down: %+v", c)
	}
	if c.Counts.Drift != 1 || c.Counts.Applied != 1 || len(c.Items) != 1 {
		t.Errorf("drift correction from the last good commit: %+v", c.Items)
	}
	if h.gauge("reconciler_git_fetch_errors_total", "target", "prod", "reason", "FetchFailed") != 1 {
		t.Error("git_fetch_errors_total{reason=FetchFailed} not counted")
	}
	// The outage keeps the last success where it was, so that the alert
	// (ReconcilerGitFetchFailing) sees its age grow.
	if got := h.gauge("reconciler_git_last_success_timestamp_seconds", "target", "prod"); got != fetched {
		t.Errorf("git_last_success_timestamp_seconds moved to %v during the outage, want %v", got, fetched)
	}
	srv.status.Store(0)
	c = h.once()
	if got := h.gauge("reconciler_git_last_success_timestamp_seconds", "target", "prod"); got != float64(start.Add(30*time.Minute).Unix()) {
		t.Errorf("git_last_success_timestamp_seconds = %v after recovery", got)
	}
	if c.Result != ResultSuccess || c.Revision == first.Revision || c.Counts.Pending != 3 {
		t.Errorf("after Git recovered: %+v", c)
	}
}

// B1: an invalid commit is refused as a whole: 0 writes from it, the error
// names file and line, the last good commit keeps serving, and the bad
// revision is not parsed again every cycle.
func TestInvalidCommitKeepsLastGood(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	first := h.once()
	bad := h.repo.commit("broken", map[string]string{
		"routes.yaml": routesConfig(3, "v2"),
		"more.yaml":   "services:\n  - name: x\n    bogus: 1\n",
	})
	writes := h.gw.writes()
	for range 3 {
		c := h.once()
		if !hasReason(c, metrics.ReasonValidationFailed) || c.Revision != first.Revision || c.Changes != 0 {
			t.Fatalf("cycle with an invalid commit: %+v", c)
		}
		if !strings.Contains(c.Error, "more.yaml:3") {
			t.Errorf("error does not name the file and line: %s", c.Error)
		}
	}
	if h.gw.writes() != writes {
		t.Error("the invalid commit caused writes")
	}
	st := h.target.Status()
	if st.Revision != first.Revision || !strings.Contains(st.SourceRevision, bad) {
		t.Errorf("status revision %q, source revision %q", st.Revision, st.SourceRevision)
	}
	if n := strings.Count(h.logs.String(), "revision refused"); n != 1 {
		t.Errorf("the bad revision was loaded %d times, want once", n)
	}
	h.repo.commit("fixed", map[string]string{"more.yaml": ""})
	if c := h.once(); c.Result != ResultSuccess || c.Counts.Pending != 3 {
		t.Errorf("after the fix: %+v", c)
	}
}

// refusingSource is the harness's repository through pkg/git with
// rewritten history refused.
func refusingSource(o git.Options) func(h *harness) Source {
	return func(h *harness) Source {
		o.URL, o.Ref, o.History = h.repo.fileURL(), "main", git.HistoryRefuse
		gs, err := git.New(o)
		if err != nil {
			h.t.Fatal(err)
		}
		return gitSource{gs}
	}
}

// G3: with rewritten history refused, a force-push of unrelated history is
// not applied (HistoryRewritten, 0 writes) — nor is a commit on top of it —
// while the last good commit keeps serving drift correction. Each refused
// tip is counted once. Restoring the branch ends it.
func TestHistoryRewriteRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{source: refusingSource(git.Options{})})
	first := h.once()
	h.repo.git("checkout", "-q", "--orphan", "rewritten")
	rewritten := h.repo.commit("unrelated history", map[string]string{"routes.yaml": routesConfig(2, "rewritten")})
	writes := h.gw.writes()
	refused := func(tip string) Cycle {
		t.Helper()
		c := h.once()
		if !hasReason(c, metrics.ReasonHistoryRewritten) || c.Revision != first.Revision || h.gw.writes() != writes {
			t.Fatalf("cycle after a force-push: %+v (%d writes before, %d now)", c, writes, h.gw.writes())
		}
		if st := h.target.Status(); st.Revision != first.Revision || st.SourceRevision != "main@sha1:"+tip || st.Ready {
			t.Errorf("status revision %q, source revision %q, ready %v", st.Revision, st.SourceRevision, st.Ready)
		}
		return c
	}
	refused(rewritten)
	refused(rewritten)
	if n := h.gauge("reconciler_git_history_rewritten_total", "target", "prod"); n != 1 {
		t.Errorf("git_history_rewritten_total = %v after two cycles on one refused tip, want 1", n)
	}
	onTop := h.repo.commit("on top", map[string]string{"routes.yaml": routesConfig(2, "v3")})
	refused(onTop)
	if n := h.gauge("reconciler_git_history_rewritten_total", "target", "prod"); n != 2 {
		t.Errorf("git_history_rewritten_total = %v after a second refused tip, want 2", n)
	}
	// The last good commit keeps correcting drift.
	h.gw.editRoute(t, routeID(2), "hand")
	c := h.once()
	if c.Revision != first.Revision || c.Counts.Drift != 1 || c.Counts.Applied != 1 {
		t.Errorf("drift correction from the last good commit: %+v", c)
	}
	writes = h.gw.writes()
	// Restoring the branch: its tip descends from the last good commit.
	h.repo.git("checkout", "-q", "-B", "main", revisionHash(first.Revision))
	restored := h.repo.commit("restored", map[string]string{"routes.yaml": routesConfig(3, "v4")})
	if c := h.once(); c.Result != ResultSuccess || c.Revision != "main@sha1:"+restored || c.Counts.Applied != 3 {
		t.Errorf("after the branch was restored: %+v", c)
	}
	if n := h.gauge("reconciler_git_history_rewritten_total", "target", "prod"); n != 2 {
		t.Errorf("git_history_rewritten_total = %v after a restore, want 2", n)
	}
}

// G3 with the default policy: a force-push is followed at once and counted
// once, however many cycles see its tip.
func TestHistoryRewriteFollowed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.once()
	h.repo.git("checkout", "-q", "--orphan", "rewritten")
	rewritten := h.repo.commit("unrelated history", map[string]string{"routes.yaml": routesConfig(2, "rewritten")})
	c := h.once()
	if c.Result != ResultSuccess || c.Revision != "main@sha1:"+rewritten || c.Counts.Applied == 0 {
		t.Fatalf("cycle after a force-push: %+v", c)
	}
	for range 3 {
		if c := h.once(); c.Result != ResultSuccess || c.Changes != 0 {
			t.Errorf("later cycle: %+v", c)
		}
	}
	if n := h.gauge("reconciler_git_history_rewritten_total", "target", "prod"); n != 1 {
		t.Errorf("git_history_rewritten_total = %v, want 1", n)
	}
	if n := strings.Count(h.logs.String(), "history rewritten: the new commit"); n != 1 {
		t.Errorf("the rewrite is logged %d times by the daemon, want once", n)
	}
}

// O1: every reason of the closed set is reachable, and is exported through
// reconciler_condition and the status.
func TestEveryConditionReasonIsReachable(t *testing.T) {
	type scenario struct {
		opts harnessOpts
		// before runs after one successful cycle (unless fresh); the cycle
		// after it must carry the reason.
		before func(t *testing.T, h *harness)
		fresh  bool // no successful cycle first
	}
	var gitSrv *gitServer
	scenarios := map[metrics.Reason]scenario{
		metrics.ReasonFetchFailed: {before: func(t *testing.T, h *harness) {
			if err := os.RemoveAll(h.repo.bare); err != nil {
				t.Fatal(err)
			}
		}},
		metrics.ReasonGitAuthenticationFailed: {fresh: true, opts: harnessOpts{
			source: httpSource(&gitSrv, "the-right-token", git.Options{Auth: git.Auth{TokenFile: writeFile(t, "wrong-token")}}),
		}},
		metrics.ReasonVerificationFailed: {fresh: true, opts: harnessOpts{
			source: httpSource(&gitSrv, "", git.Options{Verify: git.Verification{Mode: git.VerifyHead, PGPKeyringFile: pgpKeyring(t)}}),
		}},
		metrics.ReasonHistoryRewritten: {
			opts: harnessOpts{source: refusingSource(git.Options{})},
			before: func(t *testing.T, h *harness) {
				h.repo.git("checkout", "-q", "--orphan", "other")
				h.repo.commit("rewritten", map[string]string{"routes.yaml": routesConfig(1, "x")})
			},
		},
		metrics.ReasonValidationFailed: {before: func(t *testing.T, h *harness) {
			h.repo.commit("bad", map[string]string{"routes.yaml": "services: [{name: 1}]\n"})
		}},
		metrics.ReasonInputTooLarge: {before: func(t *testing.T, h *harness) {
			h.repo.commit("big", map[string]string{"big.yaml": "# " + strings.Repeat("x", model.MaxFileSize) + "\n"})
		}},
		metrics.ReasonGitTimeout: {fresh: true, opts: harnessOpts{
			source: func(h *harness) Source {
				hang := &hangServer{}
				srv := newSwitchable(h.t, hang)
				gs, err := git.New(git.Options{URL: srv.URL() + "/gateway.git", Timeout: 100 * time.Millisecond})
				if err != nil {
					h.t.Fatal(err)
				}
				return gitSource{gs}
			},
		}},
		metrics.ReasonApplyFailed: {fresh: true, opts: harnessOpts{emu: []emulator.Option{emulator.WithHook(
			emulator.Reject(http.MethodPut, "/apisix/admin/routes/"+routeID(1), http.StatusBadRequest, `{"error_msg":"invalid plugin conf"}`))}}},
		metrics.ReasonReadFailed: {fresh: true, opts: harnessOpts{emu: []emulator.Option{emulator.WithHook(func(c emulator.Call) *emulator.Reply {
			if c.Method == http.MethodGet && c.Path == "/apisix/admin/routes" {
				return &emulator.Reply{Status: http.StatusInternalServerError, Body: `{"error_msg":"etcd broke"}`}
			}
			return nil
		})}}},
		metrics.ReasonPruneFailed: {
			opts: harnessOpts{emu: []emulator.Option{emulator.WithHook(emulator.Reject(http.MethodDelete, "/apisix/admin/routes/"+routeID(2), http.StatusBadRequest, `{"error_msg":"no"}`))}},
			before: func(t *testing.T, h *harness) {
				h.repo.commit("drop r002", map[string]string{"routes.yaml": routesConfig(2, "v1")})
			},
		},
		metrics.ReasonDeletionGuardTripped: {
			opts: harnessOpts{configure: func(c *TargetConfig) { c.Policy.MaxDeletes = 1 }},
			before: func(t *testing.T, h *harness) {
				h.repo.commit("drop two routes", map[string]string{"routes.yaml": routesConfig(1, "v1")})
			},
		},
		metrics.ReasonOwnershipConflict: {fresh: true, before: func(t *testing.T, h *harness) {
			svc := map[string]any{"upstream": map[string]any{"nodes": map[string]any{"10.9.9.9:80": 1}, "type": "roundrobin"}}
			if code := h.gw.do(t, http.MethodPut, "/apisix/admin/services/"+model.ServiceID("shop"), svc); code >= 300 {
				t.Fatalf("put: %d", code)
			}
		}},
		metrics.ReasonAuthenticationFailed: {before: func(t *testing.T, h *harness) {
			if err := h.gw.em.RevokeToken(emulator.TokenNameAdmin); err != nil {
				t.Fatal(err)
			}
		}},
		metrics.ReasonAdminUnreachable: {before: func(t *testing.T, h *harness) { h.gw.srv.down() }},
		metrics.ReasonRateLimited: {before: func(t *testing.T, h *harness) {
			if err := h.gw.em.SetFaults(emulator.Faults{Seed: 1, RateLimited: 1, RetryAfter: time.Hour}); err != nil {
				t.Fatal(err)
			}
		}},
		metrics.ReasonDecryptionRequired: {before: func(t *testing.T, h *harness) {
			h.repo.commit("encrypted", map[string]string{"secret.yaml": "consumers:\n  - username: x\n    description: ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]\n"})
		}},
	}
	for _, reason := range metrics.Reasons() {
		t.Run(string(reason), func(t *testing.T) {
			sc, ok := scenarios[reason]
			if !ok {
				t.Fatalf("no scenario reaches %s", reason)
			}
			h := newHarness(t, sc.opts)
			if !sc.fresh {
				if c := h.once(); c.Result != ResultSuccess {
					t.Fatalf("setup cycle: %+v", c)
				}
			}
			if sc.before != nil {
				sc.before(t, h)
			}
			c := h.once()
			if !hasReason(c, reason) {
				t.Fatalf("cycle reasons %v (%s), want %s", c.Reasons, c.Error, reason)
			}
			if c.Result != ResultFailure {
				t.Errorf("result %s", c.Result)
			}
			if h.condition(reason) != 1 {
				t.Errorf("reconciler_condition{reason=%s} != 1", reason)
			}
			found := false
			for _, cond := range h.target.Status().Conditions {
				if cond.Reason == reason && cond.Message != "" {
					found = true
				}
			}
			if !found {
				t.Errorf("status conditions %+v lack %s", h.target.Status().Conditions, reason)
			}
			if reason == metrics.ReasonPruneFailed && h.gauge("reconciler_prune_failures_total", "target", "prod") != 1 {
				t.Error("prune_failures_total not counted")
			}
			if reason == metrics.ReasonDeletionGuardTripped && h.gauge("reconciler_deletes_blocked_total", "target", "prod", "reason", "MaxDeletes") != 1 {
				t.Error("deletes_blocked_total not counted")
			}
		})
	}
}

// hangServer accepts requests and never answers until the client gives up.
type hangServer struct{}

func (hangServer) ServeHTTP(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pgpKeyring(t *testing.T) string {
	t.Helper()
	e, err := openpgp.NewEntity("Trusted", "", "trusted@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, b.String())
}

var _ = context.Background

// Design §13: a cycle where nothing changed costs one reference
// advertisement and the list requests: no pack, no write.
func TestNoChangePollIsCheap(t *testing.T) {
	var srv *gitServer
	h := newHarness(t, harnessOpts{source: httpSource(&srv, "", git.Options{})})
	h.once()
	h.once()
	srv.infoRefs.Store(0)
	srv.packs.Store(0)
	before := len(h.gw.em.Requests())
	c := h.once()
	if c.Changes != 0 || c.Result != ResultSuccess {
		t.Fatalf("cycle: %+v", c)
	}
	if srv.infoRefs.Load() != 1 || srv.packs.Load() != 0 {
		t.Errorf("Git: %d advertisements and %d upload-packs, want 1 and 0", srv.infoRefs.Load(), srv.packs.Load())
	}
	for _, r := range h.gw.em.Requests()[before:] {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s in a cycle with nothing to do", r.Method, r.Path)
		}
	}
}

// D1: an override of the deletion guard is bound to one commit. It lifts
// the budget for that commit only, never for another one, and it expires
// once that commit is applied.
func TestDeletionGuardOverride(t *testing.T) {
	h := newHarness(t, harnessOpts{
		files:     map[string]string{"routes.yaml": routesConfig(4, "v1")},
		configure: func(c *TargetConfig) { c.Policy.MaxDeletes = 1 },
	})
	first := h.once()
	if first.Counts.Applied != 5 {
		t.Fatalf("first cycle: %+v", first)
	}
	drop := h.repo.commit("drop three routes", map[string]string{"routes.yaml": routesConfig(1, "v1")})

	// An override naming another commit changes nothing.
	h.target.cfg.DeletionGuardOverride = revisionHash(first.Revision)
	writes := h.gw.writes()
	c := h.once()
	if !hasReason(c, metrics.ReasonDeletionGuardTripped) || h.gw.writes() != writes ||
		!strings.Contains(c.Error, "override names commit "+revisionHash(first.Revision)+", not this one") {
		t.Fatalf("override of another commit: %+v (%d writes)", c, h.gw.writes()-writes)
	}

	// The override of this commit lets its deletes through.
	h.target.cfg.DeletionGuardOverride = drop
	c = h.once()
	if c.Result != ResultSuccess || c.Counts.Applied != 3 || h.gw.em.Counters().Deletes != 3 {
		t.Fatalf("override of this commit: %+v, %d deletes", c, h.gw.em.Counters().Deletes)
	}
	if !strings.Contains(h.logs.String(), "budget is overridden") || !strings.Contains(h.logs.String(), "override is spent") {
		t.Errorf("the override is not logged:\n%s", h.logs.String())
	}

	// Spent: owned objects that appear again at the same commit are under
	// the guard again.
	for i := 5; i < 8; i++ {
		body := map[string]any{"uris": []string{fmt.Sprintf("/x%d", i)}, "service_id": model.ServiceID("shop"),
			"labels": map[string]any{"managed-by": "reconciler"}}
		if code := h.gw.do(t, http.MethodPut, "/apisix/admin/routes/"+routeID(i), body); code >= 300 {
			t.Fatalf("put: %d", code)
		}
	}
	writes = h.gw.writes()
	c = h.once()
	if !hasReason(c, metrics.ReasonDeletionGuardTripped) || h.gw.writes() != writes || !strings.Contains(c.Error, "spent") {
		t.Errorf("after the override was spent: %+v", c)
	}

	// A later commit that exceeds the budget is refused.
	h.repo.commit("back to four", map[string]string{"routes.yaml": routesConfig(4, "v1")})
	guard := h.target.cfg.Policy
	h.target.cfg.Policy.MaxDeletes, h.target.cfg.Policy.MaxDeletePercent = -1, 100
	if c := h.once(); c.Result != ResultSuccess {
		t.Fatalf("back to four: %+v", c)
	}
	h.target.cfg.Policy = guard
	h.repo.commit("drop again", map[string]string{"routes.yaml": routesConfig(1, "v1")})
	if c := h.once(); !hasReason(c, metrics.ReasonDeletionGuardTripped) {
		t.Errorf("a later commit with the old override: %+v", c)
	}
}

func TestDeletionGuardOverrideChecked(t *testing.T) {
	_, err := NewTarget(TargetConfig{Name: "x", Source: &DirSource{}, Gateway: (*api7.Client)(nil), DeletionGuardOverride: "abc1234"},
		Deps{Metrics: metrics.New(prometheus.NewRegistry(), metrics.Build{})})
	if err == nil || !strings.Contains(err.Error(), "full hash") {
		t.Errorf("a short hash: %v", err)
	}
}
