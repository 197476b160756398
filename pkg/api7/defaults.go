package api7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Defaults returns what the gateway (and the Client's own writes) fill in
// for fields a resource leaves out, in ADC terms, so that a diff treats an
// omitted field and its default as equal:
//
//   - always, ADC's lint defaults, which the Client writes as ADC does
//     (upstream type, scheme, pass_host, node priority, keepalive_pool and
//     health-check fields, SSL type and client depth);
//   - APISIX before 3.14, which stored its schema defaults: the core
//     defaults its 3.13 Admin API was recorded adding (route priority,
//     upstream hash_on), each enabled plugin's defaults, read from
//     GET /apisix/admin/plugins/{name}, and for each enabled auth plugin
//     the defaults of its consumer schema, read from
//     GET /apisix/admin/plugins/{name}?schema_type=consumer and reported in
//     ConsumerPlugins (3.13 stored jwt-auth's algorithm, exp, base64_secret
//     and lifetime_grace_period in consumers and credentials). A plugin or
//     consumer schema the server does not have (404, or 400 "not found
//     schema") has no defaults; any other failed read is an error. Route
//     status 1 and SSL status 1 are not needed: List drops them, as every
//     write sends them;
//   - API7 Enterprise: the defaults of GET /api/schema/core, as ADC
//     extracts them; like ADC's API7 backend, no plugin or consumer
//     plugin defaults (its core schema holds none).
//
// The answer is computed once per server version and reused.
func (c *Client) Defaults(ctx context.Context) (model.Defaults, error) {
	v, err := c.Version(ctx)
	if err != nil {
		return model.Defaults{}, fmt.Errorf("defaults: %w", err)
	}
	c.mu.Lock()
	if c.defaults != nil && c.defaultsFor == v.Raw {
		d := *c.defaults
		c.mu.Unlock()
		return copyDefaults(d), nil
	}
	c.mu.Unlock()

	var d model.Defaults
	switch {
	case c.cfg.Backend == BackendAPI7EE:
		core, err := c.api7CoreDefaults(ctx)
		if err != nil {
			return model.Defaults{}, fmt.Errorf("defaults: %w", err)
		}
		d = model.Defaults{Kinds: mergeKinds(core, lintDefaults())}
	case !v.AtLeast(3, 14, 0):
		plugins, consumer, err := c.apisixPluginDefaults(ctx)
		if err != nil {
			return model.Defaults{}, fmt.Errorf("defaults: %w", err)
		}
		d = apisixDefaults(v, plugins, consumer)
	default:
		d = apisixDefaults(v, nil, nil)
	}
	c.mu.Lock()
	c.defaults = &d
	c.defaultsFor = v.Raw
	c.mu.Unlock()
	return copyDefaults(d), nil
}

// apisixDefaults combines ADC's lint defaults with, before 3.14, the core
// defaults APISIX 3.13 stored, the given plugin defaults and the given
// defaults of auth plugins' consumer schemas.
func apisixDefaults(v ServerVersion, plugins, consumer map[string]map[string]any) model.Defaults {
	d := model.Defaults{Kinds: lintDefaults()}
	if v.AtLeast(3, 14, 0) {
		return d
	}
	d.Kinds = mergeKinds(apisix313Core(), d.Kinds)
	d.Plugins = map[string]map[string]any{}
	for name, def := range consumer {
		if len(def) == 0 {
			continue
		}
		if d.ConsumerPlugins == nil {
			d.ConsumerPlugins = map[string]map[string]any{}
		}
		d.ConsumerPlugins[name] = copyMap(def)
	}
	for name, def := range plugins {
		if !authPlugins[name] {
			d.Plugins[name] = copyMap(def)
			continue
		}
		// On a consumer or credential an auth plugin is checked against its
		// consumer schema instead (ConsumerPlugins): these defaults apply to
		// routes and services only.
		for _, k := range []model.Kind{model.KindRoute, model.KindService} {
			kd := d.Kinds[k]
			if kd == nil {
				kd = map[string]any{}
				d.Kinds[k] = kd
			}
			p, _ := kd["plugins"].(map[string]any)
			if p == nil {
				p = map[string]any{}
				kd["plugins"] = p
			}
			p[name] = copyMap(def)
		}
	}
	return d
}

// authPlugins have a separate consumer schema in APISIX, which checks
// their configuration in consumers and credentials.
var authPlugins = map[string]bool{
	"key-auth": true, "basic-auth": true, "jwt-auth": true, "hmac-auth": true,
	"ldap-auth": true, "wolf-rbac": true,
}

// apisix313Core is what APISIX 3.13 added to core objects (conformance
// corpus apisix-3.13, 01 and 02) beyond ADC's lint defaults.
func apisix313Core() map[model.Kind]map[string]any {
	return map[model.Kind]map[string]any{
		model.KindRoute:    {"priority": 0.0},
		model.KindService:  {"upstream": map[string]any{"hash_on": "vars"}},
		model.KindUpstream: {"hash_on": "vars"},
	}
}

// apisix313Plugins is the fallback when a server has no plugin schema
// endpoint: the plugin defaults APISIX 3.13 was recorded storing.
func apisix313Plugins() map[string]map[string]any {
	return map[string]map[string]any{
		"key-auth":         {"header": "apikey", "query": "apikey", "hide_credentials": false},
		"cors":             {"allow_origins": "*", "allow_methods": "*", "allow_headers": "*", "allow_credential": false, "max_age": 5.0},
		"ip-restriction":   {"message": "Your IP address is not allowed", "response_code": 403.0},
		"proxy-rewrite":    {"use_real_request_uri_unsafe": false},
		"response-rewrite": {"body_base64": false},
	}
}

// apisix313ConsumerPlugins is the fallback for the consumer schemas:
// jwt-auth's defaults in APISIX 3.13 (apisix/plugins/jwt-auth.lua); the
// other auth plugins' consumer schemas have none.
func apisix313ConsumerPlugins() map[string]map[string]any {
	return map[string]map[string]any{
		"jwt-auth": {"algorithm": "HS256", "exp": 86400.0, "base64_secret": false, "lifetime_grace_period": 0.0},
	}
}

// apisixPluginDefaults reads the schema of every enabled plugin and keeps
// the defaults of its properties (plugins), and for the auth plugins also
// those of their consumer schema (consumer).
func (c *Client) apisixPluginDefaults(ctx context.Context) (plugins, consumer map[string]map[string]any, err error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: apisixPrefix + "/plugins/list"})
	if errors.Is(err, ErrNotFound) {
		c.log.Info("the server lists no plugins; using the built-in APISIX 3.13 plugin defaults")
		return apisix313Plugins(), apisix313ConsumerPlugins(), nil
	}
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if err := json.Unmarshal(resp.body, &names); err != nil {
		return nil, nil, fmt.Errorf("decode GET %s/plugins/list: %w", apisixPrefix, err)
	}
	plugins, consumer = map[string]map[string]any{}, map[string]map[string]any{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	read := func(name string, q url.Values, into map[string]map[string]any) {
		g.Go(func() error {
			def, err := c.pluginSchemaDefaults(gctx, name, q)
			if err != nil || len(def) == 0 {
				return err
			}
			mu.Lock()
			into[name] = def
			mu.Unlock()
			return nil
		})
	}
	for _, name := range names {
		if checkSegment("plugin", name, pluginSegment) != nil {
			continue
		}
		read(name, nil, plugins)
		if authPlugins[name] {
			read(name, url.Values{"schema_type": {"consumer"}}, consumer)
		}
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return plugins, consumer, nil
}

// pluginSchemaDefaults reads one schema of a plugin (query selects which)
// and returns the defaults of its properties. A schema the server does not
// have has none: APISIX answers 404 for a plugin that is not enabled and
// 400 "not found schema" for a plugin without a consumer schema.
func (c *Client) pluginSchemaDefaults(ctx context.Context, name string, query url.Values) (map[string]any, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: apisixPrefix + "/plugins/" + name, query: query})
	var apiErr *APIError
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest && apiErr.Message == "not found schema":
		return nil, nil
	case err != nil:
		return nil, err
	}
	var schema map[string]any
	if err := json.Unmarshal(resp.body, &schema); err != nil {
		what := "schema"
		if query.Has("schema_type") {
			what = query.Get("schema_type") + " schema"
		}
		return nil, fmt.Errorf("decode the %s of plugin %s: %w", what, name, err)
	}
	def := schemaDefaults(schema)
	delete(def, "_meta")
	return def, nil
}

