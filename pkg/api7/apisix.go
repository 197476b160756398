package api7

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The APISIX wire mapping: ADC 0.28's layout, so that ADC and the Client see
// the same objects. Writes are what ADC's backend-apisix sends (its
// transformer's FromADC and operator), plus the managed-by label; reads are
// the exact inverse, plus uri → uris, host → hosts, remote_addr →
// remote_addrs and map-form nodes → arrays. A live field the files cannot
// express (status 0, an upstream_id that points elsewhere, a
// plugin_config_id, …) stays in the body under its wire name, so a diff
// reports it.

const apisixPrefix = "/apisix/admin"

// apisixCollection is the Admin API collection of each kind.
func apisixCollection(k model.Kind) (string, bool) {
	switch k {
	case model.KindService:
		return "services", true
	case model.KindRoute:
		return "routes", true
	case model.KindStreamRoute:
		return "stream_routes", true
	case model.KindUpstream:
		return "upstreams", true
	case model.KindConsumer:
		return "consumers", true
	case model.KindSSL:
		return "ssls", true
	case model.KindConsumerGroup:
		return "consumer_groups", true
	case model.KindGlobalRule:
		return "global_rules", true
	case model.KindPluginMetadata:
		return "plugin_metadata", true
	}
	return "", false
}

// apisixPath is the object path of k. k must have passed checkKey.
func apisixPath(k model.Key) string {
	if k.Kind == model.KindCredential {
		return apisixPrefix + "/consumers/" + k.Consumer + "/credentials/" + k.ID
	}
	coll, _ := apisixCollection(k.Kind)
	return apisixPrefix + "/" + coll + "/" + k.ID
}

// apisixMapper maps between model resources and APISIX bodies.
type apisixMapper struct {
	managedBy string
	version   ServerVersion
}

// write is one request of a Put or Delete.
type write struct {
	request
	notFoundOK bool // a 404 means done (a delete of something already gone)
}

// puts returns the requests that write r, in order.
func (m apisixMapper) puts(r model.Resource) ([]write, error) {
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	put := func(k model.Key, body map[string]any) write {
		return write{request: request{method: http.MethodPut, path: apisixPath(k), body: body}}
	}
	switch r.Key.Kind {
	case model.KindService:
		svc, up, err := m.serviceToWire(r)
		if err != nil {
			return nil, err
		}
		upKey := model.Key{Kind: model.KindUpstream, ID: r.Key.ID}
		if up == nil {
			// No default upstream: the service references none, and an
			// upstream left from an earlier version goes once the service
			// no longer uses it.
			return []write{put(r.Key, svc), {request: request{method: http.MethodDelete, path: apisixPath(upKey)}, notFoundOK: true}}, nil
		}
		return []write{put(upKey, up), put(r.Key, svc)}, nil
	case model.KindRoute:
		body, err := m.routeToWire(r)
		return one(put(r.Key, body), err)
	case model.KindStreamRoute:
		body, err := m.streamRouteToWire(r)
		return one(put(r.Key, body), err)
	case model.KindUpstream:
		body, err := m.extraUpstreamToWire(r)
		return one(put(r.Key, body), err)
	case model.KindConsumer:
		body, err := m.consumerToWire(r)
		return one(put(r.Key, body), err)
	case model.KindCredential:
		if !m.version.AtLeast(3, 11, 0) {
			return nil, unsupported("%s: consumer credentials need APISIX 3.11 or later (server %s)", r.Key, m.version)
		}
		body, err := credentialToWire(r, true)
		return one(put(r.Key, body), err)
	case model.KindSSL:
		body, err := m.sslToWire(r)
		return one(put(r.Key, body), err)
	case model.KindConsumerGroup:
		body, err := m.consumerGroupToWire(r)
		return one(put(r.Key, body), err)
	case model.KindGlobalRule:
		return []write{put(r.Key, map[string]any{"plugins": map[string]any{r.Key.ID: pluginConfig(r.Body)}})}, nil
	case model.KindPluginMetadata:
		return []write{put(r.Key, pluginConfig(r.Body))}, nil
	}
	return nil, fmt.Errorf("%s: unknown kind", r.Key)
}

