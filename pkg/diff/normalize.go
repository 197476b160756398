package diff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// FingerprintLabel is the label that carries the fingerprint (see
// Fingerprint) of the private keys of the object that carries it. Private
// keys never read back as written, so they are never compared:
//
//   - an SSL object's keys (certificates[].key): GET strips them;
//   - an upstream's TLS client key (tls.client_key, of an extra upstream
//     or of a service's inline upstream): APISIX stores it encrypted and
//     GET shows the ciphertext (it decrypts plugin fields only).
//
// Instead the write form of every desired object with a key (see
// WriteForm) carries this label, on the object that carries the key: the
// SSL's labels, the extra upstream's labels, the inline upstream's labels
// (upstream.labels of the service, which APISIX stores on the upstream
// object of the service's ID and API7 inline in the service). A changed key
// then shows as a changed label, and a changed upstream key rewrites only
// the upstream. The label sits next to the key rather than on the owning
// service because an extra upstream is written on its own, and because a
// service's upstream may be rewritten without the service.
//
// A live object without the label (written by ADC or by hand) is compared
// without it: its key cannot be checked, exactly as ADC cannot. The live
// key itself is never fingerprinted, since it may be ciphertext.
const FingerprintLabel = model.FingerprintLabel

// Options configure normalisation and comparison.
type Options struct {
	// Defaults are what the server fills in for omitted fields (APISIX
	// before 3.14, API7 Enterprise's /api/schema/core). They are filled into
	// both sides, before the built-in defaults that hold on every version
	// (upstream type roundrobin, scheme http, pass_host pass, hash_on vars,
	// node priority 0, keepalive_pool 320/60/1000, tls.verify false, route
	// priority 0 and status 1, SSL type server and status 1).
	Defaults model.Defaults
	// Ignore lists the fields that are never compared.
	Ignore []IgnoreRule
}

// IgnoreRule removes fields from both sides before comparing: the fields at
// Paths of every resource of Kind whose name matches Name.
type IgnoreRule struct {
	// Kind is the kind the rule applies to; empty means every kind. A rule
	// for KindUpstream also applies to the inline upstream of a service
	// (its paths taken under /upstream), matched by the service's name.
	Kind model.Kind `json:"kind,omitempty"`
	// Name is a glob (path.Match syntax) over the resource's name; empty
	// means every name.
	Name string `json:"name,omitempty"`
	// Paths are JSON pointers (RFC 6901) into the resource's body in ADC's
	// format; the segment "*" matches any object key or array element
	// (array elements are addressed only with "*"). At least one is
	// required.
	Paths []string `json:"paths"`
}

// ErrInvalidOptions is wrapped by New for a malformed ignore rule.
var ErrInvalidOptions = errors.New("invalid diff options")

type ignoreRule struct {
	kind  model.Kind
	name  string
	paths []pointer
}

// Differ normalises and compares resources with one set of options. It is
// safe for concurrent use.
type Differ struct {
	kinds    map[model.Kind][]map[string]any // defaults per kind, caller's first
	plugins  map[string]map[string]any
	consumer map[string]map[string]any // auth plugins' consumer schema defaults
	ignore   []ignoreRule
}

// New checks opts and returns a Differ.
func New(opts Options) (*Differ, error) {
	d := &Differ{
		kinds:    map[model.Kind][]map[string]any{},
		plugins:  map[string]map[string]any{},
		consumer: map[string]map[string]any{},
	}
	for k, v := range opts.Defaults.Kinds {
		if v != nil {
			d.kinds[k] = append(d.kinds[k], clone(v).(map[string]any))
		}
	}
	for k, v := range builtinDefaults() {
		d.kinds[k] = append(d.kinds[k], v)
	}
	for p, v := range opts.Defaults.Plugins {
		if v != nil {
			d.plugins[p] = clone(v).(map[string]any)
		}
	}
	for p, v := range opts.Defaults.ConsumerPlugins {
		if v != nil {
			d.consumer[p] = clone(v).(map[string]any)
		}
	}
	var errs []error
	for i, r := range opts.Ignore {
		rule, err := compileRule(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("ignore rule %d: %w", i+1, err))
			continue
		}
		d.ignore = append(d.ignore, rule)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return d, nil
}

