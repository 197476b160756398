package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/api7/internal/jsonenc"
)

// Values inside the emulator are decoded JSON: map[string]any, []any,
// string, json.Number, bool and nil. Numbers stay json.Number, canonicalised
// the way APISIX's cjson prints them ("%.14g"), so 1.0 comes back as 1 and an
// integer id stays an integer: JSON types are preserved as sent.

// decodeJSON parses one JSON document. It rejects trailing data.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return canon(v), nil
}

// canon rewrites every number in v to its canonical text.
func canon(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canon(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = canon(e)
		}
		return x
	case json.Number:
		return canonNumber(x)
	case float64:
		return json.Number(formatNumber(x))
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	default:
		return v
	}
}

func canonNumber(n json.Number) json.Number {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") && len(s) <= 15 {
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return n
	}
	return json.Number(formatNumber(f))
}

// formatNumber prints f as Lua's cjson does (%.14g).
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'g', 14, 64)
	// Go prints exponents as e+17; C prints e+17 too, but with at least two digits.
	if i := strings.IndexAny(s, "e"); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		sign := exp[0]
		digits := exp[1:]
		if len(digits) < 2 {
			digits = "0" + digits
		}
		s = mant + "e" + string(sign) + digits
	}
	return s
}

// num returns v as a float when it is a JSON number.
func num(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// isInteger reports whether v is a number with no fractional part.
func isInteger(v any) bool {
	f, ok := num(v)
	return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
}

// luaType names v's type as Lua's type() would after cjson decoding: JSON
// null is cjson.null, a light userdata.
func luaType(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		return "table"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "userdata"
	default:
		return "userdata"
	}
}

// luaString renders a scalar as Lua's tostring would.
func luaString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "userdata: NULL"
	default:
		return fmt.Sprint(x)
	}
}

// luaQuote renders s as Lua's %q does (used in the validator's messages).
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString("\\n")
		case '\r':
			b.WriteString("\\r")
		case 0:
			b.WriteString("\\0")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// isEmptyTable reports whether v is {} or []: Lua cannot tell them apart.
func isEmptyTable(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}

func copyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c, _ := deepCopy(m).(map[string]any)
	return c
}

// deepEqual compares decoded JSON values; empty {} equals empty [] as in Lua.
func deepEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		if isEmptyTable(a) && isEmptyTable(b) {
			return true
		}
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !deepEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		if isEmptyTable(a) && isEmptyTable(b) {
			return true
		}
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		fa, _ := num(a)
		fb, ok := num(b)
		return ok && fa == fb
	default:
		return a == b
	}
}

// marshal encodes v as APISIX does: compact JSON followed by a newline,
// without HTML escaping.
func marshal(v any) []byte {
	// encoding/json's bytes (HTML escaping off, a trailing newline), written
	// without its reflection: answers are a fifth of the emulator's CPU.
	b, err := jsonenc.Append(make([]byte, 0, 256), v)
	if err != nil {
		// Values are decoded JSON, so this cannot happen; fail loudly in tests.
		panic(fmt.Sprintf("emulator: encode response: %v", err))
	}
	return append(b, '\n')
}

// idString renders an id (string or number) as a key segment.
func idString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	}
	return "", false
}

// sortedKeys returns m's keys in byte order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