func one(w write, err error) ([]write, error) {
	if err != nil {
		return nil, err
	}
	return []write{w}, nil
}

// pluginConfig is a global rule's or plugin metadata's body, never nil.
func pluginConfig(body map[string]any) map[string]any {
	if body == nil {
		return map[string]any{}
	}
	return copyMap(body)
}

// deletes returns the requests that delete r (the live resource), in order.
func (m apisixMapper) deletes(r model.Resource) ([]write, error) {
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	del := func(k model.Key) write {
		return write{request: request{method: http.MethodDelete, path: apisixPath(k)}, notFoundOK: true}
	}
	switch r.Key.Kind {
	case model.KindService:
		// The service first: it references its upstream.
		return []write{del(r.Key), del(model.Key{Kind: model.KindUpstream, ID: r.Key.ID})}, nil
	case model.KindCredential, model.KindRoute, model.KindStreamRoute, model.KindUpstream, model.KindConsumer,
		model.KindSSL, model.KindConsumerGroup, model.KindGlobalRule, model.KindPluginMetadata:
		return []write{del(r.Key)}, nil
	}
	return nil, fmt.Errorf("%s: unknown kind", r.Key)
}

// --- ADC → APISIX ---------------------------------------------------------

// ownedLabels is the managed-by label to add.
func (m apisixMapper) ownedLabels(extra ...string) map[string]string {
	l := map[string]string{ManagedByLabel: m.managedBy}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// copyExcept copies body's fields except id and the named ones. The copy
// is shallow: the mappings add, rename and remove top-level fields of the
// copy and never change a nested value in place (what they fill in below
// the top, the defaults of upstreams and SSLs, they fill into copies of
// their own, see upstreamToWire). A deep copy of every body was a tenth of
// the Client's CPU in a listing.
func copyExcept(body map[string]any, except ...string) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if k == "id" || contains(except, k) {
			continue
		}
		out[k] = v
	}
	return out
}

// renameDesc moves description to desc.
func renameDesc(out, body map[string]any) {
	if d, ok := body["description"]; ok {
		out["desc"] = d
	}
}

func setLabels(out, body map[string]any, extra map[string]string) error {
	labels, err := labelsToWire(body["labels"], extra)
	if err != nil {
		return err
	}
	if labels != nil {
		out["labels"] = labels
	} else {
		delete(out, "labels")
	}
	return nil
}

// serviceToWire splits a service into its APISIX service and its default
// upstream (nil when it has none). The upstream takes the service's ID and,
// unless it names itself, the service's name; the service refers to it by
// upstream_id.
func (m apisixMapper) serviceToWire(r model.Resource) (svc, up map[string]any, err error) {
	b := r.Body
	for _, f := range []string{"path_prefix", "strip_path_prefix"} {
		if _, ok := b[f]; ok {
			return nil, nil, unsupported("%s: %s (an API7 Enterprise field) on APISIX", r.Key, f)
		}
	}
	svc = copyExcept(b, "description", "labels", "upstream", "routes", "stream_routes", "upstreams")
	svc["id"] = r.Key.ID
	renameDesc(svc, b)
	if err := setLabels(svc, b, m.ownedLabels()); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	if u, ok := b["upstream"]; ok && u != nil {
		um, ok := u.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("%s: upstream: want an object, got %s", r.Key, jsonType(u))
		}
		up, err = upstreamToWire(um)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: upstream: %w", r.Key, err)
		}
		up["id"] = r.Key.ID
		if _, named := um["name"]; !named {
			if name, ok := b["name"]; ok {
				up["name"] = name
			}
		}
		svc["upstream_id"] = r.Key.ID
	}
	return svc, up, nil
}

// upstreamToWire maps an ADC upstream: desc, JSON-text label arrays, and
// ADC's lint defaults.
func upstreamToWire(u map[string]any) (map[string]any, error) {
	// A deep copy: the defaults go into nested objects (nodes, checks,
	// keepalive_pool), which belong to the caller.
	out := copyMap(copyExcept(u, "description", "labels"))
	renameDesc(out, u)
	if err := setLabels(out, u, nil); err != nil {
		return nil, err
	}
	applyDefaults(out, lintUpstreamDefaults)
	return out, nil
}

