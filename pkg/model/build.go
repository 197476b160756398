package model

import (
	"fmt"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// decl is one resource declared in a file, with what the checks across
// files need.
type decl struct {
	// res points into the file's resources (builder.made), which are not
	// moved once emitted.
	res   *Resource
	label string // for error messages: `route "orders/list"`
	// scope and name give the name that must be unique: two services (or
	// two routes of one service…) may not share a name even when explicit
	// IDs differ, because ADC keys them by name.
	scope string
	name  string
	// valid is false for a resource with errors of its own: it still takes
	// part in the duplicate checks (so that every mistake shows at once),
	// not in the others.
	valid bool
}

// fileResult is what one file yields.
type fileResult struct {
	decls []decl
	errs  []*Error
	ioErr error
}

// convertFile converts one parsed file into declarations.
func convertFile(file string, doc *yaml.Node, env func(string) (string, bool), anchors bool) fileResult {
	if doc == nil || len(doc.Content) == 0 {
		return fileResult{}
	}
	c := &conv{file: file, env: env, aliasLeft: minAliasBudget}
	if anchors {
		own, expanded, cyclic := expansion(doc)
		c.aliasLeft = max(minAliasBudget, own)
		switch {
		case cyclic:
			return fileResult{errs: []*Error{{File: file, Line: 1, Message: "a YAML alias refers to a node that contains it"}}}
		case expanded-own > c.aliasLeft:
			return fileResult{errs: []*Error{{File: file, Line: 1, Message: fmt.Sprintf("YAML aliases expand to too many values (more than %d)", c.aliasLeft)}}}
		}
	}
	var out []decl
	root := c.deref(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return fileResult{} // a file of comments only
	}
	if root.Kind != yaml.MappingNode {
		c.errAt(root.Line, "a configuration file must be a mapping of services, ssls, consumers, consumer_groups, global_rules and plugin_metadata")
		return fileResult{errs: c.errs}
	}
	b := &builder{conv: c}
	if n := countDecls(root); n > 0 {
		b.made = make([]Resource, 0, n)
		b.out = make([]decl, 0, n)
	}
	for _, p := range c.pairs(root) {
		if c.aborted {
			break
		}
		b.begin("")
		switch p.key {
		case "services":
			b.each(p, func(i int, n *yaml.Node) { b.service(i, n) })
		case "ssls":
			b.each(p, func(i int, n *yaml.Node) { b.ssl(i, n) })
		case "consumers":
			b.each(p, func(i int, n *yaml.Node) { b.consumer(fmt.Sprintf("consumers[%d]", i), n, Key{}, "") })
		case "consumer_groups":
			b.each(p, func(i int, n *yaml.Node) { b.consumerGroup(i, n) })
		case "global_rules":
			b.pluginMap(p, KindGlobalRule)
		case "plugin_metadata":
			b.pluginMap(p, KindPluginMetadata)
		case "routes", "stream_routes", "upstreams", "plugin_configs", "consumer_credentials":
			c.errAt(p.k.Line, "top-level %q is not part of ADC's file format: declare them inside their service or consumer", p.key)
		default:
			c.errAt(p.k.Line, "unknown key %q (expected services, ssls, consumers, consumer_groups, global_rules or plugin_metadata)", p.key)
		}
	}
	out = b.out
	if len(c.errs) > 0 {
		return fileResult{decls: out, errs: c.errs}
	}
	return fileResult{decls: out}
}

// countDecls counts the resources a file's root mapping declares, at most,
// from the lengths of its lists, so that they are stored without growing
// their slices. Aliases and odd shapes may make it wrong: it only sizes.
func countDecls(root *yaml.Node) int {
	length := func(n *yaml.Node) int {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		switch {
		case n == nil:
			return 0
		case n.Kind == yaml.MappingNode:
			return len(n.Content) / 2
		case n.Kind == yaml.SequenceNode:
			return len(n.Content)
		}
		return 0
	}
	total := 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		list := root.Content[i+1]
		for list != nil && list.Kind == yaml.AliasNode {
			list = list.Alias
		}
		total += length(list)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range list.Content {
			for item != nil && item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item == nil || item.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(item.Content); j += 2 {
				switch item.Content[j].Value {
				case "routes", "stream_routes", "upstreams", "credentials", "consumers":
					total += length(item.Content[j+1])
				}
			}
		}
	}
	return total
}

// builder turns the top-level collections of one file into declarations.
type builder struct {
	*conv
	made []Resource // the resources of the declarations in out
	out  []decl
}

// each walks a top-level list.
func (b *builder) each(p pair, fn func(int, *yaml.Node)) {
	n := b.deref(p.v)
	if n.Kind != yaml.SequenceNode {
		b.errAt(p.v.Line, "%s must be a list", p.key)
		return
	}
	for i, item := range n.Content {
		if b.aborted {
			return
		}
		fn(i, item)
	}
}

