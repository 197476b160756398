package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The api7ee flavour: API7 Enterprise's control-plane API (/api/...) and
// its APISIX-compatible runtime API (/apisix/admin/...) scoped to a gateway
// group. See the package documentation for the assumptions.

// api7Err answers with API7's error envelope {"error_msg": ...}.
func api7Err(status int, msg string) response {
	return response{status: status, body: map[string]any{"error_msg": msg}}
}

func api7Value(status int, v any) response {
	return response{status: status, body: map[string]any{"value": v}}
}

// api7TokenPrefixAdmin marks a gateway-group admin key: with it the
// runtime API needs no gateway_group_id.
const api7TokenPrefixAdmin = "a7adm-"

func (e *Emulator) serveAPI7(w *recorder, r *http.Request, body []byte, identity string) {
	resp := e.api7(w, r, body, identity)
	resp.write(w)
}

func (e *Emulator) api7(w *recorder, r *http.Request, body []byte, identity string) response {
	tok, src := api7Token(r)
	if src == tokenNone && !e.cfg.noAuth {
		return api7Err(http.StatusUnauthorized, "unauthorized: missing API key")
	}
	var te tokenEntry
	if !e.cfg.noAuth {
		var found bool
		te, found = e.lookupToken(tok)
		if !found {
			return api7Err(http.StatusUnauthorized, "unauthorized: invalid API key")
		}
		if identity == IdentityExpired {
			return api7Err(http.StatusUnauthorized, "unauthorized: API key expired")
		}
		if te.role == RoleViewer && r.Method != http.MethodGet {
			return api7Err(http.StatusForbidden, "forbidden: the token may only read")
		}
	}
	p := r.URL.Path
	if segs, ok := splitPath(p, "/api/"); ok {
		return e.api7Control(r, segs)
	}
	segs, ok := splitPath(p, "/apisix/admin/")
	if !ok || len(segs) == 0 {
		return api7Err(http.StatusNotFound, "not found")
	}
	args := rawQueryValues(r.URL)
	ggID := args.Get("gateway_group_id")
	if ggID == "" {
		if !strings.HasPrefix(tok, api7TokenPrefixAdmin) && !e.cfg.noAuth {
			return api7Err(http.StatusBadRequest, "gateway_group_id is required")
		}
		ggID = e.cfg.groupIDs()[0]
	}
	e.dataMu.Lock()
	defer e.dataMu.Unlock()
	st := e.byGG[ggID]
	if st == nil {
		return api7Err(http.StatusNotFound, "gateway group not found")
	}
	g := &gw{e: e, st: st, now: e.cfg.now(), api7: true, rec: w}
	return g.api7Runtime(r, segs, body, args)
}

func (c *config) groupIDs() []string {
	ids := make([]string, len(c.groups))
	for i, n := range c.groups {
		ids[i] = gatewayGroupID(n)
	}
	return ids
}

// api7Control serves /api/...: version, gateway groups, the core schema.
func (e *Emulator) api7Control(r *http.Request, segs []string) response {
	if r.Method != http.MethodGet {
		return api7Err(http.StatusMethodNotAllowed, "method not allowed")
	}
	switch {
	case len(segs) == 1 && segs[0] == "version":
		return api7Value(http.StatusOK, e.cfg.api7Version)
	case len(segs) == 2 && segs[0] == "schema" && segs[1] == "core":
		return api7Value(http.StatusOK, e.api7CoreSchema())
	case segs[0] == "gateway_groups":
		e.mu.Lock()
		groups := append([]*gatewayGroup(nil), e.groups...)
		e.mu.Unlock()
		if len(segs) == 2 {
			for _, g := range groups {
				if g.id == segs[1] {
					return api7Value(http.StatusOK, e.ggObject(g))
				}
			}
			return api7Err(http.StatusNotFound, "gateway group not found")
		}
		args := rawQueryValues(r.URL)
		search, name := args.Get("search"), args.Get("name")
		list := []any{}
		for _, g := range groups {
			if search != "" && !strings.Contains(g.name, search) {
				continue
			}
			if name != "" && g.name != name {
				continue
			}
			list = append(list, e.ggObject(g))
		}
		return response{status: http.StatusOK, body: map[string]any{"list": list, "total": jsonInt(len(list))}}
	}
	return api7Err(http.StatusNotFound, "not found")
}

