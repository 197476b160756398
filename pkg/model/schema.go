package model

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// typ is the JSON type a schema node accepts.
type typ uint8

const (
	tAny    typ = iota // any JSON value (inside plugin configurations)
	tString            // a string
	tInt               // an integral number
	tNumber            // a number
	tBool              // a boolean
	tObject            // a strict object: only the listed fields
	tMap               // an object with any keys, values of elem
	tArray             // an array of elem
	tLabels            // labels: string keys, values string or string array
	tNested            // a nested resource collection, converted by the caller
)

// schema describes the values accepted at one place of ADC's format
// (libs/sdk/src/core/schema.ts in ADC, strict objects everywhere).
type schema struct {
	typ      typ
	fields   map[string]*schema // tObject
	required []string           // tObject
	elem     *schema            // tArray, tMap
	minItems int                // tArray
	unique   bool               // tArray of strings: no repeats
	enum     []string           // tString
	min, max *float64           // tInt, tNumber
	minLen   int                // tString, in characters
	maxLen   int                // tString, in characters; 0 for no limit
	// check is an extra rule on the converted value; it returns a message or
	// "". For objects it sees the converted map.
	check func(v any) string
	// mapOnly makes a tAny accept only a mapping (plugin configurations).
	mapOnly bool
	// secret keeps the value out of error messages (certificates, keys).
	secret bool
	// noVars refuses ${VAR} in a value that becomes an ID or a name: those
	// appear in URLs, logs and metrics, where a substituted value (which
	// may be a secret) must never be.
	noVars bool
}

func num(f float64) *float64 { return &f }

// Reusable pieces.
// idPattern describes the IDs the Admin API accepts in a URL.
const idPattern = "^[a-zA-Z0-9-_.]{1,64}$, not . or .."

