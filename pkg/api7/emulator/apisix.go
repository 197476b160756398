package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// resource describes one collection of the Admin API.
type resource struct {
	name        string          // URL segment and etcd directory
	kind        string          // used in messages: "route", "global rule"
	unsupported map[string]bool // HTTP methods answered with 405
	noID        bool            // consumers: the id is the username
	noTimes     bool            // plugin_metadata: no create_time/update_time
}

func resources() map[string]*resource {
	set := func(ms ...string) map[string]bool {
		m := map[string]bool{}
		for _, x := range ms {
			m[x] = true
		}
		return m
	}
	rs := []*resource{
		{name: "routes", kind: "route"},
		{name: "services", kind: "service"},
		{name: "upstreams", kind: "upstream"},
		{name: "consumers", kind: "consumer", unsupported: set("POST", "PATCH"), noID: true},
		{name: "ssls", kind: "ssl"},
		{name: "global_rules", kind: "global rule", unsupported: set("POST")},
		{name: "plugin_configs", kind: "plugin config", unsupported: set("POST")},
		{name: "consumer_groups", kind: "consumer group", unsupported: set("POST")},
		{name: "plugin_metadata", kind: "plugin_metadata", unsupported: set("POST", "PATCH"), noTimes: true},
		{name: "protos", kind: "proto", unsupported: set("PATCH")},
		{name: "secrets", kind: "secret", unsupported: set("POST")},
		{name: "stream_routes", kind: "stream route", unsupported: set("PATCH")},
	}
	out := make(map[string]*resource, len(rs))
	for _, r := range rs {
		out[r.name] = r
	}
	return out
}

// credentialResource describes /consumers/{username}/credentials.
func credentialResource() *resource {
	return &resource{name: "credentials", kind: "credential", unsupported: map[string]bool{"POST": true, "PATCH": true}}
}

// gw is the context of one request against one gateway's store.
type gw struct {
	e   *Emulator
	st  *store
	now time.Time
	// api7 selects API7 Enterprise's dialect of the runtime API.
	api7 bool
	// noRefs skips reference lookups (configs/validate).
	noRefs bool
	// ttl is the ?ttl= lease of a write (0: none).
	ttl time.Duration
	rec *recorder
}

// route serves a request whose latency, hooks and faults are done.
func (e *Emulator) route(w *recorder, r *http.Request, body []byte, identity string) {
	if e.cfg.backend == BackendAPI7EE {
		e.serveAPI7(w, r, body, identity)
		return
	}
	e.serveAPISIX(w, r, body)
}

func (e *Emulator) serveAPISIX(w *recorder, r *http.Request, body []byte) {
	if r.Method == http.MethodTrace {
		w.Header().Set("Server", "nginx")
		nginxPage(w, r, http.StatusMethodNotAllowed)
		return
	}
	e.serverHeader(w)
	p := r.URL.Path
	if p == "/apisix/admin" {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			return
		}
		nginxPage(w, r, http.StatusNotFound)
		return
	}
	segs, ok := splitPath(p, "/apisix/admin/")
	if !ok {
		nginxPage(w, r, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Expose-Headers", "*")
		w.Header().Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete:
	default:
		nginxPage(w, r, http.StatusNotFound)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if err := e.checkAPISIXToken(r); err != nil {
		writeErr(w, err)
		return
	}
	if len(segs) == 0 {
		// GET /apisix/admin/: a Lua error in APISIX's router.
		nginxPage(w, r, http.StatusInternalServerError)
		return
	}
	e.dataMu.Lock()
	g := &gw{e: e, st: e.gw, now: e.cfg.now(), rec: w}
	g.st.expire(g.now)
	resp := g.dispatch(r, segs, body)
	e.dataMu.Unlock()
	resp.write(w)
}

// response is a computed answer, written after the store lock is released.
type response struct {
	status int
	body   any // JSON value; a string is sent as is
	raw    bool
	v3     bool
	empty  bool // no body at all
	nginx  bool // an nginx HTML error page
	r      *http.Request
	json   []byte // a pre-encoded JSON body (lists), sent as is
}

func (resp response) write(w http.ResponseWriter) {
	switch {
	case resp.nginx:
		nginxPage(w, resp.r, resp.status)
	case resp.empty:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		if resp.v3 {
			h.Set("X-API-VERSION", "v3")
		}
		w.WriteHeader(resp.status)
	case resp.raw:
		s, _ := resp.body.(string)
		writeRaw(w, resp.status, s, "application/json", resp.v3)
	case resp.json != nil:
		h := w.Header()
		h.Set("Content-Type", "application/json")
		if resp.v3 {
			h.Set("X-API-VERSION", "v3")
		}
		h.Set("Content-Length", strconv.Itoa(len(resp.json)))
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.json)
	default:
		writeJSON(w, resp.status, resp.body, resp.v3)
	}
}

