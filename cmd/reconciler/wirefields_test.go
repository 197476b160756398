package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-gateway/reconciler/internal/testcert"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// The wire audit: every field of every kind of ADC's file format reaches
// the gateway under its wire name, reads back in sync, and a hand edit of
// it on the gateway is drift that names it. A field that the mapping drops
// on the way out never reaches the gateway; one dropped on the way back
// (or by the normaliser) hides drift. Each case is one field of one kind,
// on APISIX 3.18, APISIX 3.13 (which stores schema defaults) and API7
// Enterprise where the kind and field exist there: the stored value, a
// diff in sync, a hand edit reported on that object under that field
// alone (or not at all when it means the same), and a sync that puts the
// value back.

// wireLoc is where a field lives on the gateway: the object's Admin API
// path and a JSON pointer into its stored value.
type wireLoc struct {
	path, ptr string
}

// wireCase is one field. Its config and locations may use {s} (a suffix
// that makes the case's names unique), {cert}, {key}, {cert2}, {key2}
// (two certificate pairs, the cert and key as YAML strings).
type wireCase struct {
	name   string
	config string
	at     wireLoc // APISIX
	api7   wireLoc // API7 Enterprise, when it differs from at
	// noAPI7 is why the field does not exist on API7 Enterprise; onlyAPI7
	// marks a field only API7 Enterprise has.
	noAPI7   string
	onlyAPI7 bool
	want     string // the wire value, as JSON; null: absent; "": not checked
	edit     string // the value a hand edit writes there, as JSON; null removes it
	// editPtr is where the hand edit writes, when not at the field itself;
	// drop is a field the edit removes as well.
	editPtr, drop string
	drift         string // what the diff names after the edit (ADC's field path), or same
}

// noAPI7Because returns c marked as absent from API7 Enterprise.
func (c wireCase) noAPI7Because(why string) wireCase {
	c.noAPI7 = why
	return c
}

// same is the drift of a hand edit that means the same to the gateway
// (another form of the value): none.
const same = "="

