package model

import (
	"fmt"
	"slices"
	"strings"
)

// Warning is a problem that does not make a configuration invalid. Its
// message never contains a value from the configuration.
type Warning struct {
	File     string
	Line     int
	Resource string
	// Field is where in the resource, dotted: certificates.0.key.
	Field   string
	Message string
}

// String renders file:line: resource: message, as Error does.
func (w Warning) String() string {
	e := Error{File: w.File, Line: w.Line, Resource: w.Resource, Message: w.Message}
	return e.Error()
}

// authSecrets are the secret fields of the auth plugins' consumer
// configurations (their encrypt_fields).
var authSecrets = map[string][]string{
	"key-auth":   {"key"},
	"basic-auth": {"password"},
	"jwt-auth":   {"secret", "private_key"},
	"hmac-auth":  {"secret_key"},
}

// PlaintextSecrets lists the secrets written in plain text in the files
// (reliability row B5): SSL private keys, and the keys, passwords and
// secrets of auth plugins on consumers and credentials, whose value is
// neither a $secret:// or $env:// reference (which the gateway resolves)
// nor substituted from a ${VAR}. Such a value sits in Git for everyone who
// can read the repository. The warnings are sorted by file and line and
// never show a value.
func PlaintextSecrets(rs []Resource) []Warning {
	var out []Warning
	for _, r := range rs {
		var fields []string // JSON pointers of secret values
		switch r.Key.Kind {
		case KindSSL:
			certs, _ := r.Body["certificates"].([]any)
			for i := range certs {
				fields = append(fields, fmt.Sprintf("/certificates/%d/key", i))
			}
		case KindCredential:
			t, _ := r.Body["type"].(string)
			for _, f := range authSecrets[t] {
				fields = append(fields, "/config/"+f)
			}
		case KindConsumer:
			plugins, _ := r.Body["plugins"].(map[string]any)
			for _, p := range sortedNames(plugins) {
				for _, f := range authSecrets[p] {
					fields = append(fields, "/plugins/"+p+"/"+f)
				}
			}
		}
		for _, f := range fields {
			v, ok := at(r.Body, f).(string)
			if !ok || v == "" || isSecretRef(v) || substituted(r.Secrets, f) {
				continue
			}
			field := strings.ReplaceAll(strings.TrimPrefix(f, "/"), "/", ".")
			out = append(out, Warning{
				File: r.Origin.File, Line: r.Origin.Line, Resource: resourceLabel(r), Field: field,
				Message: field + " is a secret written in plain text: use ${VAR}, $env:// or $secret:// so that it stays out of Git",
			})
		}
	}
	slices.SortStableFunc(out, func(a, b Warning) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return out
}

// substituted reports whether the value at pointer p came from ${VAR}.
func substituted(secrets []string, p string) bool {
	return slices.ContainsFunc(secrets, func(s string) bool { return s == p || strings.HasPrefix(p, s+"/") })
}

// at returns the value at a JSON pointer of plain segments (no escapes).
func at(body map[string]any, p string) any {
	var cur any = body
	for seg := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		switch t := cur.(type) {
		case map[string]any:
			cur = t[seg]
		case []any:
			i := 0
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(t) {
				return nil
			}
			cur = t[i]
		default:
			return nil
		}
	}
	return cur
}

func sortedNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// resourceLabel names a loaded resource as Load's errors do.
func resourceLabel(r Resource) string {
	name := r.Name
	if r.Key.Kind == KindCredential && r.Key.Consumer != "" {
		name = r.Key.Consumer + "/" + name
	}
	return label(r.Key.Kind, name, r.Key.ID)
}
