package reconciler

import (
	"testing"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestTrackedBranchOrFilesGone (reliability G1, second half): the tracked
// branch deleted, or a commit that leaves no configuration file, is a
// fetch or validation error, never an empty desired state: 0 writes and 0
// deletes, the last good commit keeps serving (a hand edit is still
// corrected), and the target converges once the branch is back.
func TestTrackedBranchOrFilesGone(t *testing.T) {
	for _, tt := range []struct {
		name   string
		break_ func(h *harness)
		want   metrics.Reason
	}{
		{"branch deleted", func(h *harness) {
			runGit(h.t, h.repo.bare, "update-ref", "-d", "refs/heads/main")
		}, metrics.ReasonFetchFailed},
		{"configuration files removed", func(h *harness) {
			h.repo.commit("move the configuration away", map[string]string{"routes.yaml": "", "README.md": "moved\n"})
		}, metrics.ReasonFetchFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// As the daemon makes it: only configuration files are read.
			h := newHarness(t, harnessOpts{source: func(h *harness) Source {
				gs, err := git.New(git.Options{URL: h.repo.fileURL(), Ref: "main", Include: model.IsConfigFile})
				if err != nil {
					h.t.Fatal(err)
				}
				return gitSource{gs}
			}})
			first := h.once()
			if first.Result != ResultSuccess {
				t.Fatalf("first cycle: %+v", first)
			}
			good := h.repo.git("rev-parse", "HEAD")
			tt.break_(h)
			deletes := h.gw.em.Counters().Deletes
			h.gw.editRoute(t, routeID(1), "by hand")
			writes := h.gw.writes()
			c := h.once()
			if c.Result == ResultSuccess || c.Revision != first.Revision {
				t.Fatalf("cycle with the state gone: %+v", c)
			}
			if !hasReason(c, tt.want) {
				t.Errorf("reasons %v (%s), want %s", c.Reasons, c.Error, tt.want)
			}
			if h.gw.em.Counters().Deletes != deletes {
				t.Errorf("%d deletes", h.gw.em.Counters().Deletes-deletes)
			}
			if h.gw.writes() != writes+1 || c.Counts.Drift != 1 || c.Counts.Applied != 1 {
				t.Errorf("the hand edit was not corrected from the last good commit: %+v, %d writes", c.Counts, h.gw.writes()-writes)
			}
			h.repo.git("reset", "-q", "--hard", good)
			h.repo.git("push", "-q", "-f", "origin", "HEAD:refs/heads/main")
			if c := h.once(); c.Result != ResultSuccess || c.Changes != 0 {
				t.Errorf("after the branch is back: %+v", c)
			}
		})
	}
}
