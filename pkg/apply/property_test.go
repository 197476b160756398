package apply_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// genState draws a gateway configuration: services with routes and extra
// upstreams, consumers with credentials. Each object may carry a variant
// field, so that two draws overlap, differ and miss each other.
func genState(t *rapid.T, label string) []model.Resource {
	var rs []model.Resource
	variant := func(r model.Resource, l string) model.Resource {
		if v := rapid.IntRange(0, 2).Draw(t, l); v > 0 {
			return changed(r, "description", fmt.Sprint(v))
		}
		return r
	}
	for i := range rapid.IntRange(0, 4).Draw(t, label+".services") {
		if !rapid.Bool().Draw(t, fmt.Sprintf("%s.s%d", label, i)) {
			continue
		}
		s := fmt.Sprintf("s%d", i)
		rs = append(rs, variant(service(s), label+"."+s))
		for j := range rapid.IntRange(0, 3).Draw(t, label+"."+s+".routes") {
			rs = append(rs, variant(route(s, fmt.Sprint(j)), fmt.Sprintf("%s.%s.r%d", label, s, j)))
		}
		if rapid.Bool().Draw(t, label+"."+s+".upstream") {
			rs = append(rs, upstream(s, "canary"))
		}
	}
	for i := range rapid.IntRange(0, 3).Draw(t, label+".consumers") {
		if !rapid.Bool().Draw(t, fmt.Sprintf("%s.c%d", label, i)) {
			continue
		}
		c := fmt.Sprintf("c%d", i)
		rs = append(rs, variant(consumer(c), label+"."+c))
		for j := range rapid.IntRange(0, 2).Draw(t, label+"."+c+".creds") {
			rs = append(rs, variant(credential(c, fmt.Sprint(j)), fmt.Sprintf("%s.%s.k%d", label, c, j)))
		}
	}
	return rs
}

// TestExecuteProperties (D4 at the level of apply): for random desired and
// live states, unowned objects and failures:
//   - every step has exactly one outcome, and the counts add up;
//   - a request is sent only for a step that ran, once per attempt;
//   - a step starts only after every step it waits for finished;
//   - no delete is sent unless every write succeeded;
//   - no request touches an unowned object;
//   - never more than Concurrency requests are in flight;
//   - without failures, the gateway ends in sync and a second plan is empty.
func TestExecuteProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		desired := genState(t, "desired")
		owned := genState(t, "live")
		var unowned []model.Resource
		for _, r := range genState(t, "unowned") {
			if !containsKey(owned, r.Key) {
				unowned = append(unowned, r)
			}
		}
		f := newFake(append(append([]model.Resource(nil), owned...), unowned...)...)
		failing := rapid.SliceOfN(rapid.SampledFrom(append(append([]model.Resource{{}}, desired...), owned...)), 0, 2).Draw(t, "failing")
		for _, r := range failing {
			if !r.Key.IsZero() {
				f.fail[r.Key] = &gatewayError{status: 400, message: "rejected"}
			}
		}
		conc := rapid.IntRange(1, 6).Draw(t, "concurrency")
		unownedKeys := keys(unowned)

		plan := apply.NewPlan(apply.Input{
			Changes:         diff.Compute(desired, owned),
			Desired:         len(desired),
			Live:            model.Inventory{Owned: owned, Unowned: unownedKeys},
			ListingComplete: true,
		}, apply.Policy{Prune: true, MaxDeletes: -1, MaxDeletePercent: 100, AllowEmpty: true})
		res, err := (&apply.Executor{Gateway: f, Concurrency: conc}).Execute(context.Background(), plan)

		if len(res.Outcomes) != len(plan.Steps) {
			t.Fatalf("%d outcomes for %d steps", len(res.Outcomes), len(plan.Steps))
		}
		if c := res.Counts; c.Applied+c.Failed+c.Skipped != len(plan.Steps) {
			t.Fatalf("counts %+v do not add up to %d", c, len(plan.Steps))
		}
		calls := f.callList()
		if res.Calls != len(calls) {
			t.Fatalf("result says %d requests, the gateway saw %d", res.Calls, len(calls))
		}
		sent := map[model.Key]int{}
		for _, c := range calls {
			sent[c.key]++
			if containsKey(unowned, c.key) {
				t.Fatalf("%s %s touches an unowned object", c.method, c.key)
			}
		}
		allWrites := true
		for i, s := range plan.Steps {
			o := res.Outcomes[i]
			ran := o.Status == apply.StatusApplied || (o.Status == apply.StatusFailed && o.Attempts > 0)
			if ran != (sent[s.Resource.Key] > 0) {
				t.Fatalf("%s: status %s, %d requests", s.Resource.Key, o.Status, sent[s.Resource.Key])
			}
			if i < plan.Writes && o.Status != apply.StatusApplied {
				allWrites = false
			}
			if i >= plan.Writes && !s.Early && sent[s.Resource.Key] > 0 && !allWrites {
				t.Fatalf("delete %s sent although a write did not succeed", s.Resource.Key)
			}
			for _, a := range s.After {
				dep := plan.Steps[a].Resource.Key
				if sent[s.Resource.Key] > 0 && !(f.finished[dep] > 0 && f.finished[dep] < f.started[s.Resource.Key]) {
					t.Fatalf("%s started before %s finished", s.Resource.Key, dep)
				}
			}
		}
		if f.maxInflight > conc {
			t.Fatalf("%d requests in flight, concurrency %d", f.maxInflight, conc)
		}
		conflict := false
		for _, r := range desired {
			conflict = conflict || containsKey(unowned, r.Key)
		}
		if conflict && !errors.Is(err, apply.ErrOwnershipConflict) {
			t.Fatalf("a desired ID held by an unowned object gave %v", err)
		}
		if len(f.fail) == 0 && !conflict {
			if err != nil {
				t.Fatalf("Execute without failures: %v", err)
			}
			var after []model.Resource
			for _, r := range f.objects {
				if !containsKey(unowned, r.Key) {
					after = append(after, r)
				}
			}
			if cs := diff.Compute(desired, after); !cs.Empty() {
				t.Fatalf("not in sync after apply:\n%s", diff.Text(cs, diff.TextOptions{}))
			}
		}
	})
}

func keys(rs []model.Resource) []model.Key {
	out := make([]model.Key, len(rs))
	for i, r := range rs {
		out[i] = r.Key
	}
	return out
}

func containsKey(rs []model.Resource, k model.Key) bool {
	for _, r := range rs {
		if r.Key == k {
			return true
		}
	}
	return false
}