func fromErr(e *apiErr) response {
	_, raw := e.body.(string)
	return response{status: e.status, body: e.body, raw: raw, v3: !e.noV3}
}

func ok(status int, body any) response { return response{status: status, body: body, v3: true} }

// dispatch is APISIX's admin router (apisix/admin/init.lua: run) after
// authentication.
func (g *gw) dispatch(r *http.Request, segs []string, body []byte) response {
	res := segs[0]
	switch {
	case res == "plugins" && len(segs) == 2 && segs[1] == "list" && r.Method == http.MethodGet:
		return g.pluginsList(r)
	case res == "schema" && len(segs) >= 2 && segs[1] == "validate" && r.Method == http.MethodPost:
		return g.schemaValidate(segs[2:], body)
	case res == "configs" && len(segs) == 2 && segs[1] == "validate" && r.Method == http.MethodPost && !g.e.ver.less(version{3, 17, 0}):
		// Before 3.17 (3.15 in standalone mode only) there is no such
		// endpoint: "configs" is an unknown resource, answered below.
		return g.configsValidate(body)
	case res == "plugins" && len(segs) == 2 && segs[1] == "reload" && r.Method == http.MethodPut:
		return response{status: 200, body: "done", raw: true}
	}
	if res == "stream_routes" && !g.e.cfg.streamMode {
		return fromErr(&apiErr{status: 400, noV3: true, body: map[string]any{"error_msg": "stream mode is disabled, can not add stream routes"}})
	}
	switch res {
	case "plugins":
		if r.Method != http.MethodGet {
			return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "not found"}})
		}
		return g.pluginSchema(r, segs[1:])
	case "schema":
		if r.Method != http.MethodGet {
			return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "not found"}})
		}
		return g.coreSchema(segs[1:])
	}
	rs := g.e.res[res]
	if rs == nil {
		return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "Unsupported resource type: " + res}})
	}
	conf, hasBody, perr := parseBody(body)
	if perr != nil {
		return fromErr(perr)
	}
	args := rawQueryValues(r.URL)
	g.ttl = 0
	if args.Has("ttl") && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		n, err := strconv.ParseFloat(args.Get("ttl"), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fromErr(bad("invalid argument ttl: should be a number"))
		}
		g.ttl = time.Duration(n * float64(time.Second))
	}
	// consumers/{u}/credentials[/{id}]
	if res == "consumers" && len(segs) >= 3 && segs[2] == "credentials" {
		return g.credentials(r, segs[1], segs[3:], conf, hasBody, args)
	}
	var id string
	var sub []string
	if len(segs) > 1 {
		id = segs[1]
		sub = segs[2:]
	}
	if res == "secrets" && id != "" {
		// secrets/{manager}/{id}: the id is "manager/id".
		if len(sub) == 0 {
			if r.Method == http.MethodGet {
				return g.list(rs, id+"/", args)
			}
			id = ""
		} else {
			id = id + "/" + sub[0]
			sub = sub[1:]
		}
	}
	return g.serve(r, rs, id, sub, conf, hasBody, args)
}

// parseBody decodes a request body as APISIX does.
func parseBody(body []byte) (any, bool, *apiErr) {
	if len(body) == 0 {
		return nil, false, nil
	}
	if len(body) > maxBody {
		return nil, false, &apiErr{status: 400, noV3: true, body: map[string]any{
			"error_msg": fmt.Sprintf("invalid request body: request size %d is greater than the maximum size %d allowed", len(body), maxBody)}}
	}
	v, err := decodeJSON(body)
	if err != nil {
		return nil, false, &apiErr{status: 400, noV3: true, body: map[string]any{
			"error_msg": "invalid request body: " + cjsonError(body, err),
			"req_body":  string(body),
		}}
	}
	return v, true, nil
}

