package model

import (
	"fmt"
)

// Redacted is what a Secret prints as, whatever the verb.
const Redacted = "[redacted]"

// Secret holds a credential (an Admin API token, a Git password, a
// substituted variable). Every way of printing or encoding it yields
// Redacted; Reveal is the one way to get the value, for the code that puts it
// on the wire.
//
// The value sits behind a function: fmt prints a struct's unexported fields
// through reflection, without calling their Format method, so a Secret in an
// unexported field of another struct (a client's configuration) would print
// a string field as it is; a function prints as an address under every verb.
type Secret struct{ reveal func() string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{reveal: func() string { return s }} }

// Reveal returns the secret value.
func (s Secret) Reveal() string {
	if s.reveal == nil {
		return ""
	}
	return s.reveal()
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// prints Redacted.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML, zap).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
