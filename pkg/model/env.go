package model

import "strings"

// expandVars substitutes variables in s, as ADC does and stricter:
//
//   - ${NAME} is the value of NAME (NAME is letters, digits and _); unset is
//     an error, reported by returning NAME as missing;
//   - ${NAME:-default} is the value of NAME, or default when NAME is unset
//     or empty (default runs to the first "}");
//   - \${NAME} and \${NAME:-default} are kept literally, without the
//     backslash;
//   - anything else, such as ${http_x.y}, $env://X or $secret://X, is kept
//     as it is.
//
// substituted reports whether any variable was expanded (a default counts).
func expandVars(s string, env func(string) (string, bool)) (out string, substituted bool, missing string) {
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		name, def, hasDef, end := parseVar(s[i:])
		if end == 0 { // not a variable: keep "${" and go on after it
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		if i > 0 && s[i-1] == '\\' { // escaped: drop the backslash, keep the text
			b.WriteString(s[:i-1])
			b.WriteString(s[i : i+end])
			s = s[i+end:]
			continue
		}
		b.WriteString(s[:i])
		v, ok := "", false
		if env != nil {
			v, ok = env(name)
		}
		switch {
		case hasDef && (!ok || v == ""):
			v = def
		case !ok:
			return "", false, name
		}
		b.WriteString(v)
		substituted = true
		s = s[i+end:]
	}
	return b.String(), substituted, ""
}

// parseVar parses a variable at the start of s ("${NAME}" or
// "${NAME:-default}") and returns its length in end, or end == 0 when s does
// not start with one.
func parseVar(s string) (name, def string, hasDef bool, end int) {
	j := 2
	for j < len(s) && isWordByte(s[j]) {
		j++
	}
	if j == 2 || j >= len(s) {
		return "", "", false, 0
	}
	name = s[2:j]
	if s[j] == '}' {
		return name, "", false, j + 1
	}
	if !strings.HasPrefix(s[j:], ":-") {
		return "", "", false, 0
	}
	k := strings.IndexByte(s[j+2:], '}')
	if k < 0 {
		return "", "", false, 0
	}
	return name, s[j+2 : j+2+k], true, j + 2 + k + 1
}

func isWordByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// escapeVars is the inverse of expandVars for a literal string: it puts a
// backslash before every "${" that expandVars would expand. It reports false
// when s cannot be written so that expandVars gives it back (a literal
// backslash right before a variable).
func escapeVars(s string) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		_, _, _, end := parseVar(rest[i:])
		if end == 0 {
			b.WriteString(rest[:i+2])
			rest = rest[i+2:]
			continue
		}
		if i > 0 && rest[i-1] == '\\' {
			return "", false
		}
		b.WriteString(rest[:i])
		b.WriteByte('\\')
		b.WriteString(rest[i : i+end])
		rest = rest[i+end:]
	}
	return b.String(), true
}
