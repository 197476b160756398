package emulator

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// schema is a compiled JSON schema (the subset APISIX's schemas use). Its
// error messages follow APISIX's Lua validator word for word, because the
// Admin API returns them to clients.
type schema struct {
	raw any // the schema document, served by /plugins/{name} and /schema/{name}

	types       []string
	props       []prop
	required    []string
	addlFalse   bool
	addl        *schema
	hasAddl     bool
	patProps    []patProp
	minProps    int
	maxProps    int
	hasMinProps bool
	hasMaxProps bool
	deps        []dep

	items       *schema
	minItems    int
	maxItems    int
	hasMinItems bool
	hasMaxItems bool
	unique      bool

	minLen, maxLen       int
	hasMinLen, hasMaxLen bool
	pattern              *pattern
	patternSrc           string

	min, max, exMin, exMax         float64
	hasMin, hasMax, hasEx, hasExMx bool

	enum     []any
	hasEnum  bool
	allOf    []*schema
	anyOf    []*schema
	oneOf    []*schema
	not      *schema
	ifS      *schema
	thenS    *schema
	elseS    *schema
	format   string
	constV   any
	hasConst bool
	dflt     any
	hasDflt  bool
}

type prop struct {
	name string
	s    *schema
}

type patProp struct {
	src string
	re  *pattern
	s   *schema
}

type dep struct {
	name  string
	props []string
	s     *schema
}

// orderedObject keeps an object's keys in document order while compiling.
type orderedObject struct {
	keys []string
	vals map[string]any
}