var (
	sID    = &schema{typ: tString, check: checkID, noVars: true}
	sName  = &schema{typ: tString, minLen: 1, maxLen: 256, noVars: true}
	sDesc  = &schema{typ: tString, maxLen: 64 * 1024}
	sLabel = &schema{typ: tLabels}
	sHost  = &schema{typ: tString, minLen: 1, check: checkHost}
	sHosts = &schema{typ: tArray, elem: sHost, minItems: 1, unique: true}
	sPort  = &schema{typ: tInt, min: num(1), max: num(65535)}
	sStr   = &schema{typ: tString}
	sBool  = &schema{typ: tBool}
	sFree  = &schema{typ: tAny}
	sObj   = &schema{typ: tAny, mapOnly: true}
	// sPlugins is a map of plugin name to configuration; configurations are
	// free-form objects.
	sPlugins = &schema{typ: tMap, elem: sObj, check: checkPluginNames}

	sTimeout = &schema{typ: tObject, fields: map[string]*schema{
		"connect": {typ: tNumber, check: positive},
		"send":    {typ: tNumber, check: positive},
		"read":    {typ: tNumber, check: positive},
	}, required: []string{"connect", "send", "read"}}

	sStatuses = &schema{typ: tArray, minItems: 1, elem: &schema{typ: tInt, min: num(200), max: num(599)}}
	sCount    = &schema{typ: tInt, min: num(1), max: num(254)}
	sCheckTyp = &schema{typ: tString, enum: []string{"http", "https", "tcp"}}

	sChecks = &schema{typ: tObject, fields: map[string]*schema{
		"active": {typ: tObject, fields: map[string]*schema{
			"type":                     sCheckTyp,
			"timeout":                  {typ: tNumber},
			"concurrency":              {typ: tNumber},
			"host":                     sHost,
			"port":                     sPort,
			"http_path":                sStr,
			"https_verify_certificate": sBool,
			"http_request_headers":     {typ: tArray, minItems: 1, elem: sStr},
			"healthy": {typ: tObject, fields: map[string]*schema{
				"http_statuses": sStatuses,
				"successes":     sCount,
				"interval":      {typ: tInt, min: num(1)},
			}},
			"unhealthy": {typ: tObject, fields: map[string]*schema{
				"http_statuses": sStatuses,
				"http_failures": sCount,
				"tcp_failures":  sCount,
				"timeouts":      sCount,
				"interval":      {typ: tInt, min: num(1)},
			}},
		}},
		"passive": {typ: tObject, fields: map[string]*schema{
			"type": sCheckTyp,
			"healthy": {typ: tObject, fields: map[string]*schema{
				"http_statuses": sStatuses,
				"successes":     sCount,
			}},
			"unhealthy": {typ: tObject, fields: map[string]*schema{
				"http_statuses": sStatuses,
				"http_failures": sCount,
				"tcp_failures":  sCount,
				"timeouts":      sCount,
			}},
		}},
	}, check: checkHealthChecks}

	sNode = &schema{typ: tObject, fields: map[string]*schema{
		"host":     sHost,
		"port":     sPort,
		"weight":   {typ: tInt, min: num(0)},
		"priority": {typ: tNumber},
		"metadata": sObj,
	}, required: []string{"host", "port", "weight"}}

	upstreamFields = map[string]*schema{
		"name":          sName,
		"description":   sDesc,
		"labels":        sLabel,
		"type":          {typ: tString, enum: []string{"roundrobin", "chash", "least_conn", "ewma"}},
		"hash_on":       {typ: tString, enum: []string{"vars", "header", "cookie", "consumer", "vars_combinations"}},
		"key":           sStr,
		"checks":        sChecks,
		"nodes":         {typ: tArray, elem: sNode},
		"scheme":        {typ: tString, enum: []string{"grpc", "grpcs", "http", "https", "tcp", "tls", "udp", "kafka"}},
		"retries":       {typ: tInt, min: num(0), max: num(65535)},
		"retry_timeout": {typ: tNumber, min: num(0)},
		"timeout":       sTimeout,
		"tls": {typ: tObject, fields: map[string]*schema{
			"client_cert":    sStr,
			"client_key":     sStr,
			"client_cert_id": sID,
			"verify":         sBool,
		}, check: checkUpstreamTLS},
		"keepalive_pool": {typ: tObject, fields: map[string]*schema{
			"size":         {typ: tInt, min: num(1)},
			"idle_timeout": {typ: tNumber, min: num(0)},
			"requests":     {typ: tInt, min: num(1)},
		}},
		"pass_host":      {typ: tString, enum: []string{"pass", "node", "rewrite"}},
		"upstream_host":  sHost,
		"service_name":   sStr,
		"discovery_type": sStr,
		"discovery_args": sObj,
	}

	sUpstream = &schema{typ: tObject, fields: upstreamFields, check: checkUpstream}

	sExtraUpstream = &schema{typ: tObject, fields: with(upstreamFields, map[string]*schema{
		"id": sID,
	}), required: []string{"name"}, check: checkUpstream}

	sRoute = &schema{typ: tObject, fields: map[string]*schema{
		"id":          sID,
		"name":        sName,
		"description": sDesc,
		"labels":      sLabel,
		"hosts":       sHosts,
		"uris":        {typ: tArray, minItems: 1, unique: true, elem: &schema{typ: tString, minLen: 1, maxLen: 4096}},
		"priority":    {typ: tInt},
		"timeout":     sTimeout,
		"vars":        {typ: tArray, elem: sFree},
		"methods": {typ: tArray, minItems: 1, unique: true, elem: &schema{typ: tString, enum: []string{
			"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE",
		}}},
		"enable_websocket": sBool,
		"remote_addrs":     {typ: tArray, minItems: 1, elem: &schema{typ: tString, check: checkAddr}},
		"plugins":          sPlugins,
		"filter_func":      {typ: tString, check: checkFilterFunc},
	}, required: []string{"name", "uris"}}

	sStreamRoute = &schema{typ: tObject, fields: map[string]*schema{
		"id":          sID,
		"name":        sName,
		"description": sDesc,
		"labels":      sLabel,
		"plugins":     sPlugins,
		"remote_addr": {typ: tString, check: checkAddr},
		"server_addr": {typ: tString, check: checkAddr},
		"server_port": sPort,
		"sni":         sHost,
	}, required: []string{"name"}}

	sService = &schema{typ: tObject, fields: map[string]*schema{
		"id":                sID,
		"name":              sName,
		"description":       sDesc,
		"labels":            sLabel,
		"upstream":          sUpstream,
		"upstreams":         {typ: tNested},
		"plugins":           sPlugins,
		"path_prefix":       {typ: tString, check: checkPathPrefix},
		"strip_path_prefix": sBool,
		"hosts":             sHosts,
		"routes":            {typ: tNested},
		"stream_routes":     {typ: tNested},
	}, required: []string{"name"}}

	sCertificate = &schema{typ: tString, secret: true, check: certCheck(128, "certificate")}
	sSSL         = &schema{typ: tObject, fields: map[string]*schema{
		"id":     sID,
		"labels": sLabel,
		"type":   {typ: tString, enum: []string{"server", "client"}},
		"snis":   {typ: tArray, minItems: 1, unique: true, elem: &schema{typ: tString, minLen: 1, check: checkSNI, noVars: true}},
		"certificates": {typ: tArray, minItems: 1, elem: &schema{typ: tObject, fields: map[string]*schema{
			"certificate": sCertificate,
			"key":         {typ: tString, secret: true, check: certCheck(32, "private key")},
		}, required: []string{"certificate", "key"}}},
		"client": {typ: tObject, fields: map[string]*schema{
			"ca":                  sCertificate,
			"depth":               {typ: tInt, min: num(0)},
			"skip_mtls_uri_regex": {typ: tArray, minItems: 1, elem: sStr},
		}, required: []string{"ca"}},
		"ssl_protocols": {typ: tArray, minItems: 1, unique: true, elem: &schema{typ: tString, enum: []string{"TLSv1.1", "TLSv1.2", "TLSv1.3"}}},
	}, required: []string{"snis", "certificates"}}

	sCredential = &schema{typ: tObject, fields: map[string]*schema{
		"id":          sID,
		"name":        sName,
		"description": sDesc,
		"labels":      sLabel,
		"type":        {typ: tString, enum: []string{"key-auth", "basic-auth", "jwt-auth", "hmac-auth"}},
		"config":      sObj,
	}, required: []string{"name", "type", "config"}}

	sConsumer = &schema{typ: tObject, fields: map[string]*schema{
		"username":    {typ: tString, check: checkUsername, noVars: true},
		"description": sDesc,
		"labels":      sLabel,
		"plugins":     sPlugins,
		"credentials": {typ: tNested},
	}, required: []string{"username"}}

	sConsumerGroup = &schema{typ: tObject, fields: map[string]*schema{
		"id":          sID,
		"name":        sName,
		"description": sDesc,
		"labels":      sLabel,
		"plugins":     sPlugins,
		"consumers":   {typ: tNested},
	}, required: []string{"name", "plugins"}}
)

