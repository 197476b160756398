// Package examples holds the example gateway configuration (the YAML files
// next to this one) and embeds it, so that `reconciler quickstart` works from
// any directory and from a built binary.
package examples

import "embed"

// FS holds the example configuration files.
//
//go:embed README.md *.yaml services/*.yaml
var FS embed.FS
