package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// desired is the desired state loaded from --source, with where it came
// from.
type desired struct {
	Resources []model.Resource
	// Revision identifies what was loaded: "local:<abs dir>" for a
	// directory, "<ref>@sha1:<hash>" for a Git source.
	Revision string
	// Description says it for people: "directory /abs/dir", "Git
	// repository <url> at <revision>".
	Description string
}

// errNoSource: --source was not given.
var errNoSource = errors.New("--source is required: a Git URL or a local directory")

// gitURL matches the Git URL forms of --source: scheme://… and git@host:path.
var gitURL = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://|[^/@:]+@[^/:]+:)`)

// loadDesired loads the desired state from opts. A missing directory, a
// --path that is not inside it, and a tree without a single configuration
// file are errors: never an empty desired state. A tree whose files declare
// nothing (services: []) loads as empty; the sync guards decide what that
// may delete.
func loadDesired(ctx context.Context, opts sourceOptions, env lookupEnv) (desired, error) {
	if err := ctx.Err(); err != nil {
		return desired{}, err
	}
	src := opts.Source
	switch {
	case src == "":
		return desired{}, errNoSource
	case gitURL.MatchString(src), strings.Contains(src, "@") && git.IsGitURL(src):
		// The second form is user:password@host:path, which the run verb
		// (git.IsGitURL) reads as Git too: pkg/git refuses it without
		// showing it, where a directory error would.
		return loadGit(ctx, opts, env)
	}
	if opts.Ref != "" {
		return desired{}, fmt.Errorf("--ref %q applies to Git sources; %s is a local directory", opts.Ref, src)
	}
	if set := gitOnlyFlags(opts); len(set) > 0 {
		return desired{}, fmt.Errorf("%s apply to Git sources; %s is a local directory", strings.Join(set, ", "), src)
	}
	root, err := filepath.Abs(src)
	if err != nil {
		return desired{}, fmt.Errorf("source %s: %w", src, err)
	}
	sub := "."
	if opts.Path != "" {
		sub = path.Clean(filepath.ToSlash(opts.Path))
		if !fs.ValidPath(sub) {
			return desired{}, fmt.Errorf("--path %q: must be a relative path inside the source, without ..", opts.Path)
		}
	}
	dir := filepath.Join(root, filepath.FromSlash(sub))
	info, err := os.Stat(dir)
	switch {
	case err != nil:
		return desired{}, fmt.Errorf("source %s: %w", dir, err)
	case !info.IsDir():
		return desired{}, fmt.Errorf("source %s: not a directory", dir)
	}
	fsys := os.DirFS(dir)
	if n, err := countConfigFiles(fsys); err != nil {
		return desired{}, fmt.Errorf("source %s: %w", dir, err)
	} else if n == 0 {
		return desired{}, fmt.Errorf("source %s: no *.yaml, *.yml or *.json files: refusing to treat a missing configuration as an empty one", dir)
	}
	rs, err := model.Load(fsys, model.LoadOptions{Env: env})
	if err != nil {
		return desired{}, fmt.Errorf("load %s: %w", dir, err)
	}
	return desired{Resources: rs, Revision: "local:" + dir, Description: "directory " + dir}, nil
}

// countConfigFiles counts the files model.Load would read.
func countConfigFiles(fsys fs.FS) (int, error) {
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case p == ".":
		case d.IsDir() && strings.HasPrefix(d.Name(), "."):
			return fs.SkipDir
		case !d.IsDir() && model.IsConfigFile(p):
			n++
		}
		return nil
	})
	return n, err
}

// redactURL renders a source URL for messages, without user information,
// query or fragment, even when it does not parse.
func redactURL(s string) string { return git.Redact(s) }