func compileRule(r IgnoreRule) (ignoreRule, error) {
	if r.Kind != "" && !r.Kind.Valid() {
		return ignoreRule{}, fmt.Errorf("unknown kind %q", r.Kind)
	}
	if _, err := path.Match(r.Name, ""); err != nil {
		return ignoreRule{}, fmt.Errorf("name %q: %w", r.Name, err)
	}
	if len(r.Paths) == 0 {
		return ignoreRule{}, errors.New("no paths: an ignore rule names the fields it ignores")
	}
	rule := ignoreRule{kind: r.Kind, name: r.Name}
	for _, s := range r.Paths {
		p, err := parsePointer(s)
		if err != nil {
			return ignoreRule{}, err
		}
		if len(p) == 0 {
			return ignoreRule{}, errors.New(`path "" would ignore the whole resource`)
		}
		rule.paths = append(rule.paths, p)
	}
	return rule, nil
}

// builtinDefaults are the schema defaults every APISIX version applies at
// run time, whether or not it writes them back. Filling them on both sides
// is always sound. It returns fresh maps.
func builtinDefaults() map[model.Kind]map[string]any {
	return map[model.Kind]map[string]any{
		model.KindUpstream: {
			"type":      "roundrobin",
			"scheme":    "http",
			"pass_host": "pass",
			"hash_on":   "vars",
			"nodes":     []any{map[string]any{"priority": 0.0}},
			"keepalive_pool": map[string]any{
				"size": 320.0, "idle_timeout": 60.0, "requests": 1000.0,
			},
			// Stored by APISIX before 3.14 next to a client certificate.
			"tls": map[string]any{"verify": false},
		},
		model.KindRoute: {"priority": 0.0, "status": 1.0},
		model.KindSSL: {
			"type":   "server",
			"status": 1.0,
			"client": map[string]any{"depth": 1.0},
		},
	}
}

// Normalize returns r with its body in canonical form; see the package
// documentation for the rules. r is not modified; the result shares the
// parts normalising leaves unchanged with it, so treat both as read-only. Normalising a normalised
// resource changes nothing. Secrets are rewritten to point into the
// normalised body (a pointer into an array that may be reordered masks the
// whole array).
func (d *Differ) Normalize(r model.Resource) model.Resource {
	out := r
	out.Body = d.normalizeBody(r)
	out.Secrets = normalizeSecrets(r.Key.Kind, r.Secrets)
	return out
}

// serverFields are set by the server and never compared.
var serverFields = [...]string{"id", "create_time", "update_time", "created_at", "updated_at", "createdIndex", "modifiedIndex"}

func (d *Differ) normalizeBody(r model.Resource) map[string]any {
	b := d.cloneTop(r.Key.Kind, r.Body)
	for _, f := range serverFields {
		delete(b, f)
	}
	k := r.Key.Kind
	switch k {
	case model.KindGlobalRule, model.KindPluginMetadata:
		// The body is a plugin's configuration: only nulls go.
		if k == model.KindGlobalRule {
			fill(b, d.plugins[r.Key.ID])
		}
		d.ignoreFields(r, b)
		return b
	}

	rename(b, "desc", "description")
	switch k {
	case model.KindRoute, model.KindStreamRoute:
		if k == model.KindRoute {
			// A stream route's remote_addr is singular, in files and on
			// the wire alike.
			wrap(b, "uri", "uris")
			wrap(b, "host", "hosts")
			wrap(b, "remote_addr", "remote_addrs")
		}
		if sid, ok := b["service_id"].(string); ok && !r.Parent.IsZero() && sid == r.Parent.ID {
			delete(b, "service_id") // the parent link, expressed by nesting in files
		}
	case model.KindService:
		if uid, ok := b["upstream_id"].(string); ok && uid == r.Key.ID && b["upstream"] != nil {
			delete(b, "upstream_id") // APISIX's layout: the inline upstream under the service's ID
		}
		if u, ok := b["upstream"].(map[string]any); ok {
			// The backend names an inline upstream the file leaves unnamed
			// (APISIX: after the service; API7: "default"): that name is
			// the same as none. Any other name is compared.
			if n, ok := u["name"].(string); ok && (n == "default" || n == b["name"]) {
				delete(u, "name")
			}
		}
	case model.KindConsumer:
		if r.Parent.Kind == model.KindConsumerGroup {
			// Membership is the parent link a consumer can change without
			// changing its key: compared as the field the wire carries.
			b["group_id"] = r.Parent.ID
		}
	case model.KindCredential:
		credentialFromWire(b)
	case model.KindSSL:
		normalizeSSL(b)
	}
	if l, ok := b["labels"].(map[string]any); ok {
		normalizeLabels(l)
	}
	if k == model.KindUpstream {
		normalizeUpstream(b)
	} else if u, ok := b["upstream"].(map[string]any); ok {
		normalizeUpstream(u)
	}

	for _, def := range d.kinds[k] {
		fill(b, def)
	}
	if k != model.KindUpstream {
		if u, ok := b["upstream"].(map[string]any); ok {
			for _, def := range d.kinds[model.KindUpstream] {
				fill(u, def)
			}
		}
	}
	if ps, ok := b["plugins"].(map[string]any); ok {
		for name, conf := range ps {
			if c, ok := conf.(map[string]any); ok {
				fill(c, d.pluginDefaults(k, name))
			}
		}
	}
	if k == model.KindCredential {
		if c, ok := b["config"].(map[string]any); ok {
			fill(c, d.credentialDefaults(b["type"]))
		}
	}
	// Sets are sorted last, on the fields that remain: sorting before an
	// ignore rule removed a field the order depended on would leave an
	// order that normalising again changes.
	d.ignoreFields(r, b)
	dropEmpty(b)
	sortSets(k, b)
	return b
}

