package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Limits on the shape of one file, so that hostile input fails fast.
const (
	// maxDepth is the deepest nesting of mappings and sequences accepted.
	// ADC configurations need about ten levels; the YAML parser itself stops
	// at 10,000.
	maxDepth = 64
	// minAliasBudget is how many values alias expansion and merge keys may
	// produce in a file, at least; a file may also expand as many values as
	// it holds nodes. A billion-laughs document hits this in microseconds.
	minAliasBudget = 100_000
	// maxShownValue is the longest input value quoted in an error message.
	maxShownValue = 64
)

// errAbort stops the conversion of a file after a limit was hit; the error
// itself was recorded.
var errAbort = errors.New("abort")

// parseYAML parses one file into its document node. It returns nil for an
// empty document. Both YAML and JSON files go through here, so that both
// get line numbers. A tree from fp is valid until fp's next parse.
func parseYAML(file string, data []byte, fp *fastParser) (*yaml.Node, *Error) {
	if !mayHaveSeveralDocuments(data) {
		if doc, ok := fp.parse(data); ok {
			return doc, nil
		}
		// Unmarshal parses the bytes in place.
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, yamlError(file, err)
		}
		if doc.Kind == 0 {
			return nil, nil
		}
		return &doc, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, err)
	default:
		return nil, &Error{File: file, Line: extra.Line, Message: "a file may hold only one YAML document"}
	}
	return &doc, nil
}

// mayHaveSeveralDocuments reports whether data has a document marker (---
// or ...) at the start of a line, the only way a second document can start.
func mayHaveSeveralDocuments(data []byte) bool {
	return bytes.HasPrefix(data, []byte("---")) || bytes.HasPrefix(data, []byte("...")) ||
		bytes.Contains(data, []byte("\n---")) || bytes.Contains(data, []byte("\n...")) ||
		bytes.Contains(data, []byte("\r---")) || bytes.Contains(data, []byte("\r..."))
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlError turns a parser error ("yaml: line 3: did not find expected key")
// into an Error with a line.
func yamlError(file string, err error) *Error {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if m[1] != "" {
			line, _ = strconv.Atoi(m[1]) // the pattern guarantees digits
		}
		msg = msg[len(m[0]):]
	}
	return &Error{File: file, Line: line, Message: "YAML: " + msg}
}

// pathSeg is one step of a path inside a resource: a key, or an index when
// key is empty and idx >= 0.
type pathSeg struct {
	key string
	idx int
}

// conv converts the YAML node tree of one file into JSON values, checking
// them against a schema, substituting variables and collecting errors.
type conv struct {
	file string
	env  func(string) (string, bool)
	errs []*Error

	res     string    // label of the resource being converted
	path    []pathSeg // where inside that resource
	secrets []string  // JSON pointers of substituted values in that resource

	scratch []pair // a stack of mapping entries, reused (see scratchPairs)

	aliasLeft int // values that aliases and merges may still produce
	inAlias   int // > 0 while converting under an alias
	depth     int
	aborted   bool
}

func (c *conv) push(key string) { c.path = append(c.path, pathSeg{key: key, idx: -1}) }
func (c *conv) pushIdx(i int)   { c.path = append(c.path, pathSeg{idx: i}) }
func (c *conv) pop()            { c.path = c.path[:len(c.path)-1] }

// dotted renders the current path as upstream.nodes[0].port.
func (c *conv) dotted() string {
	var b strings.Builder
	for _, s := range c.path {
		if s.idx >= 0 && s.key == "" {
			fmt.Fprintf(&b, "[%d]", s.idx)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// pointer renders the current path as an RFC 6901 JSON pointer.
func (c *conv) pointer() string {
	var b strings.Builder
	for _, s := range c.path {
		b.WriteByte('/')
		if s.idx >= 0 && s.key == "" {
			b.WriteString(strconv.Itoa(s.idx))
			continue
		}
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s.key))
	}
	return b.String()
}

// errAt records an error at node n's line, prefixed with the current path.
func (c *conv) errAt(line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p := c.dotted(); p != "" {
		msg = p + ": " + msg
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Resource: c.res, Message: msg})
}

// fail records an error that stops the whole file.
func (c *conv) fail(line int, format string, args ...any) {
	if !c.aborted {
		c.errAt(line, format, args...)
		c.aborted = true
	}
}

// charge accounts for one value produced under an alias or a merge.
func (c *conv) charge(line, n int) bool {
	c.aliasLeft -= n
	if c.aliasLeft < 0 {
		c.fail(line, "YAML aliases expand to too many values (more than %d)", minAliasBudget)
		return false
	}
	return true
}

// deref follows aliases. What they expand to was measured before
// conversion (see expansion).
func (c *conv) deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// pair is one key and value of a mapping, after merges.
type pair struct {
	key  string
	k, v *yaml.Node
}