func with(base, extra map[string]*schema) map[string]*schema {
	out := make(map[string]*schema, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// validID reports whether s is an ID the Admin API accepts in a URL:
// ^[a-zA-Z0-9-_.]{1,64}$ and neither "." nor "..".
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isWordByte(c) || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func checkID(v any) string {
	if !validID(v.(string)) {
		return "must match " + idPattern
	}
	return ""
}

// checkUsername: a consumer's username is its ID in the URL; APISIX 3.13+
// allows ^[a-zA-Z0-9_-]+$ (no dots).
func checkUsername(v any) string {
	s := v.(string)
	if len(s) == 0 || len(s) > 64 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return "must match ^[a-zA-Z0-9_-]{1,64}$"
	}
	return ""
}

// checkHost follows APISIX's host_def: ^\*?[0-9a-zA-Z-._\[\]:]+$ or "*".
func checkHost(v any) string {
	s := v.(string)
	if s == "*" {
		return ""
	}
	t := strings.TrimPrefix(s, "*")
	if t == "" || strings.Trim(t, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-._[]:") != "" {
		return "must be a host name, an IP address or a wildcard such as *.example.com"
	}
	return ""
}

// checkSNI follows APISIX's SNI pattern ^\*?[0-9a-zA-Z-.]+$.
func checkSNI(v any) string {
	t := strings.TrimPrefix(v.(string), "*")
	if t == "" || strings.Trim(t, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.") != "" {
		return "must be a host name or a wildcard such as *.example.com"
	}
	return ""
}

func checkAddr(v any) string {
	s := v.(string)
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return ""
	}
	return "must be an IP address or a CIDR range"
}

