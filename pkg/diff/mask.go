package diff

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Masked is what a secret value shows as in a change set and every
// rendering of it.
const Masked = model.Redacted

// pluginSecrets are the fields of a plugin's configuration that hold a
// secret (APISIX's encrypt_fields and their kin), as pointers relative to
// the configuration. Fields whose name looks like a secret (secretName) are
// masked in every plugin besides.
var pluginSecrets = map[string][]pointer{
	"key-auth":    {{"key"}},
	"basic-auth":  {{"password"}},
	"jwt-auth":    {{"secret"}, {"private_key"}},
	"hmac-auth":   {{"secret_key"}},
	"csrf":        {{"key"}},
	"jwe-decrypt": {{"key"}, {"secret"}},
	// The AI plugins' auth.header and auth.query hold API keys under any
	// name ("Authorization", "api-key", "key"): every value in them.
	"ai-proxy":           aiAuthSecrets,
	"ai-request-rewrite": aiAuthSecrets,
	"ai-proxy-multi":     prefixed(pointer{"instances", wildcard}, aiAuthSecrets),
}

var aiAuthSecrets = []pointer{{"auth", "header", wildcard}, {"auth", "query", wildcard}, {"auth", "gcp", "service_account_json"}}

func prefixed(prefix pointer, ps []pointer) []pointer {
	out := make([]pointer, 0, len(ps))
	for _, p := range ps {
		out = append(out, append(append(pointer{}, prefix...), p...))
	}
	return out
}