// cjsonError words a JSON syntax error roughly as lua-cjson does.
func cjsonError(body []byte, err error) string {
	var se *json.SyntaxError
	pos := 0
	if errors.As(err, &se) {
		pos = int(se.Offset)
	}
	// cjson reports the token it found and its 1-based character position.
	i := pos - 1
	if i < 0 {
		i = 0
	}
	for i < len(body) && (body[i] == ' ' || body[i] == '\n' || body[i] == '\t' || body[i] == '\r') {
		i++
	}
	tok := "T_END"
	if i < len(body) {
		switch body[i] {
		case ',':
			tok = "T_COMMA"
		case ':':
			tok = "T_COLON"
		case '}':
			tok = "T_OBJ_END"
		case ']':
			tok = "T_ARR_END"
		case '{':
			tok = "T_OBJ_BEGIN"
		case '[':
			tok = "T_ARR_BEGIN"
		case '"':
			tok = "T_STRING"
		default:
			tok = "invalid token"
		}
	}
	if tok == "invalid token" {
		return fmt.Sprintf("Expected value but found invalid token at character %d", i+1)
	}
	return fmt.Sprintf("Expected object key string but found %s at character %d", tok, i+1)
}

// serve handles a top-level resource.
func (g *gw) serve(r *http.Request, rs *resource, id string, sub []string, conf any, hasBody bool, args url.Values) response {
	method := r.Method
	if rs.unsupported[method] {
		return fromErr(bad405(method, rs.kind))
	}
	switch method {
	case http.MethodGet:
		if id == "" {
			return g.list(rs, "", args)
		}
		return g.getOne(rs.name, id)
	case http.MethodPut:
		return g.put(r, rs, rs.name, id, conf, hasBody)
	case http.MethodPost:
		return g.post(r, rs, id, conf, hasBody)
	case http.MethodPatch:
		return g.patch(rs, id, sub, conf, hasBody)
	case http.MethodDelete:
		return g.del(rs, rs.name, id, args)
	}
	return fromErr(&apiErr{status: 404, noV3: true, body: map[string]any{"error_msg": "not found"}})
}

func bad405(method, kind string) *apiErr {
	return errMsg(http.StatusMethodNotAllowed, "not supported `"+method+"` method for "+kind)
}

// envelope renders a stored object for GET (with indexes) or writes.
func (g *gw) envelope(o *object, withIndex, strip, forWrite bool) map[string]any {
	v := g.present(o.col, o.value, strip, forWrite)
	m := map[string]any{"key": o.key(), "value": v}
	if withIndex {
		m["createdIndex"] = json.Number(strconv.FormatInt(o.created, 10))
		m["modifiedIndex"] = json.Number(strconv.FormatInt(o.modified, 10))
	}
	return m
}

// present turns a stored value into what the Admin API shows: SSL keys
// stripped on reads; plugin secrets and SSL keys encrypted on writes.
func (g *gw) present(col string, v map[string]any, strip, forWrite bool) map[string]any {
	if strip {
		v = stripKeys(v)
	}
	if forWrite && !g.e.cfg.noEncryption {
		v = g.encrypted(col, v)
	}
	return v
}

// encrypted returns a copy of v with the fields APISIX encrypts replaced
// by their ciphertext, as its write responses show them.
func (g *gw) encrypted(col string, v map[string]any) map[string]any {
	consumer := col == "consumers" || strings.HasSuffix(col, "/credentials")
	var out map[string]any
	cp := func() {
		if out == nil {
			out = copyMap(v)
		}
	}
	if plugins, ok := v["plugins"].(map[string]any); ok {
		for name, pc := range plugins {
			p := g.e.plugins.byName[name]
			cfg, isMap := pc.(map[string]any)
			if p == nil || !isMap {
				continue
			}
			fields := p.def.encrypt
			if consumer && p.def.consumer != "" {
				fields = p.def.consumerEncrypt
			}
			for _, f := range fields {
				if s, ok := cfg[f].(string); ok {
					cp()
					out["plugins"].(map[string]any)[name].(map[string]any)[f] = encryptField(s)
				}
			}
		}
	}
	if col == "ssls" {
		if s, ok := v["key"].(string); ok {
			cp()
			out["key"] = encryptField(s)
		}
		if ks, ok := v["keys"].([]any); ok {
			cp()
			enc := make([]any, len(ks))
			for i, k := range ks {
				if s, ok := k.(string); ok {
					enc[i] = encryptField(s)
				} else {
					enc[i] = k
				}
			}
			out["keys"] = enc
		}
	}
	if out == nil {
		return v
	}
	return out
}

