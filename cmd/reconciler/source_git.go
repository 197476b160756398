package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// loadGit fetches the desired state from the Git repository in opts.Source
// and loads it. A fetch that fails (server down, deleted branch or path,
// refused credentials, bad signature) is an error: never an empty state.
func loadGit(ctx context.Context, opts sourceOptions, env lookupEnv) (desired, error) {
	o, err := gitOptions(opts, env)
	if err != nil {
		return desired{}, fmt.Errorf("source %s: %w", redactURL(opts.Source), err)
	}
	src, err := git.New(o)
	if err != nil {
		return desired{}, fmt.Errorf("source %s: %w", redactURL(opts.Source), err)
	}
	res, err := src.Fetch(ctx)
	if err != nil {
		return desired{}, err // names the URL, and the path when one entry is at fault
	}
	where := src.URL()
	if opts.Path != "" {
		where += " path " + opts.Path
	}
	rs, err := model.Load(res.Files, model.LoadOptions{Env: env})
	if err != nil {
		return desired{}, fmt.Errorf("load %s at %s: %w", where, res.Commit.Revision, err)
	}
	return desired{
		Resources:   rs,
		Revision:    res.Commit.Revision,
		Description: fmt.Sprintf("Git repository %s at %s", where, res.Commit.Revision),
	}, nil
}

// gitOptions maps the --git-* flags onto the Git source's options.
func gitOptions(opts sourceOptions, env lookupEnv) (git.Options, error) {
	mode, err := git.ParseVerifyMode(opts.GitVerifyMode)
	if err != nil {
		return git.Options{}, fmt.Errorf("--git-verify: %w", err)
	}
	cache := opts.GitCacheDir
	if cache == "" {
		if base := userCacheDir(env); base != "" {
			cache = filepath.Join(base, "reconciler", "git", cacheKey(opts))
		}
	}
	return git.Options{
		URL:  opts.Source,
		Ref:  opts.Ref,
		Path: opts.Path,
		Auth: git.Auth{
			TokenFile:         opts.GitTokenFile,
			Username:          opts.GitUsername,
			PasswordFile:      opts.GitPasswordFile,
			SSHKeyFile:        opts.GitSSHKeyFile,
			SSHPassphraseFile: opts.GitSSHPassFile,
			KnownHostsFile:    opts.GitKnownHostsFile,
			CAFile:            opts.GitCACertFile,
		},
		Verify: git.Verification{
			Mode:                  mode,
			PGPKeyringFile:        opts.GitPGPKeyringFile,
			SSHAllowedSignersFile: opts.GitSSHSignersFile,
		},
		CacheDir: cache,
		Include:  model.IsConfigFile, // read and count exactly what model.Load reads
	}, nil
}

// userCacheDir is $XDG_CACHE_HOME, or ~/.cache; empty when neither is
// known, and the Git objects are then kept in memory for the run.
func userCacheDir(env lookupEnv) string {
	if v, ok := env("XDG_CACHE_HOME"); ok && filepath.IsAbs(v) {
		return v
	}
	if home, ok := env("HOME"); ok && filepath.IsAbs(home) {
		return filepath.Join(home, ".cache")
	}
	return ""
}

// cacheKey names the cache directory of one repository and ref, so that
// two runs on different refs never wait for each other's lock.
func cacheKey(opts sourceOptions) string {
	sum := sha256.Sum256([]byte(redactURL(opts.Source) + "\x00" + opts.Ref))
	return hex.EncodeToString(sum[:8])
}

// gitOnlyFlags lists the --git-* flags that are set; they apply to Git
// sources only, and are refused with a local directory rather than ignored.
func gitOnlyFlags(opts sourceOptions) []string {
	var set []string
	for _, f := range []struct{ name, value string }{
		{"--git-token-file", opts.GitTokenFile},
		{"--git-username", opts.GitUsername},
		{"--git-password-file", opts.GitPasswordFile},
		{"--git-ssh-key-file", opts.GitSSHKeyFile},
		{"--git-ssh-passphrase-file", opts.GitSSHPassFile},
		{"--git-known-hosts-file", opts.GitKnownHostsFile},
		{"--git-ca-cert-file", opts.GitCACertFile},
		{"--git-cache-dir", opts.GitCacheDir},
		{"--git-verify", opts.GitVerifyMode},
		{"--git-pgp-keyring-file", opts.GitPGPKeyringFile},
		{"--git-ssh-allowed-signers-file", opts.GitSSHSignersFile},
	} {
		if f.value != "" {
			set = append(set, f.name)
		}
	}
	return set
}
