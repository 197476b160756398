package model

import (
	"strings"
	"unicode/utf8"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// fastParse builds, for the YAML that configuration files are written in,
// the node tree goyaml.v3 would build, at a fraction of its cost: goyaml
// allocates a token buffer, a string and a 160-byte node per scalar and
// spends about two thirds of a load doing so; here nodes come from slabs,
// content slices from one array, and values are substrings of one copy of
// the file.
//
// The subset: block mappings and sequences indented with spaces; flow
// collections on one line; plain scalars on one line; single- and
// double-quoted scalars on one line; comments. fastParse reports false for
// anything else (anchors, aliases, tags, block scalars, multi-line scalars
// and flow collections, empty values, merge keys, tabs, CR, document
// markers, non-printable characters, nesting deeper than maxDepth) and for
// anything goyaml would refuse, so that the caller parses the file with
// goyaml: goyaml stays the authority on YAML and the source of every syntax
// error. FuzzFastParse holds the two to identical trees (kinds, tags,
// styles, values, lines and columns) wherever fastParse answers.
//
// The caller must have checked that data holds at most one document
// (mayHaveSeveralDocuments): a line starting with --- or ... is not
// looked for here.
func fastParse(data []byte) (*yaml.Node, bool) {
	return new(fastParser).parse(data)
}

// parse is fastParse with this parser's slabs, which it reuses: the tree
// it returns is valid until the next call.
func (p *fastParser) parse(data []byte) (*yaml.Node, bool) {
	ascii, ok := fastInput(data)
	if !ok {
		return nil, false
	}
	p.reset(string(data), ascii)
	ind := p.content()
	if ind < 0 || p.entry(p.i) {
		return nil, false // empty, or not a mapping: not a configuration
	}
	k, isKey, ok := p.item()
	if !ok || !isKey {
		return nil, false
	}
	root, ok := p.mapping(ind, k)
	if !ok || p.content() >= 0 {
		return nil, false
	}
	doc := p.node(yaml.DocumentNode, "", root.Line, root.Column)
	doc.Content = p.ptr(root)
	return doc, true
}

// fastInput reports whether every character of data is one goyaml reads as
// itself: printable, and no tab, CR or line break other than LF. ascii
// reports that there is no multi-byte character.
func fastInput(data []byte) (ascii, ok bool) {
	ascii = true
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n') || c == 0x7f {
				return false, false
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return false, false
		case r == 0x2028 || r == 0x2029 || r == 0xfeff: // line and paragraph separators, byte order mark
			return false, false
		case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return false, false
		}
		i += size
	}
	return ascii, true
}

// fastSlab is how many nodes are allocated at once.
const fastSlab = 1024

// maxSimpleKey bounds a mapping key's length in bytes: goyaml refuses a key
// longer than 1024 characters.
const maxSimpleKey = 1000

// fastParser parses one file at a time. Its slabs of nodes and content
// slices are reused from one file to the next: a file's tree is garbage
// once converted, so a worker that loads many files allocates the nodes of
// its largest file, not of all of them.
type fastParser struct {
	s     string
	i     int  // the position
	line  int  // the line of i, from 1
	ls    int  // where that line starts
	ascii bool // every character is one byte
	depth int

	nodes     []yaml.Node   // the slab in use
	nodeSlabs [][]yaml.Node // every slab, reused in order
	nextNode  int           // the next slab of nodeSlabs to use
	ptrs      []*yaml.Node  // the same for content slices
	ptrSlabs  [][]*yaml.Node
	nextPtr   int
	stack     []*yaml.Node // the children of the collections being built
}

func (p *fastParser) reset(s string, ascii bool) {
	*p = fastParser{
		s: s, line: 1, ascii: ascii,
		nodeSlabs: p.nodeSlabs, ptrSlabs: p.ptrSlabs, stack: p.stack[:0],
	}
}

func (p *fastParser) node(kind yaml.Kind, tag string, line, col int) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		if p.nextNode == len(p.nodeSlabs) {
			p.nodeSlabs = append(p.nodeSlabs, make([]yaml.Node, fastSlab))
		}
		p.nodes = p.nodeSlabs[p.nextNode][:0]
		p.nextNode++
	}
	p.nodes = p.nodes[:len(p.nodes)+1]
	n := &p.nodes[len(p.nodes)-1]
	*n = yaml.Node{Kind: kind, Tag: tag, Line: line, Column: col}
	return n
}

