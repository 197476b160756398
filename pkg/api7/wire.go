package api7

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Helpers shared by both backends' wire mappings.

var (
	// idSegment is APISIX's id_schema for strings, and the only characters a
	// path segment built from an ID may hold.
	idSegment = segment{pattern: `^[A-Za-z0-9._-]{1,64}$`, dot: true}
	// usernameSegment is a consumer username (APISIX 3.13+: dashes; API7:
	// dots), at most 64 characters like every ID the model accepts.
	usernameSegment = segment{pattern: `^[A-Za-z0-9_.-]{1,64}$`, dot: true}
	// pluginSegment is a plugin name, used as the ID of global rules and
	// plugin metadata.
	pluginSegment = segment{pattern: `^[A-Za-z0-9_-]{1,64}$`}
	// labelValueRE is APISIX's label value.
	labelValueRE = regexp.MustCompile(`^\S{1,256}$`)
)

// segment is a rule for one URL path segment made from an ID: 1 to 64
// ASCII letters, digits, "_" and "-", and "." when dot is set. It is
// checked byte by byte (every request checks its IDs; a regular expression
// cost more than the rest of the mapping). pattern says the same for
// error messages.
type segment struct {
	pattern string
	dot     bool
}

func (r segment) match(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && r.dot:
		default:
			return false
		}
	}
	return true
}

// checkSegment refuses anything that is not a safe path segment for kind.
func checkSegment(what, s string, r segment) error {
	if s == "." || s == ".." || !r.match(s) {
		return fmt.Errorf("%s %q: not a valid ID (want %s, not . or ..)", what, truncate(s, 80), r.pattern)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// checkKey checks every part of k that goes into a URL.
func checkKey(k model.Key) error {
	switch k.Kind {
	case model.KindConsumer:
		return checkSegment("consumer", k.ID, usernameSegment)
	case model.KindCredential:
		if err := checkSegment("consumer", k.Consumer, usernameSegment); err != nil {
			return err
		}
		return checkSegment("credential", k.ID, idSegment)
	case model.KindGlobalRule, model.KindPluginMetadata:
		return checkSegment(string(k.Kind), k.ID, pluginSegment)
	default:
		return checkSegment(string(k.Kind), k.ID, idSegment)
	}
}

// Label names with a meaning to ADC and to us.
const (
	labelADCName      = "__ADC_NAME"                // stream route name (ADC, APISIX ≥ 3.8)
	labelADCUpstreamS = "__ADC_UPSTREAM_SERVICE_ID" // an extra upstream's service
)

// labelsToWire turns ADC labels (string or string-array values) into APISIX
// labels (strings; arrays as JSON text, as ADC sends them) and adds extra.
// It returns nil when there is nothing to send.
func labelsToWire(v any, extra map[string]string) (map[string]any, error) {
	out := map[string]any{}
	if v != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("labels: want an object, got %s", jsonType(v))
		}
		for k, lv := range m {
			if k == ManagedByLabel {
				return nil, fmt.Errorf("label %q is reserved for ownership", ManagedByLabel)
			}
			switch lv := lv.(type) {
			case string:
				out[k] = lv
			case []any:
				for _, e := range lv {
					if _, ok := e.(string); !ok {
						return nil, fmt.Errorf("label %q: want strings in the array, got %s", k, jsonType(e))
					}
				}
				b, err := marshalJSON(lv)
				if err != nil {
					return nil, fmt.Errorf("label %q: %w", k, err)
				}
				out[k] = string(b)
			default:
				return nil, fmt.Errorf("label %q: want a string or an array of strings, got %s", k, jsonType(lv))
			}
		}
	}
	for k, lv := range extra {
		out[k] = lv
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// labelsFromWire is the inverse of labelsToWire: values holding a JSON array
// of strings become arrays again, the labels named in drop are removed, and
// the managed-by value is returned apart. It returns nil labels when none
// remain.
func labelsFromWire(v any, drop ...string) (labels map[string]any, owner string, hasOwner bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", false
	}
	out := map[string]any{}
	for k, lv := range m {
		if k == ManagedByLabel {
			owner, hasOwner = lv.(string)
			continue
		}
		if contains(drop, k) {
			continue
		}
		if s, ok := lv.(string); ok && strings.HasPrefix(s, "[") {
			var arr []string
			if err := json.Unmarshal([]byte(s), &arr); err == nil {
				a := make([]any, len(arr))
				for i, e := range arr {
					a[i] = e
				}
				out[k] = a
				continue
			}
		}
		out[k] = lv
	}
	if len(out) == 0 {
		return nil, owner, hasOwner
	}
	return out, owner, hasOwner
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, json.Number, int, int64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// idString renders an ID found in a wire body: APISIX stores string IDs,
// and numbers for objects created with a numeric id in the body.
func idString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return deepCopy(m).(map[string]any)
}

// applyDefaults fills def into dst (both partial bodies in ADC terms), as
// model.Defaults describes: a scalar (or an array of scalars) where dst has
// no value; a nested object only inside dst's object of the same name; an
// array holding one object into every object element of dst's array. dst is
// changed in place.
func applyDefaults(dst, def map[string]any) {
	for k, dv := range def {
		cur, ok := dst[k]
		switch dv := dv.(type) {
		case map[string]any:
			if m, isMap := cur.(map[string]any); ok && isMap {
				applyDefaults(m, dv)
			}
		case []any:
			if len(dv) == 1 {
				if em, isMap := dv[0].(map[string]any); isMap {
					if arr, isArr := cur.([]any); ok && isArr {
						for _, e := range arr {
							if m, isMap := e.(map[string]any); isMap {
								applyDefaults(m, em)
							}
						}
					}
					continue
				}
			}
			if !ok || cur == nil {
				dst[k] = deepCopy(dv)
			}
		default:
			if !ok || cur == nil {
				dst[k] = dv
			}
		}
	}
}

// nodesFromMap turns APISIX's map-form nodes {"host:port": weight} into
// ADC's array form, sorted by host and port. A missing port is the
// scheme's default.
func nodesFromMap(m map[string]any, scheme string) []any {
	type node struct {
		host   string
		port   int
		weight any
	}
	nodes := make([]node, 0, len(m))
	for hp, w := range m {
		host, port := splitHostPort(hp, scheme)
		nodes = append(nodes, node{host, port, w})
	}
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].host != nodes[j].host {
			return nodes[i].host < nodes[j].host
		}
		return nodes[i].port < nodes[j].port
	})
	out := make([]any, len(nodes))
	for i, n := range nodes {
		out[i] = map[string]any{"host": n.host, "port": float64(n.port), "weight": n.weight}
	}
	return out
}

func splitHostPort(hp, scheme string) (string, int) {
	if host, port, err := net.SplitHostPort(hp); err == nil {
		if p, err := strconv.Atoi(port); err == nil {
			if strings.Contains(host, ":") {
				host = "[" + host + "]" // APISIX keeps IPv6 hosts bracketed
			}
			return host, p
		}
	}
	switch scheme {
	case "https", "grpcs":
		return hp, 443
	default:
		return hp, 80
	}
}

// errNoParent is returned for a resource that needs a parent and has none.
var errNoParent = errors.New("has no parent")