func (e *Emulator) ggObject(g *gatewayGroup) map[string]any {
	return map[string]any{
		"id": g.id, "name": g.name, "description": "", "type": "api7_gateway",
		"labels": map[string]any{}, "created_at": json.Number("1700000000"), "updated_at": json.Number("1700000000"),
	}
}

// api7CoreSchema is GET /api/schema/core's value: the JSON schemas whose
// defaults a client merges into its local configuration.
func (e *Emulator) api7CoreSchema() map[string]any {
	s := e.api7s
	return map[string]any{
		"route":               s.route.raw,
		"service":             s.service.raw,
		"stream_service":      s.streamService.raw,
		"upstream":            s.upstream.raw,
		"stream_route":        s.streamRoute.raw,
		"consumer":            s.consumer.raw,
		"consumer_credential": s.credential.raw,
		"ssl":                 s.ssl.raw,
		"global_rule":         s.globalRule.raw,
	}
}

// api7Runtime serves /apisix/admin/... for one gateway group.
func (g *gw) api7Runtime(r *http.Request, segs []string, body []byte, args url.Values) response {
	res := segs[0]
	if res == "plugins" && len(segs) == 2 && segs[1] == "list" && r.Method == http.MethodGet {
		return g.pluginsList(r)
	}
	if res == "configs" && len(segs) == 2 && segs[1] == "validate" && r.Method == http.MethodPost {
		return g.api7ConfigsValidate(body)
	}
	switch res {
	case "services", "routes", "stream_routes", "consumers", "ssls", "global_rules", "plugin_metadata":
	default:
		return api7Err(http.StatusNotFound, "not found")
	}
	var conf any
	hasBody := false
	if len(body) > 0 {
		v, err := decodeJSON(body)
		if err != nil {
			return api7Err(http.StatusBadRequest, "invalid request body: "+err.Error())
		}
		conf, hasBody = v, true
	}
	id := ""
	if len(segs) > 1 {
		id = segs[1]
	}
	rest := segs[min(2, len(segs)):]
	if res == "services" && id != "" && len(rest) > 0 && rest[0] == "upstreams" {
		uid := ""
		if len(rest) > 1 {
			uid = rest[1]
		}
		return g.api7ServiceUpstreams(r.Method, id, uid, conf, hasBody)
	}
	if res == "consumers" && id != "" && len(rest) > 0 && rest[0] == "credentials" {
		cid := ""
		if len(rest) > 1 {
			cid = rest[1]
		}
		return g.api7Credentials(r.Method, id, cid, conf, hasBody, args)
	}
	if len(rest) > 0 {
		return api7Err(http.StatusNotFound, "not found")
	}
	switch r.Method {
	case http.MethodGet:
		if id == "" {
			if res == "plugin_metadata" {
				return g.api7MetadataMap()
			}
			return g.api7List(res, args)
		}
		o, found := g.st.get(res, id)
		if !found {
			return api7Err(http.StatusNotFound, "not found")
		}
		return api7Value(http.StatusOK, g.api7Present(o))
	case http.MethodPut:
		if id == "" {
			return api7Err(http.StatusBadRequest, "missing id")
		}
		if !hasBody {
			return api7Err(http.StatusBadRequest, "missing configurations")
		}
		m, isMap := conf.(map[string]any)
		if !isMap {
			return api7Err(http.StatusBadRequest, "invalid configuration: the body must be a JSON object")
		}
		return g.api7Put(res, id, m)
	case http.MethodDelete:
		if id == "" {
			return api7Err(http.StatusBadRequest, "missing id")
		}
		return g.api7Delete(res, id)
	}
	return api7Err(http.StatusMethodNotAllowed, "method not allowed")
}

// api7Present is what GET shows: SSL keys stripped.
func (g *gw) api7Present(o *object) json.RawMessage { return readValue(o) }