func positive(v any) string {
	if v.(float64) <= 0 {
		return "must be greater than 0"
	}
	return ""
}

func checkFilterFunc(v any) string {
	s := v.(string)
	if !strings.HasPrefix(s, "function") || len(s) < 10 {
		return `must be a Lua function, starting with "function"`
	}
	return ""
}

func checkPathPrefix(v any) string {
	if !strings.HasPrefix(v.(string), "/") {
		return `must start with "/"`
	}
	return ""
}

func checkPluginNames(v any) string {
	for name := range v.(map[string]any) {
		if name == "" {
			return "a plugin name must not be empty"
		}
	}
	return ""
}

// isSecretRef reports whether s is a reference the gateway resolves.
func isSecretRef(s string) bool {
	return strings.HasPrefix(s, "$secret://") || strings.HasPrefix(s, "$env://")
}

// certCheck accepts a PEM string of at least minLen characters (at most
// 64 KiB) or a $secret:// / $env:// reference. It never shows the value.
func certCheck(minLen int, what string) func(v any) string {
	return func(v any) string {
		s := v.(string)
		if isSecretRef(s) {
			return ""
		}
		if n := utf8.RuneCountInString(s); n < minLen || n > 64*1024 {
			return fmt.Sprintf("must be a %s of %d to 65536 characters or a $secret:// or $env:// reference", what, minLen)
		}
		return ""
	}
}

func checkUpstreamTLS(v any) string {
	m := v.(map[string]any)
	_, cert := m["client_cert"]
	_, key := m["client_key"]
	_, id := m["client_cert_id"]
	// As APISIX's schema: the certificate and its key go together, and
	// not with client_cert_id; verify may stand alone.
	if cert == key && !(id && cert) {
		return ""
	}
	return "needs client_cert with client_key, or client_cert_id alone"
}

func checkHealthChecks(v any) string {
	m := v.(map[string]any)
	if _, ok := m["passive"]; ok {
		if _, ok := m["active"]; !ok {
			return "passive health checks need active health checks too"
		}
	}
	return ""
}

func checkUpstream(v any) string {
	m := v.(map[string]any)
	_, nodes := m["nodes"]
	_, svc := m["service_name"]
	_, disc := m["discovery_type"]
	if !(nodes && !svc && !disc) && !(svc && disc && !nodes) {
		return "needs either nodes, or service_name with discovery_type, and not both"
	}
	if m["type"] == "chash" && m["hash_on"] != "consumer" {
		if _, ok := m["key"]; !ok {
			return "key is required when type is chash"
		}
	}
	if m["pass_host"] == "rewrite" {
		if _, ok := m["upstream_host"]; !ok {
			return "upstream_host is required when pass_host is rewrite"
		}
	}
	return ""
}

