package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// credentials serves /consumers/{username}/credentials[/{id}].
func (g *gw) credentials(r *http.Request, username string, rest []string, conf any, hasBody bool, args url.Values) response {
	rs := credentialResource()
	col := "consumers/" + username + "/credentials"
	if rs.unsupported[r.Method] {
		return fromErr(bad405(r.Method, rs.kind))
	}
	id := ""
	if len(rest) > 0 {
		id = rest[0]
	}
	switch r.Method {
	case http.MethodGet:
		if id == "" {
			if g.st.count(col) == 0 {
				return fromErr(keyNotFound())
			}
			return g.listCol(col, "", args, nil)
		}
		return g.getOne(col, id)
	case http.MethodPut:
		if _, found := g.st.get("consumers", username); !found {
			return fromErr(errMsg(http.StatusNotFound, "consumer not found"))
		}
		return g.put(r, rs, col, id, conf, hasBody)
	case http.MethodDelete:
		return g.del(rs, col, id, args)
	}
	return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "not found"}})
}

// putConsumer is PUT /consumers[/{username}]: the id is the username.
func (g *gw) putConsumer(urlName string, conf any, m map[string]any, isMap bool) response {
	var obj any = conf
	if isMap {
		obj = m
		if err := checkForbidden(m); err != nil {
			return fromErr(err)
		}
	}
	stored, err := g.check(g.e.res["consumers"], "consumers", urlName, obj)
	if err != nil {
		return fromErr(err)
	}
	name, _ := stored["username"].(string)
	g.injectTimes("consumers", name, stored)
	return g.write("consumers", name, stored)
}

// putPluginMetadata is PUT /plugin_metadata/{plugin}: validated against the
// plugin's metadata schema, stored with id = plugin name, no timestamps.
func (g *gw) putPluginMetadata(name string, conf any, m map[string]any, isMap bool) response {
	if name == "" {
		return fromErr(bad("missing plugin name"))
	}
	p := g.e.plugins.byName[name]
	if p == nil {
		return fromErr(bad("invalid plugin name"))
	}
	var obj any = conf
	if isMap {
		obj = m
	}
	work := deepCopy(obj)
	s := p.metadata
	if s == nil {
		s = mustSchema(`{"type":"object"}`)
	}
	if err := g.schemaCheck(s, work); err != nil {
		return fromErr(err)
	}
	stored := m
	if g.e.persist {
		stored, _ = asObject(work)
	}
	stored["id"] = name
	return g.write("plugin_metadata", name, stored)
}

// pluginsList is GET /plugins/list.
func (g *gw) pluginsList(r *http.Request) response {
	sub := rawQueryValues(r.URL).Get("subsystem")
	if sub == "" {
		sub = "http"
	}
	if sub != "http" && sub != "stream" {
		return response{status: 400, body: "invalid subsystem passed", raw: true}
	}
	var names []any
	for _, n := range g.e.plugins.order {
		if g.e.plugins.byName[n].def.stream == (sub == "stream") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		// An empty Lua table encodes as an object.
		return response{status: 200, body: map[string]any{}}
	}
	return response{status: 200, body: names}
}

// pluginSchema is GET /plugins/{name} (and /plugins?all=true).
func (g *gw) pluginSchema(r *http.Request, rest []string) response {
	args := rawQueryValues(r.URL)
	if len(rest) == 0 {
		if args.Get("all") != "true" {
			return fromErr(bad("not found"))
		}
		all := map[string]any{}
		for _, n := range g.e.plugins.order {
			p := g.e.plugins.byName[n]
			all[n] = map[string]any{"priority": jsonInt(p.def.priority), "schema": p.served, "version": json.Number("0.1")}
		}
		return ok(200, all)
	}
	sub := args.Get("subsystem")
	if sub == "" {
		sub = "http"
	}
	p := g.e.plugins.byName[rest[0]]
	if p == nil || p.def.stream != (sub == "stream") {
		return fromErr(errMsg(http.StatusNotFound, "plugin not found in subsystem "+sub))
	}
	if args.Get("schema_type") == "consumer" {
		// apisix/admin/plugins.lua: a plugin without a consumer schema has
		// "not found schema".
		if p.consumer == nil {
			return fromErr(bad("not found schema"))
		}
		return ok(200, p.consumer.raw)
	}
	if args.Get("schema_type") == "metadata" && p.metadata != nil {
		return ok(200, p.metadata.raw)
	}
	return ok(200, p.served)
}