// pluginDefaults are the defaults of plugin name's configuration in the
// plugins of a body of kind k: on a consumer or credential (in its wire
// shape), an auth plugin's consumer schema defaults where there are any
// (the server checks it against that schema only), otherwise the plugin's.
func (d *Differ) pluginDefaults(k model.Kind, name string) map[string]any {
	if k == model.KindConsumer || k == model.KindCredential {
		if def, ok := d.consumer[name]; ok {
			return def
		}
	}
	return d.plugins[name]
}

// credentialDefaults are the defaults of the config of a credential of
// type typ (the consumer schema defaults of the plugin it names).
func (d *Differ) credentialDefaults(typ any) map[string]any {
	name, _ := typ.(string)
	return d.consumer[name]
}

// cloneTop copies a body for normalising, without its nulls. Parts that
// normalising leaves alone are shared with the input instead of copied,
// since both are only ever read afterwards: plugin configurations that need
// no defaults, and top-level values that no rule rewrites (see shareable).
func (d *Differ) cloneTop(k model.Kind, body map[string]any) map[string]any {
	b := make(map[string]any, len(body))
	for key, v := range body {
		if v == nil {
			continue
		}
		if key == "plugins" && k != model.KindGlobalRule && k != model.KindPluginMetadata && len(d.ignore) == 0 {
			if ps, ok := v.(map[string]any); ok {
				b[key] = d.clonePlugins(k, ps)
				continue
			}
		}
		if k == model.KindCredential && key == "config" && fillChanges(v, d.credentialDefaults(body["type"])) {
			if c := cloneBody(v); c != nil {
				b[key] = c
			}
			continue
		}
		if d.shareable(k, key, v) {
			b[key] = v
			continue
		}
		if c := cloneBody(v); c != nil {
			b[key] = c
		}
	}
	return b
}

// shareable reports whether normalising leaves the top-level value v of a
// body of kind k unchanged, so that it need not be copied: a scalar; or,
// without ignore rules (which may remove anything), an object or array
// that no default, no rewriting rule and no dropping of empties reaches —
// not an inline upstream, an upstream's nodes or tls, an SSL's parts, labels in
// their wire form, a set that is not sorted yet, nor anything with a null
// or an empty object or array inside.
func (d *Differ) shareable(k model.Kind, key string, v any) bool {
	switch v.(type) {
	case string, bool, float64:
		return true
	case map[string]any, []any:
	default:
		return false // not decoded JSON: cloneBody converts it
	}
	switch {
	case len(d.ignore) > 0, key == "upstream", k == model.KindUpstream && (key == "nodes" || key == "tls"):
		return false
	case k == model.KindSSL, k == model.KindGlobalRule, k == model.KindPluginMetadata:
		return false // keys and fingerprints; plugin defaults at the top
	}
	for _, def := range d.kinds[k] {
		if _, ok := def[key]; ok {
			return false
		}
	}
	if hasNullOrEmpty(v) {
		return false
	}
	switch key {
	case "labels":
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, lv := range m {
			if s, ok := lv.(string); ok && strings.HasPrefix(s, "[") {
				return false // the wire form of a list: normalizeLabels rewrites it
			}
		}
	}
	if slices.Contains(setFields[k], key) {
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for i := 1; i < len(a); i++ {
			x, ok1 := a[i-1].(string)
			y, ok2 := a[i].(string)
			if !ok1 || !ok2 || x > y {
				return false // sortSet would reorder it
			}
		}
		if len(a) == 1 {
			_, ok := a[0].(string)
			return ok
		}
	}
	return true
}

