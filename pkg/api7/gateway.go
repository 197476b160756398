package api7

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Put writes r (create or replace, by ID). On APISIX a service is two
// writes, its default upstream then the service. It refuses, sending
// nothing, a key the last List reported as unowned (ErrOwnershipConflict)
// unless Config.Adopt allows it.
func (c *Client) Put(ctx context.Context, r model.Resource) error {
	if err := c.checkOwned(r.Key); err != nil {
		return err
	}
	writes, err := c.writesFor(ctx, r, true)
	if err != nil {
		return fmt.Errorf("put %s: %w", r.Key, err)
	}
	return c.send(ctx, "put", r.Key, writes)
}

// PutChange writes r knowing which parts changed (JSON pointers into its
// body). On APISIX, as ADC does, a service whose only changes are inside its
// upstream gets only its upstream PUT (sparing the gateway a rebuild of its
// route tree), and one whose upstream did not change gets only the service
// PUT; this needs the last List to have seen the service in the split
// layout. Everything else is a Put.
func (c *Client) PutChange(ctx context.Context, r model.Resource, changed []string) error {
	if c.cfg.Backend != BackendAPISIX || r.Key.Kind != model.KindService || len(changed) == 0 {
		return c.Put(ctx, r)
	}
	inUpstream, outside := false, false
	for _, p := range changed {
		switch {
		case p == "/upstream":
			return c.Put(ctx, r) // added or removed: upstream_id changes too
		case strings.HasPrefix(p, "/upstream/"):
			inUpstream = true
		default:
			outside = true
		}
	}
	c.mu.Lock()
	split := c.split[r.Key.ID]
	c.mu.Unlock()
	if !split || inUpstream == outside {
		return c.Put(ctx, r)
	}
	if err := c.checkOwned(r.Key); err != nil {
		return err
	}
	writes, err := c.writesFor(ctx, r, true)
	if err != nil {
		return fmt.Errorf("put %s: %w", r.Key, err)
	}
	if len(writes) != 2 || writes[0].method != http.MethodPut {
		return c.send(ctx, "put", r.Key, writes)
	}
	if inUpstream {
		writes = writes[:1] // the upstream
	} else {
		writes = writes[1:] // the service
	}
	return c.send(ctx, "put", r.Key, writes)
}

// Delete deletes r, the live resource (so its parent is known). Something
// already gone (404, on the first try or a retry) is a success. On APISIX a
// service's default upstream goes after the service.
func (c *Client) Delete(ctx context.Context, r model.Resource) error {
	if err := c.checkOwned(r.Key); err != nil {
		return err
	}
	writes, err := c.writesFor(ctx, r, false)
	if err != nil {
		return fmt.Errorf("delete %s: %w", r.Key, err)
	}
	return c.send(ctx, "delete", r.Key, writes)
}

func (c *Client) writesFor(ctx context.Context, r model.Resource, put bool) ([]write, error) {
	switch c.cfg.Backend {
	case BackendAPI7EE:
		m, err := c.api7Mapper(ctx)
		if err != nil {
			return nil, err
		}
		if put {
			return m.puts(r)
		}
		return m.deletes(r)
	default:
		if _, err := c.Version(ctx); err != nil {
			return nil, err
		}
		m := c.apisixMapper()
		if put {
			return m.puts(r)
		}
		return m.deletes(r)
	}
}

func (c *Client) send(ctx context.Context, verb string, k model.Key, writes []write) error {
	for _, w := range writes {
		if _, err := c.do(ctx, w.request); err != nil {
			if w.notFoundOK && errors.Is(err, ErrNotFound) {
				continue
			}
			return fmt.Errorf("%s %s: %w", verb, k, err)
		}
	}
	return nil
}

// checkOwned refuses a key the last List saw without our label.
func (c *Client) checkOwned(k model.Key) error {
	c.mu.Lock()
	// A service on APISIX also writes its default upstream under its own
	// ID. An unlabelled upstream of that ID without the service is most
	// likely the half of an earlier Put that failed in between, so only the
	// service's own key is checked.
	foreign := c.unowned[k]
	c.mu.Unlock()
	if foreign && (c.cfg.Adopt == nil || !c.cfg.Adopt(k)) {
		return &OwnershipError{Key: k}
	}
	return nil
}