// alloc returns a content slice of length k.
func (p *fastParser) alloc(k int) []*yaml.Node {
	if cap(p.ptrs)-len(p.ptrs) < k {
		const size = 4 * fastSlab
		if k > size {
			return make([]*yaml.Node, k)
		}
		if p.nextPtr == len(p.ptrSlabs) {
			p.ptrSlabs = append(p.ptrSlabs, make([]*yaml.Node, size))
		}
		p.ptrs = p.ptrSlabs[p.nextPtr][:0]
		p.nextPtr++
	}
	start := len(p.ptrs)
	p.ptrs = p.ptrs[:start+k]
	return p.ptrs[start : start+k : start+k]
}

// ptr returns a content slice holding n.
func (p *fastParser) ptr(n *yaml.Node) []*yaml.Node {
	c := p.alloc(1)
	c[0] = n
	return c
}

// collect returns the children pushed on the stack since base, as a
// content slice, and pops them.
func (p *fastParser) collect(base int) []*yaml.Node {
	k := len(p.stack) - base
	if k == 0 {
		return nil
	}
	c := p.alloc(k)
	copy(c, p.stack[base:])
	p.stack = p.stack[:base]
	return c
}

// col is the column of position i on the current line, from 1, in
// characters as goyaml counts them.
func (p *fastParser) col(i int) int {
	if p.ascii {
		return i - p.ls + 1
	}
	return utf8.RuneCountInString(p.s[p.ls:i]) + 1
}

func (p *fastParser) newline(at int) {
	p.i = at + 1
	p.line++
	p.ls = at + 1
}

// blankz reports whether position i holds a space, a line break or the end.
func (p *fastParser) blankz(i int) bool {
	return i >= len(p.s) || p.s[i] == ' ' || p.s[i] == '\n'
}

// entry reports whether a block sequence entry ("- ") starts at i.
func (p *fastParser) entry(i int) bool {
	return i < len(p.s) && p.s[i] == '-' && p.blankz(i+1)
}

func (p *fastParser) spaces(i int) int {
	for i < len(p.s) && p.s[i] == ' ' {
		i++
	}
	return i
}

// content moves from the start of a line (or the first character of one)
// to the first character of the next line that is neither blank nor only
// a comment, and returns its indentation; -1 at the end of the input.
func (p *fastParser) content() int {
	for {
		j := p.spaces(p.i)
		if j == len(p.s) {
			p.i = j
			return -1
		}
		switch p.s[j] {
		case '\n':
			p.newline(j)
			continue
		case '#':
			k := strings.IndexByte(p.s[j:], '\n')
			if k < 0 {
				p.i = len(p.s)
				return -1
			}
			p.newline(j + k)
			continue
		}
		p.i = j
		return j - p.ls
	}
}

// eol accepts what may follow a value on its line: spaces, then the end of
// the line or a comment after at least one space.
func (p *fastParser) eol() bool {
	j := p.spaces(p.i)
	if j == len(p.s) {
		p.i = j
		return true
	}
	switch p.s[j] {
	case '\n':
		p.newline(j)
		return true
	case '#':
		if j == p.i {
			return false
		}
		k := strings.IndexByte(p.s[j:], '\n')
		if k < 0 {
			p.i = len(p.s)
			return true
		}
		p.newline(j + k)
		return true
	}
	return false
}

func (p *fastParser) enter() bool {
	p.depth++
	return p.depth <= maxDepth
}

// mapping parses a block mapping at indentation ind whose first key was
// parsed (p.i is after its colon).
func (p *fastParser) mapping(ind int, key *yaml.Node) (*yaml.Node, bool) {
	if !p.enter() {
		return nil, false
	}
	m := p.node(yaml.MappingNode, "!!map", key.Line, key.Column)
	base := len(p.stack)
	for {
		v, ok := p.value(ind)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, key, v)
		n := p.content()
		if n < ind {
			break
		}
		if n > ind || p.entry(p.i) {
			return nil, false
		}
		k, isKey, ok := p.item()
		if !ok || !isKey {
			return nil, false
		}
		key = k
	}
	m.Content = p.collect(base)
	p.depth--
	return m, true
}