// pairs returns the entries of mapping n in document order, with `<<` merge
// keys applied (explicit keys win over merged ones, earlier merges over
// later ones). A key given twice explicitly is an error.
func (c *conv) pairs(n *yaml.Node) []pair {
	out := make([]pair, 0, len(n.Content)/2)
	var merges []*yaml.Node
	var seen map[string]int
	if len(n.Content) > 32 {
		seen = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := c.deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			c.errAt(n.Content[i].Line, "mapping keys must be scalars")
			continue
		}
		if k.Tag == "!!merge" && k.Style == 0 {
			merges = append(merges, v)
			continue
		}
		key := k.Value
		dup := -1
		if seen != nil {
			if j, ok := seen[key]; ok {
				dup = j
			} else {
				seen[key] = len(out)
			}
		} else {
			for j := range out {
				if out[j].key == key {
					dup = j
					break
				}
			}
		}
		if dup >= 0 {
			c.push(key)
			c.errAt(k.Line, "duplicate key (first at line %d)", out[dup].k.Line)
			c.pop()
			continue
		}
		out = append(out, pair{key: key, k: k, v: v})
	}
	for _, m := range merges {
		c.merge(&out, m)
		if c.aborted {
			return out
		}
	}
	return out
}

// scratchPairs is pairs without allocating for the common mapping (no
// merge keys, few entries): the entries live on c.scratch until the caller
// truncates it back to mark, which it must do, last in first out, when it
// is done with them.
func (c *conv) scratchPairs(n *yaml.Node) (ps []pair, mark int) {
	mark = len(c.scratch)
	if len(n.Content) > 64 {
		return c.pairs(n), mark
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || (k.Tag == "!!merge" && k.Style == 0) {
			c.scratch = c.scratch[:mark]
			return c.pairs(n), mark
		}
		for _, q := range c.scratch[mark:] {
			if q.key == k.Value {
				c.scratch = c.scratch[:mark]
				return c.pairs(n), mark // pairs reports the duplicate
			}
		}
		c.scratch = append(c.scratch, pair{key: k.Value, k: k, v: n.Content[i+1]})
	}
	return c.scratch[mark:len(c.scratch):len(c.scratch)], mark
}

// merge adds the entries of a `<<` value (a mapping, or a sequence of
// mappings, usually aliases) that out does not have yet.
func (c *conv) merge(out *[]pair, v *yaml.Node) {
	line := v.Line
	v = c.deref(v)
	switch {
	case v == nil:
		return
	case v.Kind == yaml.SequenceNode:
		for _, item := range v.Content {
			c.merge(out, item)
			if c.aborted {
				return
			}
		}
		return
	case v.Kind != yaml.MappingNode:
		c.errAt(line, "a merge key (<<) takes a mapping or a list of mappings")
		return
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxDepth {
		c.fail(line, "merge keys nest deeper than %d levels", maxDepth)
		return
	}
	src := c.pairs(v)
	if !c.charge(line, len(src)) {
		return
	}
	for _, p := range src {
		found := false
		for _, q := range *out {
			if q.key == p.key {
				found = true
				break
			}
		}
		if !found {
			*out = append(*out, p)
		}
	}
}

// enter and leave track nesting depth and alias expansion around a node.
func (c *conv) enter(n *yaml.Node) bool {
	if c.aborted {
		return false
	}
	if c.inAlias > 0 && !c.charge(n.Line, 1) {
		return false
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.depth++
		if c.depth > maxDepth {
			c.fail(n.Line, "nesting deeper than %d levels", maxDepth)
			c.depth--
			return false
		}
	}
	return true
}

func (c *conv) leave(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.depth--
	}
}

// scalarKind is what a scalar holds after substitution.
type scalarKind uint8

const (
	scalarNull scalarKind = iota
	scalarBool
	scalarNumber
	scalarString
)

// scalar is a converted scalar with what the checks need to know.
type scalar struct {
	kind        scalarKind
	b           bool
	f           float64
	s           string
	substituted bool // the string came from ${...}: never show it
}

func (s scalar) value() any {
	switch s.kind {
	case scalarBool:
		return s.b
	case scalarNumber:
		return s.f
	case scalarString:
		return s.s
	}
	return nil
}

// show renders the value for an error message, unless it came from a
// variable.
func (s scalar) show() string {
	if s.substituted {
		return " (value from a variable, not shown)"
	}
	switch s.kind {
	case scalarString:
		v := s.s
		if utf8.RuneCountInString(v) > maxShownValue {
			r := []rune(v)
			v = string(r[:maxShownValue]) + "…"
		}
		return fmt.Sprintf(", got %q", v)
	case scalarNumber:
		return ", got " + strconv.FormatFloat(s.f, 'g', -1, 64)
	case scalarBool:
		return ", got " + strconv.FormatBool(s.b)
	}
	return ", got null"
}