// api7List lists a runtime collection: filters labels[k]=v, service_id,
// search; order by created_at (default descending, direction=asc to flip);
// paging with page (from 1) and page_size, all items when page_size is
// absent.
func (g *gw) api7List(col string, args url.Values) response {
	labels := map[string]string{}
	for k, vs := range args {
		if strings.HasPrefix(k, "labels[") && strings.HasSuffix(k, "]") && len(vs) > 0 {
			labels[k[len("labels["):len(k)-1]] = vs[0]
		}
	}
	serviceID := args.Get("service_id")
	search := args.Get("search")
	asc := args.Get("direction") == "asc"
	byUpdated := args.Get("order_by") == "updated_at"
	page, size := 1, 0
	if args.Has("page_size") {
		n, err := strconv.Atoi(args.Get("page_size"))
		if err != nil || n < 1 || n > 1000 {
			return api7Err(http.StatusBadRequest, "page_size must be between 1 and 1000")
		}
		size = n
	}
	if args.Has("page") {
		n, err := strconv.Atoi(args.Get("page"))
		if err != nil || n < 1 {
			return api7Err(http.StatusBadRequest, "page must be a positive integer")
		}
		page = n
	}
	c := g.st.col(col, false)
	var list []json.RawMessage
	if c == nil {
		return listResponse(nil, 0, false, false)
	}
	filtered := len(labels) > 0 || serviceID != "" || search != "" || byUpdated
	if !filtered {
		total := c.byCreated.Len()
		from, n := 0, total
		if size > 0 {
			from, n = (page-1)*size, size
		}
		if from >= total {
			return listResponse(list, total, false, false)
		}
		n = min(n, total-from)
		start := from
		if !asc {
			start = total - from - n
		}
		var page []*object
		c.byCreated.Ascend(start, func(_ int64, o *object) bool {
			if len(page) >= n {
				return false
			}
			page = append(page, o)
			return true
		})
		if !asc {
			for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
				page[i], page[j] = page[j], page[i]
			}
		}
		for _, o := range page {
			list = append(list, g.api7Present(o))
		}
		return listResponse(list, total, false, false)
	}
	var matched []*object
	keep := func(o *object) bool {
		if serviceID != "" {
			if s, _ := idString(o.value["service_id"]); s != serviceID {
				return false
			}
		}
		if search != "" {
			if n, _ := o.value["name"].(string); !strings.Contains(n, search) {
				return false
			}
		}
		ls, _ := o.value["labels"].(map[string]any)
		for k, v := range labels {
			if ls[k] != v {
				return false
			}
		}
		return true
	}
	if serviceID != "" {
		for _, ref := range g.st.referrers("services/"+serviceID, g.now) {
			rc, rid, _ := strings.Cut(ref, "/")
			if rc != col {
				continue
			}
			if o, ok := g.st.get(rc, rid); ok && keep(o) {
				matched = append(matched, o)
			}
		}
	} else {
		c.byKey.Ascend(0, func(_ string, o *object) bool {
			if keep(o) {
				matched = append(matched, o)
			}
			return true
		})
	}
	sort.SliceStable(matched, func(i, j int) bool {
		a, b := matched[i], matched[j]
		if byUpdated {
			ua, _ := num(a.value["updated_at"])
			ub, _ := num(b.value["updated_at"])
			if ua != ub {
				return (ua < ub) == asc
			}
		}
		return (a.created < b.created) == asc
	})
	total := len(matched)
	if size > 0 {
		from := (page - 1) * size
		if from >= total {
			matched = nil
		} else {
			matched = matched[from:min(total, from+size)]
		}
	}
	for _, o := range matched {
		list = append(list, g.api7Present(o))
	}
	return listResponse(list, total, false, false)
}

// api7MetadataMap is GET /plugin_metadata: one map of plugin name to
// metadata.
func (g *gw) api7MetadataMap() response {
	out := map[string]any{}
	if c := g.st.col("plugin_metadata", false); c != nil {
		c.byKey.Ascend(0, func(id string, o *object) bool {
			v := copyMap(o.value)
			delete(v, "id")
			out[id] = v
			return true
		})
	}
	return api7Value(http.StatusOK, out)
}

// api7Validate checks a runtime object; it fills scalar defaults into v.
func (g *gw) api7Validate(s *schema, v map[string]any) *apiErr {
	if err := s.validate(v, vopts{fill: true, scalarsOnly: true}); err != nil {
		return bad(api7Message(err.Error()))
	}
	if pl, ok := v["plugins"]; ok {
		// On a copy: plugin defaults are checked, not stored (GET
		// /api/schema/core reports core defaults only).
		if err := g.checkPlugins(deepCopy(pl), false); err != nil {
			return err
		}
	}
	return nil
}

