package emulator

import "strings"

// The core schemas of APISIX 3.18's Admin API (apisix/schema_def.lua), as
// JSON documents. Property order is the order the validator checks them in.
// They are built by functions, not package variables, so nothing mutable is
// shared between emulators.

const idSchemaJSON = `{"anyOf":[{"type":"string","minLength":1,"maxLength":64,"pattern":"^[a-zA-Z0-9-_.]+$"},{"type":"integer","minimum":1}]}`

const hostDefJSON = `{"type":"string","pattern":"^\\*?[0-9a-zA-Z-._\\[\\]:]+$"}`

const ipDefJSON = `[
 {"title":"IPv4","type":"string","format":"ipv4"},
 {"title":"IPv4/CIDR","type":"string","pattern":"^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])/([12]?[0-9]|3[0-2])$"},
 {"title":"IPv6","type":"string","format":"ipv6"},
 {"title":"IPv6/CIDR","type":"string","pattern":"^([a-fA-F0-9]{0,4}:){1,8}(:[a-fA-F0-9]{0,4}){0,8}([a-fA-F0-9]{0,4})?/[0-9]{1,3}$"}
]`

const labelsJSON = `{"description":"key/value pairs to specify attributes","type":"object","patternProperties":{".*":{"description":"value of label","type":"string","pattern":"^\\S+$","maxLength":256,"minLength":1}}}`

const timeoutJSON = `{"type":"object","properties":{"connect":{"type":"number","exclusiveMinimum":0},"send":{"type":"number","exclusiveMinimum":0},"read":{"type":"number","exclusiveMinimum":0}},"required":["connect","send","read"]}`

const certJSON = `{"type":"string","minLength":128,"maxLength":65536}`

const keyJSON = `{"type":"string","minLength":64,"maxLength":65536}`

const healthCheckerJSON = `{"type":"object","properties":{
 "active":{"type":"object","properties":{
  "type":{"type":"string","enum":["http","https","tcp"],"default":"http"},
  "timeout":{"type":"number","default":1},
  "concurrency":{"type":"integer","default":10},
  "host":HOSTDEF,
  "port":{"type":"integer","minimum":1,"maximum":65535},
  "http_path":{"type":"string","default":"/"},
  "https_verify_certificate":{"type":"boolean","default":true},
  "healthy":{"type":"object","properties":{
   "interval":{"type":"integer","minimum":1,"default":1},
   "http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":200,"maximum":599},"uniqueItems":true,"default":[200,302]},
   "successes":{"type":"integer","minimum":1,"maximum":254,"default":2}}},
  "unhealthy":{"type":"object","properties":{
   "interval":{"type":"integer","minimum":1,"default":1},
   "http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":200,"maximum":599},"uniqueItems":true,"default":[429,404,500,501,502,503,504,505]},
   "http_failures":{"type":"integer","minimum":1,"maximum":254,"default":5},
   "tcp_failures":{"type":"integer","minimum":1,"maximum":254,"default":2},
   "timeouts":{"type":"integer","minimum":1,"maximum":254,"default":3}}},
  "req_headers":{"type":"array","minItems":1,"items":{"type":"string","uniqueItems":true}}}},
 "passive":{"type":"object","properties":{
  "type":{"type":"string","enum":["http","https","tcp"],"default":"http"},
  "healthy":{"type":"object","properties":{
   "http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":200,"maximum":599},"uniqueItems":true,"default":[200,201,202,203,204,205,206,207,208,226,300,301,302,303,304,305,306,307,308]},
   "successes":{"type":"integer","minimum":0,"maximum":254,"default":5}}},
  "unhealthy":{"type":"object","properties":{
   "http_statuses":{"type":"array","minItems":1,"items":{"type":"integer","minimum":200,"maximum":599},"uniqueItems":true,"default":[429,500,503]},
   "tcp_failures":{"type":"integer","minimum":0,"maximum":254,"default":2},
   "timeouts":{"type":"integer","minimum":0,"maximum":254,"default":7},
   "http_failures":{"type":"integer","minimum":0,"maximum":254,"default":5}}}}}},
 "additionalProperties":false,
 "anyOf":[{"required":["active"]},{"required":["active","passive"]}]}`