// value converts node n against schema s. It returns false when n (or
// something inside it) was invalid; the errors are recorded.
func (c *conv) value(n *yaml.Node, s *schema) (any, bool) {
	if n.Kind == yaml.AliasNode {
		c.inAlias++
		v, ok := c.value(n.Alias, s)
		c.inAlias--
		return v, ok
	}
	if s.typ == tAny {
		if s.mapOnly && n.Kind != yaml.MappingNode {
			c.errAt(n.Line, "must be an object")
			return nil, false
		}
		return c.anyValue(n)
	}
	if !c.enter(n) {
		return nil, false
	}
	defer c.leave(n)
	switch s.typ {
	case tObject:
		if n.Kind != yaml.MappingNode {
			c.errAt(n.Line, "must be an object")
			return nil, false
		}
		m, _, ok := c.object(n, s)
		return m, ok
	case tMap:
		if n.Kind != yaml.MappingNode {
			c.errAt(n.Line, "must be an object")
			return nil, false
		}
		ps := c.pairs(n)
		m := make(map[string]any, len(ps))
		ok := true
		for _, p := range ps {
			c.push(p.key)
			v, vok := c.value(p.v, s.elem)
			c.pop()
			if c.aborted {
				return nil, false
			}
			if vok {
				m[p.key] = v
			} else {
				ok = false
			}
		}
		if ok && s.check != nil {
			if msg := s.check(m); msg != "" {
				c.errAt(n.Line, "%s", msg)
				ok = false
			}
		}
		return m, ok
	case tArray:
		if n.Kind != yaml.SequenceNode {
			c.errAt(n.Line, "must be a list")
			return nil, false
		}
		if len(n.Content) < s.minItems {
			c.errAt(n.Line, "must have at least %d item(s)", s.minItems)
			return nil, false
		}
		a := make([]any, len(n.Content))
		ok := true
		for i, item := range n.Content {
			c.pushIdx(i)
			v, vok := c.value(item, s.elem)
			c.pop()
			if c.aborted {
				return nil, false
			}
			if !vok {
				ok = false
			}
			a[i] = v
		}
		if ok && s.unique {
			for i := range a {
				for j := 0; j < i; j++ {
					if x, isStr := a[i].(string); isStr && x == a[j] {
						c.pushIdx(i)
						c.errAt(n.Content[i].Line, "repeats item %d", j)
						c.pop()
						ok = false
					}
				}
			}
		}
		return a, ok
	case tLabels:
		return c.labels(n)
	case tNested:
		return nil, true // the caller converts nested resources itself
	}
	return c.typedScalar(n, s)
}

// typedScalar converts a scalar of type string, number or boolean. A value
// substituted from a variable is a string; it is accepted for a number or
// boolean field when it reads as one (as ADC's schema coerces).
func (c *conv) typedScalar(n *yaml.Node, s *schema) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		c.errAt(n.Line, "must be %s", typeName(s.typ))
		return nil, false
	}
	sc, ok := c.scalar(n)
	if !ok {
		return nil, false
	}
	if sc.substituted && s.noVars {
		c.errAt(n.Line, "variables are not allowed here: the value makes the resource's ID or name, which appear in URLs and logs")
		return nil, false
	}
	if sc.substituted && sc.kind == scalarString {
		switch s.typ {
		case tInt, tNumber:
			if f, err := parseNumber(sc.s); err == nil {
				sc.kind, sc.f = scalarNumber, f
			}
		case tBool:
			switch sc.s {
			case "true":
				sc.kind, sc.b = scalarBool, true
			case "false":
				sc.kind, sc.b = scalarBool, false
			}
		}
	}
	var v any
	switch s.typ {
	case tString:
		if sc.kind != scalarString {
			c.errAt(n.Line, "must be a string%s", sc.show())
			return nil, false
		}
		if s.enum != nil && !contains(s.enum, sc.s) {
			c.errAt(n.Line, "must be one of %s%s", strings.Join(s.enum, ", "), sc.show())
			return nil, false
		}
		if s.minLen > 0 || s.maxLen > 0 {
			l := utf8.RuneCountInString(sc.s)
			if l < s.minLen {
				if s.minLen == 1 {
					c.errAt(n.Line, "must not be empty")
				} else {
					c.errAt(n.Line, "must be at least %d characters", s.minLen)
				}
				return nil, false
			}
			if s.maxLen > 0 && l > s.maxLen {
				c.errAt(n.Line, "must be at most %d characters, got %d", s.maxLen, l)
				return nil, false
			}
		}
		v = sc.s
	case tInt, tNumber:
		if sc.kind != scalarNumber {
			c.errAt(n.Line, "must be %s%s", typeName(s.typ), sc.show())
			return nil, false
		}
		if s.typ == tInt && sc.f != float64(int64(sc.f)) {
			c.errAt(n.Line, "must be an integer%s", sc.show())
			return nil, false
		}
		if (s.min != nil && sc.f < *s.min) || (s.max != nil && sc.f > *s.max) {
			c.errAt(n.Line, "must be %s%s", rangeText(s), sc.show())
			return nil, false
		}
		v = sc.f
	case tBool:
		if sc.kind != scalarBool {
			c.errAt(n.Line, "must be true or false%s", sc.show())
			return nil, false
		}
		v = sc.b
	}
	if s.check != nil {
		if msg := s.check(v); msg != "" {
			if s.typ == tString && !s.secret {
				c.errAt(n.Line, "%s%s", msg, sc.show())
			} else {
				c.errAt(n.Line, "%s", msg)
			}
			return nil, false
		}
	}
	return v, true
}

