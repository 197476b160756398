// Package examples holds the example gateway configuration (the YAML files
// next to this one) and embeds it, so that `reconciler quickstart` works from
// any directory and from a built binary.
package examples

import "embed"

// FS holds the example configuration files (and this file, which the
// quickstart skips: it copies only *.yaml, *.yml, *.json and *.md).
//
//go:embed *
var FS embed.FS
