package model

import (
	"errors"
	"io/fs"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Env looks up a variable for ${VAR} substitution (os.LookupEnv in main).
	// Nil means no variable is set: every ${VAR} without a default is an
	// error.
	Env func(string) (string, bool)
	// Paths restricts loading to these files and directories inside the FS
	// (slash-separated, as fs.FS names them). Empty means the whole FS. A
	// file named here is loaded whatever its name; directories are walked
	// like the root.
	Paths []string
}

// Load reads every *.yaml, *.yml and *.json file under the root of fsys (or
// under opts.Paths), skipping names that start with "." (and so .git/), and
// returns the resources they declare in ADC's format, sorted by Key.
//
// Files larger than MaxFileSize, or a set of files larger than MaxTreeSize,
// are refused from their sizes before anything is parsed: the error matches
// ErrTooLarge. Invalid input gives an Errors listing every problem found,
// each with file, line and resource; it matches ErrInvalid. Any other error
// (reading the FS) is returned wrapped and matches neither.
//
// Load is deterministic: the same files and variables give the same
// resources and the same errors.
func Load(fsys fs.FS, opts LoadOptions) ([]Resource, error) {
	_, _ = fsys, opts
	return nil, errors.New("model: Load is not implemented yet")
}
