package emulator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// API7 Enterprise validates requests against an OpenAPI document and words
// its errors as kin-openapi does: `Error at "/path_prefix": value must be a
// string` (as ADC's e2e tests show). api7Message rewrites a message of the
// emulator's validator (APISIX's wording, nested "property … validation
// failed: …") into that form: a JSON pointer to the offending value and
// kin-openapi's phrasing of the common failures.

var (
	reProperty = regexp.MustCompile(`^property "((?:[^"\\]|\\.)*)" validation failed: `)
	reItem     = regexp.MustCompile(`^failed to validate item (\d+): `)
	rePattern  = regexp.MustCompile(`^failed to validate (.+?) \(matching "(?:[^"\\]|\\.)*"\): `)
	reAllOf    = regexp.MustCompile(`^allOf \d+ failed: `)
	reRequired = regexp.MustCompile(`^property "((?:[^"\\]|\\.)*)" is required$`)
	reAddl     = regexp.MustCompile(`^additional properties forbidden, found (.+)$`)
	reType     = regexp.MustCompile(`^wrong type: expected (\w+), got \w+$`)
	reMinLen   = regexp.MustCompile(`^string too short, expected at least (\d+), got \d+$`)
	reMaxLen   = regexp.MustCompile(`^string too long, expected at most (\d+), got \d+$`)
	reMatch    = regexp.MustCompile(`^failed to match pattern "((?:[^"\\]|\\.)*)" with .*$`)
	reMinItems = regexp.MustCompile(`^expect array to have at least (\d+) items$`)
	reMaxItems = regexp.MustCompile(`^expect array to have at most (\d+) items$`)
	reAtLeast  = regexp.MustCompile(`^expected \S+ to be at least (\S+)$`)
	reAtMost   = regexp.MustCompile(`^expected \S+ to be at most (\S+)$`)
)

func api7Message(msg string) string {
	ptr := ""
	for {
		if m := reProperty.FindStringSubmatch(msg); m != nil {
			ptr += "/" + unquoteLua(m[1])
			msg = msg[len(m[0]):]
			continue
		}
		if m := reItem.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			ptr += "/" + strconv.Itoa(n-1)
			msg = msg[len(m[0]):]
			continue
		}
		if m := rePattern.FindStringSubmatch(msg); m != nil {
			ptr += "/" + m[1]
			msg = msg[len(m[0]):]
			continue
		}
		if m := reAllOf.FindString(msg); m != "" {
			msg = msg[len(m):]
			continue
		}
		break
	}
	leaf := msg
	{
		if m := reRequired.FindStringSubmatch(msg); m != nil {
			name := unquoteLua(m[1])
			ptr += "/" + name
			leaf = fmt.Sprintf("property %q is missing", name)
		} else if m := reAddl.FindStringSubmatch(msg); m != nil {
			ptr += "/" + m[1]
			leaf = fmt.Sprintf("property %q is unsupported", m[1])
		} else if m := reType.FindStringSubmatch(msg); m != nil {
			article := "a"
			if strings.IndexAny(m[1][:1], "aeiou") == 0 {
				article = "an"
			}
			leaf = "value must be " + article + " " + m[1]
		} else if m := reMinLen.FindStringSubmatch(msg); m != nil {
			leaf = "minimum string length is " + m[1]
		} else if m := reMaxLen.FindStringSubmatch(msg); m != nil {
			leaf = "maximum string length is " + m[1]
		} else if m := reMatch.FindStringSubmatch(msg); m != nil {
			leaf = fmt.Sprintf("string doesn't match the regular expression %q", unquoteLua(m[1]))
		} else if m := reMinItems.FindStringSubmatch(msg); m != nil {
			leaf = "minimum number of items is " + m[1]
		} else if m := reMaxItems.FindStringSubmatch(msg); m != nil {
			leaf = "maximum number of items is " + m[1]
		} else if m := reAtLeast.FindStringSubmatch(msg); m != nil {
			leaf = "number must be at least " + m[1]
		} else if m := reAtMost.FindStringSubmatch(msg); m != nil {
			leaf = "number must be at most " + m[1]
		} else if msg == "matches none of the enum values" {
			leaf = "value is not one of the allowed values"
		} else if strings.HasPrefix(msg, "value should match only one schema") {
			leaf = "doesn't match exactly one schema of oneOf"
		}
	}
	if ptr == "" {
		ptr = "/"
	}
	return fmt.Sprintf("Error at %q: %s", ptr, leaf)
}

// unquoteLua undoes luaQuote's escapes inside a quoted name.
func unquoteLua(s string) string {
	return strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\n`, "\n").Replace(s)
}
