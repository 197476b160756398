package emulator

import (
	"sort"
	"strings"
)

// DefaultPlugins are the plugins enabled in the recorded APISIX 3.18 build
// (conformance corpus): every other plugin name is refused with
// "unknown plugin [x]" unless enabled with WithPlugins.
func DefaultPlugins() []string {
	return []string{"cors", "ip-restriction", "key-auth", "proxy-rewrite", "response-rewrite"}
}

// pluginDef describes one plugin the emulator knows.
type pluginDef struct {
	name     string
	priority int
	auth     bool // type "auth": allowed in consumer credentials
	schema   string
	consumer string // consumer_schema, for auth plugins
	metadata string // metadata_schema, "" when the plugin has none
	// encrypted fields of the plugin configuration (data_encryption)
	encrypt         []string
	consumerEncrypt []string
	stream          bool
}

// metaSchemaJSON is the "_meta" property APISIX injects into every plugin schema.
const metaSchemaJSON = `{"type":"object","properties":{
 "disable":{"type":"boolean"},
 "error_response":{"oneOf":[{"type":"string"},{"type":"object"}]},
 "priority":{"description":"priority of plugins by customized order","type":"integer"},
 "filter":{"description":"filter determines whether the plugin needs to be executed at runtime","type":"array"},
 "pre_function":{"description":"function to be executed in each phase before execution of plugins. The pre_function will have access to two arguments: ` + "`conf` and `ctx`" + `.","type":"string"}},
 "additionalProperties":false}`