// value parses the value of a block mapping entry at indentation ind, from
// after its key's colon.
func (p *fastParser) value(ind int) (*yaml.Node, bool) {
	j := p.spaces(p.i)
	if j == len(p.s) || p.s[j] == '\n' || p.s[j] == '#' {
		// The value is on the next lines.
		if !p.eol() {
			return nil, false
		}
		n := p.content()
		switch {
		case n > ind:
			return p.block(n)
		case n == ind && p.entry(p.i):
			return p.sequence(ind) // "key:\n- item", at the key's indentation
		}
		return nil, false // empty: null
	}
	p.i = j
	v, isKey, ok := p.item()
	if !ok || isKey || !p.eol() {
		return nil, false // "a: b: c" is an error
	}
	return v, true
}

// block parses a block collection that starts a line, at indentation ind.
func (p *fastParser) block(ind int) (*yaml.Node, bool) {
	if p.entry(p.i) {
		return p.sequence(ind)
	}
	k, isKey, ok := p.item()
	if !ok || !isKey {
		return nil, false // a scalar on a line of its own
	}
	return p.mapping(ind, k)
}

// sequence parses a block sequence whose first "- " is at p.i, at
// indentation ind.
func (p *fastParser) sequence(ind int) (*yaml.Node, bool) {
	if !p.enter() {
		return nil, false
	}
	sq := p.node(yaml.SequenceNode, "!!seq", p.line, p.col(p.i))
	base := len(p.stack)
	for {
		p.i++ // the dash
		j := p.spaces(p.i)
		var item *yaml.Node
		if j == len(p.s) || p.s[j] == '\n' || p.s[j] == '#' {
			if !p.eol() {
				return nil, false
			}
			n := p.content()
			if n <= ind {
				return nil, false // empty: null
			}
			var ok bool
			if item, ok = p.block(n); !ok {
				return nil, false
			}
		} else {
			p.i = j
			if p.entry(j) {
				return nil, false // "- - a"
			}
			v, isKey, ok := p.item()
			switch {
			case !ok:
				return nil, false
			case isKey:
				// Only spaces and dashes precede j on this line.
				if v, ok = p.mapping(j-p.ls, v); !ok {
					return nil, false
				}
			case !p.eol():
				return nil, false
			}
			item = v
		}
		p.stack = append(p.stack, item)
		n := p.content()
		if n < ind {
			break
		}
		if n > ind {
			return nil, false
		}
		if !p.entry(p.i) {
			break // a key of the mapping this sequence is the value of
		}
	}
	sq.Content = p.collect(base)
	p.depth--
	return sq, true
}

// item parses the scalar or flow collection at p.i, in block context. isKey
// reports that it is followed by a colon and a space or line break: it is a
// mapping key, and p.i is after the colon. Otherwise p.i is after the item.
func (p *fastParser) item() (n *yaml.Node, isKey, ok bool) {
	start := p.i
	switch c := p.s[p.i]; c {
	case '[', '{':
		if n, ok = p.flow(); !ok {
			return nil, false, false
		}
		if j := p.spaces(p.i); j < len(p.s) && p.s[j] == ':' {
			return nil, false, false // a collection as a key
		}
		return n, false, true
	case '"', '\'':
		n, ok = p.quoted(c)
	default:
		if !p.plainStart() {
			return nil, false, false
		}
		line, col := p.line, p.col(p.i)
		n, ok = p.plainNode(p.plain(false), line, col)
	}
	if !ok {
		return nil, false, false
	}
	j := p.spaces(p.i)
	if j == len(p.s) || p.s[j] != ':' {
		return n, false, true
	}
	if !p.blankz(j+1) || j-start > maxSimpleKey {
		return nil, false, false
	}
	p.i = j + 1
	return n, true, true
}

// plainStart reports whether a plain scalar may start at p.i. Indicators
// that could start one in some places ("?x", ":x") are left to goyaml.
func (p *fastParser) plainStart() bool {
	switch p.s[p.i] {
	case '-':
		return !p.blankz(p.i + 1)
	case '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n':
		return false
	}
	return true
}