// schemaDefaults extracts the defaults of an object schema's properties:
// a property's default, the defaults inside a nested object (kept only when
// it has some), and for an array of objects, [defaults of one element].
// allOf branches are merged first, as ADC does for /api/schema/core.
func schemaDefaults(schema map[string]any) map[string]any {
	props := map[string]any{}
	if all, ok := schema["allOf"].([]any); ok {
		for _, s := range all {
			if sm, ok := s.(map[string]any); ok {
				if p, ok := sm["properties"].(map[string]any); ok {
					for k, v := range p {
						props[k] = v
					}
				}
			}
		}
	}
	if p, ok := schema["properties"].(map[string]any); ok {
		for k, v := range p {
			props[k] = v
		}
	}
	out := map[string]any{}
	for name, p := range props {
		ps, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if d, ok := ps["default"]; ok && d != nil {
			out[name] = deepCopy(d)
			continue
		}
		switch ps["type"] {
		case "object":
			if nested := schemaDefaults(ps); len(nested) > 0 {
				out[name] = nested
			}
		case "array":
			if items, ok := ps["items"].(map[string]any); ok && items["type"] == "object" {
				if nested := schemaDefaults(items); len(nested) > 0 {
					out[name] = []any{nested}
				}
			}
		}
	}
	return out
}

