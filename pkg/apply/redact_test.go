package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// TestQuotedSecretsRedacted (reliability A2: no secret in errors): when
// the gateway's answer quotes a credential's key — refusing its write, in
// the pre-flight check's answer for it, or in a pre-flight answer that
// names no resource — the outcome's and Execute's errors show it masked,
// and still match the gateway's typed error.
func TestQuotedSecretsRedacted(t *testing.T) {
	cred := credential("app", "main")
	cred.Body["config"] = map[string]any{"key": "CANARY-app-key"}
	desired := []model.Resource{consumer("app"), cred}
	quoting := fmt.Sprintf(`failed to match pattern "^x" with %q`, "CANARY-app-key")
	check := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), "CANARY") || !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("%s: %v", what, err)
		}
	}
	outcome := func(res apply.Result) error {
		for _, o := range res.Outcomes {
			if o.Key == cred.Key {
				return o.Err
			}
		}
		return nil
	}

	t.Run("write refused", func(t *testing.T) {
		f := newFake()
		gwErr := &gatewayError{status: 400, message: quoting}
		f.fail[cred.Key] = gwErr
		res, err := (&apply.Executor{Gateway: f}).Execute(context.Background(), planFor(desired, nil, nil))
		check(t, "Execute", err)
		check(t, "outcome", outcome(res))
		var ge *gatewayError
		if !errors.As(outcome(res), &ge) || ge != gwErr {
			t.Error("the outcome does not unwrap to the gateway's error")
		}
	})
	t.Run("pre-flight names the resource", func(t *testing.T) {
		v := &validatingGateway{fakeGateway: newFake(), err: invalidError{cred.Key: errors.New(quoting)}}
		res, err := (&apply.Executor{Gateway: v}).Execute(context.Background(), planFor(desired, nil, nil))
		check(t, "Execute", err)
		check(t, "outcome", outcome(res))
	})
	t.Run("pre-flight names nothing", func(t *testing.T) {
		cause := errors.New(quoting)
		v := &validatingGateway{fakeGateway: newFake(), err: cause}
		_, err := (&apply.Executor{Gateway: v}).Execute(context.Background(), planFor(desired, nil, nil))
		check(t, "Execute", err)
		if !errors.Is(err, apply.ErrPreflight) || !errors.Is(err, cause) {
			t.Errorf("the error lost its chain: %v", err)
		}
	})
}
