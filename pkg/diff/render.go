package diff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

// Renderers. Each takes a ChangeSet, whose values Compute has already
// masked, and returns bytes; none does I/O.

// TextOptions configure Text.
type TextOptions struct {
	// Color adds ANSI colours; set it only when writing to a terminal.
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// Text renders a change set for a terminal: one header line per resource,
// then one line per changed field ("+" added, "-" removed, "~" changed),
// then a summary line.
func Text(cs ChangeSet, o TextOptions) []byte {
	var b bytes.Buffer
	paint := func(color, s string) string {
		if !o.Color {
			return s
		}
		return color + s + ansiReset
	}
	if cs.Empty() {
		b.WriteString("No changes: the gateway matches the desired state.\n")
		return b.Bytes()
	}
	for _, c := range cs.Changes {
		header := fmt.Sprintf("%s %s %s", c.Action, c.Key.Kind, quote(c.Name))
		b.WriteString(paint(ansiBold+actionColor(c.Action), header))
		fmt.Fprintf(&b, " (%s)", c.Key)
		if c.Origin.File != "" {
			fmt.Fprintf(&b, " at %s", c.Origin)
		}
		b.WriteByte('\n')
		for _, f := range c.Fields {
			sign, color := fieldSign(f)
			line := fmt.Sprintf("  %s %s: %s", sign, f.Path, fieldValues(f, shortValue))
			b.WriteString(paint(color, line))
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	b.WriteString(summaryLine(cs.Summary()))
	b.WriteByte('\n')
	return b.Bytes()
}

func actionColor(a Action) string {
	switch a {
	case ActionCreate:
		return ansiGreen
	case ActionDelete:
		return ansiRed
	}
	return ansiYellow
}

func fieldSign(f FieldChange) (string, string) {
	switch {
	case f.Old == nil:
		return "+", ansiGreen
	case f.New == nil:
		return "-", ansiRed
	}
	return "~", ansiYellow
}

// fieldValues renders the value(s) of one field change.
func fieldValues(f FieldChange, show func(any) string) string {
	switch {
	case f.Old == nil:
		return show(f.New)
	case f.New == nil:
		return show(f.Old)
	case f.Secret:
		return Masked + " → " + Masked + " (secret changed)"
	}
	return show(f.Old) + " → " + show(f.New)
}

func summaryLine(s Summary) string {
	return fmt.Sprintf("Summary: %d to create, %d to update, %d to delete.", s.Create, s.Update, s.Delete)
}

func quote(s string) string { return jsonString(s) }

// shortValue renders a value as compact JSON, abbreviating long strings
// (certificates, scripts) to their start, length and a digest so that two
// different values still read differently.
func shortValue(v any) string {
	return canonical(abbreviate(v))
}

const maxShown = 100

func abbreviate(v any) any {
	switch t := v.(type) {
	case string:
		if len(t) <= maxShown || t == Masked {
			return t
		}
		sum := sha256.Sum256([]byte(t))
		head := t[:48]
		for !isRuneStart(head) {
			head = head[:len(head)-1]
		}
		return fmt.Sprintf("%s… (%d bytes, sha256:%s)", head, len(t), hex.EncodeToString(sum[:4]))
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = abbreviate(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = abbreviate(e)
		}
		return out
	}
	return v
}

// isRuneStart reports whether s does not end inside a UTF-8 sequence.
func isRuneStart(s string) bool {
	if s == "" {
		return true
	}
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		if c < 0x80 {
			return true
		}
		if c >= 0xC0 { // a leading byte: is the sequence complete?
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			return len(s)-i == need
		}
	}
	return false
}

// The JSON schema, version 1. Stable: fields are only ever added.
//
//	{
//	  "apiVersion": "reconciler.diff/v1",
//	  "summary": {"create": 1, "update": 0, "delete": 0, "total": 1},
//	  "changes": [
//	    {
//	      "action": "create" | "update" | "delete",
//	      "kind": "route",
//	      "id": "339680ce…",
//	      "consumer": "alice",                       // credentials only
//	      "name": "orders-list",
//	      "parent": {"kind": "service", "id": "…"},  // when it has one
//	      "origin": "services.yaml:12",              // desired side, when known
//	      "fields": [
//	        {"path": "/uris", "old": ["/a"], "new": ["/a", "/b"]},
//	        {"path": "/plugins/key-auth/key", "old": "[redacted]", "new": "[redacted]", "secret": true}
//	      ]
//	    }
//	  ]
//	}
//
// "old" is absent when the field is added, "new" when it is removed. Values
// are in ADC's format after normalisation; secrets read "[redacted]".
const JSONAPIVersion = "reconciler.diff/v1"

type jsonDoc struct {
	APIVersion string       `json:"apiVersion"`
	Summary    Summary      `json:"summary"`
	Changes    []jsonChange `json:"changes"`
}

type jsonKey struct {
	Kind     model.Kind `json:"kind"`
	ID       string     `json:"id"`
	Consumer string     `json:"consumer,omitempty"`
}

type jsonChange struct {
	Action   Action      `json:"action"`
	Kind     model.Kind  `json:"kind"`
	ID       string      `json:"id"`
	Consumer string      `json:"consumer,omitempty"`
	Name     string      `json:"name"`
	Parent   *jsonKey    `json:"parent,omitempty"`
	Origin   string      `json:"origin,omitempty"`
	Fields   []jsonField `json:"fields"`
}

type jsonField struct {
	Path   string `json:"path"`
	Old    any    `json:"old,omitempty"`
	New    any    `json:"new,omitempty"`
	Secret bool   `json:"secret,omitempty"`
}

// JSON renders a change set in the stable schema above, indented, with a
// trailing newline.
func JSON(cs ChangeSet) ([]byte, error) {
	doc := jsonDoc{APIVersion: JSONAPIVersion, Summary: cs.Summary(), Changes: make([]jsonChange, 0, len(cs.Changes))}
	for _, c := range cs.Changes {
		jc := jsonChange{
			Action:   c.Action,
			Kind:     c.Key.Kind,
			ID:       c.Key.ID,
			Consumer: c.Key.Consumer,
			Name:     c.Name,
			Fields:   make([]jsonField, 0, len(c.Fields)),
		}
		if !c.Parent.IsZero() {
			jc.Parent = &jsonKey{Kind: c.Parent.Kind, ID: c.Parent.ID, Consumer: c.Parent.Consumer}
		}
		if c.Origin.File != "" {
			jc.Origin = c.Origin.String()
		}
		for _, f := range c.Fields {
			jc.Fields = append(jc.Fields, jsonField{Path: f.Path, Old: f.Old, New: f.New, Secret: f.Secret})
		}
		doc.Changes = append(doc.Changes, jc)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render diff as JSON: %w", err)
	}
	return out.Bytes(), nil
}

// Markdown renders a change set for a pull-request comment: a summary, a
// table of resources, and a collapsed field diff per resource.
func Markdown(cs ChangeSet) []byte {
	var b bytes.Buffer
	b.WriteString("### Gateway diff\n\n")
	if cs.Empty() {
		b.WriteString("No changes: the gateway matches the desired state.\n")
		return b.Bytes()
	}
	s := cs.Summary()
	fmt.Fprintf(&b, "**%d** to create, **%d** to update, **%d** to delete.\n\n", s.Create, s.Update, s.Delete)
	b.WriteString("| Action | Kind | Name | ID | Declared at |\n|---|---|---|---|---|\n")
	for _, c := range cs.Changes {
		origin := ""
		if c.Origin.File != "" {
			origin = code(c.Origin.String())
		}
		id := c.Key.ID
		if c.Key.Consumer != "" {
			id = c.Key.Consumer + "/" + id
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.Action, c.Key.Kind, cell(c.Name), code(id), origin)
	}
	b.WriteByte('\n')
	for _, c := range cs.Changes {
		var body strings.Builder
		for _, f := range c.Fields {
			switch {
			case f.Old == nil:
				fmt.Fprintf(&body, "+ %s: %s\n", f.Path, shortValue(f.New))
			case f.New == nil:
				fmt.Fprintf(&body, "- %s: %s\n", f.Path, shortValue(f.Old))
			case f.Secret:
				fmt.Fprintf(&body, "! %s: %s\n", f.Path, fieldValues(f, shortValue))
			default:
				fmt.Fprintf(&body, "- %s: %s\n+ %s: %s\n", f.Path, shortValue(f.Old), f.Path, shortValue(f.New))
			}
		}
		fence := fenceFor(body.String())
		fmt.Fprintf(&b, "<details><summary>%s %s %s</summary>\n\n%sdiff\n%s%s\n\n</details>\n\n",
			c.Action, c.Key.Kind, htmlEscape(c.Name), fence, body.String(), fence)
	}
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// fenceFor returns a code fence longer than any run of backticks in s.
func fenceFor(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return htmlEscape(s)
}

func code(s string) string {
	if strings.Contains(s, "`") {
		return "``" + cell(s) + "``"
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