const nodesJSON = `{"anyOf":[
 {"type":"object","patternProperties":{".*":{"description":"weight of node","type":"integer","minimum":0}}},
 {"type":"array","items":{"type":"object","properties":{
  "host":HOSTDEF,
  "port":{"description":"port of node","type":"integer","minimum":1,"maximum":65535},
  "weight":{"description":"weight of node","type":"integer","minimum":0},
  "priority":{"description":"priority of node","type":"integer","default":0},
  "metadata":{"description":"metadata of node","type":"object"}},
  "required":["host","weight"]}}]}`

const upstreamJSON = `{"type":"object","properties":{
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "nodes":NODES,
 "retries":{"type":"integer","minimum":0},
 "retry_timeout":{"type":"number","minimum":0},
 "timeout":TIMEOUT,
 "tls":{"type":"object","properties":{
  "client_cert_id":IDSCHEMA,
  "client_cert":CERT,
  "client_key":KEY,
  "verify":{"type":"boolean","description":"Turn on server certificate verification, currently only kafka upstream is supported","default":false}},
  "dependencies":{"client_cert":["client_key"],"client_key":["client_cert"],"client_cert_id":{"not":{"required":["client_cert","client_key"]}}}},
 "keepalive_pool":{"type":"object","properties":{
  "size":{"type":"integer","default":320,"minimum":1},
  "idle_timeout":{"type":"number","default":60,"minimum":0},
  "requests":{"type":"integer","default":1000,"minimum":1}},
  "required":["size","idle_timeout","requests"]},
 "type":{"description":"algorithms of load balancing","type":"string","default":"roundrobin"},
 "checks":HEALTH,
 "hash_on":{"type":"string","default":"vars","enum":["vars","header","cookie","consumer","vars_combinations"]},
 "key":{"description":"the key of chash for dynamic load balancing","type":"string"},
 "scheme":{"default":"http","enum":["grpc","grpcs","http","https","tcp","tls","udp","kafka"],"description":"The scheme of the upstream. For L7 proxy, it can be one of grpc/grpcs/http/https. For L4 proxy, it can be one of tcp/tls/udp. For specific protocols, it can be kafka."},
 "discovery_type":{"description":"discovery type","type":"string"},
 "discovery_args":{"type":"object","properties":{
  "namespace_id":{"description":"namespace id","type":"string"},
  "group_name":{"description":"group name","type":"string"}}},
 "pass_host":{"description":"mod of host passing","type":"string","enum":["pass","node","rewrite"],"default":"pass"},
 "upstream_host":HOSTDEF,
 "service_name":{"type":"string","maxLength":256,"minLength":1},
 "id":IDSCHEMA,
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "oneOf":[{"required":["nodes"]},{"required":["service_name","discovery_type"]}],
 "additionalProperties":false}`

const routeJSON = `{"type":"object","properties":{
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "uri":{"type":"string","minLength":1,"maxLength":4096},
 "uris":{"type":"array","items":{"description":"HTTP uri","type":"string"},"minItems":1,"uniqueItems":true},
 "priority":{"type":"integer","default":0},
 "methods":{"type":"array","items":{"description":"HTTP method","type":"string","enum":["GET","POST","PUT","DELETE","PATCH","HEAD","OPTIONS","CONNECT","TRACE","PURGE"]},"uniqueItems":true},
 "host":HOSTDEF,
 "hosts":{"type":"array","items":HOSTDEF,"minItems":1,"uniqueItems":true},
 "remote_addr":{"description":"client IP","type":"string","anyOf":IPDEF},
 "remote_addrs":{"type":"array","items":{"description":"client IP","type":"string","anyOf":IPDEF},"minItems":1,"uniqueItems":true},
 "timeout":TIMEOUT,
 "vars":{"type":"array"},
 "filter_func":{"type":"string","minLength":10,"pattern":"^function"},
 "script":{"type":"string","minLength":10,"maxLength":102400},
 "script_id":IDSCHEMA,
 "plugins":{"type":"object"},
 "plugin_config_id":IDSCHEMA,
 "upstream":UPSTREAM,
 "service_id":IDSCHEMA,
 "upstream_id":IDSCHEMA,
 "service_protocol":{"enum":["grpc","http"]},
 "enable_websocket":{"description":"enable websocket for request","type":"boolean"},
 "id":IDSCHEMA,
 "status":{"description":"route status, 1 to enable, 0 to disable","type":"integer","enum":[1,0],"default":1},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "allOf":[
  {"oneOf":[{"required":["uri"]},{"required":["uris"]}]},
  {"oneOf":[{"not":{"anyOf":[{"required":["script"]},{"required":["plugin_config_id"]}]}},{"required":["script"]},{"required":["plugin_config_id"]}]}],
 "anyOf":[
  {"required":["plugins","uri"]},{"required":["upstream","uri"]},{"required":["upstream_id","uri"]},{"required":["service_id","uri"]},
  {"required":["plugins","uris"]},{"required":["upstream","uris"]},{"required":["upstream_id","uris"]},{"required":["service_id","uris"]},
  {"required":["script","uri"]},{"required":["script","uris"]}],
 "not":{"anyOf":[{"required":["script","plugins"]}]},
 "additionalProperties":false}`

const serviceJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object"},
 "upstream":UPSTREAM,
 "upstream_id":IDSCHEMA,
 "script":{"type":"string","minLength":10,"maxLength":102400},
 "enable_websocket":{"description":"enable websocket for request","type":"boolean"},
 "hosts":{"type":"array","items":HOSTDEF,"minItems":1,"uniqueItems":true},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "additionalProperties":false}`

const consumerJSON = `{"type":"object","properties":{
 "username":{"type":"string","minLength":1,"maxLength":USERMAX,"pattern":"USERPAT"},
 "group_id":IDSCHEMA,
 "plugins":{"type":"object"},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "desc":DESC,
 "labels":LABELS},
 "required":["username"],
 "additionalProperties":false}`

const credentialJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object","maxProperties":1},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "additionalProperties":false}`

const sslJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "type":{"description":"ssl certificate type, server to server certificate, client to client certificate for upstream","type":"string","default":"server","enum":["server","client"]},
 "cert":CERT,
 "key":KEY,
 "sni":{"type":"string","pattern":"^\\*?[0-9a-zA-Z-.]+$"},
 "snis":{"type":"array","items":{"type":"string","pattern":"^\\*?[0-9a-zA-Z-.]+$"},"minItems":1},
 "client":{"type":"object","properties":{
  "ca":CERT,
  "depth":{"type":"integer","minimum":0,"default":1},
  "skip_mtls_uri_regex":{"type":"array","minItems":1,"uniqueItems":true,"items":{"description":"uri regular expression to skip mtls","type":"string"}}},
  "required":["ca"]},
 "certs":{"type":"array","items":CERT},
 "keys":{"type":"array","items":KEY},
 "ssl_protocols":{"description":"set ssl protocols","type":"array","maxItems":3,"uniqueItems":true,"items":{"enum":["TLSv1.1","TLSv1.2","TLSv1.3"]}},
 "validity_end":{"type":"integer"},
 "validity_start":{"type":"integer"},
 "status":{"description":"ssl status, 1 to enable, 0 to disable","type":"integer","enum":[1,0],"default":1},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "desc":DESC,
 "labels":LABELS},
 "if":{"properties":{"type":{"enum":["server"]}}},
 "then":{"oneOf":[{"required":["sni","key","cert"]},{"required":["snis","key","cert"]}]},
 "else":{"required":["key","cert"]},
 "additionalProperties":false}`

const globalRuleJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object"},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"}},
 "required":["id","plugins"],
 "additionalProperties":false}`

const pluginConfigJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object"},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "name":{"type":"string"},
 "desc":DESC,
 "labels":LABELS},
 "required":["id","plugins"],
 "additionalProperties":false}`

const consumerGroupJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object"},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "required":["id","plugins"],
 "additionalProperties":false}`

const protoJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "content":{"type":"string","minLength":1,"maxLength":1048576},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "required":["content"],
 "additionalProperties":false}`

const streamRouteJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"},
 "remote_addr":{"description":"client IP","type":"string","anyOf":IPDEF},
 "server_addr":{"description":"server IP","type":"string","anyOf":IPDEF},
 "server_port":{"description":"server port","type":"integer"},
 "sni":{"description":"server name indication","type":"string","pattern":"^\\*?[0-9a-zA-Z-.]+$"},
 "upstream":UPSTREAM,
 "upstream_id":IDSCHEMA,
 "service_id":IDSCHEMA,
 "plugins":{"type":"object"},
 "protocol":{"type":"object","properties":{
  "name":{"type":"string"},
  "superior_id":IDSCHEMA,
  "conf":{"type":"object"},
  "logger":{"type":"array"}},
  "required":["name"]},
 "name":NAME,
 "desc":DESC,
 "labels":LABELS},
 "additionalProperties":false}`

const vaultJSON = `{"type":"object","properties":{
 "uri":{"type":"string","pattern":"^[^\\/]+:\\/\\/([\\da-zA-Z.-]+|\\[[\\da-fA-F:]+\\])(:\\d+)?"},
 "prefix":{"type":"string"},
 "token":{"type":"string"},
 "namespace":{"type":"string"},
 "id":{"type":"string"},
 "create_time":{"type":"integer"},
 "update_time":{"type":"integer"}},
 "required":["uri","prefix","token"]}`

const genericSecretJSON = `{"type":"object"}`

// coreSchemas are the compiled schemas of one emulator, per resource kind.
type coreSchemas struct {
	route, service, upstream, consumer, credential, ssl *schema
	globalRule, pluginConfig, consumerGroup, proto      *schema
	streamRoute, vault, secret                          *schema
	byName                                              map[string]*schema
}

// buildCoreSchemas compiles the schemas for an APISIX version.
func buildCoreSchemas(v version) *coreSchemas {
	nameMax := "256"
	if v.less(version{3, 15, 0}) {
		nameMax = "100"
	}
	userPat := `^[a-zA-Z0-9_\\-]+$`
	if v.less(version{3, 13, 0}) {
		userPat = `^[a-zA-Z0-9_]+$`
	}
	expand := func(s string) string {
		r := strings.NewReplacer(
			"UPSTREAM", expandUpstream(),
			"IDSCHEMA", idSchemaJSON,
			"HOSTDEF", hostDefJSON,
			"IPDEF", ipDefJSON,
			"LABELS", labelsJSON,
			"TIMEOUT", timeoutJSON,
			"CERT", certJSON,
			"KEY", keyJSON,
			"NAME", `{"type":"string","maxLength":`+nameMax+`,"minLength":1}`,
			"DESC", `{"type":"string","maxLength":256}`,
			"USERMAX", nameMax,
			"USERPAT", userPat,
		)
		// Two passes: UPSTREAM brings its own placeholders.
		return r.Replace(r.Replace(s))
	}
	cs := &coreSchemas{
		route:         mustSchema(expand(routeJSON)),
		service:       mustSchema(expand(serviceJSON)),
		upstream:      mustSchema(expand(expandUpstream())),
		consumer:      mustSchema(expand(consumerJSON)),
		credential:    mustSchema(expand(credentialJSON)),
		ssl:           mustSchema(expand(sslJSON)),
		globalRule:    mustSchema(expand(globalRuleJSON)),
		pluginConfig:  mustSchema(expand(pluginConfigJSON)),
		consumerGroup: mustSchema(expand(consumerGroupJSON)),
		proto:         mustSchema(expand(protoJSON)),
		streamRoute:   mustSchema(expand(streamRouteJSON)),
		vault:         mustSchema(expand(vaultJSON)),
		secret:        mustSchema(genericSecretJSON),
	}
	cs.byName = map[string]*schema{
		"route": cs.route, "service": cs.service, "upstream": cs.upstream,
		"consumer": cs.consumer, "credential": cs.credential, "ssl": cs.ssl,
		"global_rule": cs.globalRule, "plugin_config": cs.pluginConfig,
		"consumer_group": cs.consumerGroup, "proto": cs.proto, "stream_route": cs.streamRoute,
	}
	return cs
}

func expandUpstream() string {
	r := strings.NewReplacer("NODES", nodesJSON, "HEALTH", healthCheckerJSON)
	return r.Replace(upstreamJSON)
}