func (m apisixMapper) extraUpstreamToWire(r model.Resource) (map[string]any, error) {
	if r.Parent.Kind != model.KindService || r.Parent.ID == "" {
		return nil, fmt.Errorf("%s: upstream %w service", r.Key, errNoParent)
	}
	out, err := upstreamToWire(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	labels, err := labelsToWire(r.Body["labels"], map[string]string{labelADCUpstreamS: r.Parent.ID})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	out["labels"] = labels
	return out, nil
}

func (m apisixMapper) routeToWire(r model.Resource) (map[string]any, error) {
	if r.Parent.Kind != model.KindService || r.Parent.ID == "" {
		return nil, fmt.Errorf("%s: route %w service", r.Key, errNoParent)
	}
	b := r.Body
	out := copyExcept(b, "description", "labels")
	out["id"] = r.Key.ID
	renameDesc(out, b)
	if err := setLabels(out, b, m.ownedLabels()); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	out["service_id"] = r.Parent.ID
	if _, ok := out["status"]; !ok {
		out["status"] = 1.0
	}
	return out, nil
}

func (m apisixMapper) streamRouteToWire(r model.Resource) (map[string]any, error) {
	if r.Parent.Kind != model.KindService || r.Parent.ID == "" {
		return nil, fmt.Errorf("%s: stream route %w service", r.Key, errNoParent)
	}
	if !m.version.AtLeast(3, 8, 0) {
		return nil, unsupported("%s: stream routes before APISIX 3.8 (no labels; server %s)", r.Key, m.version)
	}
	b := r.Body
	// As ADC: no id in the body, the name in the __ADC_NAME label.
	out := copyExcept(b, "description", "labels", "name")
	renameDesc(out, b)
	name := r.Name
	if n, ok := b["name"].(string); ok {
		name = n
	}
	if err := setLabels(out, b, m.ownedLabels(labelADCName, name)); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	out["service_id"] = r.Parent.ID
	return out, nil
}

func (m apisixMapper) consumerToWire(r model.Resource) (map[string]any, error) {
	b := r.Body
	out := copyExcept(b, "description", "labels", "credentials", "group_id")
	out["username"] = r.Key.ID
	if r.Parent.Kind == model.KindConsumerGroup {
		out["group_id"] = r.Parent.ID // a consumer nested in a group is its member
	}
	renameDesc(out, b)
	if err := setLabels(out, b, m.ownedLabels()); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	return out, nil
}

// credentialToWire maps {name, type, config, description, labels} to
// {id, name, desc, labels, plugins: {type: config}}. withID puts the id in
// the body (APISIX, as ADC does).
func credentialToWire(r model.Resource, withID bool) (map[string]any, error) {
	b := r.Body
	out := copyExcept(b, "description", "labels", "type", "config")
	if withID {
		out["id"] = r.Key.ID
	}
	renameDesc(out, b)
	if err := setLabels(out, b, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	typ, ok := b["type"].(string)
	if !ok || typ == "" {
		if _, raw := b["plugins"]; raw {
			return out, nil // a live credential that is not one auth plugin: as it is
		}
		return nil, fmt.Errorf("%s: credential has no type", r.Key)
	}
	cfg := b["config"]
	if cfg == nil {
		cfg = map[string]any{}
	}
	out["plugins"] = map[string]any{typ: deepCopy(cfg)}
	return out, nil
}

func (m apisixMapper) sslToWire(r model.Resource) (map[string]any, error) {
	b := r.Body
	out := copyExcept(b, "labels", "certificates")
	if err := setLabels(out, b, m.ownedLabels()); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	out["id"] = r.Key.ID
	if _, ok := out["status"]; !ok {
		out["status"] = 1.0
	}
	if c, ok := out["client"].(map[string]any); ok {
		out["client"] = copyMap(c) // the defaults go into it
	}
	applyDefaults(out, lintSSLDefaults)
	certs, _ := b["certificates"].([]any)
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: an SSL needs at least one certificate", r.Key)
	}
	var extraCerts, extraKeys []any
	for i, c := range certs {
		cm, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: certificates[%d]: want an object, got %s", r.Key, i, jsonType(c))
		}
		if _, ok := cm["certificate"].(string); !ok {
			return nil, fmt.Errorf("%s: certificates[%d] has no certificate", r.Key, i)
		}
		if _, ok := cm["key"].(string); !ok {
			// Live SSLs have none: GET never returns private keys.
			return nil, fmt.Errorf("%s: certificates[%d] has no private key", r.Key, i)
		}
		if i == 0 {
			out["cert"] = cm["certificate"]
			out["key"] = cm["key"]
			continue
		}
		extraCerts = append(extraCerts, cm["certificate"])
		extraKeys = append(extraKeys, cm["key"])
	}
	if len(extraCerts) > 0 {
		out["certs"] = extraCerts
		out["keys"] = extraKeys
	}
	return out, nil
}