// begin starts converting one resource: errors get its label, pointers
// start from its root.
func (b *builder) begin(label string) {
	b.res = label
	b.path = b.path[:0]
	b.secrets = nil
}

// takeSecrets returns the pointers recorded for the current resource.
func (b *builder) takeSecrets() []string {
	s := b.secrets
	b.secrets = nil
	return s
}

// peekName reads a name-like scalar of mapping n without converting it,
// for labels: it returns "" when the name is absent, not a plain string, or
// built from variables (whose values must not appear in messages).
func (b *builder) peekName(n *yaml.Node, field string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != field {
			continue
		}
		v := b.deref(n.Content[i+1])
		if v == nil || v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || v.Value == "" || strings.Contains(v.Value, "${") || len(v.Value) > 256 {
			return ""
		}
		return v.Value
	}
	return ""
}

// peekSNIs is peekName for an SSL's snis.
func (b *builder) peekSNIs(n *yaml.Node) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "snis" {
			continue
		}
		v := b.deref(n.Content[i+1])
		if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return ""
		}
		parts := make([]string, 0, len(v.Content))
		for _, s := range v.Content {
			s = b.deref(s)
			if s.Kind != yaml.ScalarNode || strings.Contains(s.Value, "${") || s.Value == "" {
				return ""
			}
			parts = append(parts, s.Value)
		}
		return strings.Join(parts, ",")
	}
	return ""
}

func label(kind Kind, name, fallback string) string {
	if name == "" {
		return string(kind) + " " + fallback
	}
	return string(kind) + " " + strconv.Quote(name) // as %q, without fmt's cost: one per resource
}

// mapping checks that n is a mapping, reporting it otherwise.
func (b *builder) mapping(n *yaml.Node, where string) (*yaml.Node, bool) {
	d := b.deref(n)
	if d == nil || d.Kind != yaml.MappingNode {
		b.errAt(n.Line, "%s must be an object", where)
		return nil, false
	}
	return d, true
}

// str returns the string at key in m ("" when absent).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// takeID removes an explicit id from body and returns it, or derived.
func takeID(body map[string]any, derived string) string {
	if id, ok := body["id"].(string); ok {
		delete(body, "id")
		return id
	}
	return derived
}

// emit records a declaration: all whose name is known take part in the
// duplicate checks; ok says whether it was valid.
func (b *builder) emit(r Resource, d decl, ok bool) {
	if d.name == "" || r.Key.ID == "" {
		return
	}
	b.made = append(b.made, r)
	d.res = &b.made[len(b.made)-1] // a later growth copies the array; this one stays valid and unchanged
	d.valid = ok
	b.out = append(b.out, d)
}

func (b *builder) service(i int, item *yaml.Node) {
	where := "services[" + strconv.Itoa(i) + "]"
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	name := b.peekName(n, "name")
	b.begin(label(KindService, name, where))
	body, nested, ok := b.object(n, sService)
	if b.aborted {
		return
	}
	svcName := str(body, "name")
	if svcName == "" {
		ok = false
	}
	if u, has := body["upstream"].(map[string]any); has {
		upstreamDefaults(u)
	}
	if nested["routes"] != nil && nested["stream_routes"] != nil {
		b.errAt(n.Line, "routes and stream_routes cannot be in the same service")
		ok = false
	}
	// An upstream that is there but invalid was reported already: saying it
	// is missing too would mislead.
	if nested["upstreams"] != nil && body["upstream"] == nil && !hasKey(b.pairs(n), "upstream") {
		b.errAt(n.Line, "upstreams needs a default upstream in upstream")
		ok = false
	}
	key := Key{Kind: KindService, ID: takeID(body, ServiceID(svcName))}
	svcLabel := b.res
	b.emit(Resource{Key: key, Name: svcName, Body: body, Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets()}, decl{
		label: svcLabel, scope: "service", name: svcName,
	}, ok)
	if svcName == "" {
		key = Key{} // children are still checked, never emitted
	}
	parentName := name
	if parentName == "" {
		parentName = where
	}
	b.children(nested["routes"], where+".routes", "routes", func(j int, cn *yaml.Node, cwhere string) {
		b.child(cn, cwhere, KindRoute, sRoute, parentName, svcName, key)
	})
	b.children(nested["stream_routes"], where+".stream_routes", "stream_routes", func(j int, cn *yaml.Node, cwhere string) {
		b.child(cn, cwhere, KindStreamRoute, sStreamRoute, parentName, svcName, key)
	})
	b.children(nested["upstreams"], where+".upstreams", "upstreams", func(j int, cn *yaml.Node, cwhere string) {
		b.child(cn, cwhere, KindUpstream, sExtraUpstream, parentName, svcName, key)
	})
}