// parseOrdered parses JSON text keeping object key order (as orderedObject).
func parseOrdered(text string) (any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	v, err := parseOrderedValue(d)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func parseOrderedValue(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '{':
			o := &orderedObject{vals: map[string]any{}}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseOrderedValue(d)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for d.More() {
				v, err := parseOrderedValue(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", x)
	default:
		return t, nil
	}
}

// plain converts an ordered document into decoded JSON.
func plain(v any) any {
	switch x := v.(type) {
	case *orderedObject:
		m := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			m[k] = plain(x.vals[k])
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = plain(e)
		}
		return a
	default:
		return canon(v)
	}
}

// mustSchema compiles a schema written as JSON text; the texts are constants
// of this package, so an error is a programming error.
func mustSchema(text string) *schema {
	doc, err := parseOrdered(text)
	if err != nil {
		panic(fmt.Sprintf("emulator: bad schema text: %v\n%s", err, text))
	}
	s, err := compileSchema(doc)
	if err != nil {
		panic(fmt.Sprintf("emulator: bad schema: %v\n%s", err, text))
	}
	return s
}

func compileSchema(doc any) (*schema, error) {
	o, ok := doc.(*orderedObject)
	if !ok {
		return nil, fmt.Errorf("schema must be an object, got %T", doc)
	}
	s := &schema{raw: plain(o)}
	intOf := func(k string) (int, bool) {
		v, ok := o.vals[k]
		if !ok {
			return 0, false
		}
		n, _ := v.(json.Number)
		i, err := strconv.Atoi(string(n))
		return i, err == nil
	}
	floatOf := func(k string) (float64, bool) {
		v, ok := o.vals[k]
		if !ok {
			return 0, false
		}
		n, _ := v.(json.Number)
		f, err := n.Float64()
		return f, err == nil
	}
	sub := func(v any) (*schema, error) { return compileSchema(v) }
	subs := func(v any) ([]*schema, error) {
		a, _ := v.([]any)
		out := make([]*schema, 0, len(a))
		for _, e := range a {
			c, err := sub(e)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	strs := func(v any) []string {
		a, _ := v.([]any)
		out := make([]string, 0, len(a))
		for _, e := range a {
			if str, ok := e.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	var err error
	for _, k := range o.keys {
		v := o.vals[k]
		switch k {
		case "type":
			if str, ok := v.(string); ok {
				s.types = []string{str}
			} else {
				s.types = strs(v)
			}
		case "properties":
			po, _ := v.(*orderedObject)
			if po == nil {
				return nil, fmt.Errorf("properties must be an object")
			}
			for _, name := range po.keys {
				c, err := sub(po.vals[name])
				if err != nil {
					return nil, fmt.Errorf("property %s: %w", name, err)
				}
				s.props = append(s.props, prop{name: name, s: c})
			}
		case "required":
			s.required = strs(v)
		case "additionalProperties":
			s.hasAddl = true
			switch x := v.(type) {
			case bool:
				s.addlFalse = !x
			default:
				if s.addl, err = sub(x); err != nil {
					return nil, err
				}
			}
		case "patternProperties":
			po, _ := v.(*orderedObject)
			if po == nil {
				return nil, fmt.Errorf("patternProperties must be an object")
			}
			for _, src := range po.keys {
				c, err := sub(po.vals[src])
				if err != nil {
					return nil, err
				}
				re, err := compilePattern(src)
				if err != nil {
					return nil, err
				}
				s.patProps = append(s.patProps, patProp{src: src, re: re, s: c})
			}
		case "minProperties":
			s.minProps, s.hasMinProps = intOf(k)
		case "maxProperties":
			s.maxProps, s.hasMaxProps = intOf(k)
		case "dependencies":
			po, _ := v.(*orderedObject)
			if po == nil {
				return nil, fmt.Errorf("dependencies must be an object")
			}
			for _, name := range po.keys {
				switch dv := po.vals[name].(type) {
				case []any:
					s.deps = append(s.deps, dep{name: name, props: strs(dv)})
				default:
					c, err := sub(dv)
					if err != nil {
						return nil, err
					}
					s.deps = append(s.deps, dep{name: name, s: c})
				}
			}
		case "items":
			if s.items, err = sub(v); err != nil {
				return nil, err
			}
		case "minItems":
			s.minItems, s.hasMinItems = intOf(k)
		case "maxItems":
			s.maxItems, s.hasMaxItems = intOf(k)
		case "uniqueItems":
			s.unique, _ = v.(bool)
		case "minLength":
			s.minLen, s.hasMinLen = intOf(k)
		case "maxLength":
			s.maxLen, s.hasMaxLen = intOf(k)
		case "pattern":
			s.patternSrc, _ = v.(string)
			if s.pattern, err = compilePattern(s.patternSrc); err != nil {
				return nil, err
			}
		case "minimum":
			s.min, s.hasMin = floatOf(k)
		case "maximum":
			s.max, s.hasMax = floatOf(k)
		case "exclusiveMinimum":
			s.exMin, s.hasEx = floatOf(k)
		case "exclusiveMaximum":
			s.exMax, s.hasExMx = floatOf(k)
		case "enum":
			s.hasEnum = true
			s.enum, _ = plain(v).([]any)
		case "const":
			s.hasConst = true
			s.constV = plain(v)
		case "allOf":
			if s.allOf, err = subs(v); err != nil {
				return nil, err
			}
		case "anyOf":
			if s.anyOf, err = subs(v); err != nil {
				return nil, err
			}
		case "oneOf":
			if s.oneOf, err = subs(v); err != nil {
				return nil, err
			}
		case "not":
			if s.not, err = sub(v); err != nil {
				return nil, err
			}
		case "if":
			if s.ifS, err = sub(v); err != nil {
				return nil, err
			}
		case "then":
			if s.thenS, err = sub(v); err != nil {
				return nil, err
			}
		case "else":
			if s.elseS, err = sub(v); err != nil {
				return nil, err
			}
		case "format":
			s.format, _ = v.(string)
		case "default":
			s.hasDflt = true
			s.dflt = plain(v)
		}
	}
	return s, nil
}

// compilePattern translates the PCRE patterns APISIX's schemas use into Go
// regular expressions.
func compilePattern(src string) (*pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	return newPattern(re), nil
}

// pattern is a compiled schema pattern. The common shape ^\*?[class]+$ (ids,
// hosts, label values) is matched through a table of the ASCII bytes the
// class takes, which was most of the emulator's regular-expression time;
// anything else, and any string with a non-ASCII byte, goes to the regular
// expression. FuzzPattern holds the two together.
type pattern struct {
	re   *regexp.Regexp
	set  *[utf8.RuneSelf]bool // nil: no fast path
	star bool                 // an optional leading '*' (not in the class)
}

func newPattern(re *regexp.Regexp) *pattern {
	p := &pattern{re: re}
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return p
	}
	tree = tree.Simplify()
	subs := tree.Sub
	if tree.Op != syntax.OpConcat || len(subs) < 3 || subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return p
	}
	subs = subs[1 : len(subs)-1]
	star := false
	if len(subs) == 2 {
		q := subs[0]
		if q.Op != syntax.OpQuest || q.Sub[0].Op != syntax.OpLiteral || len(q.Sub[0].Rune) != 1 || q.Sub[0].Rune[0] != '*' || q.Sub[0].Flags&syntax.FoldCase != 0 {
			return p
		}
		star, subs = true, subs[1:]
	}
	if len(subs) != 1 || subs[0].Op != syntax.OpPlus || subs[0].Sub[0].Op != syntax.OpCharClass {
		return p
	}
	var set [utf8.RuneSelf]bool
	ranges := subs[0].Sub[0].Rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1] && r < utf8.RuneSelf; r++ {
			set[r] = true
		}
	}
	p.set, p.star = &set, star && !set['*']
	return p
}

// MatchString reports whether s matches.
func (p *pattern) MatchString(s string) bool {
	if p.set == nil {
		return p.re.MatchString(s)
	}
	i := 0
	if p.star && len(s) > 0 && s[0] == '*' {
		i = 1
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return p.re.MatchString(s)
		}
		if !p.set[c] {
			return false
		}
	}
	return true
}