// hasNullOrEmpty reports whether v holds, at any depth below it, what
// dropEmpty removes (a null, an empty object or array, an empty
// description), or anything that is not decoded JSON.
func hasNullOrEmpty(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil || isEmpty(e) || (k == "description" && e == "") || hasNullOrEmpty(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if e == nil || isEmpty(e) || hasNullOrEmpty(e) {
				return true
			}
		}
	case string, bool, float64:
	default:
		return true
	}
	return false
}

func (d *Differ) clonePlugins(k model.Kind, ps map[string]any) map[string]any {
	shared := true
	for name, conf := range ps {
		if conf == nil || hasNull(conf) || fillChanges(conf, d.pluginDefaults(k, name)) {
			shared = false
			break
		}
	}
	if shared {
		return ps // nothing to drop or fill: the configurations stay as they are
	}
	out := make(map[string]any, len(ps))
	for name, conf := range ps {
		switch {
		case conf == nil:
		case !hasNull(conf) && !fillChanges(conf, d.pluginDefaults(k, name)):
			out[name] = conf
		default:
			out[name] = cloneBody(conf)
		}
	}
	return out
}

// fillChanges reports whether fill(conf, def) may change conf: a scalar
// default where conf has no value, or an object or array default where
// conf has that field (conservatively). A configuration that is not an
// object is never filled.
func fillChanges(conf any, def map[string]any) bool {
	m, ok := conf.(map[string]any)
	if !ok {
		return false
	}
	for k, dv := range def {
		cur, present := m[k]
		switch dv.(type) {
		case map[string]any, []any:
			if present {
				return true
			}
		default:
			if !present || cur == nil {
				return true
			}
		}
	}
	return false
}

// hasNull reports whether v holds a null member of an object, at any depth,
// or anything that is not decoded JSON (which cloneBody converts).
func hasNull(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			if e == nil || hasNull(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if e != nil && hasNull(e) {
				return true
			}
		}
	case string, bool, float64, nil:
	default:
		return true
	}
	return false
}

func rename(b map[string]any, from, to string) {
	v, ok := b[from]
	if !ok {
		return
	}
	delete(b, from)
	if _, exists := b[to]; !exists {
		b[to] = v
	}
}

// wrap turns a singular field into its plural array form (uri → uris) when
// the plural is absent; the gateway treats the two alike.
func wrap(b map[string]any, single, plural string) {
	v, ok := b[single]
	if !ok {
		return
	}
	if _, exists := b[plural]; exists {
		return // both: invalid on the gateway; keep both so the diff shows them
	}
	delete(b, single)
	if v != nil {
		b[plural] = []any{v}
	}
}

// credentialFromWire accepts the wire shape {plugins: {<type>: config}} of a
// credential and turns it into ADC's {type, config}.
func credentialFromWire(b map[string]any) {
	if _, ok := b["type"]; ok {
		return
	}
	ps, ok := b["plugins"].(map[string]any)
	if !ok || len(ps) != 1 {
		return
	}
	for t, c := range ps {
		b["type"] = t
		b["config"] = c
	}
	delete(b, "plugins")
}

// normalizeSSL drops the private keys, first recording their fingerprint
// in FingerprintLabel unless a fingerprint is already there.
func normalizeSSL(b map[string]any) {
	var keys []string
	certs, _ := b["certificates"].([]any)
	for _, c := range certs {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if k, ok := cm["key"].(string); ok && k != "" {
			keys = append(keys, k)
		}
		delete(cm, "key")
	}
	delete(b, "key")
	delete(b, "keys")
	if len(keys) == 0 {
		return
	}
	labels, _ := b["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		b["labels"] = labels
	}
	if _, ok := labels[FingerprintLabel]; !ok {
		labels[FingerprintLabel] = Fingerprint(keys)
	}
}