// coreSchema is GET /schema/{name} and /schema/plugins/{name}.
func (g *gw) coreSchema(rest []string) response {
	if len(rest) == 0 {
		return fromErr(bad("not found schema: "))
	}
	if rest[0] == "plugins" && len(rest) > 1 {
		p := g.e.plugins.byName[rest[1]]
		if p == nil {
			return fromErr(errMsg(http.StatusBadRequest, "not found schema: "+rest[1]))
		}
		return ok(200, p.served)
	}
	s, found := g.e.schemas.byName[rest[0]]
	if !found {
		return fromErr(bad("not found schema: " + rest[0]))
	}
	return ok(200, s.raw)
}

// schemaValidate is POST /schema/validate/{resource}: the JSON schema only.
func (g *gw) schemaValidate(rest []string, body []byte) response {
	name := ""
	if len(rest) > 0 {
		name = rest[0]
	}
	s, found := g.schemaFor(name)
	if !found {
		return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "Unsupported resource type: " + name}})
	}
	conf, _, perr := parseBody(body)
	if perr != nil {
		return fromErr(perr)
	}
	if err := s.validate(deepCopy(conf), vopts{fill: true}); err != nil {
		return response{status: 400, body: map[string]any{"error_msg": err.Error()}}
	}
	return response{status: 200, empty: true}
}

// configsValidate is POST /configs/validate: every item checked as a write
// would be, without reference lookups.
func (g *gw) configsValidate(body []byte) response {
	conf, _, perr := parseBody(body)
	if perr != nil {
		return fromErr(perr)
	}
	m, isMap := asObject(conf)
	if !isMap {
		return response{status: 400, body: map[string]any{"error_msg": "invalid request body: expected an object"}}
	}
	g.noRefs = true
	defer func() { g.noRefs = false }()
	order := []string{"routes", "services", "upstreams", "consumers", "ssls", "global_rules", "stream_routes",
		"plugin_metadata", "plugin_configs", "consumer_groups", "protos", "secrets"}
	var errs []any
	for _, typ := range order {
		items, _ := m[typ].([]any)
		for i, item := range items {
			id, msg := g.validateItem(typ, item)
			if msg == "" {
				continue
			}
			e := map[string]any{"resource_type": typ, "index": jsonInt(i), "error": msg}
			if id != "" {
				e["resource_id"] = id
			}
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return response{status: 200, body: map[string]any{}}
	}
	return response{status: 400, body: map[string]any{"error_msg": "Configuration validation failed", "errors": errs}}
}

// validateItem checks one item of a configs/validate body; it returns the
// item's id and the error message ("" when valid).
func (g *gw) validateItem(typ string, item any) (string, string) {
	im, _ := asObject(item)
	id := ""
	if s, ok := idString(im["id"]); ok {
		id = s
	}
	if typ == "consumers" {
		id, _ = im["username"].(string)
	}
	var err *apiErr
	switch typ {
	case "plugin_metadata":
		p := g.e.plugins.byName[id]
		if p == nil {
			err = bad("invalid plugin name")
			break
		}
		body := copyMap(im)
		delete(body, "id")
		if p.metadata != nil {
			err = g.schemaCheck(p.metadata, body)
		}
	case "consumers":
		work := copyMap(im)
		err = g.checkConsumer("", work)
	default:
		rs := g.e.res[typ]
		if rs == nil {
			return id, ""
		}
		if im != nil {
			if e := checkForbidden(im); e != nil {
				err = e
				break
			}
		}
		_, err = g.check(rs, typ, id, deepCopy(item))
	}
	if err == nil {
		return id, ""
	}
	if m, ok := err.body.(map[string]any); ok {
		s, _ := m["error_msg"].(string)
		return id, s
	}
	return id, strconv.Quote(luaString(err.body))
}