// plain scans a plain scalar on one line, as goyaml does: it ends before a
// colon followed by a space or line break, before " #", at the end of the
// line and, in a flow collection, before , ? [ ] { }. Spaces inside are
// kept, trailing ones are not. p.i is left after the last character.
func (p *fastParser) plain(flow bool) string {
	s := p.s
	start, end := p.i, p.i
	for i := p.i; i < len(s); {
		c := s[i]
		if c == ' ' {
			j := p.spaces(i)
			if j == len(s) || s[j] == '\n' || s[j] == '#' {
				break
			}
			i = j
			continue
		}
		if c == '\n' || (c == ':' && p.blankz(i+1)) {
			break
		}
		if flow && (c == ',' || c == '?' || c == '[' || c == ']' || c == '{' || c == '}') {
			break
		}
		i++
		end = i
	}
	p.i = end
	return s[start:end]
}

func (p *fastParser) plainNode(v string, line, col int) (*yaml.Node, bool) {
	if v == "<<" {
		return nil, false // a merge key
	}
	n := p.node(yaml.ScalarNode, "", line, col)
	n.Value = v
	n.Tag = plainTag(n)
	return n, true
}

// plainTag is the tag goyaml resolves for a plain scalar: the common cases
// directly, the others through goyaml itself.
func plainTag(n *yaml.Node) string {
	v := n.Value
	switch v[0] {
	case 't', 'T':
		if v == "true" || v == "True" || v == "TRUE" {
			return "!!bool"
		}
	case 'f', 'F':
		if v == "false" || v == "False" || v == "FALSE" {
			return "!!bool"
		}
	case 'n', 'N':
		if v == "null" || v == "Null" || v == "NULL" {
			return "!!null"
		}
	case '~':
		if v == "~" {
			return "!!null"
		}
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if t := numberTag(v); t != "" {
			return t
		}
		return n.ShortTag() // Tag is empty: goyaml resolves it
	}
	return "!!str"
}

// numberTag recognises the usual shapes of numbers and dotted strings
// without goyaml's trial parses (which allocate an error each): decimal
// integers of up to 18 digits without a leading zero, decimal fractions,
// and digits with several dots (IP addresses, versions). "" otherwise.
func numberTag(v string) string {
	d := v
	if d[0] == '+' || d[0] == '-' {
		d = d[1:]
	}
	if d == "" || d[0] < '0' || d[0] > '9' || len(d) > 18 {
		return ""
	}
	dots, last := 0, -1
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c >= '0' && c <= '9':
		case c == '.':
			if i == last+1 { // an empty group
				return ""
			}
			dots, last = dots+1, i
		default:
			return ""
		}
	}
	switch {
	case last == len(d)-1:
		return ""
	case dots == 0 && (d[0] != '0' || len(d) == 1):
		return "!!int"
	case dots == 1:
		return "!!float"
	case dots > 1 && d == v:
		return "!!str"
	}
	return ""
}

// quoted parses a single- or double-quoted scalar on one line.
func (p *fastParser) quoted(q byte) (*yaml.Node, bool) {
	line, col := p.line, p.col(p.i)
	s := p.s
	i := p.i + 1
	start := i
	var b []byte // the value, once an escape made it differ from the input
	for {
		for i < len(s) && s[i] != q && s[i] != '\n' && (q == '\'' || s[i] != '\\') {
			i++
		}
		if i == len(s) || s[i] == '\n' {
			return nil, false // on several lines, or not closed
		}
		if q == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' { // '' is a quote
				b = append(b, s[start:i+1]...)
				i += 2
				start = i
				continue
			}
			break
		}
		if s[i] == '"' {
			break
		}
		b = append(b, s[start:i]...)
		var ok bool
		if b, i, ok = unescape(b, s, i); !ok {
			return nil, false
		}
		start = i
	}
	v := s[start:i]
	if b != nil {
		v = string(append(b, v...))
	}
	p.i = i + 1
	n := p.node(yaml.ScalarNode, "!!str", line, col)
	n.Value = v
	n.Style = yaml.SingleQuotedStyle
	if q == '"' {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n, true
}