// knownPlugins is the catalogue: the five plugins of the recorded build with
// their 3.18 schemas and defaults, plus common plugins with permissive
// schemas so a test can enable them (WithPlugins) and use them. An auth
// plugin's consumer schema (served with ?schema_type=consumer, checking it
// in consumers and credentials) carries its defaults too, which are stored
// before 3.14 like any other: jwt-auth's are those of APISIX 3.13
// (apisix/plugins/jwt-auth.lua); key-auth's, basic-auth's and hmac-auth's
// have none.
func knownPlugins(v version) map[string]pluginDef {
	keyAuth := `{"type":"object","properties":{
 "header":{"type":"string","default":"apikey"},
 "query":{"type":"string","default":"apikey"},
 "hide_credentials":{"type":"boolean","default":false},
 "anonymous_consumer":{"type":"string","minLength":1},
 "realm":{"type":"string","default":"key","minLength":1,"maxLength":128,"pattern":"^[ -!#-[\\]-~]+$"}}}`
	if v.less(version{3, 14, 0}) {
		// 3.13's key-auth has no realm (conformance/apisix-3.13, 02 step 6).
		keyAuth = `{"type":"object","properties":{
 "header":{"type":"string","default":"apikey"},
 "query":{"type":"string","default":"apikey"},
 "hide_credentials":{"type":"boolean","default":false},
 "anonymous_consumer":{"type":"string","minLength":1}}}`
	}
	defs := []pluginDef{
		{
			name: "key-auth", priority: 2500, auth: true, schema: keyAuth,
			consumer:        `{"type":"object","properties":{"key":{"type":"string"}},"encrypt_fields":["key"],"required":["key"]}`,
			consumerEncrypt: []string{"key"},
		},
		{
			name: "cors", priority: 4000,
			schema: `{"type":"object","properties":{
 "allow_origins":{"description":"you can use '*' to allow all origins when no credentials, '**' to allow forcefully(it will bring some security risks, be carefully), multiple origin use ',' to split. default: *.","type":"string","pattern":"^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$","default":"*"},
 "allow_methods":{"description":"you can use '*' to allow all methods when no credentials, '**' to allow forcefully(it will bring some security risks, be carefully), multiple method use ',' to split. default: *.","type":"string","default":"*"},
 "allow_headers":{"description":"you can use '*' to allow all header when no credentials, '**' to allow forcefully(it will bring some security risks, be carefully), multiple header use ',' to split. default: *.","type":"string","default":"*"},
 "expose_headers":{"description":"multiple header use ',' to split. If not specified, no custom headers are exposed.","type":"string"},
 "max_age":{"description":"maximum number of seconds the results can be cached. -1 means no cached, the max value is depend on browser, more details plz check MDN. default: 5.","type":"integer","default":5},
 "allow_credential":{"description":"allow client append credential. according to CORS specification, if you set this option to 'true', you can not use '*' for other options.","type":"boolean","default":false},
 "allow_origins_by_regex":{"type":"array","description":"you can use regex to allow specific origins when no credentials, for example use [.*\\.test.com$] to allow a.test.com and b.test.com","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true},
 "allow_origins_by_metadata":{"type":"array","description":"set allowed origins by referencing origins in plugin metadata","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true},
 "timing_allow_origins":{"description":"you can use '*' to allow all origins which can view timing information when no credentials, '**' to allow forcefully (it will bring some security risks, be careful), multiple origin use ',' to split. default: nil","type":"string","pattern":"^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$"},
 "timing_allow_origins_by_regex":{"type":"array","description":"you can use regex to allow specific origins which can view timing information, for example use [.*\\.test.com] to allow a.test.com and b.test.com","items":{"type":"string","minLength":1,"maxLength":4096},"minItems":1,"uniqueItems":true}}}`,
			metadata: `{"type":"object","properties":{"allow_origins":{"type":"object","additionalProperties":{"type":"string","pattern":"^(\\*|\\*\\*|null|\\w+://[^,]+(,\\w+://[^,]+)*)$"}}},"required":["allow_origins"]}`,
		},
		{
			name: "ip-restriction", priority: 3000,
			schema: `{"type":"object","properties":{
 "message":{"type":"string","minLength":1,"maxLength":1024,"default":"Your IP address is not allowed"},
 "response_code":{"type":"integer","minimum":403,"maximum":404,"default":403},
 "whitelist":{"type":"array","items":{"anyOf":IPDEF},"minItems":1},
 "blacklist":{"type":"array","items":{"anyOf":IPDEF},"minItems":1}},
 "oneOf":[{"required":["whitelist"]},{"required":["blacklist"]}]}`,
		},
		{
			name: "proxy-rewrite", priority: 1008,
			schema: `{"type":"object","properties":{
 "uri":{"description":"new uri for upstream","type":"string","minLength":1,"maxLength":4096,"pattern":"^\\/.*"},
 "method":{"description":"proxy route method","type":"string","enum":["GET","POST","PUT","HEAD","DELETE","OPTIONS","MKCOL","COPY","MOVE","PROPFIND","PROPFIND","LOCK","UNLOCK","PATCH","TRACE"]},
 "regex_uri":{"description":"new uri that substitute from client uri for upstream, lower priority than uri property","type":"array","minItems":2,"items":{"description":"regex uri","type":"string"}},
 "host":{"description":"new host for upstream","type":"string","pattern":"^[0-9a-zA-Z-.]+(:\\d{1,5})?$"},
 "headers":{"description":"new headers for request","oneOf":[{"type":"object","minProperties":1,"additionalProperties":false,"properties":{
   "add":{"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"oneOf":[{"type":"string"},{"type":"number"}]}}},
   "set":{"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"oneOf":[{"type":"string"},{"type":"number"}]}}},
   "remove":{"type":"array","minItems":1,"items":{"type":"string","pattern":"^[^:]+$"}}}},
  {"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"oneOf":[{"type":"string"},{"type":"number"}]}}}]},
 "use_real_request_uri_unsafe":{"description":"use real_request_uri instead, THIS IS VERY UNSAFE.","type":"boolean","default":false}},
 "minProperties":1}`,
		},
		{
			name: "response-rewrite", priority: 899,
			schema: `{"type":"object","properties":{
 "headers":{"description":"new headers for response","anyOf":[{"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"oneOf":[{"type":"string"},{"type":"number"}]}}},
  {"type":"object","properties":{
   "add":{"type":"array","minItems":1,"items":{"type":"string","pattern":"^[^:]+:[^:]*[^/]$"}},
   "set":{"type":"object","minProperties":1,"patternProperties":{"^[^:]+$":{"oneOf":[{"type":"string"},{"type":"number"}]}}},
   "remove":{"type":"array","minItems":1,"items":{"type":"string","pattern":"^[^:]+$"}}}}]},
 "body":{"description":"new body for response","type":"string"},
 "body_base64":{"description":"whether new body for response need base64 decode before return","type":"boolean","default":false},
 "status_code":{"description":"new status code for response","type":"integer","minimum":200,"maximum":598},
 "vars":{"type":"array"},
 "filters":{"description":"a group of filters that modify response bodysby replacing one specified string by another","type":"array","minItems":1,"items":{"description":"filter that modifies response body","type":"object","required":["regex","replace"],"properties":{
   "regex":{"description":"match pattern on response body","type":"string","minLength":1},
   "scope":{"description":"regex substitution range","type":"string","enum":["once","global"],"default":"once"},
   "replace":{"description":"regex substitution content","type":"string"},
   "options":{"description":"regex options","type":"string","default":"jo"}}}}},
 "dependencies":{"body":{"not":{"required":["filters"]}},"filters":{"not":{"required":["body"]}}}}`,
		},
		{name: "basic-auth", priority: 2520, auth: true,
			schema:   `{"type":"object","properties":{"hide_credentials":{"type":"boolean","default":false},"anonymous_consumer":{"type":"string","minLength":1},"realm":{"type":"string","default":"basic"}}}`,
			consumer: `{"type":"object","properties":{"username":{"type":"string"},"password":{"type":"string"}},"required":["username","password"]}`, consumerEncrypt: []string{"password"}},
		{name: "jwt-auth", priority: 2510, auth: true,
			schema:   `{"type":"object","properties":{"header":{"type":"string","default":"authorization"},"query":{"type":"string","default":"jwt"},"cookie":{"type":"string","default":"jwt"},"hide_credentials":{"type":"boolean","default":false},"key_claim_name":{"type":"string","default":"key","minLength":1}}}`,
			consumer: `{"type":"object","properties":{"key":{"type":"string"},"secret":{"type":"string"},"algorithm":{"type":"string","default":"HS256"},"exp":{"type":"integer","minimum":1,"default":86400},"base64_secret":{"type":"boolean","default":false},"public_key":{"type":"string"},"lifetime_grace_period":{"type":"integer","minimum":0,"default":0}},"encrypt_fields":["secret"],"required":["key"]}`, consumerEncrypt: []string{"secret"}},
		{name: "hmac-auth", priority: 2530, auth: true,
			schema:   `{"type":"object","properties":{"allowed_algorithms":{"type":"array","minItems":1,"items":{"type":"string","enum":["hmac-sha1","hmac-sha256","hmac-sha512"]},"default":["hmac-sha1","hmac-sha256","hmac-sha512"]},"clock_skew":{"type":"integer","default":300,"minimum":1},"signed_headers":{"type":"array","items":{"type":"string"}},"validate_request_body":{"type":"boolean","default":false},"hide_credentials":{"type":"boolean","default":false}}}`,
			consumer: `{"type":"object","properties":{"key_id":{"type":"string","minLength":1,"maxLength":256},"secret_key":{"type":"string","minLength":1,"maxLength":256}},"required":["key_id","secret_key"]}`, consumerEncrypt: []string{"secret_key"}},
		{name: "limit-count", priority: 1002, schema: `{"type":"object","properties":{"count":{"type":"integer","exclusiveMinimum":0},"time_window":{"type":"integer","exclusiveMinimum":0},"key":{"type":"string","default":"remote_addr"},"key_type":{"type":"string","enum":["var","var_combination","constant"],"default":"var"},"rejected_code":{"type":"integer","minimum":200,"maximum":599,"default":503},"policy":{"type":"string","enum":["local","redis","redis-cluster"],"default":"local"},"allow_degradation":{"type":"boolean","default":false},"show_limit_quota_header":{"type":"boolean","default":true}},"required":["count","time_window"]}`},
		{name: "limit-req", priority: 1001, schema: `{"type":"object","properties":{"rate":{"type":"number","exclusiveMinimum":0},"burst":{"type":"number","minimum":0},"key":{"type":"string"},"key_type":{"type":"string","enum":["var","var_combination"],"default":"var"},"rejected_code":{"type":"integer","minimum":200,"maximum":599,"default":503},"nodelay":{"type":"boolean","default":false},"allow_degradation":{"type":"boolean","default":false}},"required":["rate","burst","key"]}`},
		{name: "prometheus", priority: 500, schema: `{"type":"object","properties":{"prefer_name":{"type":"boolean","default":false}}}`},
		{name: "request-id", priority: 12015, schema: `{"type":"object","properties":{"header_name":{"type":"string","default":"X-Request-Id"},"include_in_response":{"type":"boolean","default":true},"algorithm":{"type":"string","enum":["uuid","nanoid","range_id","ksuid"],"default":"uuid"}}}`},
		{name: "http-logger", priority: 410, schema: `{"type":"object","properties":{"uri":{"type":"string"},"timeout":{"type":"integer","minimum":1,"default":3},"include_req_body":{"type":"boolean","default":false}},"required":["uri"]}`,
			metadata: `{"type":"object","properties":{"log_format":{"type":"object"}}}`},
		{name: "echo", priority: 412, schema: `{"type":"object","properties":{"before_body":{"type":"string"},"body":{"type":"string"},"after_body":{"type":"string"},"headers":{"type":"object","minProperties":1}},"anyOf":[{"required":["before_body"]},{"required":["body"]},{"required":["after_body"]}],"minProperties":1}`},
		{name: "serverless-pre-function", priority: 10000, schema: `{"type":"object","properties":{"phase":{"type":"string","default":"access","enum":["rewrite","access","header_filter","body_filter","log","before_proxy"]},"functions":{"type":"array","items":{"type":"string"},"minItems":1}},"required":["functions"]}`},
		{name: "redirect", priority: 900, schema: `{"type":"object","properties":{"ret_code":{"type":"integer","minimum":200,"default":302},"uri":{"type":"string","minLength":2},"regex_uri":{"type":"array","minItems":2,"maxItems":2,"items":{"type":"string"}},"http_to_https":{"type":"boolean"},"encode_uri":{"type":"boolean","default":false},"append_query_string":{"type":"boolean","default":false}}}`},
		{name: "traffic-split", priority: 966, schema: `{"type":"object","properties":{"rules":{"type":"array","items":{"type":"object"}}}}`},
		{name: "consumer-restriction", priority: 2400, schema: `{"type":"object","properties":{"type":{"type":"string","enum":["consumer_name","service_id","route_id","consumer_group_id"],"default":"consumer_name"},"blacklist":{"type":"array","minItems":1,"items":{"type":"string"}},"whitelist":{"type":"array","minItems":1,"items":{"type":"string"}},"rejected_code":{"type":"integer","minimum":200,"default":403},"rejected_msg":{"type":"string"}}}`},
		{name: "ip-restriction-stream", priority: 3000, stream: true, schema: `{"type":"object"}`},
	}
	out := make(map[string]pluginDef, len(defs))
	for _, d := range defs {
		d.schema = strings.ReplaceAll(d.schema, "IPDEF", ipDefJSON)
		out[d.name] = d
	}
	return out
}

