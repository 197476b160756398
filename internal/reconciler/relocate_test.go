package reconciler

import (
	"context"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// plainGateway says nothing about addresses.
type plainGateway struct{}

func (plainGateway) List(context.Context) (model.Inventory, error)    { return model.Inventory{}, nil }
func (plainGateway) Defaults(context.Context) (model.Defaults, error) { return model.Defaults{}, nil }
func (plainGateway) Put(context.Context, model.Resource) error        { return nil }
func (plainGateway) Delete(context.Context, model.Resource) error     { return nil }

// nestedGateway addresses upstreams under their service, as API7
// Enterprise does.
type nestedGateway struct{ plainGateway }

func (nestedGateway) ParentInAddress(k model.Kind) bool { return k == model.KindUpstream }

// TestStoppableForwardsParentInAddress: the executor sees through the
// daemon's wrapper whether the gateway stores upstreams under their
// service, so a moved upstream's old copy is deleted in daemon mode too.
func TestStoppableForwardsParentInAddress(t *testing.T) {
	for _, tt := range []struct {
		gw   Gateway
		want bool
	}{{nestedGateway{}, true}, {plainGateway{}, false}} {
		var gw apply.Gateway = newStoppable(tt.gw, context.Background())
		pa, ok := gw.(apply.ParentAddressed)
		if !ok {
			t.Fatal("the wrapper hides apply.ParentAddressed")
		}
		if got := pa.ParentInAddress(model.KindUpstream); got != tt.want {
			t.Errorf("%T: ParentInAddress(upstream) = %v, want %v", tt.gw, got, tt.want)
		}
		if pa.ParentInAddress(model.KindRoute) {
			t.Errorf("%T: ParentInAddress(route) = true", tt.gw)
		}
	}
}