// secretName reports whether a field of a plugin configuration is, by its
// name, a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "password", "passwd", "secret", "secret_key", "client_secret", "private_key",
		"client_key", "client_rsa_private_key", "api_key", "apikey", "access_key_secret",
		"secret_access_key", "token", "auth_token", "access_token", "refresh_token",
		"gateway_secret", "aes_keys", "credentials", "sasl_password",
		"secretkey", "auth_header", "service_account_json":
		return true
	}
	for _, suffix := range []string{"_password", "_secret", "_private_key", "_token"} {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

// masker decides which locations of one resource's body hold secrets.
type masker struct {
	kind    model.Kind
	id      string    // the plugin name of a global rule or plugin metadata
	credTyp []string  // the plugin of a credential, on either side
	extra   []pointer // Resource.Secrets of either side
}

func newMasker(k model.Key, credType []string, secrets ...[]string) masker {
	m := masker{kind: k.Kind, id: k.ID, credTyp: credType}
	for _, ss := range secrets {
		for _, s := range ss {
			p, err := parsePointer(s)
			if err != nil {
				p = pointer{} // mask everything rather than leak
			}
			m.extra = append(m.extra, p)
		}
	}
	return m
}

// secret reports whether the value at p is a secret.
func (m masker) secret(p pointer) bool {
	for _, e := range m.extra {
		if e.matchesPrefix(p) {
			return true
		}
	}
	switch m.kind {
	case model.KindSSL:
		if len(p) >= 1 && (p[0] == "key" || p[0] == "keys") {
			return true
		}
		if len(p) >= 3 && p[0] == "certificates" && p[2] == "key" {
			return true
		}
	case model.KindGlobalRule, model.KindPluginMetadata:
		return pluginSecret(m.id, p)
	case model.KindCredential:
		if len(p) >= 1 && p[0] == "config" {
			for _, t := range m.credTyp {
				if pluginSecret(t, p[1:]) {
					return true
				}
			}
			return pluginSecret("", p[1:])
		}
	}
	if len(p) >= 2 && p[0] == "plugins" {
		return pluginSecret(p[1], p[2:])
	}
	// Upstream TLS client keys, at the top of an upstream or inline.
	for i := 0; i+1 < len(p); i++ {
		if p[i] == "tls" && p[i+1] == "client_key" {
			return true
		}
	}
	return false
}

// pluginSecret reports whether sub, a location inside plugin's
// configuration, is a secret.
func pluginSecret(plugin string, sub pointer) bool {
	for _, f := range pluginSecrets[plugin] {
		if f.matchesPrefix(sub) {
			return true
		}
	}
	for _, seg := range sub {
		if secretName(seg) {
			return true
		}
	}
	return false
}

// mask returns v (found at p) with every secret inside it replaced by
// Masked. v is not modified; parts of it without secrets are shared.
func (m masker) mask(p pointer, v any) any {
	path := make(pointer, len(p), len(p)+8)
	copy(path, p)
	out, _ := m.maskAt(&path, v)
	return out
}

// maskAt masks v at *path, extending and restoring *path in place; it
// reports whether anything was masked.
func (m masker) maskAt(path *pointer, v any) (any, bool) {
	if v == nil {
		return nil, false
	}
	if m.secret(*path) {
		return Masked, true
	}
	switch t := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			*path = append(*path, k)
			me, masked := m.maskAt(path, e)
			*path = (*path)[:len(*path)-1]
			if masked {
				if out == nil {
					out = make(map[string]any, len(t))
					for k2, e2 := range t {
						out[k2] = e2
					}
				}
				out[k] = me
			}
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, e := range t {
			*path = append(*path, itoa(i))
			me, masked := m.maskAt(path, e)
			*path = (*path)[:len(*path)-1]
			if masked {
				if out == nil {
					out = append([]any(nil), t...)
				}
				out[i] = me
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = digits[i%10]
		i /= 10
	}
	return string(b[n:])
}

// SecretPointers lists the locations in r's body, as RFC 6901 pointers,
// that hold secrets by the rules the change sets mask with (plugin secret
// fields, credential and SSL keys, upstream client keys, r.Secrets),
// sorted. A location inside a secret object is not listed apart from it.
func SecretPointers(r model.Resource) []string {
	m := newMasker(r.Key, credTypes(r.Body), r.Secrets)
	var out []string
	var walk func(p pointer, v any)
	walk = func(p pointer, v any) {
		if len(p) > 0 && m.secret(p) {
			out = append(out, p.String())
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(t) {
				walk(p.child(k), t[k])
			}
		case []any:
			for i, e := range t {
				walk(p.child(itoa(i)), e)
			}
		}
	}
	walk(pointer{}, r.Body)
	return out
}

// minRedacted is the length of the shortest secret RedactError replaces:
// replacing shorter ones would garble the words of a message and hide
// little.
const minRedacted = 4

// SecretValues returns the strings held at r's secret locations (see
// SecretPointers), each once: those inside a secret object or array too.
func SecretValues(r model.Resource) []string {
	var out []string
	var collect func(v any)
	collect = func(v any) {
		switch t := v.(type) {
		case string:
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		case map[string]any:
			for _, e := range t {
				collect(e)
			}
		case []any:
			for _, e := range t {
				collect(e)
			}
		}
	}
	for _, s := range SecretPointers(r) {
		p, err := parsePointer(s)
		if err != nil {
			continue
		}
		collect(valueAt(r.Body, p))
	}
	return out
}

// valueAt returns the value at p in v, or nil.
func valueAt(v any, p pointer) any {
	for _, seg := range p {
		switch t := v.(type) {
		case map[string]any:
			v = t[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// RedactError returns err with every secret value of rs (see SecretValues)
// in its text, as written or JSON-escaped, replaced by Masked: a server
// may quote what it refuses ("failed to match pattern … with \"<key>\"").
// The result unwraps to err, so errors.Is and errors.As see through it;
// err itself is returned when its text holds no secret.
func RedactError(err error, rs ...model.Resource) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	redacted := msg
	for _, r := range rs {
		for _, s := range SecretValues(r) {
			if len(s) < minRedacted {
				continue
			}
			redacted = strings.ReplaceAll(redacted, s, Masked)
			if js, jerr := json.Marshal(s); jerr == nil {
				redacted = strings.ReplaceAll(redacted, string(js[1:len(js)-1]), Masked)
			}
		}
	}
	if redacted == msg {
		return err
	}
	return &redactedError{err: err, msg: redacted}
}

// redactedError is an error whose text had secrets replaced.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
