package api7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The API7 Enterprise wire mapping: its APISIX-compatible runtime API as
// ADC 0.28's backend-api7 uses it. Every call names the gateway group with
// ?gateway_group_id= (resolved once from its name through
// /api/gateway_groups), except with a gateway-group admin key (a7adm-…),
// which is bound to its group. The upstream is inline in the service, extra
// upstreams live under /services/{id}/upstreams, routes match `paths`, and
// deleting a service or a consumer deletes what hangs under it.

// api7Mapper maps between model resources and API7 Enterprise bodies.
type api7Mapper struct {
	managedBy string
	query     url.Values // gateway_group_id, or nothing for a7adm- keys
}

// api7DefaultPageSize is the page size on API7 Enterprise.
const api7DefaultPageSize = 500

// gatewayQuery returns the query naming the gateway group, resolving its
// name on first use.
func (c *Client) gatewayQuery(ctx context.Context) (url.Values, error) {
	tok, _ := c.token.current()
	if strings.HasPrefix(tok.Reveal(), "a7adm-") {
		return url.Values{}, nil // a gateway-group admin key is bound to its group
	}
	c.mu.Lock()
	id := c.groupID
	c.mu.Unlock()
	if id == "" {
		var err error
		if id, err = c.resolveGroup(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.groupID = id
		c.mu.Unlock()
	}
	return url.Values{"gateway_group_id": {id}}, nil
}

func (c *Client) resolveGroup(ctx context.Context) (string, error) {
	name := c.cfg.GatewayGroup
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/api/gateway_groups", query: url.Values{"search": {name}}})
	if err != nil {
		return "", fmt.Errorf("gateway group %q: %w", name, err)
	}
	var body struct {
		List []struct {
			ID   json.RawMessage `json:"id"`
			Name string          `json:"name"`
		} `json:"list"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		return "", fmt.Errorf("gateway group %q: decode GET /api/gateway_groups: %w", name, err)
	}
	for _, g := range body.List {
		if g.Name != name {
			continue // search matches substrings
		}
		var id any
		if err := json.Unmarshal(g.ID, &id); err != nil {
			return "", fmt.Errorf("gateway group %q: decode its id: %w", name, err)
		}
		s, ok := idString(id)
		if !ok {
			return "", fmt.Errorf("gateway group %q: the server gave no id", name)
		}
		return s, nil
	}
	return "", fmt.Errorf("gateway group %q does not exist: %w", name, ErrNotFound)
}

func (c *Client) api7Mapper(ctx context.Context) (api7Mapper, error) {
	q, err := c.gatewayQuery(ctx)
	if err != nil {
		return api7Mapper{}, err
	}
	return api7Mapper{managedBy: c.cfg.ManagedBy, query: q}, nil
}

// ParentInAddress reports whether a resource of kind k is stored under its
// parent's path, so that moving it to another parent makes a new object
// (apply.ParentAddressed): on API7 Enterprise an extra upstream lives under
// /services/{service}/upstreams/{id}. On APISIX nothing is.
func (c *Client) ParentInAddress(k model.Kind) bool {
	return c.cfg.Backend == BackendAPI7EE && k == model.KindUpstream
}

// api7Path is the object path of k.
func api7Path(k model.Key, parent model.Key) string {
	switch k.Kind {
	case model.KindCredential:
		return apisixPrefix + "/consumers/" + k.Consumer + "/credentials/" + k.ID
	case model.KindUpstream:
		return apisixPrefix + "/services/" + parent.ID + "/upstreams/" + k.ID
	}
	coll, _ := apisixCollection(k.Kind)
	return apisixPrefix + "/" + coll + "/" + k.ID
}

func (m api7Mapper) req(method string, k, parent model.Key, body map[string]any) write {
	w := write{request: request{method: method, path: api7Path(k, parent), query: m.query}, notFoundOK: method == http.MethodDelete}
	if body != nil {
		w.body = body // a nil map in an interface would be sent as "null"
	}
	return w
}

func (m api7Mapper) puts(r model.Resource) ([]write, error) {
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	var (
		body map[string]any
		err  error
	)
	switch r.Key.Kind {
	case model.KindService:
		body, err = m.serviceToWire(r)
	case model.KindRoute:
		body, err = m.routeToWire(r)
	case model.KindStreamRoute:
		body, err = m.streamRouteToWire(r)
	case model.KindUpstream:
		if err := m.checkParent(r); err != nil {
			return nil, err
		}
		body, err = upstreamToWire(r.Body)
	case model.KindConsumer:
		body, err = apisixMapper{managedBy: m.managedBy}.consumerToWire(r)
	case model.KindCredential:
		body, err = credentialToWire(r, true)
	case model.KindSSL:
		body, err = apisixMapper{managedBy: m.managedBy}.sslToWire(r)
	case model.KindGlobalRule:
		body = map[string]any{"plugins": map[string]any{r.Key.ID: pluginConfig(r.Body)}}
	case model.KindPluginMetadata:
		body = pluginConfig(r.Body)
	case model.KindConsumerGroup:
		return nil, unsupported("%s: consumer groups (API7 Enterprise's runtime API has none)", r.Key)
	default:
		return nil, fmt.Errorf("%s: unknown kind", r.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	return []write{m.req(http.MethodPut, r.Key, r.Parent, body)}, nil
}

func (m api7Mapper) checkParent(r model.Resource) error {
	if r.Parent.Kind != model.KindService || r.Parent.ID == "" {
		return fmt.Errorf("%s: %s %w service", r.Key, r.Key.Kind, errNoParent)
	}
	return checkKey(r.Parent)
}

func (m api7Mapper) deletes(r model.Resource) ([]write, error) {
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	switch r.Key.Kind {
	case model.KindUpstream:
		if err := m.checkParent(r); err != nil {
			return nil, err
		}
	case model.KindConsumerGroup:
		return nil, unsupported("%s: consumer groups (API7 Enterprise's runtime API has none)", r.Key)
	}
	// A route, stream route or extra upstream whose service went first is
	// already gone (cascade): its 404 is a success.
	return []write{m.req(http.MethodDelete, r.Key, r.Parent, nil)}, nil
}

// serviceType is API7's service type: stream for TCP/UDP/TLS upstreams.
func serviceType(body map[string]any) string {
	up, _ := body["upstream"].(map[string]any)
	switch up["scheme"] {
	case "tcp", "udp", "tls":
		return "stream"
	}
	return "http"
}

func (m api7Mapper) serviceToWire(r model.Resource) (map[string]any, error) {
	b := r.Body
	out := copyExcept(b, "description", "labels", "upstream", "routes", "stream_routes", "upstreams")
	out["service_id"] = r.Key.ID
	renameDesc(out, b)
	if err := setLabels(out, b, map[string]string{ManagedByLabel: m.managedBy}); err != nil {
		return nil, err
	}
	if u, ok := b["upstream"]; ok && u != nil {
		um, ok := u.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("upstream: want an object, got %s", jsonType(u))
		}
		up, err := upstreamToWire(um)
		if err != nil {
			return nil, fmt.Errorf("upstream: %w", err)
		}
		out["upstream"] = up
	}
	if _, ok := out["type"]; !ok {
		out["type"] = serviceType(b)
	}
	return out, nil
}

func (m api7Mapper) routeToWire(r model.Resource) (map[string]any, error) {
	if err := m.checkParent(r); err != nil {
		return nil, err
	}
	b := r.Body
	out := copyExcept(b, "description", "labels", "uris")
	out["route_id"] = r.Key.ID
	renameDesc(out, b)
	if err := setLabels(out, b, map[string]string{ManagedByLabel: m.managedBy}); err != nil {
		return nil, err
	}
	if uris, ok := b["uris"]; ok {
		out["paths"] = deepCopy(uris)
	}
	out["service_id"] = r.Parent.ID
	return out, nil
}

func (m api7Mapper) streamRouteToWire(r model.Resource) (map[string]any, error) {
	if err := m.checkParent(r); err != nil {
		return nil, err
	}
	b := r.Body
	out := copyExcept(b, "description", "labels")
	out["stream_route_id"] = r.Key.ID
	renameDesc(out, b)
	if err := setLabels(out, b, map[string]string{ManagedByLabel: m.managedBy}); err != nil {
		return nil, err
	}
	out["service_id"] = r.Parent.ID
	return out, nil
}

// --- API7 → ADC -----------------------------------------------------------

// stripAPI7Meta removes what API7 adds: ids and timestamps.
func stripAPI7Meta(body map[string]any, idFields ...string) {
	for _, f := range append(idFields, "id", "created_at", "updated_at", "create_time", "update_time") {
		delete(body, f)
	}
}

// api7ID is the object's ID: the named id field (service_id, route_id, …)
// when present, else id.
func api7ID(v map[string]any, field string) string {
	if field != "" {
		if id, ok := idString(v[field]); ok {
			return id
		}
	}
	id, _ := idString(v["id"])
	return id
}

func api7ServiceFromWire(v map[string]any) map[string]any {
	body, _, _ := fromWireCommon(v)
	stripAPI7Meta(body, "service_id")
	if up, ok := body["upstream"].(map[string]any); ok {
		body["upstream"] = api7UpstreamFromWire(up)
	}
	if t, ok := body["type"].(string); ok && t == serviceType(body) {
		delete(body, "type") // derived from the upstream's scheme on write
	}
	return body
}

func api7UpstreamFromWire(v map[string]any) map[string]any {
	body := upstreamFromWire(v, "")
	stripAPI7Meta(body)
	return body
}

func api7RouteFromWire(v map[string]any) (body map[string]any, parent string) {
	body, parent = routeFromWire(v)
	stripAPI7Meta(body, "route_id")
	if p, ok := body["paths"]; ok {
		if _, both := body["uris"]; !both {
			body["uris"] = p
			delete(body, "paths")
		}
	}
	return body, parent
}

func api7StreamRouteFromWire(v map[string]any) (body map[string]any, parent string) {
	body, _, _ = fromWireCommon(v)
	parent, _ = idString(body["service_id"])
	delete(body, "service_id")
	stripAPI7Meta(body, "stream_route_id")
	return body, parent
}

// api7Lists is everything List reads from API7 Enterprise.
type api7Lists struct {
	services, routes, streamRoutes, consumers, ssls, globalRules []wireItem
	pluginMetadata                                               map[string]any
	upstreams                                                    map[string][]wireItem // by service, for owned services
	credentials                                                  map[string][]wireItem // by username, for owned consumers
}

func (m api7Mapper) inventory(l api7Lists) model.Inventory {
	var inv model.Inventory
	own := func(r model.Resource) { inv.Owned = append(inv.Owned, r) }
	foreign := func(k model.Key) { inv.Unowned = append(inv.Unowned, k) }
	owns := func(v map[string]any) bool {
		labels, _ := v["labels"].(map[string]any)
		owner, ok := labels[ManagedByLabel].(string)
		return ok && owner == m.managedBy
	}
	for _, it := range l.services {
		id := api7ID(it.value, "service_id")
		key := model.Key{Kind: model.KindService, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body := api7ServiceFromWire(it.value)
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Body: body})
		for _, ut := range l.upstreams[id] {
			uid := api7ID(ut.value, "")
			if uid == id {
				continue // the default upstream, inline in the service
			}
			ub := api7UpstreamFromWire(ut.value)
			uname, _ := ub["name"].(string)
			own(model.Resource{Key: model.Key{Kind: model.KindUpstream, ID: uid}, Name: nameOr(uname, uid), Parent: key, Body: ub})
		}
	}
	for _, it := range l.routes {
		id := api7ID(it.value, "route_id")
		key := model.Key{Kind: model.KindRoute, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, parent := api7RouteFromWire(it.value)
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Parent: serviceKey(parent), Body: body})
	}
	for _, it := range l.streamRoutes {
		id := api7ID(it.value, "stream_route_id")
		key := model.Key{Kind: model.KindStreamRoute, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, parent := api7StreamRouteFromWire(it.value)
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Parent: serviceKey(parent), Body: body})
	}
	for _, it := range l.consumers {
		username, _ := it.value["username"].(string)
		key := model.Key{Kind: model.KindConsumer, ID: username}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, group := consumerFromWire(it.value)
		stripAPI7Meta(body)
		own(model.Resource{Key: key, Name: username, Parent: group, Body: body})
		for _, ct := range l.credentials[username] {
			cid := api7ID(ct.value, "")
			body := credentialFromWire(ct.value)
			stripAPI7Meta(body)
			name, _ := body["name"].(string)
			own(model.Resource{Key: model.Key{Kind: model.KindCredential, Consumer: username, ID: cid}, Name: nameOr(name, cid), Parent: key, Body: body})
		}
	}
	for _, it := range l.ssls {
		id := api7ID(it.value, "")
		key := model.Key{Kind: model.KindSSL, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body := sslFromWire(it.value)
		stripAPI7Meta(body)
		own(model.Resource{Key: key, Name: joinSNIs(body["snis"]), Body: body})
	}
	for _, it := range l.globalRules {
		plugins, _ := it.value["plugins"].(map[string]any)
		id := api7ID(it.value, "")
		if len(plugins) != 1 {
			foreign(model.Key{Kind: model.KindGlobalRule, ID: id})
			continue
		}
		for name, cfg := range plugins {
			cm, ok := cfg.(map[string]any)
			if !ok || (id != "" && id != name) {
				foreign(model.Key{Kind: model.KindGlobalRule, ID: nameOr(id, name)})
				continue
			}
			own(model.Resource{Key: model.Key{Kind: model.KindGlobalRule, ID: name}, Name: name, Body: copyMap(cm)})
		}
	}
	for name, cfg := range l.pluginMetadata {
		cm, _ := cfg.(map[string]any)
		body := copyMap(cm)
		if body == nil {
			body = map[string]any{}
		}
		stripAPI7Meta(body)
		own(model.Resource{Key: model.Key{Kind: model.KindPluginMetadata, ID: name}, Name: name, Body: body})
	}
	sortInventory(&inv)
	return inv
}

func (c *Client) listAPI7(ctx context.Context) (model.Inventory, error) {
	m, err := c.api7Mapper(ctx)
	if err != nil {
		return model.Inventory{}, err
	}
	size := c.cfg.PageSize
	if size == 0 {
		size = api7DefaultPageSize
	}
	list := func(ctx context.Context, path string) ([]wireItem, error) {
		return c.walkPages(ctx, path, m.query, size, decodeAPI7List)
	}
	var l api7Lists
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	for _, coll := range []struct {
		path string
		dst  *[]wireItem
	}{
		{"/services", &l.services}, {"/routes", &l.routes}, {"/stream_routes", &l.streamRoutes},
		{"/consumers", &l.consumers}, {"/ssls", &l.ssls}, {"/global_rules", &l.globalRules},
	} {
		g.Go(func() error {
			items, err := list(gctx, apisixPrefix+coll.path)
			*coll.dst = items
			return err
		})
	}
	g.Go(func() error {
		resp, err := c.do(gctx, request{method: http.MethodGet, path: apisixPrefix + "/plugin_metadata", query: m.query})
		if err != nil {
			return err
		}
		var body struct {
			Value map[string]any `json:"value"`
		}
		if err := json.Unmarshal(resp.body, &body); err != nil {
			return fmt.Errorf("GET %s/plugin_metadata: decode: %w", apisixPrefix, err)
		}
		l.pluginMetadata = body.Value
		return nil
	})
	if err := g.Wait(); err != nil {
		return model.Inventory{}, err
	}

	// Second round: what hangs under owned services and consumers.
	var mu sync.Mutex
	l.upstreams = map[string][]wireItem{}
	l.credentials = map[string][]wireItem{}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.Concurrency)
	owns := func(v map[string]any) bool {
		labels, _ := v["labels"].(map[string]any)
		owner, _ := labels[ManagedByLabel].(string)
		return owner == c.cfg.ManagedBy
	}
	for _, it := range l.services {
		if !owns(it.value) {
			continue
		}
		sid := api7ID(it.value, "service_id")
		if err := checkSegment("service", sid, idSegment); err != nil {
			return model.Inventory{}, err
		}
		g.Go(func() error {
			items, err := list(gctx, apisixPrefix+"/services/"+sid+"/upstreams")
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			mu.Lock()
			l.upstreams[sid] = items
			mu.Unlock()
			return err
		})
	}
	for _, it := range l.consumers {
		if !owns(it.value) {
			continue
		}
		username, _ := it.value["username"].(string)
		if err := checkSegment("consumer", username, usernameSegment); err != nil {
			return model.Inventory{}, err
		}
		g.Go(func() error {
			items, err := list(gctx, apisixPrefix+"/consumers/"+username+"/credentials")
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			mu.Lock()
			l.credentials[username] = items
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return model.Inventory{}, err
	}
	return m.inventory(l), nil
}

// decodeAPI7List decodes {"list": [objects], "total": N}: API7's list items
// are the objects themselves, without APISIX's {key, value} envelope. Items
// that do carry one are unwrapped.
func decodeAPI7List(raw []byte) ([]wireItem, int, error) {
	list, total, err := decodeListEnvelope(raw)
	if err != nil {
		return nil, 0, err
	}
	out := make([]wireItem, 0, len(list))
	for i, e := range list {
		o, ok := e.(map[string]any)
		if !ok {
			return nil, 0, fmt.Errorf("decode list: item %d is %s", i, jsonType(e))
		}
		if v, ok := o["value"].(map[string]any); ok {
			if k, isKey := o["key"].(string); isKey {
				out = append(out, wireItem{key: k, value: v})
				continue
			}
		}
		out = append(out, wireItem{value: o})
	}
	return out, total, nil
}
