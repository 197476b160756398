package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// sourceReason maps a fetch error to its condition reason: the reason the
// error names (pkg/git's errors implement Reason() string), InputTooLarge
// for a size limit, FetchFailed otherwise.
func sourceReason(err error) metrics.Reason {
	var rs interface{ Reason() string }
	if errors.As(err, &rs) {
		r := metrics.Reason(rs.Reason())
		for _, known := range metrics.Reasons() {
			if r == known {
				return r
			}
		}
	}
	switch {
	case errors.Is(err, model.ErrTooLarge):
		return metrics.ReasonInputTooLarge
	case errors.Is(err, context.DeadlineExceeded):
		return metrics.ReasonGitTimeout
	}
	return metrics.ReasonFetchFailed
}

// gatewayReason maps an Admin API error to its condition reason, or
// fallback when the error says nothing more specific.
func gatewayReason(err error, fallback metrics.Reason) metrics.Reason {
	var throttled interface{ Throttled() bool }
	switch {
	case errors.Is(err, api7.ErrUnauthorized):
		return metrics.ReasonAuthenticationFailed
	case errors.Is(err, api7.ErrOwnershipConflict), errors.Is(err, apply.ErrOwnershipConflict):
		return metrics.ReasonOwnershipConflict
	case errors.As(err, &throttled) && throttled.Throttled():
		return metrics.ReasonRateLimited
	case errors.Is(err, api7.ErrUnreachable):
		return metrics.ReasonAdminUnreachable
	}
	return fallback
}

// errShuttingDown is what a write started after shutdown began returns,
// without sending anything.
var errShuttingDown = errors.New("not sent: the daemon is shutting down")

// stoppable lets the executor finish the requests it started when the
// daemon stops, and refuses new ones.
type stoppable struct {
	gw   Gateway
	stop context.Context
}

func newStoppable(gw Gateway, stop context.Context) stoppable { return stoppable{gw: gw, stop: stop} }

func (s stoppable) Put(ctx context.Context, r model.Resource) error {
	if s.stop.Err() != nil {
		return errShuttingDown
	}
	return s.gw.Put(ctx, r)
}

// PutChange forwards to the gateway's partial update when it has one
// (apply.ChangeWriter), and is a Put otherwise.
func (s stoppable) PutChange(ctx context.Context, r model.Resource, changed []string) error {
	if s.stop.Err() != nil {
		return errShuttingDown
	}
	if cw, ok := s.gw.(apply.ChangeWriter); ok {
		return cw.PutChange(ctx, r, changed)
	}
	return s.gw.Put(ctx, r)
}

func (s stoppable) Delete(ctx context.Context, r model.Resource) error {
	if s.stop.Err() != nil {
		return errShuttingDown
	}
	return s.gw.Delete(ctx, r)
}

// ParentInAddress forwards to the gateway's apply.ParentAddressed (false
// when it has none), so that apply deletes the old copy of a resource moved
// to another parent where the address holds the parent (API7 Enterprise's
// extra upstreams).
func (s stoppable) ParentInAddress(k model.Kind) bool {
	pa, ok := s.gw.(apply.ParentAddressed)
	return ok && pa.ParentInAddress(k)
}

// Validate forwards to the gateway's pre-flight validation, when it has
// one, in apply.Validator's terms: a server without the endpoint validates
// nothing, and the refusals of api7's configs/validate are mapped to the
// resources they name.
func (s stoppable) Validate(ctx context.Context, rs []model.Resource) error {
	v, ok := s.gw.(apply.Validator)
	if !ok {
		return nil
	}
	err := v.Validate(ctx, rs)
	if err == nil || errors.Is(err, api7.ErrUnsupported) {
		return nil
	}
	var ve *api7.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	bad := invalidResources{}
	for _, is := range ve.Issues {
		if is.Key.IsZero() {
			return err // an answer that names no resource: refuse the whole set
		}
		bad[is.Key] = errors.New(is.Message)
	}
	return bad
}

// invalidResources is the server's refusal, by resource
// (apply's invalidResources interface).
type invalidResources map[model.Key]error

func (e invalidResources) Error() string {
	return fmt.Sprintf("the server refused %d resources", len(e))
}

func (e invalidResources) InvalidResources() map[model.Key]error { return e }
