package apply_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// gatewayError mimics the client's *api7.APIError as apply sees it.
type gatewayError struct {
	status  int
	message string
	stillRf bool
}

func (e *gatewayError) Error() string         { return fmt.Sprintf("status %d: %s", e.status, e.message) }
func (e *gatewayError) StillReferenced() bool { return e.stillRf }

type call struct {
	method string // PUT or DELETE
	key    model.Key
}

// fakeGateway is an in-memory gateway that records every call. With strict
// set it checks references as APISIX does: a write needs its parent, and a
// delete of something another object names as parent is refused as still
// referenced.
type fakeGateway struct {
	mu      sync.Mutex
	objects map[model.Key]model.Resource
	calls   []call
	strict  bool
	// fail answers every request for a key with this error.
	fail map[model.Key]error
	// stillRef answers that many requests for a key with "still using".
	stillRef map[model.Key]int
	// before, when set, runs before a request is handled (outside the lock):
	// tests use it to block or to observe concurrency.
	before func(c call)

	inflight, maxInflight int
	refErrors             int
	// seq numbers events; started and finished record, per key, the
	// event number of a request's start and of its end (the last one).
	seq               int
	started, finished map[model.Key]int
}

func newFake(live ...model.Resource) *fakeGateway {
	f := &fakeGateway{
		objects: map[model.Key]model.Resource{}, fail: map[model.Key]error{}, stillRef: map[model.Key]int{},
		started: map[model.Key]int{}, finished: map[model.Key]int{},
	}
	for _, r := range live {
		f.objects[r.Key] = r
	}
	return f
}

func (f *fakeGateway) enter(c call) {
	f.mu.Lock()
	f.seq++
	if _, ok := f.started[c.key]; !ok {
		f.started[c.key] = f.seq
	}
	f.calls = append(f.calls, c)
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(c)
	}
}

func (f *fakeGateway) leave(k model.Key) {
	f.mu.Lock()
	f.seq++
	f.finished[k] = f.seq
	f.inflight--
	f.mu.Unlock()
}

func (f *fakeGateway) Put(ctx context.Context, r model.Resource) error {
	f.enter(call{"PUT", r.Key})
	defer f.leave(r.Key)
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[r.Key]; err != nil {
		return err
	}
	if f.strict && !r.Parent.IsZero() {
		if _, ok := f.objects[r.Parent]; !ok {
			f.refErrors++
			return &gatewayError{status: 400, message: fmt.Sprintf("failed to fetch %s info by id [%s], response code: 404", r.Parent.Kind, r.Parent.ID)}
		}
	}
	if f.strict {
		if key := authKeyOf(r); key != "" {
			for _, o := range f.objects {
				if o.Key != r.Key && authKeyOf(o) == key {
					return &gatewayError{status: 400, message: "duplicate key of plugin key-auth found with credential: " + o.Name}
				}
			}
		}
	}
	f.objects[r.Key] = r
	return nil
}

// authKeyOf is a credential's key-auth key.
func authKeyOf(r model.Resource) string {
	if r.Key.Kind != model.KindCredential {
		return ""
	}
	c, _ := r.Body["config"].(map[string]any)
	k, _ := c["key"].(string)
	return k
}

func (f *fakeGateway) Delete(ctx context.Context, r model.Resource) error {
	f.enter(call{"DELETE", r.Key})
	defer f.leave(r.Key)
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[r.Key]; err != nil {
		return err
	}
	if n := f.stillRef[r.Key]; n > 0 {
		f.stillRef[r.Key] = n - 1
		return &gatewayError{status: 400, message: "can not delete this service directly, route [1] is still using it now", stillRf: true}
	}
	if f.strict {
		for _, o := range f.objects {
			if o.Parent == r.Key {
				f.refErrors++
				return &gatewayError{status: 400, message: fmt.Sprintf("can not delete this %s, %s [%s] is still using it now", r.Key.Kind, o.Key.Kind, o.Key.ID), stillRf: true}
			}
		}
	}
	delete(f.objects, r.Key)
	return nil
}

func (f *fakeGateway) callList() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// validatingGateway adds server-side validation to the fake.
type validatingGateway struct {
	*fakeGateway
	err       error
	validated [][]model.Key
}

func (v *validatingGateway) Validate(_ context.Context, rs []model.Resource) error {
	var keys []model.Key
	for _, r := range rs {
		keys = append(keys, r.Key)
	}
	v.validated = append(v.validated, keys)
	return v.err
}

// partialGateway records the changed paths it is given for updates.
type partialGateway struct {
	*fakeGateway
	mu      sync.Mutex
	changes map[model.Key][]string
}

func (p *partialGateway) PutChange(ctx context.Context, r model.Resource, changed []string) error {
	p.mu.Lock()
	p.changes[r.Key] = changed
	p.mu.Unlock()
	return p.Put(ctx, r)
}

// invalidError names rejected resources, as the client's validate error does.
type invalidError map[model.Key]error

func (e invalidError) Error() string                         { return "Configuration validation failed" }
func (e invalidError) InvalidResources() map[model.Key]error { return e }

var errBoom = errors.New("boom")
