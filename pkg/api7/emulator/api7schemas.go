package emulator

import "strings"

// API7 Enterprise's runtime schemas. No API7 server was recorded: these
// follow the 3.2.14 OpenAPI document and ADC's backend-api7 (reference
// §2.3). The defaults are those GET /api/schema/core reports on 3.8+
// (ADC's e2e default-value test); the emulator stores them on write (only
// scalars, the way ADC merges them), so an ADC-style diff converges.

const api7LabelsJSON = `{"type":"object","patternProperties":{".*":{"type":"string","minLength":1,"maxLength":65536}}}`

const api7TimeoutJSON = `{"type":"object","properties":{
 "connect":{"type":"number","exclusiveMinimum":0,"default":60},
 "send":{"type":"number","exclusiveMinimum":0,"default":60},
 "read":{"type":"number","exclusiveMinimum":0,"default":60}}}`

const api7UpstreamJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "name":{"type":"string","minLength":1,"maxLength":1024,"default":"default"},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "type":{"type":"string","enum":["roundrobin","chash","least_conn","ewma"],"default":"roundrobin"},
 "hash_on":{"type":"string","enum":["vars","header","cookie","consumer","vars_combinations"],"default":"vars"},
 "key":{"type":"string"},
 "checks":{"type":"object"},
 "nodes":{"type":"array","maxItems":64,"items":{"type":"object","properties":{
  "host":{"type":"string","minLength":1},
  "port":{"type":"integer","minimum":1,"maximum":65535},
  "weight":{"type":"integer","minimum":0},
  "priority":{"type":"integer","default":0},
  "metadata":{"type":"object"}},
  "required":["host","weight"],"additionalProperties":false},"default":[{"priority":0}]},
 "scheme":{"type":"string","enum":["grpc","grpcs","http","https","tcp","tls","udp","kafka"],"default":"SCHEME"},
 "retries":{"type":"integer","minimum":0},
 "retry_timeout":{"type":"number","minimum":0,"default":0},
 "timeout":TIMEOUT7,
 "tls":{"type":"object"},
 "keepalive_pool":{"type":"object","properties":{
  "size":{"type":"integer","minimum":1,"default":320},
  "idle_timeout":{"type":"number","minimum":0,"default":60},
  "requests":{"type":"integer","minimum":1,"default":1000}}},
 "pass_host":{"type":"string","enum":["pass","node","rewrite"],"default":"pass"},
 "upstream_host":{"type":"string"},
 "service_name":{"type":"string","minLength":1,"maxLength":256},
 "discovery_type":{"type":"string","enum":["kubernetes","nacos","consul","dns","eureka"]},
 "discovery_args":{"type":"object","default":{}},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "oneOf":[{"required":["nodes"]},{"required":["service_name","discovery_type"]}],
 "additionalProperties":false}`

const api7ServiceJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "service_id":IDSCHEMA,
 "name":{"type":"string","minLength":1,"maxLength":1024},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "type":{"type":"string","enum":["http","stream"],"default":"TYPE"},
 "hosts":{"type":"array","minItems":1,"maxItems":32,"uniqueItems":true,"items":{"type":"string","pattern":"^\\*?[0-9a-zA-Z-._]+$"}},
 "path_prefix":{"type":"string","pattern":"^/","maxLength":4096},
 "strip_path_prefix":{"type":"boolean","default":true},
 "upstream":UPSTREAM7,
 "plugins":{"type":"object"},
 "status":{"type":"integer","enum":[0,1]},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["name"],
 "additionalProperties":false}`

const api7RouteJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "route_id":IDSCHEMA,
 "name":{"type":"string","minLength":1,"maxLength":1024},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "methods":{"type":"array","maxItems":9,"uniqueItems":true,"items":{"type":"string","enum":["GET","POST","PUT","DELETE","PATCH","HEAD","OPTIONS","CONNECT","TRACE","PURGE"]}},
 "paths":{"type":"array","minItems":1,"maxItems":64,"uniqueItems":true,"items":{"type":"string","minLength":1,"maxLength":4096}},
 "service_id":IDSCHEMA,
 "plugins":{"type":"object"},
 "priority":{"type":"integer","default":0},
 "timeout":TIMEOUT7,
 "vars":{"type":"array"},
 "enable_websocket":{"type":"boolean"},
 "status":{"type":"integer","enum":[0,1]},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["name","paths","service_id"],
 "additionalProperties":false}`

const api7StreamRouteJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "stream_route_id":IDSCHEMA,
 "name":{"type":"string","minLength":1,"maxLength":1024},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "service_id":IDSCHEMA,
 "plugins":{"type":"object"},
 "server_addr":{"type":"string"},
 "server_port":{"type":"integer","minimum":1,"maximum":65535},
 "remote_addr":{"type":"string"},
 "sni":{"type":"string"},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["name","service_id"],
 "additionalProperties":false}`