// Fingerprint is the value of FingerprintLabel for an SSL object's private
// keys, in order: the first 32 hex digits of SHA-256 over the keys with
// surrounding white space trimmed. It reveals nothing usable about a key.
func Fingerprint(keys []string) string {
	h := sha256.New()
	for i, k := range keys {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(strings.TrimSpace(k)))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// normalizeLabels turns label values in their wire form (a JSON array in a
// string) back into arrays.
func normalizeLabels(l map[string]any) {
	for k, v := range l {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "[") {
			continue
		}
		var arr []any
		if err := json.Unmarshal([]byte(s), &arr); err != nil {
			continue
		}
		allStrings := true
		for _, e := range arr {
			if _, ok := e.(string); !ok {
				allStrings = false
				break
			}
		}
		if allStrings {
			l[k] = arr
		}
	}
}

// normalizeUpstream turns the node map form {"host:port": weight} into the
// array form, fills a missing port from the scheme, as the gateway does,
// and drops the TLS client key.
func normalizeUpstream(u map[string]any) {
	for _, f := range serverFields {
		delete(u, f)
	}
	rename(u, "desc", "description")
	if l, ok := u["labels"].(map[string]any); ok {
		normalizeLabels(l)
	}
	if tls, ok := u["tls"].(map[string]any); ok {
		// Read back encrypted from APISIX: never compared (see
		// FingerprintLabel).
		delete(tls, "client_key")
	}
	scheme, _ := u["scheme"].(string)
	switch nodes := u["nodes"].(type) {
	case map[string]any:
		arr := make([]any, 0, len(nodes))
		for _, hp := range sortedKeys(nodes) {
			host, port := splitHostPort(hp)
			n := map[string]any{"host": host, "weight": nodes[hp]}
			if port > 0 {
				n["port"] = float64(port)
			}
			arr = append(arr, n)
		}
		u["nodes"] = arr
	}
	if arr, ok := u["nodes"].([]any); ok {
		for _, n := range arr {
			nm, ok := n.(map[string]any)
			if !ok {
				continue
			}
			if _, ok := nm["port"]; !ok {
				if p := defaultPort(scheme); p > 0 {
					nm["port"] = float64(p)
				}
			}
		}
	}
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]".
func splitHostPort(s string) (string, int) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, 0
		}
		host, rest := s[:end+1], s[end+1:]
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			if n, err := strconv.Atoi(p); err == nil {
				return host, n
			}
		}
		return host, 0
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Count(s, ":") > 1 {
		return s, 0
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0
	}
	return s[:i], n
}

func defaultPort(scheme string) int {
	switch scheme {
	case "", "http", "grpc":
		return 80
	case "https", "grpcs":
		return 443
	}
	return 0
}

// fill copies defaults into dst where dst lacks them: scalars where absent,
// nested objects only where dst has that object, and the single element of
// a default array of objects into every object element of dst's array. A
// nested object equal to its defaults, all scalars, is dropped: the gateway
// treats it as absent.
func fill(dst, def map[string]any) {
	for k, dv := range def {
		cur, present := dst[k]
		switch d := dv.(type) {
		case map[string]any:
			if m, ok := cur.(map[string]any); ok {
				fill(m, d)
				if scalars(d) && equal(m, d) {
					// An object of nothing but defaults (keepalive_pool,
					// timeout) is what the gateway uses when it is absent.
					delete(dst, k)
				}
			}
		case []any:
			if len(d) != 1 {
				continue
			}
			dm, ok := d[0].(map[string]any)
			arr, ok2 := cur.([]any)
			if !ok || !ok2 {
				continue
			}
			for _, e := range arr {
				if em, ok := e.(map[string]any); ok {
					fill(em, dm)
				}
			}
		default:
			if !present || cur == nil {
				dst[k] = dv
			}
		}
	}
}

// scalars reports whether every member of m is a scalar.
func scalars(m map[string]any) bool {
	for _, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return len(m) > 0
}

// dropEmpty removes nulls, empty objects, empty arrays and an empty
// description from the core fields of a body, at any depth, which the
// gateway treats as absent. Plugin configurations (the members of a
// `plugins` object and a credential's `config`) keep their empty members:
// there, {} can mean "enabled with defaults" and [] can differ from absent.
func dropEmpty(b map[string]any) {
	for k, v := range b {
		switch k {
		case "plugins":
			// Plugin configurations keep their empty members (cloneBody
			// already dropped their nulls).
		case "config":
			continue
		default:
			if nv, changed := dropEmptyValue(v); changed {
				v = nv
				b[k] = v
			}
		}
		if isEmpty(v) || (k == "description" && v == "") {
			delete(b, k)
		}
	}
}

