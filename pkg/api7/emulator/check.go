package emulator

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// check validates a value for a resource as the APISIX Admin API does
// (schema with defaults filled into a working copy, then the resource's own
// checks and reference lookups) and returns what to store: the value as
// sent, or — before 3.14 — the copy with the schema defaults.
func (g *gw) check(rs *resource, col, key string, conf any) (map[string]any, *apiErr) {
	work := deepCopy(conf)
	var err *apiErr
	switch rs.name {
	case "routes":
		err = g.checkRoute(work)
	case "services":
		err = g.checkService(work)
	case "upstreams":
		err = g.checkUpstream(work)
	case "consumers":
		err = g.checkConsumer(key, work)
	case "credentials":
		err = g.checkCredential(col, key, work)
	case "ssls":
		err = g.checkSSL(work)
	case "global_rules":
		err = g.checkGlobalRule(key, work)
	case "plugin_configs":
		err = g.checkWithPlugins(g.e.schemas.pluginConfig, work, false)
	case "consumer_groups":
		err = g.checkWithPlugins(g.e.schemas.consumerGroup, work, false)
	case "protos":
		err = g.schemaCheck(g.e.schemas.proto, work)
	case "stream_routes":
		err = g.checkStreamRoute(work)
	case "secrets":
		err = g.checkSecret(key, work)
	default:
		err = bad("unsupported resource " + rs.name)
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if g.e.persist {
		m, _ = asObject(work)
	} else {
		m, _ = asObject(conf)
	}
	if !g.e.cfg.noEncryption {
		encryptClientKey(rs.name, m)
	}
	return m, nil
}

// encryptClientKey stores an upstream's tls.client_key encrypted, as
// apisix/upstream.lua's check_upstream_conf does for standalone and inline
// upstreams alike (aes_encrypt_pkey: only values that look like PEM, "---…").
// GET does not decrypt it: APISIX decrypts plugin fields only.
func encryptClientKey(res string, m map[string]any) {
	up := m
	switch res {
	case "upstreams":
	case "routes", "services", "stream_routes":
		up, _ = m["upstream"].(map[string]any)
	default:
		return
	}
	tls, _ := up["tls"].(map[string]any)
	if k, ok := tls["client_key"].(string); ok && strings.HasPrefix(k, "---") {
		tls["client_key"] = encryptField(k)
	}
}

// schemaCheck validates v (filling defaults) with the "invalid
// configuration: " prefix of resource checks.
func (g *gw) schemaCheck(s *schema, v any) *apiErr {
	if err := s.validate(v, vopts{fill: true}); err != nil {
		return bad("invalid configuration: " + err.Error())
	}
	return nil
}

func (g *gw) checkWithPlugins(s *schema, v any, consumer bool) *apiErr {
	if err := g.schemaCheck(s, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	if pl, ok := m["plugins"]; ok {
		return g.checkPlugins(pl, consumer)
	}
	return nil
}

// ref checks that a referenced object exists (etcd-consistent on write).
func (g *gw) ref(v map[string]any, field, col, what string) *apiErr {
	raw, ok := v[field]
	if !ok || raw == nil {
		return nil
	}
	if g.noRefs {
		return nil
	}
	id, _ := idString(raw)
	if _, found := g.st.get(col, id); !found {
		return bad(fmt.Sprintf("failed to fetch %s info by %s id [%s], response code: 404", what, what, luaString(raw)))
	}
	return nil
}

func (g *gw) checkRoute(v any) *apiErr {
	m, _ := asObject(v)
	if m != nil {
		if present(m, "host") && present(m, "hosts") {
			return bad("only one of host or hosts is allowed")
		}
		if present(m, "remote_addr") && present(m, "remote_addrs") {
			return bad("only one of remote_addr or remote_addrs is allowed")
		}
	}
	if err := g.schemaCheck(g.e.schemas.route, v); err != nil {
		return err
	}
	if up, ok := m["upstream"].(map[string]any); ok {
		if err := g.checkUpstreamConf(up); err != nil {
			return err
		}
	}
	if err := g.ref(m, "upstream_id", "upstreams", "upstream"); err != nil {
		return err
	}
	if err := g.ref(m, "service_id", "services", "service"); err != nil {
		return err
	}
	if err := g.ref(m, "plugin_config_id", "plugin_configs", "plugin config"); err != nil {
		return err
	}
	if pl, ok := m["plugins"]; ok {
		if err := g.checkPlugins(pl, false); err != nil {
			return err
		}
	}
	if vars, ok := m["vars"].([]any); ok {
		if err := checkVars(vars); err != nil {
			return err
		}
	}
	return nil
}

// checkVars is a light version of lua-resty-expr's validation.
func checkVars(vars []any) *apiErr {
	ops := map[string]bool{"==": true, "~=": true, ">": true, "<": true, ">=": true, "<=": true,
		"~~": true, "~*": true, "in": true, "has": true, "!": true, "ipmatch": true, "AND": true, "OR": true, "!AND": true, "!OR": true}
	for _, e := range vars {
		arr, ok := e.([]any)
		if !ok {
			continue
		}
		if len(arr) >= 3 {
			if op, ok := arr[1].(string); ok && !ops[op] {
				return bad("failed to validate the 'vars' expression: invalid operator '" + op + "'")
			}
		}
	}
	return nil
}

func (g *gw) checkService(v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.service, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	if up, ok := m["upstream"].(map[string]any); ok {
		if err := g.checkUpstreamConf(up); err != nil {
			return err
		}
	}
	if err := g.ref(m, "upstream_id", "upstreams", "upstream"); err != nil {
		return err
	}
	if pl, ok := m["plugins"]; ok {
		return g.checkPlugins(pl, false)
	}
	return nil
}

func (g *gw) checkUpstream(v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.upstream, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	return g.checkUpstreamConf(m)
}

var (
	hashVarsPattern   = regexp.MustCompile(`^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`)
	hashHeaderPattern = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
)

// checkUpstreamConf is apisix/upstream.lua's check_upstream_conf after the
// schema (which has filled the defaults into up).
func (g *gw) checkUpstreamConf(up map[string]any) *apiErr {
	switch nodes := up["nodes"].(type) {
	case []any:
		for _, n := range nodes {
			nm, _ := n.(map[string]any)
			host, _ := nm["host"].(string)
			if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
				if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
					return bad("invalid configuration: IPv6 address must be enclosed with '[' and ']'")
				}
			}
		}
	case map[string]any:
		for _, addr := range sortedKeys(nodes) {
			if i := strings.LastIndex(addr, ":"); i >= 0 && !strings.HasSuffix(addr, "]") {
				if p, err := strconv.Atoi(addr[i+1:]); err == nil && (p < 1 || p > 65535) {
					return bad("invalid port " + strconv.Itoa(p))
				}
			}
		}
	}
	if tls, ok := up["tls"].(map[string]any); ok && !g.noRefs {
		if raw, ok := tls["client_cert_id"]; ok && raw != nil {
			id, _ := idString(raw)
			o, found := g.st.get("ssls", id)
			if !found {
				return bad(fmt.Sprintf("failed to fetch ssl info by ssl id [%s], response code: 404", luaString(raw)))
			}
			if t, _ := o.value["type"].(string); t != "client" {
				return bad(fmt.Sprintf("failed to get ssl cert by ssl id [%s], wrong ssl type", luaString(raw)))
			}
		}
	}
	if up["pass_host"] == "rewrite" {
		if h, _ := up["upstream_host"].(string); h == "" {
			return bad("`upstream_host` can't be empty when `pass_host` is `rewrite`")
		}
	}
	if up["type"] != "chash" {
		return nil
	}
	hashOn, _ := up["hash_on"].(string)
	key, hasKey := up["key"]
	if hashOn != "consumer" && !hasKey {
		return bad("missing key")
	}
	ks, _ := key.(string)
	var pat *regexp.Regexp
	var src string
	switch hashOn {
	case "vars", "":
		pat, src = hashVarsPattern, `^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$`
	case "header", "cookie":
		pat, src = hashHeaderPattern, `^[a-zA-Z0-9-_]+$`
	}
	if pat != nil && hasKey && !pat.MatchString(ks) {
		return bad("invalid configuration: failed to match pattern " + luaQuote(src) + " with " + luaQuote(ks))
	}
	return nil
}

