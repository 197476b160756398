package apply_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// nestingGateway stores upstreams under their service, as API7 Enterprise
// does: it tracks each upstream's copies by parent.
type nestingGateway struct {
	*fakeGateway
	nested bool
	copies map[model.Key]map[model.Key]bool // upstream → services holding a copy
}

func (n *nestingGateway) ParentInAddress(k model.Kind) bool {
	return n.nested && k == model.KindUpstream
}

func (n *nestingGateway) Put(ctx context.Context, r model.Resource) error {
	err := n.fakeGateway.Put(ctx, r)
	if err == nil && r.Key.Kind == model.KindUpstream {
		n.mu.Lock()
		if !n.nested {
			n.copies[r.Key] = map[model.Key]bool{}
		}
		n.copies[r.Key][r.Parent] = true
		n.mu.Unlock()
	}
	return err
}

func (n *nestingGateway) Delete(ctx context.Context, r model.Resource) error {
	err := n.fakeGateway.Delete(ctx, r)
	if err == nil && r.Key.Kind == model.KindUpstream {
		n.mu.Lock()
		delete(n.copies[r.Key], r.Parent)
		n.mu.Unlock()
	}
	return err
}

// TestMovedUpstreamLeavesNoCopy: on a gateway that addresses upstreams
// under their service, an upstream moved to another service (same key) is
// written under the new one and its old copy deleted after every write and
// after the deletes of what names it, even with pruning off; a failed write
// holds that delete back like the prune; on a gateway whose address has no
// parent the move is one update.
func TestMovedUpstreamLeavesNoCopy(t *testing.T) {
	up := upstream("a", "canary")
	moved := up
	moved.Parent = service("b").Key
	split := changed(route("a", "split"), "plugins", map[string]any{"traffic-split": map[string]any{
		"rules": []any{map[string]any{"weighted_upstreams": []any{map[string]any{"upstream_id": up.Key.ID, "weight": 1.0}}}}}})
	live := []model.Resource{service("a"), service("b"), up, split}
	desired := []model.Resource{service("a"), changed(service("b"), "description", "new"), moved}
	gw := func(nested bool) *nestingGateway {
		g := &nestingGateway{fakeGateway: newFake(live...), nested: nested, copies: map[model.Key]map[model.Key]bool{up.Key: {up.Parent: true}}}
		return g
	}
	t.Run("nested", func(t *testing.T) {
		g := gw(true)
		res, err := (&apply.Executor{Gateway: g}).Execute(context.Background(), planFor(desired, live, &apply.Policy{MaxDeletes: -1, MaxDeletePercent: 100}))
		// Pruning is off: the route's delete is held, the move's is not,
		// but it still waits for the route's delete, which names the upstream.
		var got []string
		for _, o := range res.Outcomes {
			got = append(got, string(o.Action)+" "+o.Name+" "+string(o.Status))
		}
		want := []string{"update b applied", "update canary applied", "delete split skipped", "delete canary skipped"}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("outcomes (-want +got):\n%s", d)
		}
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		// With pruning on, the old copy goes after the route naming it.
		g = gw(true)
		res, err = (&apply.Executor{Gateway: g}).Execute(context.Background(), planFor(desired, live, nil))
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if d := cmp.Diff(map[model.Key]bool{moved.Parent: true}, g.copies[up.Key]); d != "" {
			t.Errorf("copies of the upstream (-want +got):\n%s", d)
		}
		calls := g.callList()
		if last := calls[len(calls)-1]; last != (call{"DELETE", up.Key}) {
			t.Errorf("last call %v, want the old copy's delete; calls %v", last, calls)
		}
		if res.Counts != (apply.Counts{Applied: 4}) {
			t.Errorf("counts = %+v", res.Counts)
		}
	})
	t.Run("nested, pruning off, nothing names it", func(t *testing.T) {
		live := []model.Resource{service("a"), service("b"), up}
		g := &nestingGateway{fakeGateway: newFake(live...), nested: true, copies: map[model.Key]map[model.Key]bool{up.Key: {up.Parent: true}}}
		res, err := (&apply.Executor{Gateway: g}).Execute(context.Background(), planFor(desired, live, &apply.Policy{MaxDeletes: -1, MaxDeletePercent: 100}))
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		if d := cmp.Diff(map[model.Key]bool{moved.Parent: true}, g.copies[up.Key]); d != "" {
			t.Errorf("copies of the upstream (-want +got):\n%s", d)
		}
		if res.Counts != (apply.Counts{Applied: 3}) {
			t.Errorf("counts = %+v", res.Counts)
		}
	})
	t.Run("nested, a write failed", func(t *testing.T) {
		g := gw(true)
		g.fail[service("b").Key] = errBoom
		res, _ := (&apply.Executor{Gateway: g}).Execute(context.Background(), planFor(desired, live, nil))
		for _, o := range res.Outcomes {
			if o.Action == diff.ActionDelete && !errors.Is(o.Err, apply.ErrPruneHeld) {
				t.Errorf("%s %s ran after a failed write: %s %v", o.Action, o.Name, o.Status, o.Err)
			}
		}
		if !g.copies[up.Key][up.Parent] {
			t.Error("the old copy was deleted after a failed write")
		}
	})
	t.Run("top level", func(t *testing.T) {
		g := gw(false)
		res, err := (&apply.Executor{Gateway: g}).Execute(context.Background(), planFor(desired, live, nil))
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		for _, c := range g.callList() {
			if c == (call{"DELETE", up.Key}) {
				t.Error("the upstream was deleted on a gateway that addresses it without its parent")
			}
		}
		if len(res.Outcomes) != 3 {
			t.Errorf("%d outcomes, want 3", len(res.Outcomes))
		}
	})
}