func rangeText(s *schema) string {
	kind := "a number"
	if s.typ == tInt {
		kind = "an integer"
	}
	switch {
	case s.min != nil && s.max != nil:
		return fmt.Sprintf("%s from %g to %g", kind, *s.min, *s.max)
	case s.min != nil:
		return fmt.Sprintf("%s of at least %g", kind, *s.min)
	case s.max != nil:
		return fmt.Sprintf("%s of at most %g", kind, *s.max)
	}
	return kind
}

func typeName(t typ) string {
	switch t {
	case tString:
		return "a string"
	case tInt:
		return "an integer"
	case tNumber:
		return "a number"
	case tBool:
		return "true or false"
	case tObject, tMap, tLabels:
		return "an object"
	case tArray:
		return "a list"
	}
	return "a value"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// object converts a strict object. Fields of type tNested are not converted:
// their nodes are returned in nested for the caller.
func (c *conv) object(n *yaml.Node, s *schema) (map[string]any, map[string]*yaml.Node, bool) {
	ps, mark := c.scratchPairs(n)
	defer func() { c.scratch = c.scratch[:mark] }()
	m := make(map[string]any, len(ps))
	var nested map[string]*yaml.Node
	ok := true
	for _, p := range ps {
		f := s.fields[p.key]
		if f == nil {
			hint := fieldHints[p.key]
			if s == sCredential && p.key == "plugins" {
				hint = ` (a credential has "type" and "config" for its one auth plugin)`
			}
			c.errAt(p.k.Line, "unknown field %q%s", p.key, hint)
			ok = false
			continue
		}
		if f.typ == tNested {
			if nested == nil {
				nested = make(map[string]*yaml.Node, 3)
			}
			nested[p.key] = p.v
			continue
		}
		c.push(p.key)
		v, vok := c.value(p.v, f)
		c.pop()
		if c.aborted {
			return nil, nil, false
		}
		if vok {
			m[p.key] = v
		} else {
			ok = false
		}
	}
	for _, r := range s.required {
		if _, have := m[r]; have {
			continue
		}
		if !hasKey(ps, r) { // present but invalid was reported already
			c.errAt(n.Line, "%s is required", r)
		}
		ok = false
	}
	if ok && s.check != nil {
		if msg := s.check(m); msg != "" {
			c.errAt(n.Line, "%s", msg)
			ok = false
		}
	}
	return m, nested, ok
}

// fieldHints name the field ADC's format has for a name people bring from
// the Admin API.
var fieldHints = map[string]string{
	"desc":        ` (ADC's format calls it "description")`,
	"uri":         ` (ADC's format has "uris", a list)`,
	"host":        ` (ADC's format has "hosts", a list)`,
	"remote_addr": ` (routes have "remote_addrs", a list)`,
	"cert":        ` (ADC's format has "certificates", a list of {certificate, key})`,
	"key":         ` (ADC's format has "certificates", a list of {certificate, key})`,
	"sni":         ` (ADC's format has "snis", a list)`,
	"upstream_id": ` (ADC's format nests the upstream in its service)`,
	"service_id":  ` (ADC's format nests routes in their service)`,
}

func hasKey(ps []pair, key string) bool {
	for _, p := range ps {
		if p.key == key {
			return true
		}
	}
	return false
}

// labels converts labels: values are strings or lists of strings, as APISIX
// stores them (1 to 256 characters, no whitespace; lists are sent as their
// JSON text). The managed-by label is reserved for the reconciler.
func (c *conv) labels(n *yaml.Node) (any, bool) {
	if n.Kind != yaml.MappingNode {
		c.errAt(n.Line, "must be an object")
		return nil, false
	}
	ps := c.pairs(n)
	m := make(map[string]any, len(ps))
	ok := true
	for _, p := range ps {
		c.push(p.key)
		v, vok := c.labelValue(p)
		c.pop()
		if c.aborted {
			return nil, false
		}
		if vok {
			m[p.key] = v
		} else {
			ok = false
		}
	}
	return m, ok
}

func (c *conv) labelValue(p pair) (any, bool) {
	switch p.key {
	case ManagedByLabel:
		c.errAt(p.k.Line, "the label %s is reserved: the reconciler sets it on what it writes", ManagedByLabel)
		return nil, false
	case FingerprintLabel:
		c.errAt(p.k.Line, "the label %s is reserved: the reconciler sets it on SSLs and on upstreams with a TLS client key to notice a changed private key", FingerprintLabel)
		return nil, false
	}
	if p.key == "" {
		c.errAt(p.k.Line, "a label name must not be empty")
		return nil, false
	}
	v := c.deref(p.v)
	switch v.Kind {
	case yaml.ScalarNode:
		s, ok := c.labelString(v)
		return s, ok
	case yaml.SequenceNode:
		a := make([]any, len(v.Content))
		total := 2
		for i, item := range v.Content {
			c.pushIdx(i)
			item = c.deref(item)
			if item.Kind != yaml.ScalarNode {
				c.errAt(item.Line, "label values must be strings or lists of strings")
				c.pop()
				return nil, false
			}
			s, ok := c.labelString(item)
			c.pop()
			if !ok {
				return nil, false
			}
			a[i] = s
			total += len(s) + 3
		}
		if total > 256 {
			c.errAt(v.Line, "the list is longer than 256 characters as JSON text")
			return nil, false
		}
		return a, true
	}
	c.errAt(v.Line, "label values must be strings or lists of strings")
	return nil, false
}

func (c *conv) labelString(n *yaml.Node) (string, bool) {
	sc, ok := c.scalar(n)
	if !ok {
		return "", false
	}
	if sc.kind != scalarString {
		c.errAt(n.Line, "label values must be strings (quote numbers and booleans)%s", sc.show())
		return "", false
	}
	if l := utf8.RuneCountInString(sc.s); l < 1 || l > 256 || strings.IndexFunc(sc.s, isSpace) >= 0 {
		c.errAt(n.Line, "label values must be 1 to 256 characters without whitespace%s", sc.show())
		return "", false
	}
	return sc.s, true
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0:
		return true
	}
	return r > 0xff && (r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000)
}

// ManagedByLabel is the label that marks the objects the reconciler owns. A
// configuration may not set it.
const ManagedByLabel = "managed-by"

// FingerprintLabel is the label the reconciler writes with the
// fingerprint of the private keys of the object that carries it (see
// diff.FingerprintLabel), since the Admin API never returns them as
// written: on SSL objects (keys stripped on reads) and on upstreams with a
// TLS client key, extra or inline in a service (the key read back
// encrypted). A configuration may not set it, on any object: a value in a
// file would stand in for the real fingerprint and hide a changed key.
const FingerprintLabel = "reconciler-key-sha256"

// parseNumber parses a substituted string as a number.
func parseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errors.New("not a number")
	}
	return f, nil
}