// api7Put creates or replaces a runtime object (200 either way).
func (g *gw) api7Put(col, id string, in map[string]any) response {
	m := copyMap(in)
	delete(m, "created_at")
	delete(m, "updated_at")
	// The body may carry its id as "<kind>_id" (route_id, service_id,
	// stream_route_id) or "id"; either must match the URL.
	idField := map[string]string{"routes": "route_id", "services": "service_id", "stream_routes": "stream_route_id"}[col]
	for _, f := range []string{"id", idField} {
		if f == "" {
			continue
		}
		if v, ok := m[f]; ok {
			if s, _ := idString(v); s != id {
				return api7Err(http.StatusBadRequest, "the "+f+" in the body does not match the URL")
			}
			delete(m, f)
		}
	}
	var err *apiErr
	s := g.e.api7s
	switch col {
	case "services":
		sch := s.service
		if m["type"] == "stream" {
			sch = s.streamService
		}
		err = g.api7Validate(sch, m)
	case "routes":
		if err = g.api7Validate(s.route, m); err == nil {
			err = g.api7ServiceRef(m, "http")
		}
	case "stream_routes":
		if err = g.api7Validate(s.streamRoute, m); err == nil {
			err = g.api7ServiceRef(m, "stream")
		}
	case "consumers":
		if u, ok := m["username"]; ok && u != id {
			return api7Err(http.StatusBadRequest, "the username in the body does not match the URL")
		}
		m["username"] = id
		if e := g.e.api7s.consumer.validate(m, vopts{fill: true, scalarsOnly: true}); e != nil {
			err = bad(api7Message(e.Error()))
		} else if pl, ok := m["plugins"]; ok {
			err = g.checkPlugins(deepCopy(pl), true)
		}
		if err == nil {
			err = g.checkDuplicateKeys(m, "consumers/"+id)
		}
	case "ssls":
		if err = g.api7Validate(s.ssl, m); err == nil {
			err = g.checkSSL7(m)
		}
	case "global_rules":
		err = g.api7Validate(s.globalRule, m)
	case "plugin_metadata":
		p := g.e.plugins.byName[id]
		if p == nil {
			return api7Err(http.StatusBadRequest, "invalid plugin name")
		}
		if p.metadata != nil {
			if e := p.metadata.validate(m, vopts{fill: true, scalarsOnly: true}); e != nil {
				err = bad(api7Message(e.Error()))
			}
		}
	}
	if err != nil {
		return fromErr(&apiErr{status: err.status, body: err.body, noV3: true})
	}
	if col != "consumers" {
		m["id"] = id
	}
	g.api7Times(col, id, m)
	o, _ := g.st.put(col, id, m, g.e.cfg.deleteLag, g.now)
	g.rec.mutated = true
	return api7Value(http.StatusOK, g.api7Present(o))
}

// api7Times sets created_at (kept across replaces) and updated_at.
func (g *gw) api7Times(col, id string, m map[string]any) {
	now := json.Number(strconv.FormatInt(g.now.Unix(), 10))
	m["created_at"] = now
	if old, ok := g.st.get(col, id); ok && old.value["created_at"] != nil {
		m["created_at"] = old.value["created_at"]
	}
	m["updated_at"] = now
}

// api7ServiceRef checks a route's (or stream route's) service exists and
// has the right type.
func (g *gw) api7ServiceRef(m map[string]any, want string) *apiErr {
	sid, _ := idString(m["service_id"])
	svc, ok := g.st.get("services", sid)
	if !ok {
		return bad("service " + sid + " not found")
	}
	if t, _ := svc.value["type"].(string); t != want {
		return bad("service " + sid + " is of type " + t + ", not " + want)
	}
	return nil
}

func (g *gw) checkSSL7(m map[string]any) *apiErr {
	cert, _ := m["cert"].(string)
	key, _ := m["key"].(string)
	if err := validatePair(cert, key); err != nil {
		return err
	}
	certs, _ := m["certs"].([]any)
	keys, _ := m["keys"].([]any)
	if len(certs) != len(keys) {
		return bad("mismatched number of certs and keys")
	}
	return nil
}