func (m apisixMapper) consumerGroupToWire(r model.Resource) (map[string]any, error) {
	b := r.Body
	out := copyExcept(b, "description", "labels", "consumers")
	out["id"] = r.Key.ID
	renameDesc(out, b)
	if err := setLabels(out, b, m.ownedLabels()); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	if _, ok := out["plugins"]; !ok {
		out["plugins"] = map[string]any{} // required by APISIX
	}
	return out, nil
}

// --- APISIX → ADC ---------------------------------------------------------

// stripMeta removes what the server adds: id, timestamps.
func stripMeta(out map[string]any) {
	delete(out, "id")
	delete(out, "create_time")
	delete(out, "update_time")
}

// fromWireCommon copies a wire object with desc → description and labels
// parsed; it returns the managed-by value apart.
func fromWireCommon(v map[string]any, dropLabels ...string) (body map[string]any, owner string, owned bool) {
	body = copyExcept(v, "desc", "labels")
	stripMeta(body)
	if d, ok := v["desc"]; ok {
		body["description"] = d
	}
	labels, owner, owned := labelsFromWire(v["labels"], dropLabels...)
	if labels != nil {
		body["labels"] = labels
	}
	return body, owner, owned
}

// upstreamFromWire maps an APISIX upstream to ADC terms. serviceName, when
// not empty, is the name the inline upstream of that service carries on
// the wire and is dropped.
func upstreamFromWire(v map[string]any, serviceName string) map[string]any {
	body, _, _ := fromWireCommon(v, labelADCUpstreamS)
	if serviceName != "" && body["name"] == serviceName {
		delete(body, "name")
	}
	if nm, ok := body["nodes"].(map[string]any); ok {
		scheme, _ := body["scheme"].(string)
		body["nodes"] = nodesFromMap(nm, scheme)
	}
	return body
}

// singular turns APISIX's one-value forms into ADC's arrays.
func singular(body map[string]any, one, many string) {
	if v, ok := body[one]; ok {
		if _, both := body[many]; !both {
			body[many] = []any{v}
			delete(body, one)
		}
	}
}

// consumerFromWire maps an APISIX consumer to ADC terms: its group_id
// becomes its parent, as nesting in a consumer group expresses it in files.
func consumerFromWire(v map[string]any) (body map[string]any, group model.Key) {
	body, _, _ = fromWireCommon(v)
	if gid, ok := idString(body["group_id"]); ok && gid != "" {
		group = model.Key{Kind: model.KindConsumerGroup, ID: gid}
		delete(body, "group_id")
	}
	return body, group
}

func routeFromWire(v map[string]any) (body map[string]any, parent string) {
	body, _, _ = fromWireCommon(v)
	parent, _ = idString(body["service_id"])
	delete(body, "service_id")
	if s, ok := body["status"].(float64); ok && s == 1 {
		delete(body, "status") // what every write sends; 0 stays, as drift
	}
	singular(body, "uri", "uris")
	singular(body, "host", "hosts")
	singular(body, "remote_addr", "remote_addrs")
	return body, parent
}