// unescape appends the character of the escape sequence at s[i] (a
// backslash) to b, as goyaml decodes it, and returns the position after it.
func unescape(b []byte, s string, i int) ([]byte, int, bool) {
	if i+1 >= len(s) {
		return b, i, false
	}
	var c byte
	switch s[i+1] {
	case '0':
		c = 0
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 't':
		c = '\t'
	case 'n':
		c = '\n'
	case 'v':
		c = '\v'
	case 'f':
		c = '\f'
	case 'r':
		c = '\r'
	case 'e':
		c = 0x1b
	case ' ', '"', '\'', '\\':
		c = s[i+1]
	case 'N':
		return utf8.AppendRune(b, 0x85), i + 2, true
	case '_':
		return utf8.AppendRune(b, 0xa0), i + 2, true
	case 'L':
		return utf8.AppendRune(b, 0x2028), i + 2, true
	case 'P':
		return utf8.AppendRune(b, 0x2029), i + 2, true
	case 'x', 'u', 'U':
		digits := 2
		switch s[i+1] {
		case 'u':
			digits = 4
		case 'U':
			digits = 8
		}
		if i+2+digits > len(s) {
			return b, i, false
		}
		r := 0
		for _, h := range []byte(s[i+2 : i+2+digits]) {
			switch {
			case h >= '0' && h <= '9':
				r = r<<4 + int(h-'0')
			case h >= 'a' && h <= 'f':
				r = r<<4 + int(h-'a'+10)
			case h >= 'A' && h <= 'F':
				r = r<<4 + int(h-'A'+10)
			default:
				return b, i, false
			}
		}
		if (r >= 0xd800 && r <= 0xdfff) || r > 0x10ffff {
			return b, i, false
		}
		return utf8.AppendRune(b, rune(r)), i + 2 + digits, true
	default: // unknown, a tab, or a line break (a multi-line scalar)
		return b, i, false
	}
	return append(b, c), i + 2, true
}

// flow parses a flow sequence or mapping on one line, from its bracket.
func (p *fastParser) flow() (*yaml.Node, bool) {
	if !p.enter() {
		return nil, false
	}
	s := p.s
	kind, tag, end := yaml.SequenceNode, "!!seq", byte(']')
	if s[p.i] == '{' {
		kind, tag, end = yaml.MappingNode, "!!map", '}'
	}
	n := p.node(kind, tag, p.line, p.col(p.i))
	n.Style = yaml.FlowStyle
	base := len(p.stack)
	p.i = p.spaces(p.i + 1)
	if p.i < len(s) && s[p.i] == end {
		p.i++
		p.depth--
		return n, true
	}
	for {
		start := p.i
		v, ok := p.flowItem(kind == yaml.SequenceNode)
		if !ok {
			return nil, false
		}
		p.stack = append(p.stack, v)
		p.i = p.spaces(p.i)
		if kind == yaml.MappingNode {
			if p.i == len(s) || s[p.i] != ':' || p.i-start > maxSimpleKey || v.Kind != yaml.ScalarNode {
				return nil, false // a key without a value, or not a scalar
			}
			p.i = p.spaces(p.i + 1)
			if p.i == len(s) || s[p.i] == ',' || s[p.i] == end {
				return nil, false // an empty value: null
			}
			if v, ok = p.flowItem(true); !ok {
				return nil, false
			}
			p.stack = append(p.stack, v)
			p.i = p.spaces(p.i)
		}
		if p.i == len(s) {
			return nil, false
		}
		switch s[p.i] {
		case end:
			p.i++
			n.Content = p.collect(base)
			p.depth--
			return n, true
		case ',':
			p.i = p.spaces(p.i + 1)
			if p.i == len(s) || s[p.i] == end {
				return nil, false // a trailing comma
			}
		default:
			return nil, false
		}
	}
}

// flowItem parses a scalar or a flow collection inside a flow collection.
// A collection is accepted only where a value is (not as a key).
func (p *fastParser) flowItem(value bool) (*yaml.Node, bool) {
	if p.i == len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; c {
	case '[', '{':
		if !value {
			return nil, false
		}
		return p.flow()
	case '"', '\'':
		return p.quoted(c)
	case '-':
		if p.blankz(p.i + 1) {
			return nil, false
		}
	case '?', ':':
		return nil, false
	}
	if !p.plainStart() {
		return nil, false
	}
	line, col := p.line, p.col(p.i)
	return p.plainNode(p.plain(true), line, col)
}
