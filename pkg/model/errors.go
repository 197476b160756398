package model

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error Load returns for input
// that is not a valid configuration: syntax, unknown fields, types, rules,
// duplicates, dangling references, unset variables.
var ErrInvalid = errors.New("invalid configuration")

// ErrTooLarge is matched by the errors Load returns when a file or the tree
// is over MaxFileSize or MaxTreeSize. Such input is refused before parsing.
// Callers report it with the reason InputTooLarge. A too-large error does not
// match ErrInvalid.
var ErrTooLarge = errors.New("input too large")

// ErrDecryptionRequired is matched by the errors Load returns for a file that
// holds SOPS-encrypted content: values such as ENC[AES256_GCM,data:…] or the
// top-level sops metadata block. Ciphertext is never sent to a gateway; such
// a file is refused whole (nothing of it is converted) until it is
// decrypted before loading. Callers report it with the reason
// DecryptionRequired. Such an error does not match ErrInvalid.
var ErrDecryptionRequired = errors.New("decryption required")

// Size limits of the input, checked from file sizes before anything is read.
const (
	MaxFileSize = 4 << 20  // bytes in one file
	MaxTreeSize = 64 << 20 // bytes in all the files loaded at once
)

// Error is one problem in the input. Its message never contains a value that
// came from variable substitution.
type Error struct {
	File     string // path relative to the loaded root, forward slashes; empty for the tree as a whole
	Line     int    // 1-based; 0 when unknown
	Resource string // the resource concerned, such as `route "orders/list"`; empty for file-level problems
	Message  string

	tooLarge  bool
	encrypted bool
}

// Error renders file:line: resource: message, leaving out what is empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Resource != "" {
		b.WriteString(e.Resource)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is reports whether target is ErrInvalid, or ErrTooLarge for a size error,
// or ErrDecryptionRequired for encrypted content.
func (e *Error) Is(target error) bool {
	switch {
	case e.tooLarge:
		return target == ErrTooLarge
	case e.encrypted:
		return target == ErrDecryptionRequired
	}
	return target == ErrInvalid
}

// Errors is every problem found in one load, sorted by file and line.
type Errors []*Error

// Error renders one error per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors, so that errors.Is and errors.As see each one.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