// api7Delete deletes a runtime object; a service takes its routes, stream
// routes and extra upstreams with it, a consumer its credentials.
func (g *gw) api7Delete(col, id string) response {
	if _, found := g.st.get(col, id); !found {
		return api7Err(http.StatusNotFound, "not found")
	}
	switch col {
	case "services":
		for _, ref := range g.st.referrers("services/"+id, g.now) {
			rc, rid, _ := strings.Cut(ref, "/")
			if rc == "routes" || rc == "stream_routes" {
				g.st.del(rc, rid, 0, g.now)
			}
		}
		g.st.dropCollection("services/"+id+"/upstreams", 0, g.now)
	case "consumers":
		g.st.dropCollection("consumers/"+id+"/credentials", 0, g.now)
	}
	g.st.del(col, id, 0, g.now)
	g.rec.mutated = true
	return response{status: http.StatusOK, body: map[string]any{}}
}

// api7ServiceUpstreams serves /services/{sid}/upstreams[/{uid}]: the
// service's default (inline) upstream has id sid; the others are extra
// named upstreams.
func (g *gw) api7ServiceUpstreams(method, sid, uid string, conf any, hasBody bool) response {
	svc, found := g.st.get("services", sid)
	if !found {
		return api7Err(http.StatusNotFound, "service not found")
	}
	col := "services/" + sid + "/upstreams"
	defaultUp := func() map[string]any {
		up, ok := svc.value["upstream"].(map[string]any)
		if !ok {
			return nil
		}
		c := copyMap(up)
		c["id"] = sid
		return c
	}
	switch method {
	case http.MethodGet:
		if uid == "" {
			list := []any{}
			if d := defaultUp(); d != nil {
				list = append(list, d)
			}
			if c := g.st.col(col, false); c != nil {
				c.byCreated.Ascend(0, func(_ int64, o *object) bool {
					list = append(list, readValue(o))
					return true
				})
			}
			return response{status: 200, body: map[string]any{"list": list, "total": jsonInt(len(list))}}
		}
		if uid == sid {
			if d := defaultUp(); d != nil {
				return api7Value(http.StatusOK, d)
			}
			return api7Err(http.StatusNotFound, "not found")
		}
		o, ok := g.st.get(col, uid)
		if !ok {
			return api7Err(http.StatusNotFound, "not found")
		}
		return api7Value(http.StatusOK, readValue(o))
	case http.MethodPut:
		if uid == "" {
			return api7Err(http.StatusBadRequest, "missing id")
		}
		m, isMap := conf.(map[string]any)
		if !hasBody || !isMap {
			return api7Err(http.StatusBadRequest, "invalid configuration: the body must be a JSON object")
		}
		m = copyMap(m)
		delete(m, "created_at")
		delete(m, "updated_at")
		if v, ok := m["id"]; ok {
			if s, _ := idString(v); s != uid {
				return api7Err(http.StatusBadRequest, "the id in the body does not match the URL")
			}
		}
		sch := g.e.api7s.upstream
		if svc.value["type"] == "stream" {
			sch = g.e.api7s.streamUpstream
		}
		if err := sch.validate(m, vopts{fill: true, scalarsOnly: true}); err != nil {
			return api7Err(http.StatusBadRequest, api7Message(err.Error()))
		}
		if uid == sid {
			// The default upstream is the service's inline upstream.
			delete(m, "id")
			nv := copyMap(svc.value)
			nv["upstream"] = m
			nv["updated_at"] = json.Number(strconv.FormatInt(g.now.Unix(), 10))
			g.st.put("services", sid, nv, 0, g.now)
			g.rec.mutated = true
			m2 := copyMap(m)
			m2["id"] = sid
			return api7Value(http.StatusOK, m2)
		}
		m["id"] = uid
		g.api7Times(col, uid, m)
		o, _ := g.st.put(col, uid, m, 0, g.now)
		g.rec.mutated = true
		return api7Value(http.StatusOK, o.value)
	case http.MethodDelete:
		if uid == "" {
			return api7Err(http.StatusBadRequest, "missing id")
		}
		if uid == sid {
			return api7Err(http.StatusBadRequest, "the default upstream can only be deleted with its service")
		}
		if !g.st.del(col, uid, 0, g.now) {
			return api7Err(http.StatusNotFound, "not found")
		}
		g.rec.mutated = true
		return response{status: http.StatusOK, body: map[string]any{}}
	}
	return api7Err(http.StatusMethodNotAllowed, "method not allowed")
}