func streamRouteFromWire(v map[string]any, id string) (body map[string]any, parent, name string) {
	body, _, _ = fromWireCommon(v, labelADCName)
	parent, _ = idString(body["service_id"])
	delete(body, "service_id")
	name = id
	if labels, ok := v["labels"].(map[string]any); ok {
		if n, ok := labels[labelADCName].(string); ok {
			name = n
		}
	}
	if n, ok := body["name"].(string); ok {
		name = n
	} else {
		body["name"] = name
	}
	return body, parent, name
}

func credentialFromWire(v map[string]any) map[string]any {
	body, _, _ := fromWireCommon(v)
	if plugins, ok := body["plugins"].(map[string]any); ok && len(plugins) == 1 {
		for typ, cfg := range plugins {
			body["type"] = typ
			body["config"] = cfg
		}
		delete(body, "plugins")
	}
	return body
}

func sslFromWire(v map[string]any) map[string]any {
	body, _, _ := fromWireCommon(v)
	if _, ok := v["desc"]; ok {
		// ADC's SSL has no description: keep the wire name so a diff shows it.
		body["desc"] = body["description"]
		delete(body, "description")
	}
	singular(body, "sni", "snis")
	if s, ok := body["status"].(float64); ok && s == 1 {
		delete(body, "status")
	}
	var certs []any
	if c, ok := body["cert"]; ok {
		certs = append(certs, map[string]any{"certificate": c})
	}
	if extra, ok := body["certs"].([]any); ok {
		for _, c := range extra {
			certs = append(certs, map[string]any{"certificate": c})
		}
	}
	// GET never returns private keys (a PUT answer echoes them encrypted).
	for _, f := range []string{"cert", "key", "certs", "keys"} {
		delete(body, f)
	}
	if certs != nil {
		body["certificates"] = certs
	}
	return body
}

// wireItem is one object of a list.
type wireItem struct {
	key   string // etcd key, such as /apisix/routes/r1
	value map[string]any
}

// itemID is the object's ID: its id field, else the last segment of key.
func (it wireItem) id() string {
	if id, ok := idString(it.value["id"]); ok {
		return id
	}
	for i := len(it.key) - 1; i >= 0; i-- {
		if it.key[i] == '/' {
			return it.key[i+1:]
		}
	}
	return it.key
}

// apisixLists is everything List reads from APISIX.
type apisixLists struct {
	services, routes, upstreams, ssls, consumers, consumerGroups,
	globalRules, pluginMetadata, streamRoutes []wireItem
	credentials map[string][]wireItem // by username, for owned consumers
}