func wireCases() []wireCase {
	svc := func(extra string) string {
		return "services:\n  - name: svc-{s}\n    id: svc-{s}\n" + extra +
			"    upstream:\n      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]\n"
	}
	// up builds a service whose default upstream has extra fields.
	up := func(extra string) string {
		return "services:\n  - name: svc-{s}\n    id: svc-{s}\n    upstream:\n" + extra
	}
	nodes := "      nodes: [{host: 10.0.0.1, port: 80, weight: 1}]\n"
	// extra builds a service with one extra upstream having extra fields.
	extra := func(fields string) string {
		return svc("") + "    upstreams:\n      - name: canary-{s}\n        id: up-{s}\n" + fields
	}
	route := func(fields string) string {
		return svc("") + "    routes:\n      - name: r-{s}\n        id: r-{s}\n        uris: [/r-{s}]\n" + fields
	}
	stream := func(fields string) string {
		return "services:\n  - name: svc-{s}\n    id: svc-{s}\n    upstream:\n      scheme: tcp\n      nodes: [{host: 10.0.0.1, port: 5432, weight: 1}]\n" +
			"    stream_routes:\n      - name: sr-{s}\n        id: sr-{s}\n" + fields
	}
	consumer := func(fields string) string {
		return "consumers:\n  - username: c-{s}\n" + fields
	}
	cred := func(fields string) string {
		return consumer("    credentials:\n      - name: cr-{s}\n        id: cr-{s}\n" + fields)
	}
	ssl := func(fields string) string {
		return "ssls:\n  - id: ssl-{s}\n    snis: [s-{s}.example.com]\n    certificates:\n      - {certificate: {cert}, key: {key}}\n" + fields
	}
	group := func(fields string) string {
		return "consumer_groups:\n  - name: g-{s}\n    id: g-{s}\n" + fields
	}
	svcAt := wireLoc{"/apisix/admin/services/svc-{s}", ""}
	upAt := wireLoc{"/apisix/admin/upstreams/svc-{s}", ""}
	inline7 := wireLoc{"/apisix/admin/services/svc-{s}", "/upstream"}
	extraAt := wireLoc{"/apisix/admin/upstreams/up-{s}", ""}
	extra7 := wireLoc{"/apisix/admin/services/svc-{s}/upstreams/up-{s}", ""}
	routeAt := wireLoc{"/apisix/admin/routes/r-{s}", ""}
	streamAt := wireLoc{"/apisix/admin/stream_routes/sr-{s}", ""}
	consumerAt := wireLoc{"/apisix/admin/consumers/c-{s}", ""}
	credAt := wireLoc{"/apisix/admin/consumers/c-{s}/credentials/cr-{s}", ""}
	sslAt := wireLoc{"/apisix/admin/ssls/ssl-{s}", ""}
	groupAt := wireLoc{"/apisix/admin/consumer_groups/g-{s}", ""}
	in := func(l wireLoc, ptr string) wireLoc { return wireLoc{l.path, l.ptr + ptr} }
	// upCase is a field of a service's default upstream.
	upCase := func(name, fields, ptr, want, edit, drift string) wireCase {
		if drift != same {
			drift = "/upstream" + drift
		}
		return wireCase{name: "service/upstream/" + name, config: up(fields), at: in(upAt, ptr), api7: in(inline7, ptr),
			want: want, edit: edit, drift: drift}
	}
	// extraCase is a field of an extra upstream.
	extraCase := func(name, fields, ptr, want, edit, drift string) wireCase {
		return wireCase{name: "upstream/" + name, config: extra(fields), at: in(extraAt, ptr), api7: in(extra7, ptr),
			want: want, edit: edit, drift: drift}
	}
	return []wireCase{
		// Services.
		{name: "service/name", config: svc(""), at: in(svcAt, "/name"), want: `"svc-{s}"`, edit: `"renamed"`, drift: "/name"},
		{name: "service/description", config: svc("    description: the shop\n"), at: in(svcAt, "/desc"), want: `"the shop"`, edit: `"other"`, drift: "/description"},
		{name: "service/labels", config: svc("    labels: {team: a}\n"), at: in(svcAt, "/labels/team"), want: `"a"`, edit: `"b"`, drift: "/labels"},
		{name: "service/labels-array", config: svc("    labels: {tags: [x, y]}\n"), at: in(svcAt, "/labels/tags"), want: `"[\"x\",\"y\"]"`, edit: `"[\"x\"]"`, drift: "/labels"},
		{name: "service/hosts", config: svc("    hosts: [a.example.com]\n"), at: in(svcAt, "/hosts"), want: `["a.example.com"]`, edit: `["b.example.com"]`, drift: "/hosts"},
		{name: "service/plugins", config: svc("    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(svcAt, "/plugins/proxy-rewrite/uri"), want: `"/x"`, edit: `"/y"`, drift: "/plugins"},
		{name: "service/path_prefix", config: svc("    path_prefix: /api\n"), onlyAPI7: true, at: in(svcAt, "/path_prefix"), want: `"/api"`, edit: `"/v2"`, drift: "/path_prefix"},
		{name: "service/strip_path_prefix", config: svc("    strip_path_prefix: false\n"), onlyAPI7: true, at: in(svcAt, "/strip_path_prefix"), want: `false`, edit: `true`, drift: "/strip_path_prefix"},

		// A service's default upstream.
		upCase("name", "      name: main-{s}\n"+nodes, "/name", `"main-{s}"`, `"other"`, "/name"),
		upCase("description", "      description: pool\n"+nodes, "/desc", `"pool"`, `"other"`, "/description"),
		upCase("labels", "      labels: {zone: a}\n"+nodes, "/labels/zone", `"a"`, `"b"`, "/labels"),
		upCase("type", "      type: least_conn\n"+nodes, "/type", `"least_conn"`, `"ewma"`, "/type"),
		upCase("hash_on", "      type: chash\n      hash_on: header\n      key: X-User\n"+nodes, "/hash_on", `"header"`, `"cookie"`, "/hash_on"),
		upCase("key", "      type: chash\n      key: remote_addr\n"+nodes, "/key", `"remote_addr"`, `"server_addr"`, "/key"),
		upCase("nodes/host", nodes, "/nodes/0/host", `"10.0.0.1"`, `"10.0.0.2"`, "/nodes"),
		upCase("nodes/port", nodes, "/nodes/0/port", `80`, `8080`, "/nodes"),
		upCase("nodes/weight", nodes, "/nodes/0/weight", `1`, `5`, "/nodes"),
		upCase("nodes/priority", "      nodes: [{host: 10.0.0.1, port: 80, weight: 1, priority: 3}]\n", "/nodes/0/priority", `3`, `4`, "/nodes"),
		upCase("nodes/metadata", "      nodes: [{host: 10.0.0.1, port: 80, weight: 1, metadata: {zone: a}}]\n", "/nodes/0/metadata/zone", `"a"`, `"b"`, "/nodes"),
		upCase("scheme", "      scheme: https\n      nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n", "/scheme", `"https"`, `"grpcs"`, "/scheme"),
		upCase("retries", "      retries: 3\n"+nodes, "/retries", `3`, `4`, "/retries"),
		upCase("retry_timeout", "      retry_timeout: 5\n"+nodes, "/retry_timeout", `5`, `6`, "/retry_timeout"),
		upCase("timeout", "      timeout: {connect: 1, send: 2, read: 3}\n"+nodes, "/timeout/read", `3`, `4`, "/timeout"),
		upCase("pass_host", "      pass_host: node\n"+nodes, "/pass_host", `"node"`, `"pass"`, "/pass_host"),
		upCase("upstream_host", "      pass_host: rewrite\n      upstream_host: backend.example.com\n"+nodes, "/upstream_host", `"backend.example.com"`, `"other.example.com"`, "/upstream_host"),
		upCase("keepalive_pool", "      keepalive_pool: {size: 10, idle_timeout: 5, requests: 100}\n"+nodes, "/keepalive_pool/size", `10`, `11`, "/keepalive_pool"),
		upCase("tls/verify", "      scheme: https\n      tls: {verify: true}\n      nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n", "/tls/verify", `true`, `false`, "/tls"),
		upCase("tls/client_cert", "      scheme: https\n      tls: {client_cert: {cert}, client_key: {key}}\n      nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n", "/tls/client_cert", `{cert}`, `{cert2}`, "/tls/client_cert"),
		upCase("service_name", "      service_name: shop\n      discovery_type: dns\n", "/service_name", `"shop"`, `"other"`, "/service_name"),
		upCase("discovery_type", "      service_name: shop\n      discovery_type: dns\n", "/discovery_type", `"dns"`, `"consul"`, "/discovery_type"),
		upCase("discovery_args", "      service_name: shop\n      discovery_type: nacos\n      discovery_args: {namespace_id: ns1}\n", "/discovery_args/namespace_id", `"ns1"`, `"ns2"`, "/discovery_args"),
		upCase("checks/active", "      checks:\n        active: {type: http, http_path: /healthz, timeout: 2, concurrency: 3, host: h.example.com, port: 8080}\n"+nodes, "/checks/active/http_path", `"/healthz"`, `"/other"`, "/checks"),
		upCase("checks/active/https_verify_certificate", "      checks:\n        active: {type: https, https_verify_certificate: false}\n"+nodes, "/checks/active/https_verify_certificate", `false`, `true`, "/checks"),
		upCase("checks/minimal", "      checks:\n        active: {type: http}\n        passive: {type: http}\n"+nodes, "/checks/active/type", `"http"`, `"tcp"`, "/checks"),
		upCase("checks/http_request_headers", "      checks:\n        active: {http_request_headers: [\"User-Agent: probe\"]}\n"+nodes, "/checks/active/http_request_headers", `["User-Agent: probe"]`, `["User-Agent: other"]`, "/checks"),
		upCase("checks/active/healthy", "      checks:\n        active:\n          healthy: {interval: 5, successes: 3, http_statuses: [200]}\n"+nodes, "/checks/active/healthy/interval", `5`, `6`, "/checks"),
		upCase("checks/active/unhealthy", "      checks:\n        active:\n          unhealthy: {interval: 5, http_failures: 4, tcp_failures: 4, timeouts: 4, http_statuses: [500]}\n"+nodes, "/checks/active/unhealthy/timeouts", `4`, `5`, "/checks"),
		upCase("checks/passive", "      checks:\n        active: {type: http}\n        passive:\n          type: http\n          healthy: {successes: 4, http_statuses: [200]}\n          unhealthy: {http_failures: 4, tcp_failures: 4, timeouts: 4, http_statuses: [502]}\n"+nodes, "/checks/passive/unhealthy/http_failures", `4`, `5`, "/checks"),

		// An extra named upstream of a service.
		extraCase("name", "  "+nodes, "/name", `"canary-{s}"`, `"other"`, "/name"),
		extraCase("description", "        description: pool\n"+"  "+nodes, "/desc", `"pool"`, `"other"`, "/description"),
		extraCase("labels", "        labels: {zone: a}\n"+"  "+nodes, "/labels/zone", `"a"`, `"b"`, "/labels"),
		extraCase("nodes", "  "+nodes, "/nodes/0/host", `"10.0.0.1"`, `"10.0.0.9"`, "/nodes"),
		extraCase("retries", "        retries: 2\n"+"  "+nodes, "/retries", `2`, `1`, "/retries"),
		extraCase("timeout", "        timeout: {connect: 1, send: 2, read: 3}\n"+"  "+nodes, "/timeout/send", `2`, `9`, "/timeout"),
		extraCase("tls/client_cert", "        scheme: https\n        tls: {client_cert: {cert}, client_key: {key}}\n        nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n", "/tls/client_cert", `{cert}`, `{cert2}`, "/tls/client_cert"),

		// Routes.
		{name: "route/name", config: route(""), at: in(routeAt, "/name"), want: `"r-{s}"`, edit: `"other"`, drift: "/name"},
		{name: "route/description", config: route("        description: ip\n"), at: in(routeAt, "/desc"), want: `"ip"`, edit: `"other"`, drift: "/description"},
		{name: "route/labels", config: route("        labels: {team: a}\n"), at: in(routeAt, "/labels/team"), want: `"a"`, edit: `"b"`, drift: "/labels"},
		{name: "route/uris", config: route(""), at: in(routeAt, "/uris"), api7: in(routeAt, "/paths"), want: `["/r-{s}"]`, edit: `["/other"]`, drift: "/uris"},
		{name: "route/hosts", config: route("        hosts: [a.example.com]\n"), at: in(routeAt, "/hosts"), noAPI7: "routes have no hosts on API7 (the service has)", want: `["a.example.com"]`, edit: `["b.example.com"]`, drift: "/hosts"},
		{name: "route/priority", config: route("        priority: 7\n"), at: in(routeAt, "/priority"), want: `7`, edit: `8`, drift: "/priority"},
		{name: "route/timeout", config: route("        timeout: {connect: 1, send: 2, read: 3}\n"), at: in(routeAt, "/timeout/connect"), want: `1`, edit: `9`, drift: "/timeout"},
		{name: "route/vars", config: route("        vars: [[arg_a, ==, b]]\n"), at: in(routeAt, "/vars"), want: `[["arg_a","==","b"]]`, edit: `[["arg_a","==","c"]]`, drift: "/vars"},
		{name: "route/methods", config: route("        methods: [GET]\n"), at: in(routeAt, "/methods"), want: `["GET"]`, edit: `["POST"]`, drift: "/methods"},
		{name: "route/enable_websocket", config: route("        enable_websocket: true\n"), at: in(routeAt, "/enable_websocket"), want: `true`, edit: `false`, drift: "/enable_websocket"},
		{name: "route/remote_addrs", config: route("        remote_addrs: [10.0.0.0/8]\n"), at: in(routeAt, "/remote_addrs"), noAPI7: "routes have no remote_addrs on API7", want: `["10.0.0.0/8"]`, edit: `["192.168.0.0/16"]`, drift: "/remote_addrs"},
		{name: "route/plugins", config: route("        plugins:\n          proxy-rewrite: {uri: /x}\n"), at: in(routeAt, "/plugins/proxy-rewrite/uri"), want: `"/x"`, edit: `"/y"`, drift: "/plugins"},
		{name: "route/filter_func", config: route("        filter_func: \"function(vars) return true end\"\n"), at: in(routeAt, "/filter_func"), noAPI7: "routes have no filter_func on API7", want: `"function(vars) return true end"`, edit: `"function(vars) return false end"`, drift: "/filter_func"},

		// Stream routes.
		{name: "stream_route/name", config: stream(""), at: in(streamAt, "/labels/__ADC_NAME"), api7: in(streamAt, "/name"), want: `"sr-{s}"`, edit: `"other"`, drift: "/name"},
		{name: "stream_route/description", config: stream("        description: pg\n"), at: in(streamAt, "/desc"), want: `"pg"`, edit: `"other"`, drift: "/description"},
		{name: "stream_route/labels", config: stream("        labels: {team: a}\n"), at: in(streamAt, "/labels/team"), want: `"a"`, edit: `"b"`, drift: "/labels"},
		{name: "stream_route/remote_addr", config: stream("        remote_addr: 10.0.0.1\n"), at: in(streamAt, "/remote_addr"), want: `"10.0.0.1"`, edit: `"10.0.0.2"`, drift: "/remote_addr"},
		{name: "stream_route/server_addr", config: stream("        server_addr: 127.0.0.1\n"), at: in(streamAt, "/server_addr"), want: `"127.0.0.1"`, edit: `"127.0.0.2"`, drift: "/server_addr"},
		{name: "stream_route/server_port", config: stream("        server_port: 9100\n"), at: in(streamAt, "/server_port"), want: `9100`, edit: `9101`, drift: "/server_port"},
		{name: "stream_route/sni", config: stream("        sni: db.example.com\n"), at: in(streamAt, "/sni"), want: `"db.example.com"`, edit: `"other.example.com"`, drift: "/sni"},
		{name: "stream_route/plugins", config: stream("        plugins:\n          ip-restriction: {whitelist: [10.0.0.0/8]}\n"), at: in(streamAt, "/plugins/ip-restriction/whitelist"), want: `["10.0.0.0/8"]`, edit: `["10.1.0.0/16"]`, drift: "/plugins"},

		// Consumers and their credentials.
		{name: "consumer/username", config: consumer(""), at: in(consumerAt, "/username"), want: `"c-{s}"`, edit: `"c-{s}"`, drift: ""},
		{name: "consumer/description", config: consumer("    description: a user\n"), at: in(consumerAt, "/desc"), want: `"a user"`, edit: `"other"`, drift: "/description"},
		{name: "consumer/labels", config: consumer("    labels: {team: a}\n"), at: in(consumerAt, "/labels/team"), want: `"a"`, edit: `"b"`, drift: "/labels"},
		{name: "consumer/plugins", config: consumer("    plugins:\n      key-auth: {key: key-{s}}\n"), at: in(consumerAt, "/plugins/key-auth/key"), want: `"key-{s}"`, edit: `"other-{s}"`, drift: "/plugins"},
		{name: "consumer/group", config: group("    plugins:\n      proxy-rewrite: {uri: /x}\n    consumers:\n      - username: c-{s}\n"), at: in(consumerAt, "/group_id"), noAPI7: "no consumer groups on API7", want: `"g-{s}"`, edit: `null`, drift: "/group_id"},
		{name: "credential/name", config: cred("        type: key-auth\n        config: {key: ck-{s}}\n"), at: in(credAt, "/name"), want: `"cr-{s}"`, edit: `"other"`, drift: "/name"},
		{name: "credential/description", config: cred("        description: main\n        type: key-auth\n        config: {key: ck-{s}}\n"), at: in(credAt, "/desc"), want: `"main"`, edit: `"other"`, drift: "/description"},
		{name: "credential/labels", config: cred("        labels: {env: prod}\n        type: key-auth\n        config: {key: ck-{s}}\n"), at: in(credAt, "/labels/env"), want: `"prod"`, edit: `"dev"`, drift: "/labels"},
		{name: "credential/config", config: cred("        type: key-auth\n        config: {key: ck-{s}}\n"), at: in(credAt, "/plugins/key-auth/key"), want: `"ck-{s}"`, edit: `"other-{s}"`, drift: "/config"},
		{name: "credential/type", config: cred("        type: basic-auth\n        config: {username: u-{s}, password: p-{s}}\n"), at: in(credAt, "/plugins/basic-auth/username"), want: `"u-{s}"`, edit: `"v-{s}"`, drift: "/config"},

		// SSLs.
		{name: "ssl/snis", config: ssl(""), at: in(sslAt, "/snis"), want: `["s-{s}.example.com"]`, edit: `["t-{s}.example.com"]`, drift: "/snis"},
		{name: "ssl/labels", config: ssl("    labels: {team: a}\n"), at: in(sslAt, "/labels/team"), want: `"a"`, edit: `"b"`, drift: "/labels"},
		{name: "ssl/type", config: ssl("    type: server\n"), at: in(sslAt, "/type"), want: `"server"`, edit: `"client"`, drift: "/type"},
		{name: "ssl/certificates", config: ssl(""), at: in(sslAt, "/cert"), want: `{cert}`, edit: `{cert2}`, drift: "/certificates"},
		{name: "ssl/certificates-more", config: "ssls:\n  - id: ssl-{s}\n    snis: [s-{s}.example.com]\n    certificates:\n      - {certificate: {cert}, key: {key}}\n      - {certificate: {cert2}, key: {key2}}\n",
			at: in(sslAt, "/certs/0"), want: `{cert2}`, edit: `{cert}`, drift: "/certificates"},
		{name: "ssl/certificates-secret-ref", config: "ssls:\n  - id: ssl-{s}\n    snis: [s-{s}.example.com]\n    certificates:\n      - {certificate: \"$secret://vault/1/cert-{s}\", key: \"$secret://vault/1/key-{s}\"}\n",
			at: in(sslAt, "/cert"), want: `"$secret://vault/1/cert-{s}"`, edit: `"$secret://vault/1/other-{s}"`, drift: "/certificates"},
		{name: "ssl/client/ca", config: ssl("    client: {ca: {cert}}\n"), at: in(sslAt, "/client/ca"), want: `{cert}`, edit: `{cert2}`, drift: "/client"},
		{name: "ssl/client/depth", config: ssl("    client: {ca: {cert}, depth: 3}\n"), at: in(sslAt, "/client/depth"), want: `3`, edit: `4`, drift: "/client"},
		{name: "ssl/client/skip_mtls_uri_regex", config: ssl("    client: {ca: {cert}, skip_mtls_uri_regex: [/health.*]}\n"), at: in(sslAt, "/client/skip_mtls_uri_regex"), want: `["/health.*"]`, edit: `["/x.*"]`, drift: "/client"},
		{name: "ssl/ssl_protocols", config: ssl("    ssl_protocols: [TLSv1.2, TLSv1.3]\n"), at: in(sslAt, "/ssl_protocols"), want: `["TLSv1.2","TLSv1.3"]`, edit: `["TLSv1.3"]`, drift: "/ssl_protocols"},

		// Consumer groups.
		{name: "consumer_group/name", config: group("    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(groupAt, "/name"), noAPI7: "no consumer groups on API7", want: `"g-{s}"`, edit: `"other"`, drift: "/name"},
		{name: "consumer_group/description", config: group("    description: gold\n    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(groupAt, "/desc"), noAPI7: "no consumer groups on API7", want: `"gold"`, edit: `"other"`, drift: "/description"},
		{name: "consumer_group/labels", config: group("    labels: {tier: gold}\n    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(groupAt, "/labels/tier"), noAPI7: "no consumer groups on API7", want: `"gold"`, edit: `"silver"`, drift: "/labels"},
		{name: "consumer_group/plugins", config: group("    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(groupAt, "/plugins/proxy-rewrite/uri"), noAPI7: "no consumer groups on API7", want: `"/x"`, edit: `"/y"`, drift: "/plugins"},

		// Removals by hand, label lists, and more shapes of the same fields.
		{name: "service/plugins-removed", config: svc("    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(svcAt, "/plugins/proxy-rewrite/uri"), want: `"/x"`, edit: `null`, editPtr: "/plugins", drift: "/plugins"},
		{name: "service/upstream/retries-removed", config: up("      retries: 3\n" + nodes), at: in(upAt, "/retries"), api7: in(inline7, "/retries"), want: `3`, edit: `null`, drift: "/upstream/retries"},
		{name: "service/upstream/labels-array", config: up("      labels: {zones: [a, b]}\n" + nodes), at: in(upAt, "/labels/zones"), api7: in(inline7, "/labels/zones"), want: `"[\"a\",\"b\"]"`, edit: `"[\"a\"]"`, drift: "/upstream/labels"},
		upCase("nodes/ipv6", "      nodes: [{host: \"[::1]\", port: 80, weight: 1}]\n", "/nodes/0/host", `"[::1]"`, `"[::2]"`, "/nodes"),
		upCase("nodes/weight-0", "      nodes: [{host: 10.0.0.1, port: 80, weight: 0}]\n", "/nodes/0/weight", `0`, `1`, "/nodes"),
		{name: "service/upstream/nodes/added", config: up(nodes), at: in(upAt, "/nodes"), api7: in(inline7, "/nodes"), want: "", edit: `[{"host":"10.0.0.1","port":80,"weight":1},{"host":"10.0.0.3","port":80,"weight":1}]`, drift: "/upstream/nodes"},
		{name: "route/methods-removed", config: route("        methods: [GET, POST]\n"), at: in(routeAt, "/methods"), want: `["GET","POST"]`, edit: `null`, drift: "/methods"},
		{name: "route/labels-array", config: route("        labels: {tags: [x, y]}\n"), at: in(routeAt, "/labels/tags"), want: `"[\"x\",\"y\"]"`, edit: `"[\"y\"]"`, drift: "/labels"},
		{name: "route/labels-removed", config: route("        labels: {team: a}\n"), at: in(routeAt, "/labels/team"), want: `"a"`, edit: `null`, drift: "/labels"},
		{name: "route/status", config: route(""), at: in(routeAt, "/status"), noAPI7: "the client writes no status on API7: see route/status-api7", want: `1`, edit: `0`, drift: "/status"},
		{name: "route/status-api7", config: route(""), at: in(routeAt, "/status"), onlyAPI7: true, want: "", edit: `0`, drift: "/status"},
		{name: "stream_route/plugins-removed", config: stream("        plugins:\n          ip-restriction: {whitelist: [10.0.0.0/8]}\n"), at: in(streamAt, "/plugins/ip-restriction/whitelist"), want: `["10.0.0.0/8"]`, edit: `null`, editPtr: "/plugins", drift: "/plugins"},
		{name: "consumer/labels-array", config: consumer("    labels: {teams: [a, b]}\n"), at: in(consumerAt, "/labels/teams"), want: `"[\"a\",\"b\"]"`, edit: `"[\"b\"]"`, drift: "/labels"},
		{name: "consumer/plugins-added", config: consumer("    plugins:\n      proxy-rewrite: {uri: /x}\n"), at: in(consumerAt, "/plugins/cors"), want: `null`, edit: `{"allow_origins":"*"}`, drift: "/plugins/cors"},
		{name: "consumer/group-joined", config: consumer("") + "consumer_groups:\n  - name: g-{s}\n    id: g-{s}\n    plugins:\n      proxy-rewrite: {uri: /x}\n", at: in(consumerAt, "/group_id"), noAPI7: "no consumer groups on API7", want: `null`, edit: `"g-{s}"`, drift: "/group_id"},
		{name: "credential/jwt-auth", config: cred("        type: jwt-auth\n        config: {key: jk-{s}, secret: js-{s}}\n"), at: in(credAt, "/plugins/jwt-auth/key"), want: `"jk-{s}"`, edit: `"jk2-{s}"`, drift: "/config"},
		{name: "credential/jwt-auth-secret", config: cred("        type: jwt-auth\n        config: {key: jk-{s}, secret: js-{s}}\n"), at: in(credAt, "/plugins/jwt-auth/secret"), want: `"js-{s}"`, edit: `"js2-{s}"`, drift: "/config"},
		{name: "credential/hmac-auth", config: cred("        type: hmac-auth\n        config: {key_id: hk-{s}, secret_key: hs-{s}}\n"), at: in(credAt, "/plugins/hmac-auth/secret_key"), want: `"hs-{s}"`, edit: `"hs2-{s}"`, drift: "/config"},
		{name: "credential/basic-auth-password", config: cred("        type: basic-auth\n        config: {username: u-{s}, password: p-{s}}\n"), at: in(credAt, "/plugins/basic-auth/password"), want: `"p-{s}"`, edit: `"p2-{s}"`, drift: "/config"},
		{name: "credential/labels-array", config: cred("        labels: {envs: [prod, dev]}\n        type: key-auth\n        config: {key: ck-{s}}\n"), at: in(credAt, "/labels/envs"), want: `"[\"prod\",\"dev\"]"`, edit: `"[\"dev\"]"`, drift: "/labels"},
		{name: "ssl/status", config: ssl(""), at: in(sslAt, "/status"), want: `1`, edit: `0`, drift: "/status"},
		{name: "ssl/ssl_protocols-removed", config: ssl("    ssl_protocols: [TLSv1.3]\n"), at: in(sslAt, "/ssl_protocols"), want: `["TLSv1.3"]`, edit: `null`, drift: "/ssl_protocols"},
		{name: "ssl/client-removed", config: ssl("    client: {ca: {cert}}\n"), at: in(sslAt, "/client/ca"), want: `{cert}`, edit: `null`, editPtr: "/client", drift: "/client"},
		{name: "ssl/labels-array", config: ssl("    labels: {tags: [x, y]}\n"), at: in(sslAt, "/labels/tags"), want: `"[\"x\",\"y\"]"`, edit: `"[\"x\"]"`, drift: "/labels"},
		{name: "service/upstream/tls/client_cert_id", config: "ssls:\n  - id: cc-{s}\n    type: client\n    snis: [cc-{s}.example.com]\n    certificates:\n      - {certificate: {cert}, key: {key}}\n" +
			up("      scheme: https\n      tls: {client_cert_id: cc-{s}}\n      nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n"),
			at: in(upAt, "/tls/client_cert_id"), api7: in(inline7, "/tls/client_cert_id"), want: `"cc-{s}"`, edit: `null`, drift: "/upstream/tls"},
		{name: "consumer_group/plugins-removed", config: group("    plugins:\n      proxy-rewrite: {uri: /x}\n      cors: {}\n"), at: in(groupAt, "/plugins/cors"), noAPI7: "no consumer groups on API7", want: "", edit: `null`, drift: "/plugins/cors"},
		{name: "global_rule/empty-config", config: "global_rules:\n  request-id: {}\n", at: wireLoc{"/apisix/admin/global_rules/request-id", "/plugins/request-id/header_name"}, want: "", edit: `"X-Other"`, drift: "/header_name"},
		{name: "plugin_metadata/removed-field", config: "plugin_metadata:\n  cors: {allow_origins: {a: \"*\"}}\n", at: wireLoc{"/apisix/admin/plugin_metadata/cors", "/allow_origins/a"}, want: `"*"`, edit: `"http://x.example.com"`, drift: "/allow_origins"},

		// Moved by hand to another service of ours.
		{name: "route/service", config: route("") + "  - name: svc2-{s}\n    id: svc2-{s}\n    upstream:\n      nodes: [{host: 10.0.0.2, port: 80, weight: 1}]\n",
			at: in(routeAt, "/service_id"), want: `"svc-{s}"`, edit: `"svc2-{s}"`, drift: "/service_id"},
		{name: "stream_route/service", config: stream("") + "  - name: svc2-{s}\n    id: svc2-{s}\n    upstream:\n      scheme: tcp\n      nodes: [{host: 10.0.0.2, port: 5432, weight: 1}]\n",
			at: in(streamAt, "/service_id"), want: `"svc-{s}"`, edit: `"svc2-{s}"`, drift: "/service_id"},
		{name: "upstream/service", config: extra("  "+nodes) + "  - name: svc2-{s}\n    id: svc2-{s}\n    upstream:\n      nodes: [{host: 10.0.0.2, port: 80, weight: 1}]\n",
			at: in(extraAt, "/labels/__ADC_UPSTREAM_SERVICE_ID"), noAPI7: "an extra upstream's service is its path on API7", want: `"svc-{s}"`, edit: `"svc2-{s}"`, drift: "/service_id"},

		// Live fields no file can express stay as drift.
		{name: "route/upstream_id", config: route(""), at: in(routeAt, "/upstream_id"), noAPI7: "API7 routes take their service's upstream", want: `null`, edit: `"svc-{s}"`, drift: "/upstream_id"},
		{name: "route/plugin-disabled", config: route("        plugins:\n          proxy-rewrite: {uri: /x}\n"), at: in(routeAt, "/plugins/proxy-rewrite/_meta"), want: `null`, edit: `{"disable":true}`, drift: "/plugins/proxy-rewrite/_meta"},
		{name: "service/upstream/extra-field", config: up(nodes), at: in(upAt, "/retries"), api7: in(inline7, "/retries"), want: `null`, edit: `7`, drift: "/upstream/retries"},

		// Values the decoders must keep exactly.
		{name: "route/description-escapes", config: route("        description: \"café ✓ \\\"q\\\" \\\\ \\t \\u00e9 😀\"\n"), at: in(routeAt, "/desc"), want: `"café ✓ \"q\" \\ \t é 😀"`, edit: `"café ✓ \"q\" \\ \t é 😁"`, drift: "/description"},
		{name: "route/priority-negative", config: route("        priority: -3\n"), at: in(routeAt, "/priority"), want: `-3`, edit: `-4`, drift: "/priority"},
		upCase("retry_timeout-fraction", "      retry_timeout: 0.25\n"+nodes, "/retry_timeout", `0.25`, `0.5`, "/retry_timeout"),
		{name: "consumer/labels-unicode", config: consumer("    labels: {team: ü-ß}\n"), at: in(consumerAt, "/labels/team"), want: `"ü-ß"`, edit: `"ü-s"`, drift: "/labels"},
		{name: "route/plugins-large-number", config: route("        plugins:\n          proxy-rewrite: {uri: /x, headers: {set: {X-N: \"9007199254740993\"}}}\n"), at: in(routeAt, "/plugins/proxy-rewrite/headers/set/X-N"), want: `"9007199254740993"`, edit: `"9007199254740995"`, drift: "/plugins"},

		// Hand edits that mean the same: no drift.
		upCase("nodes/map-form", nodes, "/nodes", "", `{"10.0.0.1:80":1}`, same).noAPI7Because("API7 takes nodes as an array only"),
		extraCase("nodes/map-form-default-port", "        scheme: https\n        nodes: [{host: 10.0.0.1, port: 443, weight: 1}]\n", "/nodes", "", `{"10.0.0.1":1}`, same).noAPI7Because("API7 takes nodes as an array only"),
		{name: "route/uri-singular", config: route(""), at: in(routeAt, "/uris"), noAPI7: "API7 routes have paths only", want: `["/r-{s}"]`, edit: `"/r-{s}"`, editPtr: "/uri", drop: "/uris", drift: same},
		{name: "route/methods-reordered", config: route("        methods: [GET, POST]\n"), at: in(routeAt, "/methods"), want: `["GET","POST"]`, edit: `["POST","GET"]`, drift: same},
		{name: "service/hosts-reordered", config: svc("    hosts: [a.example.com, b.example.com]\n"), at: in(svcAt, "/hosts"), want: `["a.example.com","b.example.com"]`, edit: `["b.example.com","a.example.com"]`, drift: same},
		{name: "ssl/snis-reordered", config: "ssls:\n  - id: ssl-{s}\n    snis: [a-{s}.example.com, b-{s}.example.com]\n    certificates:\n      - {certificate: {cert}, key: {key}}\n", at: in(sslAt, "/snis"), want: `["a-{s}.example.com","b-{s}.example.com"]`, edit: `["b-{s}.example.com","a-{s}.example.com"]`, drift: same},
		{name: "route/priority-default", config: route(""), at: in(routeAt, "/priority"), want: "", edit: `0`, drift: same},
		{name: "service/upstream/keepalive_pool-default", config: up(nodes), at: in(upAt, "/keepalive_pool"), api7: in(inline7, "/keepalive_pool"), want: "", edit: `{"size":320,"idle_timeout":60,"requests":1000}`, drift: same},

		// Global rules and plugin metadata.
		{name: "global_rule", config: "global_rules:\n  prometheus: {prefer_name: true}\n", at: wireLoc{"/apisix/admin/global_rules/prometheus", "/plugins/prometheus/prefer_name"}, want: `true`, edit: `false`, drift: "/prefer_name"},
		{name: "plugin_metadata", config: "plugin_metadata:\n  http-logger: {log_format: {host: $host}}\n", at: wireLoc{"/apisix/admin/plugin_metadata/http-logger", "/log_format/host"}, want: `"$host"`, edit: `"$remote_addr"`, drift: "/log_format"},
	}
}

// wireBackend is one gateway the audit runs on.
type wireBackend struct {
	name string
	opts []emulator.Option
	api7 bool
}

// wireBackends are APISIX 3.18, APISIX 3.13 (which stores schema
// defaults) and API7 Enterprise, with the plugins the cases use.
func wireBackends() []wireBackend {
	plugins := emulator.WithPlugins("cors", "key-auth", "basic-auth", "jwt-auth", "hmac-auth", "proxy-rewrite", "ip-restriction", "prometheus", "http-logger", "request-id")
	return []wireBackend{
		{name: "apisix-3.18", opts: []emulator.Option{plugins, emulator.WithStreamMode()}},
		{name: "apisix-3.13", opts: []emulator.Option{plugins, emulator.WithStreamMode(), emulator.WithAPISIXVersion("3.13.0")}},
		{name: "api7ee", opts: []emulator.Option{plugins, emulator.WithBackend(emulator.BackendAPI7EE)}, api7: true},
	}
}

func TestEveryFieldReachesTheWireAndReadsBack(t *testing.T) {
	cert, key := testcert.New(t, testcert.Options{CommonName: "one.example.com", DNSName: true})
	cert2, key2 := testcert.New(t, testcert.Options{CommonName: "two.example.com", DNSName: true})
	for _, b := range wireBackends() {
		t.Run(b.name, func(t *testing.T) {
			// One gateway and one sync for all the cases, each in its own
			// file with names of its own: a case then costs a diff.
			g := newGateway(t, b.opts...)
			src := t.TempDir()
			substs := map[string]*strings.Replacer{}
			var cases []wireCase
			for i, tc := range wireCases() {
				if (b.api7 && tc.noAPI7 != "") || (!b.api7 && tc.onlyAPI7) {
					continue
				}
				sfx := "w" + strconv.Itoa(i)
				substs[tc.name] = strings.NewReplacer("{s}", sfx, "{cert}", jsonQuote(cert), "{key}", jsonQuote(key),
					"{cert2}", jsonQuote(cert2), "{key2}", jsonQuote(key2))
				writeFile(t, src, sfx+".yaml", substs[tc.name].Replace(tc.config))
				cases = append(cases, tc)
			}
			run := func(t *testing.T, verb string, flags ...string) result {
				t.Helper()
				a := append([]string{verb, "--source", src}, flags...)
				if b.api7 {
					a = append(a, "--backend", "api7ee")
				}
				return cli(t, g, nil, a...)
			}
			if r := run(t, "sync"); r.code != 0 {
				t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			if r := run(t, "diff"); r.code != 0 {
				t.Fatalf("diff after sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			// Every field on the wire, then a hand edit of each (every case
			// edits an object of its own), one diff that must report each
			// edit on its object and nothing else, and the edits undone.
			edits := make([]*wireEdit, len(cases))
			for i, tc := range cases {
				t.Run("wire/"+tc.name, func(t *testing.T) {
					edits[i] = editWireCase(t, g, b, tc, substs[tc.name], key)
				})
			}
			r := run(t, "diff", "--output", "json")
			if r.code != 2 {
				t.Fatalf("diff after the hand edits: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			var report struct {
				Changes []struct {
					Action string `json:"action"`
					ID     string `json:"id"`
					Fields []struct {
						Path string `json:"path"`
					} `json:"fields"`
				} `json:"changes"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
				t.Fatalf("diff output: %v\n%s", err, r.stdout)
			}
			for i, tc := range cases {
				e := edits[i]
				if e == nil || tc.drift == "" {
					continue
				}
				t.Run("drift/"+tc.name, func(t *testing.T) {
					var paths []string
					for _, c := range report.Changes {
						if c.ID != e.id {
							continue
						}
						if c.Action != "update" {
							t.Errorf("%s: %s, want update", e.id, c.Action)
						}
						for _, f := range c.Fields {
							paths = append(paths, f.Path)
						}
					}
					if tc.drift == same {
						if len(paths) > 0 {
							t.Fatalf("the hand edit of %s%s means the same, but is reported as %v", e.at.path, e.at.ptr, paths)
						}
						return
					}
					if len(paths) == 0 {
						t.Fatalf("the hand edit of %s%s is not reported (%s)", e.at.path, e.at.ptr, e.id)
					}
					for _, p := range paths {
						if p != tc.drift && !strings.HasPrefix(p, tc.drift+"/") {
							t.Errorf("the hand edit of %s%s is reported as %v, want %s", e.at.path, e.at.ptr, paths, tc.drift)
							break
						}
					}
				})
			}
			// A sync puts every field back as the files say.
			if r := run(t, "sync"); r.code != 0 {
				t.Fatalf("sync over the hand edits: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			for i, tc := range cases {
				if e := edits[i]; e != nil && tc.want != "" && tc.drift != same {
					t.Run("restored/"+tc.name, func(t *testing.T) {
						got, ok := lookupPointer(getObject(t, g, e.path), e.at.ptr)
						if !jsonEqual(got, e.want) || (!ok && e.want != nil) {
							t.Errorf("after the sync the gateway's %s%s is %s, want %s", e.at.path, e.at.ptr, shortJSON(got, ok), shortJSON(e.want, true))
						}
					})
				}
			}
			if r := run(t, "diff"); r.code != 0 {
				t.Fatalf("diff after the sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
		})
	}
}

// Every field read back also dumps to ADC's format that loads and diffs in
// sync. Cases with a private key (and SSLs) are left out: the Admin API never returns
// an SSL's key and returns an upstream's client key encrypted, so a dump
// cannot give them back.
func TestEveryFieldDumpsInSync(t *testing.T) {
	cert, _ := testcert.New(t, testcert.Options{CommonName: "one.example.com", DNSName: true})
	for _, b := range wireBackends() {
		t.Run(b.name, func(t *testing.T) {
			g := newGateway(t, b.opts...)
			src := t.TempDir()
			n := 0
			for i, tc := range wireCases() {
				if (b.api7 && tc.noAPI7 != "") || (!b.api7 && tc.onlyAPI7) || strings.Contains(tc.config, "{key") || strings.Contains(tc.config, "certificates:") {
					continue
				}
				sfx := "w" + strconv.Itoa(i)
				writeFile(t, src, sfx+".yaml", strings.NewReplacer("{s}", sfx, "{cert}", jsonQuote(cert), "{cert2}", jsonQuote(cert)).Replace(tc.config))
				n++
			}
			if n < 50 {
				t.Fatalf("only %d cases without keys", n)
			}
			var backend []string
			if b.api7 {
				backend = []string{"--backend", "api7ee"}
			}
			if r := cli(t, g, nil, append([]string{"sync", "--source", src}, backend...)...); r.code != 0 {
				t.Fatalf("sync: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			out := t.TempDir()
			if r := cli(t, g, nil, append([]string{"dump", "--with-id", "--include-secrets", "-o", filepath.Join(out, "dump.yaml")}, backend...)...); r.code != 0 {
				t.Fatalf("dump: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
			if r := cli(t, g, nil, append([]string{"diff", "--source", out}, backend...)...); r.code != 0 {
				t.Errorf("diff of the dump: exit %d\n%s\n%s", r.code, r.stdout, r.err)
			}
		})
	}
}

// wireEdit is a hand edit made on the gateway.
type wireEdit struct {
	id   string // the model ID of the object the diff reports
	at   wireLoc
	path string // the object's URL path and query
	want any    // the field's value as written
}

// editWireCase checks the stored value of one field on a gateway in sync
// with the desired state, then changes it by hand (unless the field is
// the object's key).
func editWireCase(t *testing.T, g *gateway, b wireBackend, tc wireCase, subst *strings.Replacer, sslKey string) *wireEdit {
	at := tc.at
	if b.api7 && tc.api7.path != "" {
		at = tc.api7
	}
	path := subst.Replace(at.path)
	e := &wireEdit{id: path[strings.LastIndexByte(path, '/')+1:], at: at}
	if b.api7 {
		gid, _ := g.em.GatewayGroupID("default")
		path += "?gateway_group_id=" + gid
	}
	obj := getObject(t, g, path)
	got, ok := lookupPointer(obj, at.ptr)
	var want any
	if tc.want != "" {
		if err := json.Unmarshal([]byte(subst.Replace(tc.want)), &want); err != nil {
			t.Fatalf("want: %v", err)
		}
		if !jsonEqual(got, want) || (!ok && want != nil) {
			t.Fatalf("the gateway's %s%s is %s, want %s", at.path, at.ptr, shortJSON(got, ok), shortJSON(want, true))
		}
	}
	if tc.drift == "" {
		return nil // the field is the object's key: an edit makes another object
	}

	// By hand: change the field, keeping everything else (our managed-by
	// label too).
	delete(obj, "create_time") // set by the server, which refuses them
	delete(obj, "update_time")
	if strings.Contains(path, "/ssls/") {
		obj["key"] = sslKey // never read back
		if certs, ok := obj["certs"].([]any); ok {
			keys := make([]any, len(certs))
			for i := range keys {
				keys[i] = sslKey
			}
			obj["keys"] = keys
		}
	}
	var edit any
	if err := json.Unmarshal([]byte(subst.Replace(tc.edit)), &edit); err != nil {
		t.Fatalf("edit: %v", err)
	}
	editPtr := at.ptr
	if tc.editPtr != "" {
		editPtr = tc.editPtr
		if b.api7 && tc.api7.path != "" {
			editPtr = tc.api7.ptr + tc.editPtr[len(tc.at.ptr):]
		}
	}
	setPointer(t, obj, editPtr, edit)
	if tc.drop != "" {
		setPointer(t, obj, tc.drop, nil)
	}
	edited, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := doBody(t, http.MethodPut, g.srv.URL+path, string(edited)); code != http.StatusOK && code != http.StatusCreated {
		t.Fatalf("PUT %s: %d %s", path, code, resp)
	}
	e.path, e.want = path, want
	return e
}

// getObject GETs one object of the Admin API and returns its value.
func getObject(t *testing.T, g *gateway, path string) map[string]any {
	t.Helper()
	code, body := doBody(t, http.MethodGet, g.srv.URL+path, "")
	var doc struct {
		Value map[string]any `json:"value"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != http.StatusOK || doc.Value == nil {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return doc.Value
}

func doBody(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-KEY", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

// lookupPointer follows a JSON pointer (no escapes) into v.
func lookupPointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, seg := range strings.Split(ptr[1:], "/") {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// setPointer sets the value at ptr in obj (its parent must exist); nil
// removes an object member.
func setPointer(t *testing.T, obj map[string]any, ptr string, v any) {
	t.Helper()
	i := strings.LastIndexByte(ptr, '/')
	parent, ok := lookupPointer(obj, ptr[:i])
	if !ok {
		t.Fatalf("no parent for %s", ptr)
	}
	last := ptr[i+1:]
	switch p := parent.(type) {
	case map[string]any:
		if v == nil {
			delete(p, last)
		} else {
			p[last] = v
		}
	case []any:
		n, err := strconv.Atoi(last)
		if err != nil || n >= len(p) {
			t.Fatalf("bad index in %s", ptr)
		}
		p[n] = v
	default:
		t.Fatalf("cannot set %s", ptr)
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func shortJSON(v any, ok bool) string {
	if !ok {
		return "absent"
	}
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