// checkPlugins is plugin.check_schema: every plugin enabled, every
// configuration valid (defaults filled in).
func (g *gw) checkPlugins(pl any, consumer bool) *apiErr {
	m, _ := asObject(pl)
	for _, name := range sortedKeys(m) {
		conf := m[name]
		cm, isMap := asObject(conf)
		if !isMap {
			return bad("invalid plugin conf " + string(marshalCompact(conf)) + " for plugin [" + name + "]")
		}
		if _, wasArr := conf.([]any); wasArr {
			m[name] = cm
		}
		p := g.e.plugins.byName[name]
		if p == nil {
			return bad("unknown plugin [" + name + "]")
		}
		s := p.schema
		if consumer && p.consumer != nil {
			s = p.consumer
		}
		if err := s.validate(cm, vopts{fill: true}); err != nil {
			return bad("failed to check the configuration of plugin " + name + " err: " + err.Error())
		}
	}
	return nil
}

func marshalCompact(v any) []byte {
	b := marshal(v)
	return b[:len(b)-1]
}

func (g *gw) checkConsumer(username string, v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.consumer, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	if username != "" && m["username"] != username {
		return bad("wrong username")
	}
	if pl, ok := m["plugins"]; ok {
		if err := g.checkPlugins(pl, true); err != nil {
			return err
		}
	}
	if err := g.ref(m, "group_id", "consumer_groups", "consumer group"); err != nil {
		return err
	}
	self := "consumers/" + luaString(m["username"])
	return g.checkDuplicateKeys(m, self)
}