// validation options.
type vopts struct {
	// fill writes schema defaults into the value being validated (the
	// validator always does this in APISIX; whether the result is persisted
	// depends on the version, so callers validate a copy when it is not).
	fill bool
	// scalarsOnly fills only string, number and boolean defaults (API7
	// Enterprise, whose stored objects converge with ADC's default merge).
	scalarsOnly bool
}

// validate checks v against s and returns APISIX's message on failure.
// With fill, defaults are written into maps inside v.
func (s *schema) validate(v any, o vopts) error {
	if msg, ok := s.check(v, o); !ok {
		return schemaError(msg)
	}
	return nil
}

type schemaError string

func (e schemaError) Error() string { return string(e) }

func typeMatches(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok || isEmptyTable(v)
	case "array":
		_, ok := v.([]any)
		return ok || isEmptyTable(v)
	case "table":
		return luaType(v) == "table"
	case "integer":
		return isInteger(v)
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func (s *schema) check(v any, o vopts) (string, bool) {
	if len(s.types) == 1 {
		if !typeMatches(s.types[0], v) {
			return "wrong type: expected " + s.types[0] + ", got " + luaType(v), false
		}
	} else if len(s.types) > 1 {
		ok := false
		for _, t := range s.types {
			if typeMatches(t, v) {
				ok = true
				break
			}
		}
		if !ok {
			return "wrong type: expected one of " + strings.Join(s.types, ", ") + ", got " + luaType(v), false
		}
	}

	obj, isObj := v.(map[string]any)
	if !isObj && isEmptyTable(v) {
		obj, isObj = map[string]any{}, true
	}
	if isObj && (s.props != nil || s.hasAddl || s.patProps != nil || s.hasMinProps || s.hasMaxProps || s.deps != nil || s.required != nil) {
		if msg, ok := s.checkObject(v, obj, o); !ok {
			return msg, false
		}
	}

	if arr, ok := v.([]any); ok && (s.items != nil || s.hasMinItems || s.hasMaxItems || s.unique) {
		if s.hasMinItems && len(arr) < s.minItems {
			return fmt.Sprintf("expect array to have at least %d items", s.minItems), false
		}
		if s.hasMaxItems && len(arr) > s.maxItems {
			return fmt.Sprintf("expect array to have at most %d items", s.maxItems), false
		}
		if s.items != nil {
			for i, e := range arr {
				if msg, ok := s.items.check(e, o); !ok {
					return fmt.Sprintf("failed to validate item %d: %s", i+1, msg), false
				}
			}
		}
		if s.unique {
			for i := 0; i < len(arr); i++ {
				for j := i + 1; j < len(arr); j++ {
					if deepEqual(arr[i], arr[j]) {
						return fmt.Sprintf("expected unique items but items %d and %d are equal", i+1, j+1), false
					}
				}
			}
		}
	}

	// APISIX skips a string's length and pattern constraints when it is a
	// $secret:// or $env:// reference, resolved later (SSL cert and key
	// included); docs/zh/latest/terminology/secret.md of 3.18.
	if str, ok := v.(string); ok && !isSecretRef(str) {
		n := utf8.RuneCountInString(str)
		if s.hasMinLen && n < s.minLen {
			return fmt.Sprintf("string too short, expected at least %d, got %d", s.minLen, n), false
		}
		if s.hasMaxLen && n > s.maxLen {
			return fmt.Sprintf("string too long, expected at most %d, got %d", s.maxLen, n), false
		}
		if s.pattern != nil && !s.pattern.MatchString(str) {
			return fmt.Sprintf("failed to match pattern %s with %s", luaQuote(s.patternSrc), luaQuote(str)), false
		}
	}

	if f, ok := num(v); ok {
		if s.hasMin && f < s.min {
			return fmt.Sprintf("expected %s to be at least %s", formatNumber(f), formatNumber(s.min)), false
		}
		if s.hasEx && f <= s.exMin {
			return fmt.Sprintf("expected %s to be greater than %s", formatNumber(f), formatNumber(s.exMin)), false
		}
		if s.hasMax && f > s.max {
			return fmt.Sprintf("expected %s to be at most %s", formatNumber(f), formatNumber(s.max)), false
		}
		if s.hasExMx && f >= s.exMax {
			return fmt.Sprintf("expected %s to be smaller than %s", formatNumber(f), formatNumber(s.exMax)), false
		}
	}

	if s.hasEnum {
		found := false
		for _, e := range s.enum {
			if deepEqual(v, e) {
				found = true
				break
			}
		}
		if !found {
			return "matches none of the enum values", false
		}
	}

	for i, sub := range s.allOf {
		if msg, ok := sub.check(v, o); !ok {
			return fmt.Sprintf("allOf %d failed: %s", i+1, msg), false
		}
	}

	if s.anyOf != nil {
		matched := false
		var reqs []string
		for _, sub := range s.anyOf {
			if _, ok := sub.check(v, o); ok {
				matched = true
				break
			}
		}
		if !matched {
			for _, sub := range s.anyOf {
				if sub.required != nil {
					b, _ := json.Marshal(sub.required)
					reqs = append(reqs, string(b))
				}
			}
			msg := "object matches none of the required"
			if len(reqs) > 0 {
				msg += ": " + strings.Join(reqs, " or ")
			}
			return msg, false
		}
	}

	if s.oneOf != nil {
		matched := 0
		for i, sub := range s.oneOf {
			if _, ok := sub.check(v, o); ok {
				if matched != 0 {
					return fmt.Sprintf("value should match only one schema, but matches both schemas %d and %d", matched, i+1), false
				}
				matched = i + 1
			}
		}
		if matched == 0 {
			return "value should match only one schema, but matches none", false
		}
	}

	if s.ifS != nil {
		if _, ok := s.ifS.check(v, o); ok {
			if s.thenS != nil {
				if _, ok := s.thenS.check(v, o); !ok {
					return "then clause did not match", false
				}
			}
		} else if s.elseS != nil {
			if _, ok := s.elseS.check(v, o); !ok {
				return "else clause did not match", false
			}
		}
	}

	if s.not != nil {
		if _, ok := s.not.check(v, o); ok {
			return "value wasn't supposed to match schema", false
		}
	}

	if str, ok := v.(string); ok {
		switch s.format {
		case "ipv4":
			if a, err := netip.ParseAddr(str); err != nil || !a.Is4() {
				return "expect valid ipv4 address but got: " + str, false
			}
		case "ipv6":
			if a, err := netip.ParseAddr(str); err != nil || !a.Is6() {
				return "expect valid ipv6 address but got: " + str, false
			}
		}
	}

	if s.hasConst && !deepEqual(v, s.constV) {
		return "failed to check const value", false
	}
	return "", true
}

func (s *schema) checkObject(v any, obj map[string]any, o vopts) (string, bool) {
	required := make(map[string]bool, len(s.required))
	for _, r := range s.required {
		required[r] = true
	}
	// A Lua validator writes defaults into the table it validates; an empty
	// JSON array decoded as []any cannot take them, so only real maps do.
	realObj, canFill := v.(map[string]any)
	for _, p := range s.props {
		pv, present := obj[p.name]
		if present {
			if msg, ok := p.s.check(pv, o); !ok {
				return fmt.Sprintf("property %s validation failed: %s", luaQuote(p.name), msg), false
			}
			for _, d := range s.deps {
				if d.name != p.name {
					continue
				}
				if msg, ok := checkDep(d, obj, o); !ok {
					return msg, false
				}
			}
		} else if required[p.name] {
			return fmt.Sprintf("property %s is required", luaQuote(p.name)), false
		}
		delete(required, p.name)
		if !present && p.s.hasDflt && o.fill && canFill && (!o.scalarsOnly || luaType(p.s.dflt) != "table") {
			realObj[p.name] = deepCopy(p.s.dflt)
		}
	}
	for _, r := range s.required {
		if !required[r] {
			continue
		}
		if _, ok := obj[r]; !ok {
			return fmt.Sprintf("property %s is required", luaQuote(r)), false
		}
	}
	for _, d := range s.deps {
		if s.hasProp(d.name) {
			continue
		}
		if _, ok := obj[d.name]; !ok {
			continue
		}
		if msg, ok := checkDep(d, obj, o); !ok {
			return msg, false
		}
	}
	if s.patProps != nil || s.addlFalse || s.addl != nil || s.hasMinProps || s.hasMaxProps {
		for _, k := range sortedKeys(obj) {
			pv := obj[k]
			matched := false
			for _, pp := range s.patProps {
				if pp.re.MatchString(k) {
					if msg, ok := pp.s.check(pv, o); !ok {
						return fmt.Sprintf("failed to validate %s (matching %s): %s", k, luaQuote(pp.src), msg), false
					}
					matched = true
				}
			}
			if matched || s.hasProp(k) {
				continue
			}
			if s.addl != nil {
				if msg, ok := s.addl.check(pv, o); !ok {
					return fmt.Sprintf("failed to validate additional property %s: %s", k, msg), false
				}
			} else if s.addlFalse {
				return "additional properties forbidden, found " + k, false
			}
		}
		if s.hasMinProps && len(obj) < s.minProps {
			return fmt.Sprintf("expect object to have at least %d properties", s.minProps), false
		}
		if s.hasMaxProps && len(obj) > s.maxProps {
			return fmt.Sprintf("expect object to have at most %d properties", s.maxProps), false
		}
	}
	return "", true
}

func checkDep(d dep, obj map[string]any, o vopts) (string, bool) {
	if d.s != nil {
		if msg, ok := d.s.check(obj, o); !ok {
			return fmt.Sprintf("failed to validate dependent schema for %s: %s", luaQuote(d.name), msg), false
		}
		return "", true
	}
	for _, p := range d.props {
		if _, ok := obj[p]; !ok {
			return fmt.Sprintf("property %s is required when %s is set", luaQuote(p), luaQuote(d.name)), false
		}
	}
	return "", true
}

func (s *schema) hasProp(name string) bool {
	for _, p := range s.props {
		if p.name == name {
			return true
		}
	}
	return false
}