func (g *gw) getOne(col, id string) response {
	o, found := g.st.get(col, id)
	if !found {
		return fromErr(keyNotFound())
	}
	it := readItem(o)
	b := make([]byte, len(it)+1)
	copy(b, it)
	b[len(it)] = '\n'
	return response{status: http.StatusOK, json: b, v3: true}
}

// readValue is the stored value as GET shows it (SSL keys stripped),
// encoded once per version of the object.
func readValue(o *object) json.RawMessage {
	if o.enc == nil {
		v := o.value
		if o.col == "ssls" {
			v = stripKeys(v)
		}
		o.enc = marshalCompact(v)
	}
	return o.enc
}

// readItem is the v3 envelope of a read: key, value and the indexes.
func readItem(o *object) json.RawMessage {
	if o.item != nil {
		return o.item
	}
	v := readValue(o)
	key, _ := json.Marshal(o.key())
	b := make([]byte, 0, len(v)+len(key)+64)
	b = append(b, `{"key":`...)
	b = append(b, key...)
	b = append(b, `,"value":`...)
	b = append(b, v...)
	b = append(b, `,"createdIndex":`...)
	b = strconv.AppendInt(b, o.created, 10)
	b = append(b, `,"modifiedIndex":`...)
	b = strconv.AppendInt(b, o.modified, 10)
	b = append(b, '}')
	o.item = b
	return b
}

func stripKeys(v map[string]any) map[string]any {
	_, k := v["key"]
	_, ks := v["keys"]
	if !k && !ks {
		return v
	}
	c := make(map[string]any, len(v))
	for key, x := range v {
		if key != "key" && key != "keys" {
			c[key] = x
		}
	}
	return c
}

// list serves GET on a collection: filters, then key order, or createdIndex
// order when paging.
func (g *gw) list(rs *resource, prefix string, args url.Values) response {
	return g.listCol(rs.name, prefix, args, nil)
}

// listCol lists a collection. keep, when not nil, pre-filters the items
// (API7's service_id parameter).
func (g *gw) listCol(col, prefix string, args url.Values, keep func(*object) bool) response {
	c := g.st.col(col, false)
	page, size, paged, perr := pagination(args)
	if perr != nil {
		return fromErr(perr)
	}
	f, err := newListFilter(args, col, !g.e.ver.less(version{3, 13, 0}))
	if err != nil {
		return fromErr(err)
	}
	var items []json.RawMessage
	total := 0
	if c == nil {
		if paged {
			return listResponse(nil, 0, true, true)
		}
		return listResponse(nil, 0, false, true)
	}
	if f.none() && keep == nil && prefix == "" {
		// The common cases stay O(page) after an O(log n) seek.
		total = c.byKey.Len()
		if paged {
			from, to := pageBounds(page, size)
			if from < 0 || from >= total {
				return listResponse(nil, total, true, true)
			}
			c.byCreated.Ascend(from, func(_ int64, o *object) bool {
				if len(items) >= to-from {
					return false
				}
				items = append(items, readItem(o))
				return true
			})
		} else {
			c.byKey.Ascend(0, func(_ string, o *object) bool {
				items = append(items, readItem(o))
				return true
			})
		}
		return listResponse(items, total, false, true)
	}
	var matched []*object
	walk := func(_ string, o *object) bool {
		if prefix != "" && !strings.HasPrefix(o.id, prefix) {
			return false
		}
		if (keep == nil || keep(o)) && f.match(o.value) {
			matched = append(matched, o)
		}
		return true
	}
	if prefix != "" {
		c.byKey.AscendFrom(prefix, walk)
	} else {
		c.byKey.Ascend(0, walk)
	}
	total = len(matched)
	if paged {
		sort.SliceStable(matched, func(i, j int) bool { return matched[i].created < matched[j].created })
		from, to := pageBounds(page, size)
		if from < 0 || from >= total {
			return listResponse(nil, total, true, true)
		}
		if to > total {
			to = total
		}
		matched = matched[from:to]
	}
	for _, o := range matched {
		items = append(items, readItem(o))
	}
	return listResponse(items, total, false, true)
}