// dropEmptyValue drops empties inside v; it reports whether v itself (an
// array that lost elements) must be replaced.
func dropEmptyValue(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		dropEmpty(t)
	case []any:
		out, changed := t, false
		for i, e := range t {
			ne, c := dropEmptyValue(e)
			if c {
				t[i] = ne
				e = ne
			}
			if isEmptyElement(e) {
				if !changed {
					out = append(t[:0:0], t[:i]...)
					changed = true
				}
				continue
			}
			if changed {
				out = append(out, e)
			}
		}
		return out, changed
	}
	return v, false
}

// isEmptyElement reports whether an array element is dropped: only nulls
// (an empty object inside an array, such as a node, keeps its place).
func isEmptyElement(v any) bool { return v == nil }

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// setFields are arrays whose order the gateway ignores, per kind.
var setFields = map[model.Kind][]string{
	model.KindRoute:   {"uris", "hosts", "methods", "remote_addrs"},
	model.KindService: {"hosts"},
	model.KindSSL:     {"snis", "ssl_protocols"},
}

func sortSets(k model.Kind, b map[string]any) {
	for _, f := range setFields[k] {
		if s, ok := b[f].([]any); ok {
			sortSet(s)
		}
	}
	u := b
	if k != model.KindUpstream {
		u, _ = b["upstream"].(map[string]any)
	}
	if nodes, ok := u["nodes"].([]any); ok {
		sortSet(nodes)
	}
}

// ignoreFields removes the fields the ignore rules name.
func (d *Differ) ignoreFields(r model.Resource, b map[string]any) {
	for _, rule := range d.ignore {
		var prefix pointer
		switch {
		case rule.kind == "" || rule.kind == r.Key.Kind:
		case rule.kind == model.KindUpstream && r.Key.Kind == model.KindService:
			prefix = pointer{"upstream"}
		default:
			continue
		}
		if rule.name != "" {
			if ok, _ := path.Match(rule.name, r.Name); !ok {
				continue
			}
		}
		for _, p := range rule.paths {
			remove(b, append(slices.Clone(prefix), p...))
		}
	}
}

// normalizeSecrets maps secret pointers into the normalised body: desc
// becomes description, and a pointer into an array (whose order the
// normalisation may change) is cut at the array, masking all of it.
func normalizeSecrets(k model.Kind, secrets []string) []string {
	if len(secrets) == 0 {
		return nil
	}
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		p, err := parsePointer(s)
		if err != nil {
			out = append(out, "") // unparseable: mask everything rather than leak
			continue
		}
		if k != model.KindGlobalRule && k != model.KindPluginMetadata && len(p) > 0 && p[0] == "desc" {
			p[0] = "description"
		}
		for i, seg := range p {
			if _, err := strconv.Atoi(seg); err == nil {
				p = p[:i]
				break
			}
		}
		out = append(out, p.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// withoutWrittenUpstreamName returns h (a normalised live body of kind k)
// without its inline upstream's name when w (the desired one) leaves the
// upstream unnamed and that name is the desired service's, which APISIX
// writes for an unnamed upstream: a service renamed by hand leaves its
// upstream under the name it had, which is no drift of its own.
func withoutWrittenUpstreamName(k model.Kind, w, h map[string]any) map[string]any {
	if k != model.KindService {
		return h
	}
	wu, _ := w["upstream"].(map[string]any)
	hu, _ := h["upstream"].(map[string]any)
	if wu == nil || hu == nil {
		return h
	}
	if _, named := wu["name"]; named {
		return h
	}
	if n, ok := hu["name"].(string); !ok || n != w["name"] {
		return h
	}
	nu := make(map[string]any, len(hu))
	for f, v := range hu {
		if f != "name" {
			nu[f] = v
		}
	}
	return withField(h, "upstream", nu)
}

// withServiceLink returns b, the normalised body of r, with the service r
// hangs under as service_id, for a route, a stream route or an extra
// upstream: one keeps its key when it moves to another service (by hand
// on the gateway, or with an explicit id in a file), and the move changes
// what serves its traffic. Used only when the two sides' parents differ,
// so that an unchanged link is never shown.
func withServiceLink(r model.Resource, b map[string]any) map[string]any {
	switch r.Key.Kind {
	case model.KindRoute, model.KindStreamRoute, model.KindUpstream:
		if r.Parent.Kind == model.KindService && r.Parent.ID != "" {
			return withField(b, "service_id", r.Parent.ID)
		}
	}
	return b
}