func (g *gw) checkCredential(col, id string, v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.credential, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	if pl, ok := m["plugins"]; ok {
		if err := g.checkPlugins(pl, true); err != nil {
			return err
		}
		pm, _ := asObject(pl)
		for _, name := range sortedKeys(pm) {
			if p := g.e.plugins.byName[name]; p == nil || !p.def.auth {
				return bad("only supports auth type plugins in consumer credential")
			}
		}
	}
	return g.checkDuplicateKeys(m, col+"/"+id)
}

// authKeyField is the field that identifies a consumer for each auth plugin.
func authKeyField(plugin string) string {
	switch plugin {
	case "key-auth", "jwt-auth":
		return "key"
	case "basic-auth":
		return "username"
	case "hmac-auth":
		return "key_id"
	}
	return ""
}

// checkDuplicateKeys refuses an auth key another consumer or credential
// already uses (APISIX 3.18).
func (g *gw) checkDuplicateKeys(m map[string]any, self string) *apiErr {
	if g.e.ver.less(version{3, 18, 0}) || g.noRefs {
		return nil
	}
	pm, _ := m["plugins"].(map[string]any)
	for _, name := range sortedKeys(pm) {
		f := authKeyField(name)
		cfg, _ := pm[name].(map[string]any)
		val, ok := cfg[f].(string)
		if f == "" || !ok {
			continue
		}
		owner, found := g.st.auth[name+"\x00"+val]
		if !found || owner == self {
			continue
		}
		parts := strings.Split(owner, "/")
		if len(parts) == 4 {
			return bad(fmt.Sprintf("duplicate key of plugin %s found with credential: %s of consumer: %s", name, parts[3], parts[1]))
		}
		return bad(fmt.Sprintf("duplicate key of plugin %s found with consumer: %s", name, parts[1]))
	}
	return nil
}

func (g *gw) checkSSL(v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.ssl, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	cert, _ := m["cert"].(string)
	key, _ := m["key"].(string)
	if m["type"] == "client" {
		return validatePair(cert, key)
	}
	certs, _ := m["certs"].([]any)
	keys, _ := m["keys"].([]any)
	if len(certs) != len(keys) {
		return bad("mismatched number of certs and keys")
	}
	if err := validatePair(cert, key); err != nil {
		return err
	}
	for i := range certs {
		c, _ := certs[i].(string)
		k, _ := keys[i].(string)
		if err := validatePair(c, k); err != nil {
			return bad(fmt.Sprintf("failed to handle cert-key pair[%d]: %s", i+1, err.body.(map[string]any)["error_msg"]))
		}
	}
	if client, ok := m["client"].(map[string]any); ok {
		if ca, ok := client["ca"].(string); ok && !isSecretRef(ca) {
			if !parsesAsCert(ca) {
				return bad("failed to validate client_cert: failed to parse cert: PEM_read_bio_X509_AUX() failed")
			}
		}
	}
	return nil
}