// listResponse encodes {"list":[...],"total":N} from pre-encoded items
// without re-validating them; emptyObject renders an empty list as {} (the
// empty page of APISIX's paged lists).
func listResponse(items []json.RawMessage, total int, emptyObject, v3 bool) response {
	n := 32
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"list":`...)
	if len(items) == 0 && emptyObject {
		b = append(b, "{}"...)
	} else {
		b = append(b, '[')
		for i, it := range items {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, it...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, "}\n"...)
	return response{status: http.StatusOK, json: b, v3: v3}
}

// pagination reads page and page_size as APISIX's v3 adapter does: paging
// only when both are numbers.
func pagination(args url.Values) (page, size float64, paged bool, err *apiErr) {
	ps, pss := args.Get("page"), args.Get("page_size")
	if !args.Has("page") || !args.Has("page_size") {
		return 0, 0, false, nil
	}
	p, e1 := strconv.ParseFloat(strings.TrimSpace(ps), 64)
	s, e2 := strconv.ParseFloat(strings.TrimSpace(pss), 64)
	if e1 != nil || e2 != nil || math.IsNaN(p) || math.IsNaN(s) {
		return 0, 0, false, nil
	}
	if s < 10 || s > 500 {
		return 0, 0, false, &apiErr{status: 400, body: "page_size must be between 10 and 500"}
	}
	if p < 1 {
		p = 1
	}
	return p, s, true, nil
}

// pageBounds returns the 0-based half-open range of a page.
func pageBounds(page, size float64) (from, to int) {
	toF := page * size
	fromF := toF - size
	return int(fromF), int(toF)
}

// listFilter is the v3 adapter's name/label/uri/filter matching.
type listFilter struct {
	name, uri   *regexp.Regexp
	hasName     bool
	hasURI      bool
	label       string
	hasLabel    bool
	refs        map[string]string
	badPatterns bool
}

// refFilter is false before APISIX 3.13, which had no filter= argument
// (it was ignored like any unknown query argument).
func newListFilter(args url.Values, col string, refFilter bool) (listFilter, *apiErr) {
	var f listFilter
	if args.Has("name") {
		f.hasName = true
		f.name, _ = regexp.Compile(args.Get("name"))
	}
	if args.Has("uri") {
		f.hasURI = true
		f.uri, _ = regexp.Compile(args.Get("uri"))
	}
	if args.Has("label") {
		f.hasLabel = true
		f.label = args.Get("label")
	}
	if refFilter && args.Has("filter") && (col == "routes" || col == "stream_routes") {
		q, _ := url.ParseQuery(args.Get("filter"))
		for k := range q {
			if k == "service_id" || k == "upstream_id" {
				if f.refs == nil {
					f.refs = map[string]string{}
				}
				f.refs[k] = q.Get(k)
			}
		}
	}
	return f, nil
}

func (f listFilter) none() bool {
	return !f.hasName && !f.hasURI && !f.hasLabel && f.refs == nil
}

func (f listFilter) match(v map[string]any) bool {
	if f.hasName {
		s, ok := v["name"].(string)
		if !ok || f.name == nil || !f.name.MatchString(s) {
			return false
		}
	}
	if f.hasLabel {
		labels, _ := v["labels"].(map[string]any)
		if _, ok := labels[f.label]; !ok || f.label == "" {
			return false
		}
	}
	if f.hasURI {
		if f.uri == nil {
			return false
		}
		m := false
		if s, ok := v["uri"].(string); ok && f.uri.MatchString(s) {
			m = true
		}
		if us, ok := v["uris"].([]any); ok {
			for _, u := range us {
				if s, ok := u.(string); ok && f.uri.MatchString(s) {
					m = true
				}
			}
		}
		if !m {
			return false
		}
	}
	for k, want := range f.refs {
		s, ok := v[k].(string)
		if !ok || s != want {
			return false
		}
	}
	return true
}

// checkForbidden is APISIX's check on server-managed timestamps.
func checkForbidden(conf map[string]any) *apiErr {
	const pre = "the property is forbidden:  "
	for _, f := range []string{"create_time", "update_time"} {
		if present(conf, f) {
			return bad(pre + f)
		}
	}
	if up, ok := conf["upstream"].(map[string]any); ok {
		for _, f := range []string{"create_time", "update_time"} {
			if present(up, f) {
				return bad(pre + "upstream." + f)
			}
		}
	}
	if pl, ok := conf["plugins"].(map[string]any); ok {
		for _, f := range []string{"create_time", "update_time"} {
			if present(pl, f) {
				return bad(pre + "plugins." + f)
			}
		}
	}
	return nil
}

// present reports whether a key holds a value Lua's `if conf[k]` sees as
// true: JSON null is cjson.null, which is truthy; JSON false is not.
func present(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && v != false
}

// luaCrash is the answer when APISIX's handler dies on a body that is not
// a table (JSON null, a string, a number): nginx's HTML 500.
func luaCrash(r *http.Request) response {
	return response{status: http.StatusInternalServerError, nginx: true, r: r}
}

// put is resource.lua's PUT (col is the etcd directory: rs.name, or a
// consumer's credentials).
func (g *gw) put(r *http.Request, rs *resource, col, id string, conf any, hasBody bool) response {
	if !hasBody {
		return fromErr(bad("missing configurations"))
	}
	m, isMap := asObject(conf)
	if !isMap {
		if _, arr := conf.([]any); !arr {
			return luaCrash(r)
		}
	}
	switch rs.name {
	case "plugin_metadata":
		return g.putPluginMetadata(id, conf, m, isMap)
	case "consumers":
		return g.putConsumer(id, conf, m, isMap)
	}
	var obj any = conf
	if isMap {
		obj = m
	}
	key, err := g.checkIDs(rs, id, m)
	if err != nil {
		return fromErr(err)
	}
	if m != nil {
		if err := checkForbidden(m); err != nil {
			return fromErr(err)
		}
	}
	stored, err := g.check(rs, col, key, obj)
	if err != nil {
		return fromErr(err)
	}
	g.injectTimes(col, key, stored)
	return g.write(col, key, stored)
}

// asObject reports whether v is a JSON object (or an empty array, which
// Lua cannot tell from one).
func asObject(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	if a, ok := v.([]any); ok && len(a) == 0 {
		return map[string]any{}, true
	}
	return nil, false
}

// checkIDs is the id part of resource.lua's check_conf; it returns the key
// the object is stored under and sets conf.id.
func (g *gw) checkIDs(rs *resource, urlID string, conf map[string]any) (string, *apiErr) {
	return g.checkIDsNeed(rs, urlID, conf, true)
}

func (g *gw) checkIDsNeed(rs *resource, urlID string, conf map[string]any, needID bool) (string, *apiErr) {
	var bodyID any
	if conf != nil {
		bodyID = conf["id"]
	}
	var id any
	if urlID != "" {
		id = urlID
	} else if bodyID != nil {
		id = bodyID
	}
	if needID && id == nil {
		return "", bad("missing " + rs.kind + " id")
	}
	if !needID && id != nil {
		return "", bad("wrong " + rs.kind + " id, do not need it")
	}
	if needID && bodyID != nil {
		bs, _ := idString(bodyID)
		is, _ := idString(id)
		if luaString(bodyID) != luaString(id) || bs != is {
			return "", bad("wrong " + rs.kind + " id")
		}
	}
	if !needID {
		return "", nil
	}
	if conf != nil {
		conf["id"] = id
	}
	s, okID := idString(id)
	if !okID {
		// An id of another type: the schema will refuse it.
		s = luaString(id)
	}
	return s, nil
}

// injectTimes is utils.inject_timestamp for PUT: keep the previous
// create_time, set update_time to now.
func (g *gw) injectTimes(col, id string, conf map[string]any) {
	now := json.Number(strconv.FormatInt(g.now.Unix(), 10))
	if _, ok := conf["create_time"]; !ok {
		if old, found := g.st.get(col, id); found && old.value["create_time"] != nil {
			conf["create_time"] = old.value["create_time"]
		} else {
			conf["create_time"] = now
		}
	}
	if _, ok := conf["update_time"]; !ok {
		conf["update_time"] = now
	}
}

// write stores a value and answers 201 (created) or 200 (replaced).
func (g *gw) write(col, id string, value map[string]any) response {
	o, created := g.st.put(col, id, value, g.e.cfg.deleteLag, g.now)
	if g.ttl > 0 {
		g.st.attachLease(o, g.now.Add(g.ttl))
	}
	g.rec.mutated = true
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return ok(status, g.envelope(o, false, false, true))
}

// post is resource.lua's POST: a generated 20-digit id.
func (g *gw) post(r *http.Request, rs *resource, id string, conf any, hasBody bool) response {
	if !hasBody {
		return fromErr(bad("missing configurations"))
	}
	m, isMap := asObject(conf)
	var obj any = conf
	if isMap {
		obj = m
	} else if _, arr := conf.([]any); !arr {
		return luaCrash(r)
	}
	if _, err := g.checkIDsNeed(rs, id, m, false); err != nil {
		return fromErr(err)
	}
	if m != nil {
		if err := checkForbidden(m); err != nil {
			return fromErr(err)
		}
	}
	stored, err := g.check(rs, rs.name, "", obj)
	if err != nil {
		return fromErr(err)
	}
	genID := fmt.Sprintf("%020d", g.st.nextRev())
	stored["id"] = genID
	now := json.Number(strconv.FormatInt(g.now.Unix(), 10))
	stored["create_time"] = now
	stored["update_time"] = now
	return g.write(rs.name, genID, stored)
}

// patch is resource.lua's PATCH: merge (or sub-path replace), then a full
// check.
func (g *gw) patch(rs *resource, id string, sub []string, conf any, hasBody bool) response {
	if id == "" {
		return fromErr(bad("missing " + rs.kind + " id"))
	}
	if !hasBody {
		return fromErr(bad("missing new configuration"))
	}
	subPath := strings.Join(sub, "/")
	if subPath == "" {
		if _, isMap := asObject(conf); !isMap {
			if _, arr := conf.([]any); !arr {
				return fromErr(bad("invalid configuration"))
			}
		}
	}
	old, found := g.st.get(rs.name, id)
	if !found {
		return fromErr(keyNotFound())
	}
	node := copyMap(old.value)
	var patchConf map[string]any
	if subPath != "" {
		var perr *apiErr
		node, perr = patchSubPath(node, sub, conf)
		if perr != nil {
			return fromErr(perr)
		}
	} else {
		patchConf, _ = asObject(conf)
		if a, isArr := conf.([]any); isArr && len(a) > 0 {
			patchConf = nil
		}
		mergeInto(node, patchConf)
	}
	now := json.Number(strconv.FormatInt(g.now.Unix(), 10))
	if _, ok := node["create_time"]; !ok {
		node["create_time"] = now
	}
	if _, ok := node["update_time"]; !ok || subPath != "" || patchConf == nil || !present(patchConf, "update_time") {
		node["update_time"] = now
	}
	key, err := g.checkIDs(rs, id, node)
	if err != nil {
		return fromErr(err)
	}
	stored, err := g.check(rs, rs.name, key, node)
	if err != nil {
		return fromErr(err)
	}
	return g.write(rs.name, key, stored)
}

// patchSubPath is core.table.patch.
func patchSubPath(node map[string]any, sub []string, conf any) (map[string]any, *apiErr) {
	cur := node
	for i := 0; i < len(sub)-1; i++ {
		name := sub[i]
		next, exists := cur[name]
		if !exists || next == nil {
			nm := map[string]any{}
			cur[name] = nm
			cur = nm
			continue
		}
		nm, isMap := next.(map[string]any)
		if !isMap {
			if a, isArr := next.([]any); isArr && len(a) == 0 {
				nm = map[string]any{}
				cur[name] = nm
			} else {
				return nil, bad("invalid sub-path: /" + strings.Join(sub[:i+1], "/"))
			}
		}
		cur = nm
	}
	last := sub[len(sub)-1]
	if last == "" {
		m, isMap := conf.(map[string]any)
		if !isMap {
			return nil, bad("invalid configuration")
		}
		return m, nil
	}
	cur[last] = conf
	return node, nil
}

// mergeInto is core.table.merge: objects merge, null deletes, everything
// else (arrays included) replaces.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		switch x := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			if d, ok := dst[k].(map[string]any); ok {
				mergeInto(d, x)
			} else if a, isArr := dst[k].([]any); isArr && len(a) == 0 {
				nm := map[string]any{}
				mergeInto(nm, x)
				dst[k] = nm
			} else {
				dst[k] = deepCopy(x)
			}
		default:
			dst[k] = deepCopy(x)
		}
	}
}

// del is resource.lua's DELETE.
func (g *gw) del(rs *resource, col, id string, args url.Values) response {
	if id == "" {
		return fromErr(bad("missing " + rs.kind + " id"))
	}
	if args.Get("force") != "true" {
		if err := g.deleteCheck(rs.name, id); err != nil {
			return fromErr(err)
		}
	}
	if rs.name == "consumers" {
		g.dropCredentials(id)
	}
	o, found := g.st.get(col, id)
	if !found {
		return fromErr(keyNotFound())
	}
	key := o.key()
	g.st.del(col, id, g.e.cfg.deleteLag, g.now)
	g.rec.mutated = true
	return ok(http.StatusOK, map[string]any{"deleted": "1", "key": key})
}

// upstreamDeleteCheck is the delete check of apisix/admin/upstreams.lua
// (3.x): for each route, then each service, a traffic-split plugin naming
// the upstream ("plugin in route [r]") or its upstream_id ("route [r]");
// then stream routes' upstream_id; then the traffic-split plugins of plugin
// configs, consumers, consumer groups and global rules.
func (g *gw) upstreamDeleteCheck(id string) *apiErr {
	direct := g.st.referrers("upstreams/"+id, g.now)
	viaPlugin := g.st.referrers(pluginRefPrefix+"upstreams/"+id, g.now)
	name := func(ref string) string {
		c, rid, _ := strings.Cut(ref, "/")
		if o, ok := g.st.get(c, rid); ok {
			if s, ok := idString(o.value["id"]); ok {
				return s
			}
			if u, ok := o.value["username"].(string); ok {
				return u
			}
		}
		return rid
	}
	inCol := func(list []string, col string) []string {
		var out []string
		for _, r := range list {
			if strings.HasPrefix(r, col+"/") {
				out = append(out, r)
			}
		}
		return out
	}
	for _, c := range []struct{ col, kind string }{{"routes", "route"}, {"services", "service"}} {
		d, p := inCol(direct, c.col), inCol(viaPlugin, c.col)
		if len(d)+len(p) == 0 {
			continue
		}
		// The first object in key order decides; its plugin is checked
		// before its upstream_id.
		all := append(append([]string(nil), d...), p...)
		sort.Strings(all)
		if slices.Contains(p, all[0]) {
			return bad("can not delete this upstream, plugin in " + c.kind + " [" + name(all[0]) + "] is still using it now")
		}
		return bad("can not delete this upstream, " + c.kind + " [" + name(all[0]) + "] is still using it now")
	}
	// Stream routes are not checked: APISIX's upstream delete_checker looks
	// at routes, services and the plugins of plugin configs, consumers,
	// consumer groups and global rules only (reference §1.3), so deleting an
	// upstream a stream route names succeeds and leaves the reference
	// dangling.
	for _, c := range []struct{ col, kind string }{
		{"plugin_configs", "plugin_config"}, {"consumers", "consumer"}, {"consumer_groups", "consumer_group"}, {"global_rules", "global_rules"},
	} {
		if p := inCol(viaPlugin, c.col); len(p) > 0 {
			return bad("can not delete this upstream, plugin in " + c.kind + " [" + name(p[0]) + "] is still using it now")
		}
	}
	return nil
}

func (g *gw) dropCredentials(username string) {
	g.st.dropCollection("consumers/"+username+"/credentials", g.e.cfg.deleteLag, g.now)
}

// deleteCheck is the delete_checker of services, upstreams, plugin configs,
// consumer groups and stream routes: references seen through the
// (possibly lagging) cache.
func (g *gw) deleteCheck(col, id string) *apiErr {
	refs := g.st.referrers(col+"/"+id, g.now)
	if col == "upstreams" {
		refs = append(refs, g.st.referrers(pluginRefPrefix+"upstreams/"+id, g.now)...)
	}
	if len(refs) == 0 {
		return nil
	}
	// first names the first referrer in fromCol (key order), by the id
	// APISIX prints (a consumer's username).
	first := func(fromCol string) (string, bool) {
		for _, r := range refs {
			c, rid, _ := strings.Cut(r, "/")
			if c == fromCol {
				if o, ok := g.st.get(c, rid); ok {
					if s, ok := idString(o.value["id"]); ok {
						return s, true
					}
					if u, ok := o.value["username"].(string); ok {
						return u, true
					}
				}
				return rid, true
			}
		}
		return "", false
	}
	switch col {
	case "services":
		if r, ok := first("routes"); ok {
			return bad("can not delete this service directly, route [" + r + "] is still using it now")
		}
		if r, ok := first("stream_routes"); ok {
			return bad("can not delete this service directly, stream_route [" + r + "] is still using it now")
		}
	case "upstreams":
		return g.upstreamDeleteCheck(id)
	case "plugin_configs":
		if r, ok := first("routes"); ok {
			return bad("can not delete this plugin config, route [" + r + "] is still using it now")
		}
	case "consumer_groups":
		if r, ok := first("consumers"); ok {
			return bad("can not delete this consumer group, consumer [" + r + "] is still using it now")
		}
	case "stream_routes":
		if r, ok := first("stream_routes"); ok {
			return bad("can not delete this stream route directly, stream_route [" + r + "] is still using it now")
		}
	}
	return nil
}