// children walks a nested list of a resource.
func (b *builder) children(n *yaml.Node, where, field string, fn func(int, *yaml.Node, string)) {
	if n == nil || b.aborted {
		return
	}
	d := b.deref(n)
	if d.Kind != yaml.SequenceNode {
		b.path = b.path[:0]
		b.errAt(n.Line, "%s must be a list", field)
		return
	}
	for j, cn := range d.Content {
		if b.aborted {
			return
		}
		fn(j, cn, where+"["+strconv.Itoa(j)+"]")
	}
}

// child converts a route, stream route or extra upstream of a service.
func (b *builder) child(item *yaml.Node, where string, kind Kind, s *schema, parentLabel, svcName string, parent Key) {
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	name := b.peekName(n, "name")
	lbl := where
	if name != "" {
		lbl = ""
	}
	b.begin(label(kind, joinName(parentLabel, name), lbl))
	body, _, ok := b.object(n, s)
	if b.aborted {
		return
	}
	childName := str(body, "name")
	if childName == "" || svcName == "" || parent.IsZero() {
		ok = false
	}
	if kind == KindUpstream {
		upstreamDefaults(body)
	}
	var id string
	switch kind {
	case KindUpstream:
		id = takeID(body, UpstreamID(svcName, childName))
	default:
		id = takeID(body, RouteID(svcName, childName))
	}
	b.emit(Resource{
		Key: Key{Kind: kind, ID: id}, Name: childName, Parent: parent, Body: body,
		Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets(),
	}, decl{
		label: b.res, scope: string(kind) + "\x00" + svcName, name: childName,
	}, ok)
}

func joinName(parent, name string) string {
	if name == "" {
		return ""
	}
	return parent + "/" + name
}

func (b *builder) ssl(i int, item *yaml.Node) {
	where := fmt.Sprintf("ssls[%d]", i)
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	b.begin(label(KindSSL, b.peekSNIs(n), where))
	body, _, ok := b.object(n, sSSL)
	if b.aborted {
		return
	}
	var snis []string
	if list, has := body["snis"].([]any); has {
		for _, s := range list {
			snis = append(snis, s.(string))
		}
	} else {
		ok = false
	}
	if _, has := body["type"]; !has {
		body["type"] = "server"
	}
	if cl, has := body["client"].(map[string]any); has {
		setDefault(cl, "depth", 1.0)
	}
	name := strings.Join(snis, ",")
	b.emit(Resource{
		Key: Key{Kind: KindSSL, ID: takeID(body, SSLID(snis))}, Name: name, Body: body,
		Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets(),
	}, decl{
		label: b.res, scope: "ssl", name: name,
	}, ok)
}

// consumer converts a consumer, top level or inside a group (parent).
func (b *builder) consumer(where string, item *yaml.Node, parent Key, groupName string) {
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	name := b.peekName(n, "username")
	b.begin(label(KindConsumer, name, where))
	body, nested, ok := b.object(n, sConsumer)
	if b.aborted {
		return
	}
	username := str(body, "username")
	if username == "" || (groupName != "" && parent.IsZero()) {
		ok = false
	}
	key := Key{Kind: KindConsumer, ID: username}
	b.emit(Resource{
		Key: key, Name: username, Parent: parent, Body: body,
		Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets(),
	}, decl{
		label: b.res, scope: "consumer", name: username,
	}, ok)
	if username == "" {
		key = Key{}
	}
	parentLabel := name
	if parentLabel == "" {
		parentLabel = where
	}
	b.children(nested["credentials"], where+".credentials", "credentials", func(j int, cn *yaml.Node, cwhere string) {
		b.credential(cn, cwhere, parentLabel, username, key)
	})
}

func (b *builder) credential(item *yaml.Node, where, parentLabel, username string, parent Key) {
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	name := b.peekName(n, "name")
	lbl := where
	if name != "" {
		lbl = ""
	}
	b.begin(label(KindCredential, joinName(parentLabel, name), lbl))
	body, _, ok := b.object(n, sCredential)
	if b.aborted {
		return
	}
	credName := str(body, "name")
	if credName == "" || parent.IsZero() {
		ok = false
	}
	b.emit(Resource{
		Key:  Key{Kind: KindCredential, Consumer: username, ID: takeID(body, CredentialID(username, credName))},
		Name: credName, Parent: parent, Body: body,
		Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets(),
	}, decl{
		label: b.res, scope: "credential\x00" + username, name: credName,
	}, ok)
}