func isSecretRef(s string) bool {
	return strings.HasPrefix(s, "$secret://") || strings.HasPrefix(s, "$env://")
}

func parsesAsCert(s string) bool {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return false
	}
	_, err := x509.ParseCertificate(b.Bytes)
	return err == nil
}

func parsesAsKey(s string) bool {
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(b.Bytes)
	return err == nil
}

// validatePair parses a certificate and a key. Like APISIX it does not
// check that they belong together.
func validatePair(cert, key string) *apiErr {
	if !isSecretRef(cert) && !parsesAsCert(cert) {
		return bad("failed to parse cert: PEM_read_bio_X509_AUX() failed")
	}
	if key != "" && !isSecretRef(key) && !parsesAsKey(key) {
		return bad("failed to parse key: PEM_read_bio_PrivateKey() failed")
	}
	return nil
}

func (g *gw) checkGlobalRule(id string, v any) *apiErr {
	if err := g.checkWithPlugins(g.e.schemas.globalRule, v, false); err != nil {
		return err
	}
	if g.e.ver.less(version{3, 15, 0}) || g.noRefs {
		return nil
	}
	m, _ := asObject(v)
	pm, _ := m["plugins"].(map[string]any)
	c := g.st.col("global_rules", false)
	if c == nil {
		return nil
	}
	for _, name := range sortedKeys(pm) {
		var clash string
		c.byKey.Ascend(0, func(rid string, o *object) bool {
			if rid == id {
				return true
			}
			if other, ok := o.value["plugins"].(map[string]any); ok {
				if _, dup := other[name]; dup {
					clash = rid
					return false
				}
			}
			return true
		})
		if clash != "" {
			return bad(fmt.Sprintf("plugin '%s' already exists in global rule with id '%s'", name, clash))
		}
	}
	return nil
}

func (g *gw) checkStreamRoute(v any) *apiErr {
	if err := g.schemaCheck(g.e.schemas.streamRoute, v); err != nil {
		return err
	}
	m, _ := asObject(v)
	if up, ok := m["upstream"].(map[string]any); ok {
		if err := g.checkUpstreamConf(up); err != nil {
			return err
		}
	}
	if err := g.ref(m, "upstream_id", "upstreams", "upstream"); err != nil {
		return err
	}
	if err := g.ref(m, "service_id", "services", "service"); err != nil {
		return err
	}
	if p, ok := m["protocol"].(map[string]any); ok {
		if err := g.ref(p, "superior_id", "stream_routes", "stream_route"); err != nil {
			return err
		}
	}
	if pl, ok := m["plugins"]; ok {
		return g.checkPlugins(pl, false)
	}
	return nil
}

func (g *gw) checkSecret(id string, v any) *apiErr {
	manager, _, _ := strings.Cut(id, "/")
	switch manager {
	case "vault":
		return g.schemaCheck(g.e.schemas.vault, v)
	case "aws", "gcp":
		return g.schemaCheck(g.e.schemas.secret, v)
	}
	return bad("secret manager not exits, manager: " + manager)
}

// knownCollections maps the plural resource names of /schema/validate and
// /configs/validate to their schemas.
func (g *gw) schemaFor(res string) (*schema, bool) {
	s := g.e.schemas
	m := map[string]*schema{
		"routes": s.route, "services": s.service, "upstreams": s.upstream, "consumers": s.consumer,
		"ssls": s.ssl, "global_rules": s.globalRule, "plugin_configs": s.pluginConfig,
		"consumer_groups": s.consumerGroup, "protos": s.proto, "stream_routes": s.streamRoute,
		"credentials": s.credential,
	}
	x, ok := m[res]
	return x, ok
}

func jsonInt(n int) json.Number { return json.Number(strconv.Itoa(n)) }