// plugin is an enabled plugin with its compiled schemas.
type plugin struct {
	def      pluginDef
	schema   *schema // including _meta
	consumer *schema // consumer_schema (auth plugins), or nil
	metadata *schema // or nil
	served   any     // the document /plugins/{name} serves
}

// pluginSet is the set of enabled plugins.
type pluginSet struct {
	byName map[string]*plugin
	order  []string // by priority, descending
}

func buildPlugins(names []string, v version) *pluginSet {
	cat := knownPlugins(v)
	ps := &pluginSet{byName: map[string]*plugin{}}
	for _, n := range names {
		d, ok := cat[n]
		if !ok {
			// A plugin the emulator has no schema for: accept any object.
			d = pluginDef{name: n, schema: `{"type":"object"}`}
		}
		withMeta := injectMeta(d.schema)
		p := &plugin{def: d, schema: mustSchema(withMeta)}
		p.served = p.schema.raw
		if d.consumer != "" {
			p.consumer = mustSchema(injectMeta(d.consumer))
		}
		if d.metadata != "" {
			p.metadata = mustSchema(d.metadata)
		}
		ps.byName[n] = p
		ps.order = append(ps.order, n)
	}
	sort.SliceStable(ps.order, func(i, j int) bool {
		a, b := ps.byName[ps.order[i]].def, ps.byName[ps.order[j]].def
		if a.priority != b.priority {
			return a.priority > b.priority
		}
		return a.name < b.name
	})
	return ps
}

// injectMeta adds the "_meta" property and the marker comment APISIX adds to
// every plugin schema it serves.
func injectMeta(s string) string {
	s = strings.TrimSpace(s)
	i := strings.Index(s, `"properties":{`)
	if i < 0 {
		// no properties: add them
		return `{"$comment":"this is a mark for our injected plugin schema","properties":{"_meta":` + metaSchemaJSON + `},` + strings.TrimPrefix(s, "{")
	}
	i += len(`"properties":{`)
	rest := s[i:]
	sep := ","
	if strings.HasPrefix(strings.TrimSpace(rest), "}") {
		sep = ""
	}
	return `{"$comment":"this is a mark for our injected plugin schema",` + strings.TrimPrefix(s[:i], "{") + `"_meta":` + metaSchemaJSON + sep + rest
}