func (b *builder) consumerGroup(i int, item *yaml.Node) {
	where := fmt.Sprintf("consumer_groups[%d]", i)
	n, ok := b.mapping(item, where)
	if !ok {
		return
	}
	name := b.peekName(n, "name")
	b.begin(label(KindConsumerGroup, name, where))
	body, nested, ok := b.object(n, sConsumerGroup)
	if b.aborted {
		return
	}
	groupName := str(body, "name")
	if groupName == "" {
		ok = false
	}
	key := Key{Kind: KindConsumerGroup, ID: takeID(body, ConsumerGroupID(groupName))}
	b.emit(Resource{Key: key, Name: groupName, Body: body, Origin: Origin{File: b.file, Line: n.Line}, Secrets: b.takeSecrets()}, decl{
		label: b.res, scope: "consumer_group", name: groupName,
	}, ok)
	if groupName == "" {
		key = Key{}
	}
	gname := groupName
	if gname == "" {
		gname = where
	}
	b.children(nested["consumers"], where+".consumers", "consumers", func(j int, cn *yaml.Node, cwhere string) {
		b.consumer(cwhere, cn, key, gname)
	})
}

// pluginMap converts global_rules or plugin_metadata: a map of plugin name
// to configuration.
func (b *builder) pluginMap(p pair, kind Kind) {
	n := b.deref(p.v)
	if n.Kind != yaml.MappingNode {
		b.begin("")
		b.errAt(p.v.Line, "%s must be an object of plugin name to configuration", p.key)
		return
	}
	for _, e := range b.pairs(n) {
		if b.aborted {
			return
		}
		b.begin(label(kind, e.key, ""))
		ok := true
		if e.k.ShortTag() != "!!str" || !validID(e.key) {
			b.errAt(e.k.Line, "the plugin name must match %s", idPattern)
			ok = false
		}
		v, vok := b.value(e.v, sObj)
		if b.aborted {
			return
		}
		body, _ := v.(map[string]any)
		b.emit(Resource{
			Key: Key{Kind: kind, ID: e.key}, Name: e.key, Body: body,
			Origin: Origin{File: b.file, Line: e.k.Line}, Secrets: b.takeSecrets(),
		}, decl{
			label: b.res, scope: string(kind), name: e.key,
		}, ok && vok)
	}
}

func setDefault(m map[string]any, key string, v any) {
	if _, ok := m[key]; !ok {
		m[key] = v
	}
}

// upstreamDefaults fills in what ADC's lint adds to an upstream (its Zod
// schema defaults), so that the body equals what ADC sends.
func upstreamDefaults(u map[string]any) {
	setDefault(u, "type", "roundrobin")
	setDefault(u, "scheme", "http")
	setDefault(u, "pass_host", "pass")
	if nodes, ok := u["nodes"].([]any); ok {
		for _, n := range nodes {
			if m, ok := n.(map[string]any); ok {
				setDefault(m, "priority", 0.0)
			}
		}
	}
	if kp, ok := u["keepalive_pool"].(map[string]any); ok {
		setDefault(kp, "size", 320.0)
		setDefault(kp, "idle_timeout", 60.0)
		setDefault(kp, "requests", 1000.0)
	}
	checks, ok := u["checks"].(map[string]any)
	if !ok {
		return
	}
	if a, ok := checks["active"].(map[string]any); ok {
		setDefault(a, "type", "http")
		setDefault(a, "timeout", 1.0)
		setDefault(a, "concurrency", 10.0)
		setDefault(a, "http_path", "/")
		setDefault(a, "https_verify_certificate", true)
		if h, ok := a["healthy"].(map[string]any); ok {
			healthyDefaults(h)
			setDefault(h, "interval", 1.0)
		}
		if h, ok := a["unhealthy"].(map[string]any); ok {
			unhealthyDefaults(h)
			setDefault(h, "interval", 1.0)
		}
	}
	if p, ok := checks["passive"].(map[string]any); ok {
		setDefault(p, "type", "http")
		if h, ok := p["healthy"].(map[string]any); ok {
			healthyDefaults(h)
		}
		if h, ok := p["unhealthy"].(map[string]any); ok {
			unhealthyDefaults(h)
		}
	}
}

func healthyDefaults(h map[string]any) {
	setDefault(h, "http_statuses", []any{200.0, 302.0})
	setDefault(h, "successes", 2.0)
}

func unhealthyDefaults(h map[string]any) {
	setDefault(h, "http_statuses", []any{429.0, 404.0, 500.0, 501.0, 502.0, 503.0, 504.0, 505.0})
	setDefault(h, "http_failures", 5.0)
	setDefault(h, "tcp_failures", 2.0)
	setDefault(h, "timeouts", 3.0)
}
