package diff

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A JSON pointer (RFC 6901) as its unescaped segments. In ignore rules and
// mask patterns the segment "*" matches any object key or array index.
type pointer []string

const wildcard = "*"

var errPointer = errors.New("a JSON pointer is empty or starts with \"/\"")

// parsePointer parses an RFC 6901 pointer. "" is the whole document.
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{}, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("%q: %w", s, errPointer)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		if strings.Contains(p, "~") {
			if err := checkEscapes(p); err != nil {
				return nil, fmt.Errorf("%q: %w", s, err)
			}
			p = strings.ReplaceAll(p, "~1", "/")
			p = strings.ReplaceAll(p, "~0", "~")
		}
		parts[i] = p
	}
	return parts, nil
}

func checkEscapes(seg string) error {
	for i := 0; i < len(seg); i++ {
		if seg[i] != '~' {
			continue
		}
		if i+1 >= len(seg) || (seg[i+1] != '0' && seg[i+1] != '1') {
			return errors.New(`"~" must be followed by "0" or "1"`)
		}
		i++
	}
	return nil
}

func escapeSegment(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// String renders the pointer in RFC 6901 form.
func (p pointer) String() string {
	var sb strings.Builder
	for _, s := range p {
		sb.WriteByte('/')
		sb.WriteString(escapeSegment(s))
	}
	return sb.String()
}

// child returns p extended by one segment, without aliasing p's array.
func (p pointer) child(seg string) pointer {
	c := make(pointer, len(p)+1)
	copy(c, p)
	c[len(p)] = seg
	return c
}

// matchesPrefix reports whether pattern (with wildcards) matches a prefix of
// p, that is whether p lies at or under a location pattern names.
func (pattern pointer) matchesPrefix(p pointer) bool {
	if len(pattern) > len(p) {
		return false
	}
	for i, s := range pattern {
		if s != wildcard && s != p[i] {
			return false
		}
	}
	return true
}

// remove deletes every location pattern names from v, in place. It returns
// the new value of v (an array may shrink).
func remove(v any, pattern pointer) any {
	if len(pattern) == 0 {
		return v
	}
	seg, rest := pattern[0], pattern[1:]
	switch t := v.(type) {
	case map[string]any:
		if seg == wildcard {
			for k, e := range t {
				if len(rest) == 0 {
					delete(t, k)
				} else {
					t[k] = remove(e, rest)
				}
			}
			return t
		}
		e, ok := t[seg]
		if !ok {
			return t
		}
		if len(rest) == 0 {
			delete(t, seg)
		} else {
			t[seg] = remove(e, rest)
		}
		return t
	case []any:
		if seg == wildcard {
			if len(rest) == 0 {
				return t[:0]
			}
			for i, e := range t {
				t[i] = remove(e, rest)
			}
			return t
		}
		// Array elements are addressed only with "*": an index would name
		// a different element once the array is sorted or shrinks.
		return t
	}
	return v
}

// lookup returns the value at p in v.
func lookup(v any, p pointer) (any, bool) {
	for _, seg := range p {
		switch t := v.(type) {
		case map[string]any:
			e, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}