// api7Credentials serves /consumers/{u}/credentials[/{id}].
func (g *gw) api7Credentials(method, username, cid string, conf any, hasBody bool, args url.Values) response {
	col := "consumers/" + username + "/credentials"
	if _, found := g.st.get("consumers", username); !found {
		return api7Err(http.StatusNotFound, "consumer not found")
	}
	switch method {
	case http.MethodGet:
		if cid == "" {
			return g.api7List(col, args)
		}
		o, ok := g.st.get(col, cid)
		if !ok {
			return api7Err(http.StatusNotFound, "not found")
		}
		return api7Value(http.StatusOK, o.value)
	case http.MethodPut:
		m, isMap := conf.(map[string]any)
		if cid == "" || !hasBody || !isMap {
			return api7Err(http.StatusBadRequest, "invalid configuration: the body must be a JSON object")
		}
		m = copyMap(m)
		delete(m, "created_at")
		delete(m, "updated_at")
		if v, ok := m["id"]; ok {
			if s, _ := idString(v); s != cid {
				return api7Err(http.StatusBadRequest, "the id in the body does not match the URL")
			}
		}
		if err := g.e.api7s.credential.validate(m, vopts{fill: true, scalarsOnly: true}); err != nil {
			return api7Err(http.StatusBadRequest, api7Message(err.Error()))
		}
		if err := g.checkPlugins(deepCopy(m["plugins"]), true); err != nil {
			return fromErr(&apiErr{status: err.status, body: err.body, noV3: true})
		}
		pm, _ := m["plugins"].(map[string]any)
		for name := range pm {
			if p := g.e.plugins.byName[name]; p == nil || !p.def.auth {
				return api7Err(http.StatusBadRequest, "only supports auth type plugins in consumer credential")
			}
		}
		if err := g.checkDuplicateKeys(m, col+"/"+cid); err != nil {
			return fromErr(&apiErr{status: err.status, body: err.body, noV3: true})
		}
		m["id"] = cid
		g.api7Times(col, cid, m)
		o, _ := g.st.put(col, cid, m, 0, g.now)
		g.rec.mutated = true
		return api7Value(http.StatusOK, o.value)
	case http.MethodDelete:
		if !g.st.del(col, cid, 0, g.now) {
			return api7Err(http.StatusNotFound, "not found")
		}
		g.rec.mutated = true
		return response{status: http.StatusOK, body: map[string]any{}}
	}
	return api7Err(http.StatusMethodNotAllowed, "method not allowed")
}

// api7ConfigsValidate is POST /configs/validate (API7 ≥ 3.9.10).
func (g *gw) api7ConfigsValidate(body []byte) response {
	conf, err := decodeJSON(body)
	if err != nil {
		return api7Err(http.StatusBadRequest, "invalid request body: "+err.Error())
	}
	m, _ := conf.(map[string]any)
	if m == nil {
		return api7Err(http.StatusBadRequest, "invalid request body: expected an object")
	}
	s := g.e.api7s
	schemas := map[string]*schema{
		"routes": s.route, "services": s.service, "consumers": s.consumer, "ssls": s.ssl,
		"global_rules": s.globalRule, "stream_routes": s.streamRoute,
	}
	var errs []any
	for _, typ := range []string{"services", "routes", "stream_routes", "consumers", "ssls", "global_rules", "plugin_metadata"} {
		items, _ := m[typ].([]any)
		for i, item := range items {
			im, _ := deepCopy(item).(map[string]any)
			msg := ""
			switch {
			case im == nil:
				msg = "invalid configuration: wrong type: expected object, got " + luaType(item)
			case typ == "plugin_metadata":
				id, _ := im["id"].(string)
				if g.e.plugins.byName[id] == nil {
					msg = "invalid plugin name"
				}
			default:
				for _, f := range []string{"route_id", "service_id", "stream_route_id"} {
					if typ == f[:len(f)-3]+"s" {
						delete(im, f)
					}
				}
				if typ == "services" && im["type"] == "stream" {
					if e := g.api7Validate(s.streamService, im); e != nil {
						msg = e.body.(map[string]any)["error_msg"].(string)
					}
				} else if e := g.api7Validate(schemas[typ], im); e != nil {
					msg = e.body.(map[string]any)["error_msg"].(string)
				}
			}
			if msg != "" {
				errs = append(errs, map[string]any{"resource_type": typ, "index": jsonInt(i), "error": msg})
			}
		}
	}
	if len(errs) == 0 {
		return response{status: http.StatusOK, body: map[string]any{}}
	}
	return response{status: http.StatusBadRequest, body: map[string]any{"error_msg": "Configuration validation failed", "errors": errs}}
}