// scalar converts scalar node n, substituting variables in strings.
func (c *conv) scalar(n *yaml.Node) (scalar, bool) {
	switch n.ShortTag() {
	case "!!null":
		return scalar{kind: scalarNull}, true
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return scalar{kind: scalarBool, b: true}, true
		case "false", "False", "FALSE":
			return scalar{kind: scalarBool}, true
		}
		c.errAt(n.Line, "not a boolean: %q", n.Value)
		return scalar{}, false
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || strings.ContainsAny(n.Value, "xXoObB_") {
			var v any
			if derr := n.Decode(&v); derr != nil {
				c.errAt(n.Line, "not a number: %q", n.Value)
				return scalar{}, false
			}
			switch x := v.(type) {
			case int:
				f = float64(x)
			case int64:
				f = float64(x)
			case uint64:
				f = float64(x)
			case float64:
				f = x
			default:
				c.errAt(n.Line, "not a number: %q", n.Value)
				return scalar{}, false
			}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			c.errAt(n.Line, "numbers must be finite, got %q", n.Value)
			return scalar{}, false
		}
		return scalar{kind: scalarNumber, f: f}, true
	case "!!str", "!!timestamp", "!!merge": // "<<" outside a key is a string

		s, subst, ok := c.expand(n)
		return scalar{kind: scalarString, s: s, substituted: subst}, ok
	case "!!binary":
		c.errAt(n.Line, "binary values are not supported")
		return scalar{}, false
	}
	c.errAt(n.Line, "unsupported YAML tag %q", n.Tag)
	return scalar{}, false
}

// expand substitutes variables in the string scalar n and records its
// pointer when it did.
func (c *conv) expand(n *yaml.Node) (string, bool, bool) {
	s := n.Value
	if !strings.Contains(s, "${") {
		return s, false, true
	}
	out, subst, missing := expandVars(s, c.env)
	if missing != "" {
		c.errAt(n.Line, "variable %s is not set (write ${%s:-default} to give a default)", missing, missing)
		return "", false, false
	}
	if subst {
		c.secrets = append(c.secrets, c.pointer())
	}
	return out, subst, true
}

// anyValue converts any node into a JSON value, with no schema: plugin
// configurations and other free-form objects.
func (c *conv) anyValue(n *yaml.Node) (any, bool) {
	if n.Kind == yaml.AliasNode {
		c.inAlias++
		v, ok := c.anyValue(n.Alias)
		c.inAlias--
		return v, ok
	}
	if !c.enter(n) {
		return nil, false
	}
	defer c.leave(n)
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := c.scalar(n)
		return s.value(), ok
	case yaml.MappingNode:
		ps, mark := c.scratchPairs(n)
		defer func() { c.scratch = c.scratch[:mark] }()
		m := make(map[string]any, len(ps))
		ok := true
		for _, p := range ps {
			c.push(p.key)
			v, vok := c.anyValue(p.v)
			c.pop()
			if c.aborted {
				return nil, false
			}
			if !vok {
				ok = false
				continue
			}
			m[p.key] = v
		}
		return m, ok
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		ok := true
		for i, item := range n.Content {
			c.pushIdx(i)
			v, vok := c.anyValue(item)
			c.pop()
			if c.aborted {
				return nil, false
			}
			if !vok {
				ok = false
			}
			a[i] = v
		}
		return a, ok
	}
	c.errAt(n.Line, "unsupported YAML node")
	return nil, false
}

// expansion measures a document before conversion: own is its number of
// nodes, expanded the number of values it would produce with every alias
// expanded (saturating at expansionCap), and cyclic whether an alias refers
// to a node that contains it. It takes time linear in the document, so a
// billion-laughs file is refused before any of it is expanded.
func expansion(doc *yaml.Node) (own, expanded int, cyclic bool) {
	e := &expander{memo: make(map[*yaml.Node]int)}
	expanded = e.size(doc, true)
	return e.own, expanded, e.cyclic
}

const expansionCap = 1 << 40

type expander struct {
	memo   map[*yaml.Node]int // expanded sizes of anchored nodes; -1 while in progress
	own    int
	cyclic bool
}

func (e *expander) size(n *yaml.Node, counting bool) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		if counting {
			e.own++
		}
		t := n.Alias
		if t == nil {
			return 1
		}
		if v, ok := e.memo[t]; ok {
			if v < 0 {
				e.cyclic = true
				return expansionCap
			}
			return v
		}
		// An anchor not yet measured (it contains this alias): a cycle.
		e.cyclic = true
		return expansionCap
	}
	if n.Anchor != "" {
		e.memo[n] = -1
	}
	if counting {
		e.own++
	}
	total := 1
	for _, ch := range n.Content {
		total = min(total+e.size(ch, counting), expansionCap)
	}
	if n.Anchor != "" {
		e.memo[n] = total
	}
	return total
}