// api7CoreDefaults reads GET /api/schema/core and maps each kind's
// defaults to ADC terms.
func (c *Client) api7CoreDefaults(ctx context.Context) (map[model.Kind]map[string]any, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/api/schema/core"})
	if err != nil {
		return nil, err
	}
	var body struct {
		Value map[string]map[string]any `json:"value"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return nil, fmt.Errorf("decode GET /api/schema/core: %w", err)
	}
	// API7 3.5–3.7 had no upstream schema of its own (as ADC patches it).
	if _, ok := body.Value["upstream"]; !ok {
		if svc, ok := body.Value["service"]; ok {
			if props, ok := svc["properties"].(map[string]any); ok {
				if up, ok := props["upstream"].(map[string]any); ok {
					body.Value["upstream"] = up
				}
			}
		}
	}
	kinds := map[string]model.Kind{
		"route": model.KindRoute, "service": model.KindService, "upstream": model.KindUpstream,
		"ssl": model.KindSSL, "consumer": model.KindConsumer, "stream_route": model.KindStreamRoute,
	}
	out := map[model.Kind]map[string]any{}
	for name, schema := range body.Value {
		k, ok := kinds[name]
		if !ok {
			continue
		}
		def := schemaDefaults(schema)
		// In ADC terms: no ids or timestamps, description, uris.
		stripAPI7Meta(def, "service_id", "route_id", "stream_route_id")
		if d, ok := def["desc"]; ok {
			def["description"] = d
			delete(def, "desc")
		}
		if p, ok := def["paths"]; ok {
			def["uris"] = p
			delete(def, "paths")
		}
		delete(def, "type") // a service's type is derived from its upstream
		if k == model.KindSSL {
			delete(def, "status")
		}
		if len(def) > 0 {
			out[k] = def
		}
	}
	return out, nil
}

// mergeKinds merges per-kind defaults; over wins on conflicting scalars.
func mergeKinds(base, over map[model.Kind]map[string]any) map[model.Kind]map[string]any {
	out := map[model.Kind]map[string]any{}
	for k, v := range base {
		out[k] = copyMap(v)
	}
	for k, v := range over {
		if cur, ok := out[k]; ok {
			mergeInto(cur, v)
		} else {
			out[k] = copyMap(v)
		}
	}
	return out
}

func mergeInto(dst, src map[string]any) {
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		if sa, ok := sv.([]any); ok && len(sa) == 1 {
			if da, ok := dst[k].([]any); ok && len(da) == 1 {
				sm, sok := sa[0].(map[string]any)
				dm, dok := da[0].(map[string]any)
				if sok && dok {
					mergeInto(dm, sm)
					continue
				}
			}
		}
		dst[k] = deepCopy(sv)
	}
}

func copyDefaults(d model.Defaults) model.Defaults {
	out := model.Defaults{}
	if d.Kinds != nil {
		out.Kinds = map[model.Kind]map[string]any{}
		for k, v := range d.Kinds {
			out.Kinds[k] = copyMap(v)
		}
	}
	out.Plugins = copyPluginDefaults(d.Plugins)
	out.ConsumerPlugins = copyPluginDefaults(d.ConsumerPlugins)
	return out
}

func copyPluginDefaults(m map[string]map[string]any) map[string]map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]map[string]any, len(m))
	for k, v := range m {
		out[k] = copyMap(v)
	}
	return out
}
