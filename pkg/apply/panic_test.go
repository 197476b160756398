package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// panickingGateway panics, quoting the resource's secret, when asked to
// write one key.
type panickingGateway struct {
	*fakeGateway
	key model.Key
}

func (p *panickingGateway) Put(ctx context.Context, r model.Resource) error {
	if r.Key == p.key {
		c, _ := r.Body["config"].(map[string]any)
		panic("cannot encode config " + c["key"].(string))
	}
	return p.fakeGateway.Put(ctx, r)
}

// TestPanicFailsOneStep: a panic in the gateway while writing one resource
// fails that step alone, with an error naming the resource and the panic
// (its secret redacted); the other writes go on, and the prune is held as
// after any failed write. The process survives: the test itself would end
// if the panic escaped a worker goroutine.
func TestPanicFailsOneStep(t *testing.T) {
	bad := credential("app", "main")
	bad.Body["config"] = map[string]any{"key": "CANARY-panic-key"}
	desired := []model.Resource{service("a"), route("a", "r1"), route("a", "r2"), consumer("app"), bad, credential("app", "other")}
	live := []model.Resource{service("old")}
	g := &panickingGateway{fakeGateway: newFake(live...), key: bad.Key}
	res, err := (&apply.Executor{Gateway: g, Concurrency: 2}).Execute(context.Background(), planFor(desired, live, nil))
	if err == nil {
		t.Fatal("Execute succeeded although a write panicked")
	}
	for _, o := range res.Outcomes {
		switch {
		case o.Key == bad.Key:
			if o.Status != apply.StatusFailed || !errors.Is(o.Err, apply.ErrPanic) {
				t.Fatalf("panicking step: %s, %v", o.Status, o.Err)
			}
			msg := o.Err.Error()
			if !strings.Contains(msg, bad.Key.String()) || !strings.Contains(msg, "cannot encode config") {
				t.Errorf("the error names neither the resource nor the panic: %v", msg)
			}
			if strings.Contains(msg, "CANARY") || strings.Contains(err.Error(), "CANARY") {
				t.Errorf("the secret leaked: %v", err)
			}
		case o.Action == "delete":
			if o.Status != apply.StatusSkipped || !errors.Is(o.Err, apply.ErrPruneHeld) {
				t.Errorf("prune of %s after a panic: %s, %v", o.Key, o.Status, o.Err)
			}
		default:
			if o.Status != apply.StatusApplied {
				t.Errorf("%s: %s, %v", o.Key, o.Status, o.Err)
			}
		}
	}
	if want := (apply.Counts{Applied: len(desired) - 1, Failed: 1, Skipped: 1}); res.Counts != want {
		t.Errorf("counts = %+v, want %+v", res.Counts, want)
	}
}
