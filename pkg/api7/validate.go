package api7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Validate asks the server to check resources as one configuration, with
// POST /apisix/admin/configs/validate (APISIX 3.17 and later, API7
// Enterprise 3.9.10 and later), before anything is written. It returns nil
// when the server accepts them, a *ValidationError naming each rejected
// resource (including those the Client cannot map to the wire at all; its
// InvalidResources method maps keys to reasons), or an *UnsupportedError
// (matching ErrUnsupported) when the server has no such endpoint.
// The request is never retried. Credentials and consumer groups are not
// part of that endpoint's configuration and are not sent.
func (c *Client) Validate(ctx context.Context, resources []model.Resource) error {
	v, err := c.Version(ctx)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	var (
		body   = map[string][]any{}
		keys   = map[string][]model.Key{}
		issues []ValidationIssue
		query  url.Values
	)
	add := func(coll string, k model.Key, obj map[string]any) {
		body[coll] = append(body[coll], obj)
		keys[coll] = append(keys[coll], k)
	}
	switch c.cfg.Backend {
	case BackendAPI7EE:
		if !v.AtLeast(3, 9, 10) {
			return unsupported("validate: configs/validate before API7 Enterprise 3.9.10 (server %s)", v)
		}
		m, err := c.api7Mapper(ctx)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		query = m.query
		for _, r := range resources {
			if r.Key.Kind == model.KindCredential || r.Key.Kind == model.KindUpstream || r.Key.Kind == model.KindConsumerGroup {
				continue
			}
			ws, err := m.puts(r)
			if err != nil {
				issues = append(issues, ValidationIssue{Key: r.Key, Message: err.Error()})
				continue
			}
			coll, _ := apisixCollection(r.Key.Kind)
			add(coll, r.Key, validateObject(r.Key, ws[0].body.(map[string]any)))
		}
	default:
		if !v.AtLeast(3, 17, 0) {
			return unsupported("validate: configs/validate before APISIX 3.17 (server %s)", v)
		}
		m := c.apisixMapper()
		for _, r := range resources {
			if r.Key.Kind == model.KindCredential || r.Key.Kind == model.KindConsumerGroup {
				continue
			}
			ws, err := m.puts(r)
			if err != nil {
				issues = append(issues, ValidationIssue{Key: r.Key, Message: err.Error()})
				continue
			}
			for _, w := range ws {
				if w.method != http.MethodPut {
					continue
				}
				// A service's default upstream has the service's ID; its
				// errors are reported against the service.
				add(collectionOf(w.path), r.Key, validateObject(r.Key, w.body.(map[string]any)))
			}
		}
	}
	if len(body) > 0 {
		resp, err := c.do(ctx, request{method: http.MethodPost, path: apisixPrefix + "/configs/validate", query: query, body: body})
		switch {
		case err == nil:
			_ = resp // 200 {}: accepted
		case errors.Is(err, ErrNotFound):
			return unsupported("validate: configs/validate (the server answered 404)")
		default:
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
				return fmt.Errorf("validate: %w", err)
			}
			found, ok := validationIssues(resp, keys)
			if !ok {
				return fmt.Errorf("validate: %w", err)
			}
			issues = append(issues, found...)
		}
	}
	if len(issues) > 0 {
		return &ValidationError{Issues: issues}
	}
	return nil
}

// collectionOf is the collection of an object path /apisix/admin/{c}/{id}.
func collectionOf(path string) string {
	rest := path[len(apisixPrefix)+1:]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}

// validateObject is a PUT body as configs/validate wants it: with its id
// (global rules, plugin metadata, stream routes and upstreams are PUT
// without one).
func validateObject(k model.Key, body map[string]any) map[string]any {
	out := make(map[string]any, len(body)+1)
	for f, v := range body {
		out[f] = v
	}
	if _, ok := out["id"]; !ok && k.Kind != model.KindConsumer {
		out["id"] = k.ID
	}
	return out
}

// validationIssues maps the server's errors back to keys.
func validationIssues(resp *response, keys map[string][]model.Key) ([]ValidationIssue, bool) {
	if resp == nil {
		return nil, false
	}
	var body struct {
		Errors []struct {
			ResourceType string          `json:"resource_type"`
			Index        *int            `json:"index"`
			ResourceID   json.RawMessage `json:"resource_id"`
			Error        string          `json:"error"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil || len(body.Errors) == 0 {
		return nil, false
	}
	out := make([]ValidationIssue, 0, len(body.Errors))
	for _, e := range body.Errors {
		is := ValidationIssue{Message: e.Error}
		if ks := keys[e.ResourceType]; e.Index != nil && *e.Index >= 0 && *e.Index < len(ks) {
			is.Key = ks[*e.Index]
		} else {
			is.Message = e.ResourceType + ": " + e.Error
		}
		out = append(out, is)
	}
	return out, true
}
