package diff

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Values here are decoded JSON: map[string]any, []any, string, float64,
// bool and nil. clone also accepts the Go types a caller might build by
// hand (ints, []string, map[string]string…) and converts them, so the rest
// of the package sees only those six.

// clone returns a deep copy of v in decoded-JSON form.
func clone(v any) any {
	switch t := v.(type) {
	case nil, string, bool, float64:
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = clone(e)
		}
		return s
	case []string:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = e
		}
		return s
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = e
		}
		return m
	case int:
		return float64(t)
	case int8:
		return float64(t)
	case int16:
		return float64(t)
	case int32:
		return float64(t)
	case int64:
		return float64(t)
	case uint:
		return float64(t)
	case uint8:
		return float64(t)
	case uint16:
		return float64(t)
	case uint32:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return float64(t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return t.String()
		}
		return f
	}
	return cloneReflect(reflect.ValueOf(v))
}

// cloneReflect handles the remaining maps and slices (map[string][]string,
// []map[string]any…) by reflection; anything else is kept as its string form
// so that it can still be compared and shown.
func cloneReflect(rv reflect.Value) any {
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = clone(it.Value().Interface())
		}
		return m
	case reflect.Slice, reflect.Array:
		s := make([]any, rv.Len())
		for i := range s {
			s[i] = clone(rv.Index(i).Interface())
		}
		return s
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return clone(rv.Elem().Interface())
	}
	return fmt.Sprint(rv.Interface())
}

// equal reports whether two decoded-JSON values are equal.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// cloneBody is clone for a body about to be normalised: it also drops the
// null members of objects, at any depth (absent ≡ null on the gateway).
func cloneBody(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			if e == nil {
				continue
			}
			if c := cloneBody(e); c != nil {
				m[k] = c
			}
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = cloneBody(e)
		}
		return s
	case string, bool, float64:
		return t
	}
	return clone(v)
}

// canonical renders v as compact JSON with sorted keys: the sort key for
// set-like arrays and the form in which renderers print values.
func canonical(v any) string {
	var sb strings.Builder
	writeCanonical(&sb, v)
	return sb.String()
}

func writeCanonical(sb *strings.Builder, v any) {
	switch t := v.(type) {
	case nil:
		sb.WriteString("null")
	case string:
		sb.WriteString(jsonString(t))
	case bool:
		sb.WriteString(strconv.FormatBool(t))
	case float64:
		sb.WriteString(formatNumber(t))
	case map[string]any:
		keys := sortedKeys(t)
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(jsonString(k))
			sb.WriteByte(':')
			writeCanonical(sb, t[k])
		}
		sb.WriteByte('}')
	case []any:
		sb.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeCanonical(sb, e)
		}
		sb.WriteByte(']')
	default:
		b, err := json.Marshal(t)
		if err != nil {
			b, _ = json.Marshal(fmt.Sprint(t))
		}
		sb.Write(b)
	}
}

// jsonString quotes s as JSON without escaping <, > and & for HTML.
func jsonString(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return `"` + s + `"`
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(buf.String(), "\n")
}

// formatNumber prints integers without an exponent or a fraction, as a
// person wrote them in YAML.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortSet sorts a set-like array (uris, hosts, methods…) by the canonical
// form of its elements, in place.
func sortSet(s []any) {
	if len(s) < 2 {
		return
	}
	allStrings := true
	for _, e := range s {
		if _, ok := e.(string); !ok {
			allStrings = false
			break
		}
	}
	if allStrings {
		if slices.IsSortedFunc(s, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
			return
		}
		slices.SortStableFunc(s, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		return
	}
	if objectsWithHost(s) {
		if !slices.IsSortedFunc(s, compareNodes) {
			slices.SortStableFunc(s, compareNodes)
		}
		return
	}
	keys := make([]string, len(s))
	idx := make([]int, len(s))
	for i, e := range s {
		idx[i] = i
		keys[i] = canonical(e)
	}
	if slices.IsSorted(keys) {
		return
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make([]any, len(s))
	for i, j := range idx {
		sorted[i] = s[j]
	}
	copy(s, sorted)
}

func objectsWithHost(s []any) bool {
	for _, e := range s {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["host"].(string); !ok {
			return false
		}
	}
	return true
}

// compareNodes orders upstream nodes by host, port, weight, priority and
// then their whole canonical form: a total order, cheap in the usual case.
func compareNodes(a, b any) int {
	am, bm := a.(map[string]any), b.(map[string]any)
	if c := strings.Compare(am["host"].(string), bm["host"].(string)); c != 0 {
		return c
	}
	for _, f := range [...]string{"port", "weight", "priority"} {
		af, aok := am[f].(float64)
		bf, bok := bm[f].(float64)
		switch {
		case aok && bok && af != bf:
			return cmp.Compare(af, bf)
		case aok != bok:
			if aok {
				return 1
			}
			return -1
		}
	}
	return strings.Compare(canonical(a), canonical(b))
}
