// Package jsondec decodes a JSON document into interface values
// (map[string]any, []any, string, float64, bool, nil) as encoding/json's
// Unmarshal into an `any` does, accepting and refusing the same documents
// (FuzzDecode holds the two together), without its reflection and its
// step-by-step scanner: the Admin API client decodes every listing with it,
// tens of megabytes per cycle.
package jsondec

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// SyntaxError is a document that is not JSON, or nests deeper than
// encoding/json allows.
type SyntaxError struct {
	Offset int // bytes read before the error
	msg    string
}

func (e *SyntaxError) Error() string { return e.msg }

// Decode decodes data, which must hold exactly one JSON value (surrounded by
// white space at most).
func Decode(data []byte) (any, error) {
	d := decoder{data: data}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.data) {
		return nil, d.errorf("invalid character %s after top-level value", quoteChar(d.data[d.i]))
	}
	return v, nil
}

type decoder struct {
	data []byte
	i    int
	// keys holds the object keys seen so far: a listing repeats the same
	// few dozen keys in every object, and one string each is enough.
	keys map[string]string
}

// maxKeys bounds the key cache.
const maxKeys = 1024

func (d *decoder) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: d.i, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) eof() error {
	return &SyntaxError{Offset: d.i, msg: "unexpected end of JSON input"}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (d *decoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if d.i >= len(d.data) {
		return nil, d.eof()
	}
	switch c := d.data[d.i]; {
	case c == '{':
		if depth+1 > maxDepth {
			return nil, d.errorf("exceeded max depth")
		}
		return d.object(depth + 1)
	case c == '[':
		if depth+1 > maxDepth {
			return nil, d.errorf("exceeded max depth")
		}
		return d.array(depth + 1)
	case c == '"':
		s, err := d.string()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	default:
		return nil, d.errorf("invalid character %s looking for beginning of value", quoteChar(c))
	}
}

func (d *decoder) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.data) {
			return d.eof()
		}
		if d.data[d.i] != word[j] {
			return d.errorf("invalid character %s in literal %s (expecting %s)", quoteChar(d.data[d.i]), word, quoteChar(word[j]))
		}
		d.i++
	}
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // {
	m := map[string]any{}
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, d.eof()
	}
	if d.data[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		if d.data[d.i] != '"' {
			return nil, d.errorf("invalid character %s looking for beginning of object key string", quoteChar(d.data[d.i]))
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		if d.data[d.i] != ':' {
			return nil, d.errorf("invalid character %s after object key", quoteChar(d.data[d.i]))
		}
		d.i++
		d.skipSpace()
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case '}':
			d.i++
			return m, nil
		default:
			return nil, d.errorf("invalid character %s after object key:value pair", quoteChar(d.data[d.i]))
		}
	}
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // [
	a := []any{}
	d.skipSpace()
	if d.i >= len(d.data) {
		return nil, d.eof()
	}
	if d.data[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.skipSpace()
		case ']':
			d.i++
			return a, nil
		default:
			return nil, d.errorf("invalid character %s after array element", quoteChar(d.data[d.i]))
		}
	}
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? as a float64.
func (d *decoder) number() (any, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		s := d.i
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
		return d.i - s
	}
	if d.i >= len(d.data) {
		return nil, d.eof()
	}
	switch c := d.data[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		digits()
	default:
		return nil, d.errorf("invalid character %s in numeric literal", quoteChar(c))
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		if digits() == 0 {
			return nil, d.errorf("invalid character %s after decimal point in numeric literal", quoteChar(d.data[d.i]))
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.data) {
			return nil, d.eof()
		}
		if digits() == 0 {
			return nil, d.errorf("invalid character %s in exponent of numeric literal", quoteChar(d.data[d.i]))
		}
	}
	text := string(d.data[start:d.i])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Out of range: encoding/json refuses the value for a float64.
		return nil, &SyntaxError{Offset: start, msg: "json: cannot unmarshal number " + text + " into Go value of type float64"}
	}
	return f, nil
}

// key reads an object key: a string, shared with the earlier keys of the
// same text when it has no escapes.
func (d *decoder) key() (string, error) {
	start := d.i + 1
	for j := start; j < len(d.data); j++ {
		c := d.data[j]
		if c == '"' {
			if k, ok := d.keys[string(d.data[start:j])]; ok {
				d.i = j + 1
				return k, nil
			}
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	k, err := d.string()
	if err != nil {
		return "", err
	}
	if d.keys == nil {
		d.keys = make(map[string]string, 64)
	}
	if len(d.keys) < maxKeys {
		d.keys[k] = k
	}
	return k, nil
}

// string reads a quoted string; invalid UTF-8 and lone surrogates become
// U+FFFD, as in encoding/json.
func (d *decoder) string() (string, error) {
	d.i++ // "
	start := d.i
	// The common case: no escapes, valid UTF-8.
	for d.i < len(d.data) {
		c := d.data[d.i]
		if c == '"' {
			s := string(d.data[start:d.i])
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.data[start:d.i]...)
	for {
		if d.i >= len(d.data) {
			return "", d.eof()
		}
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", d.errorf("invalid character %s in string literal", quoteChar(c))
		case c == '\\':
			d.i++
			if d.i >= len(d.data) {
				return "", d.eof()
			}
			switch e := d.data[d.i]; e {
			case '"', '\\', '/':
				b = append(b, e)
				d.i++
			case 'b':
				b = append(b, '\b')
				d.i++
			case 'f':
				b = append(b, '\f')
				d.i++
			case 'n':
				b = append(b, '\n')
				d.i++
			case 'r':
				b = append(b, '\r')
				d.i++
			case 't':
				b = append(b, '\t')
				d.i++
			case 'u':
				d.i++
				r, err := d.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by \u and a low one is one rune.
					if d.i+1 < len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						save := d.i
						d.i += 2
						r2, err := d.hex4()
						if err != nil {
							return "", err
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b = utf8.AppendRune(b, dec)
							continue
						}
						d.i = save // not a pair: the second escape stands alone
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", d.errorf("invalid character %s in string escape code", quoteChar(e))
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, size := utf8.DecodeRune(d.data[d.i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, d.data[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
}

func (d *decoder) hex4() (rune, error) {
	var r rune
	for j := 0; j < 4; j++ {
		if d.i >= len(d.data) {
			return 0, d.eof()
		}
		c := d.data[d.i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, d.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(c))
		}
		r = r<<4 | rune(v)
		d.i++
	}
	return r, nil
}

// IsSyntax reports whether err is a document Decode refused.
func IsSyntax(err error) bool {
	var se *SyntaxError
	return errors.As(err, &se)
}