const api7ConsumerJSON = `{"type":"object","properties":{
 "username":{"type":"string","minLength":1,"maxLength":1024,"pattern":"^[a-zA-Z0-9_\\-.]+$"},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "plugins":{"type":"object"},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["username"],
 "additionalProperties":false}`

const api7CredentialJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "name":{"type":"string","minLength":1,"maxLength":1024},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "plugins":{"type":"object","minProperties":1,"maxProperties":1},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["name","plugins"],
 "additionalProperties":false}`

const api7SSLJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "name":{"type":"string","maxLength":1024},
 "desc":{"type":"string","maxLength":65536},
 "labels":LABELS7,
 "type":{"type":"string","enum":["server","client"],"default":"server"},
 "status":{"type":"integer","enum":[0,1],"default":1},
 "snis":{"type":"array","minItems":1,"items":{"type":"string","pattern":"^\\*?[0-9a-zA-Z-.]+$"},"default":[]},
 "cert":{"type":"string","minLength":128,"maxLength":65536},
 "key":{"type":"string","minLength":32,"maxLength":65536},
 "certs":{"type":"array","items":{"type":"string"}},
 "keys":{"type":"array","items":{"type":"string"}},
 "certificates":{"type":"array","default":[]},
 "client":{"type":"object","properties":{"ca":{"type":"string"},"depth":{"type":"integer","minimum":0,"default":1},"skip_mtls_uri_regex":{"type":"array","items":{"type":"string"}}},"required":["ca"]},
 "ssl_protocols":{"type":"array","maxItems":3,"uniqueItems":true,"items":{"enum":["TLSv1.1","TLSv1.2","TLSv1.3"]}},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["cert","key"],
 "additionalProperties":false}`

const api7GlobalRuleJSON = `{"type":"object","properties":{
 "id":IDSCHEMA,
 "plugins":{"type":"object","minProperties":1},
 "created_at":{"type":"integer"},
 "updated_at":{"type":"integer"}},
 "required":["plugins"],
 "additionalProperties":false}`

// api7Schemas are the compiled API7 runtime schemas.
type api7Schemas struct {
	route, service, streamService, upstream, streamUpstream *schema
	streamRoute, consumer, credential, ssl, globalRule      *schema
}

func buildAPI7Schemas() *api7Schemas {
	expand := func(s, scheme, typ string) string {
		up := strings.NewReplacer("SCHEME", scheme).Replace(api7UpstreamJSON)
		r := strings.NewReplacer(
			"UPSTREAM7", up,
			"TIMEOUT7", api7TimeoutJSON,
			"LABELS7", api7LabelsJSON,
			"IDSCHEMA", idSchemaJSON,
			"\"TYPE\"", `"`+typ+`"`,
		)
		return r.Replace(r.Replace(s))
	}
	return &api7Schemas{
		route:          mustSchema(expand(api7RouteJSON, "http", "http")),
		service:        mustSchema(expand(api7ServiceJSON, "http", "http")),
		streamService:  mustSchema(expand(api7ServiceJSON, "tcp", "stream")),
		upstream:       mustSchema(expand(api7UpstreamJSON, "http", "http")),
		streamUpstream: mustSchema(expand(api7UpstreamJSON, "tcp", "stream")),
		streamRoute:    mustSchema(expand(api7StreamRouteJSON, "tcp", "stream")),
		consumer:       mustSchema(expand(api7ConsumerJSON, "http", "http")),
		credential:     mustSchema(expand(api7CredentialJSON, "http", "http")),
		ssl:            mustSchema(expand(api7SSLJSON, "http", "http")),
		globalRule:     mustSchema(expand(api7GlobalRuleJSON, "http", "http")),
	}
}