// inventory assembles the owned resources and the unowned keys. split
// holds the owned services whose default upstream is the separate
// upstream object of their own ID (ADC's layout since 0.22).
func (m apisixMapper) inventory(l apisixLists) (inv model.Inventory, split map[string]bool) {
	split = map[string]bool{}
	own := func(r model.Resource) { inv.Owned = append(inv.Owned, r) }
	foreign := func(k model.Key) { inv.Unowned = append(inv.Unowned, k) }
	owns := func(v map[string]any) bool {
		labels, _ := v["labels"].(map[string]any)
		owner, ok := labels[ManagedByLabel].(string)
		return ok && owner == m.managedBy
	}

	upstreams := make(map[string]map[string]any, len(l.upstreams))
	for _, it := range l.upstreams {
		upstreams[it.id()] = it.value
	}
	usedInline := map[string]bool{}
	ownedServices := map[string]bool{}
	for _, it := range l.services {
		id := it.id()
		key := model.Key{Kind: model.KindService, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		ownedServices[id] = true
		body, _, _ := fromWireCommon(it.value)
		name, _ := body["name"].(string)
		if uid, ok := idString(body["upstream_id"]); ok && uid == id {
			if up, found := upstreams[id]; found {
				// A service still carrying an inline upstream as well (ADC
				// before 0.22) is not split: every write rewrites it whole.
				_, legacy := body["upstream"].(map[string]any)
				split[id] = !legacy
				body["upstream"] = upstreamFromWire(up, name)
				delete(body, "upstream_id")
				usedInline[id] = true
			}
		} else if inline, ok := body["upstream"].(map[string]any); ok {
			body["upstream"] = upstreamFromWire(inline, "")
		}
		own(model.Resource{Key: key, Name: nameOr(name, id), Body: body})
	}
	for _, it := range l.upstreams {
		id := it.id()
		if usedInline[id] {
			continue
		}
		key := model.Key{Kind: model.KindUpstream, ID: id}
		labels, _ := it.value["labels"].(map[string]any)
		sid, _ := labels[labelADCUpstreamS].(string)
		if sid == "" || !ownedServices[sid] {
			foreign(key)
			continue
		}
		body := upstreamFromWire(it.value, "")
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Parent: model.Key{Kind: model.KindService, ID: sid}, Body: body})
	}
	for _, it := range l.routes {
		id := it.id()
		key := model.Key{Kind: model.KindRoute, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, parent := routeFromWire(it.value)
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Parent: serviceKey(parent), Body: body})
	}
	for _, it := range l.streamRoutes {
		id := it.id()
		key := model.Key{Kind: model.KindStreamRoute, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, parent, name := streamRouteFromWire(it.value, id)
		own(model.Resource{Key: key, Name: name, Parent: serviceKey(parent), Body: body})
	}
	for _, it := range l.consumers {
		username, _ := it.value["username"].(string)
		if username == "" {
			username = it.id()
		}
		key := model.Key{Kind: model.KindConsumer, ID: username}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, group := consumerFromWire(it.value)
		own(model.Resource{Key: key, Name: username, Parent: group, Body: body})
		for _, ct := range l.credentials[username] {
			cid := ct.id()
			body := credentialFromWire(ct.value)
			name, _ := body["name"].(string)
			own(model.Resource{
				Key:    model.Key{Kind: model.KindCredential, Consumer: username, ID: cid},
				Name:   nameOr(name, cid),
				Parent: key,
				Body:   body,
			})
		}
	}
	for _, it := range l.ssls {
		id := it.id()
		key := model.Key{Kind: model.KindSSL, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body := sslFromWire(it.value)
		own(model.Resource{Key: key, Name: joinSNIs(body["snis"]), Body: body})
	}
	for _, it := range l.consumerGroups {
		id := it.id()
		key := model.Key{Kind: model.KindConsumerGroup, ID: id}
		if !owns(it.value) {
			foreign(key)
			continue
		}
		body, _, _ := fromWireCommon(it.value)
		name, _ := body["name"].(string)
		own(model.Resource{Key: key, Name: nameOr(name, id), Body: body})
	}
	for _, it := range l.globalRules {
		id := it.id()
		plugins, _ := it.value["plugins"].(map[string]any)
		cfg, single := plugins[id].(map[string]any)
		if !single || len(plugins) != 1 {
			// Not in ADC's one-rule-per-plugin layout: someone else's.
			foreign(model.Key{Kind: model.KindGlobalRule, ID: id})
			continue
		}
		own(model.Resource{Key: model.Key{Kind: model.KindGlobalRule, ID: id}, Name: id, Body: copyMap(cfg)})
	}
	for _, it := range l.pluginMetadata {
		id := it.id()
		body := copyMap(it.value)
		delete(body, "id")
		own(model.Resource{Key: model.Key{Kind: model.KindPluginMetadata, ID: id}, Name: id, Body: body})
	}
	sortInventory(&inv)
	return inv, split
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func serviceKey(id string) model.Key {
	if id == "" {
		return model.Key{}
	}
	return model.Key{Kind: model.KindService, ID: id}
}

func joinSNIs(v any) string {
	arr, _ := v.([]any)
	s := ""
	for i, e := range arr {
		if i > 0 {
			s += ","
		}
		str, _ := e.(string)
		s += str
	}
	return s
}

func sortInventory(inv *model.Inventory) {
	sort.Slice(inv.Owned, func(i, j int) bool { return inv.Owned[i].Key.Less(inv.Owned[j].Key) })
	sort.Slice(inv.Unowned, func(i, j int) bool { return inv.Unowned[i].Less(inv.Unowned[j]) })
}
