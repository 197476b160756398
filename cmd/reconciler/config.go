package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// envPrefix is the prefix of the environment variables that set flags:
// --max-deletes is RECONCILER_MAX_DELETES.
const envPrefix = "RECONCILER_"

// envName is the environment variable for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// fromEnvAnnotation marks a flag whose value came from its variable.
const fromEnvAnnotation = "reconciler/from-env"

// fromEnv reports whether the flag's value came from its RECONCILER_*
// variable rather than the command line.
func fromEnv(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && len(f.Annotations[fromEnvAnnotation]) > 0
}

// negations pair a flag with its negation. The two are one setting: the
// form given on the command line wins over either variable, and giving
// both forms (on the command line, or as variables) is refused.
var negations = map[string]string{"prune": "no-prune", "no-prune": "prune"}

// alternatives pair flags that say one thing two ways (a token, or the
// file holding it): the one given on the command line wins over the
// other's variable. Giving both is refused where they are read.
var alternatives = map[string]string{
	"prune": "no-prune", "no-prune": "prune",
	"token": "token-file", "token-file": "token",
	"viewer-token": "viewer-token-file", "viewer-token-file": "viewer-token",
}

// applyEnv sets every flag of cmd that was not given on the command line
// from its RECONCILER_* variable, so that flags win over the environment.
func applyEnv(cmd *cobra.Command, env lookupEnv) error {
	fs := cmd.Flags()
	given := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { given[f.Name] = true })
	var errs []error
	for a, b := range negations {
		if a > b || fs.Lookup(a) == nil || fs.Lookup(b) == nil {
			continue
		}
		_, envA := env(envName(a))
		_, envB := env(envName(b))
		switch {
		case given[a] && given[b]:
			errs = append(errs, fmt.Errorf("--%s and --%s: give one", a, b))
		case !given[a] && !given[b] && envA && envB:
			errs = append(errs, fmt.Errorf("environment variables %s and %s: set one", envName(a), envName(b)))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if given[f.Name] || given[alternatives[f.Name]] {
			return
		}
		v, ok := env(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			// The value may be a secret (RECONCILER_TOKEN): name the variable only.
			errs = append(errs, fmt.Errorf("environment variable %s: invalid value for --%s", envName(f.Name), f.Name))
			return
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[fromEnvAnnotation] = []string{envName(f.Name)}
	})
	return errors.Join(errs...)
}

// sourceOptions say where desired state comes from.
type sourceOptions struct {
	Source string // Git URL or local directory
	Ref    string
	Path   string

	GitTokenFile      string
	GitSSHKeyFile     string
	GitKnownHostsFile string
	GitCacheDir       string
	GitPasswordFile   string
	GitUsername       string
	GitSSHPassFile    string
	GitCACertFile     string
	GitVerifyMode     string
	GitPGPKeyringFile string
	GitSSHSignersFile string
}

// gatewayOptions say how to reach one gateway's Admin API.
type gatewayOptions struct {
	Backend        string
	Server         string
	TokenFile      string
	Token          model.Secret // discouraged: visible in the process table; prefer TokenFile
	TokenTransport string
	GatewayGroup   string
	CACertFile     string
	ClientCertFile string
	ClientKeyFile  string
	TLSSkipVerify  bool
	Timeout        time.Duration
	Concurrency    int
}

// syncOptions say what a sync may do.
type syncOptions struct {
	ManagedBy        string
	Prune            bool
	MaxDeletes       int
	MaxDeletePercent float64
	AllowEmpty       bool
}

// logOptions configure the logger.
type logOptions struct {
	Level  string
	Format string
}

// commonOptions are the flags shared by diff, sync, dump and run.
type commonOptions struct {
	source  sourceOptions
	gateway gatewayOptions
	sync    syncOptions
	log     logOptions
}

func addSourceFlags(fs *pflag.FlagSet, o *sourceOptions) {
	fs.StringVar(&o.Source, "source", "", "Git URL (https://, ssh://, git@host:path, git://, file://) or local directory of the desired state")
	fs.StringVar(&o.Ref, "ref", "", "Git branch, tag or full commit (default: the remote's HEAD)")
	fs.StringVar(&o.Path, "path", "", "sub-directory of the repository or directory to load")
	fs.StringVar(&o.GitTokenFile, "git-token-file", "", "file holding an HTTPS bearer token for Git")
	fs.StringVar(&o.GitUsername, "git-username", "", "HTTPS basic-auth user name for Git (with --git-password-file)")
	fs.StringVar(&o.GitPasswordFile, "git-password-file", "", "file holding the HTTPS basic-auth password for Git")
	fs.StringVar(&o.GitSSHKeyFile, "git-ssh-key-file", "", "SSH private key file for Git")
	fs.StringVar(&o.GitSSHPassFile, "git-ssh-passphrase-file", "", "file holding the SSH private key's passphrase")
	fs.StringVar(&o.GitKnownHostsFile, "git-known-hosts-file", "", "known_hosts file for SSH (required with SSH)")
	fs.StringVar(&o.GitCACertFile, "git-ca-cert-file", "", "CA bundle for HTTPS Git servers")
	fs.StringVar(&o.GitCacheDir, "git-cache-dir", "", "directory for the Git object cache (run keeps a directory per target inside it; default: under the user cache dir)")
	fs.StringVar(&o.GitVerifyMode, "git-verify", "", "commit signature verification: head, tag or tag-and-head (default: off)")
	fs.StringVar(&o.GitPGPKeyringFile, "git-pgp-keyring-file", "", "armored PGP public keyring for --git-verify")
	fs.StringVar(&o.GitSSHSignersFile, "git-ssh-allowed-signers-file", "", "SSH allowed-signers file for --git-verify")
}

func addGatewayFlags(fs *pflag.FlagSet, o *gatewayOptions) {
	fs.StringVar(&o.Backend, "backend", "apisix", "Admin API flavour: apisix or api7ee")
	fs.StringVar(&o.Server, "server", "http://127.0.0.1:9180", "Admin API base URL")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the Admin API token (re-read when it changes)")
	secretFlag(fs, &o.Token, "token", "Admin API token (prefer --token-file or RECONCILER_TOKEN)")
	fs.StringVar(&o.TokenTransport, "token-transport", "header", "how the token is sent: header (X-API-KEY) or cookie")
	fs.StringVar(&o.GatewayGroup, "gateway-group", "default", "API7 Enterprise gateway group name")
	fs.StringVar(&o.CACertFile, "ca-cert", "", "CA bundle to verify the Admin API's certificate")
	fs.StringVar(&o.ClientCertFile, "client-cert", "", "client certificate for mutual TLS")
	fs.StringVar(&o.ClientKeyFile, "client-key", "", "client key for mutual TLS")
	fs.BoolVar(&o.TLSSkipVerify, "tls-skip-verify", false, "do not verify the Admin API's certificate (insecure: logged as a warning; the daemon also exports reconciler_tls_verify_disabled 1)")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Second, "timeout of one Admin API request")
	fs.IntVar(&o.Concurrency, "concurrency", apply.DefaultConcurrency, "Admin API requests in flight at once")
}

func addSyncFlags(fs *pflag.FlagSet, o *syncOptions) {
	fs.StringVar(&o.ManagedBy, "managed-by", "reconciler", "value of the managed-by label that marks owned objects")
	fs.BoolVar(&o.Prune, "prune", true, "delete owned objects that are no longer declared (--prune=false or --no-prune to keep them)")
	fs.IntVar(&o.MaxDeletes, "max-deletes", 50, "refuse a plan that deletes more than this many objects (negative: no limit)")
	fs.Float64Var(&o.MaxDeletePercent, "max-delete-percent", 25, "refuse a plan that deletes more than this percentage of the owned objects (0 or more; 100: no limit)")
	fs.BoolVar(&o.AllowEmpty, "allow-empty", false, "allow an empty desired state to delete every owned object")
}

func addLogFlags(fs *pflag.FlagSet, o *logOptions) {
	fs.StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.Format, "log-format", "json", "log format: json or console")
}

// secretFlag registers a flag whose value is a secret from the moment it is
// parsed: it is stored as a model.Secret, and the flag prints as "" when
// unset and as model.Redacted when set, so that neither help (which shows
// defaults), errors nor a flag dump can show it.
func secretFlag(fs *pflag.FlagSet, p *model.Secret, name, usage string) {
	fs.Var(secretValue{p}, name, usage)
}

type secretValue struct{ p *model.Secret }

func (v secretValue) String() string {
	if v.p == nil || v.p.IsZero() {
		return ""
	}
	return model.Redacted
}

// Set never fails: pflag quotes the value in the message of a failed Set.
func (v secretValue) Set(s string) error {
	*v.p = model.NewSecret(s)
	return nil
}

func (secretValue) Type() string { return "string" }

// addNoPrune registers --no-prune as the negation of --prune.
func addNoPrune(fs *pflag.FlagSet, o *syncOptions) {
	fs.Var(negatedBool{&o.Prune}, "no-prune", "do not delete owned objects that are no longer declared")
	fs.Lookup("no-prune").NoOptDefVal = "true"
}

type negatedBool struct{ p *bool }

func (n negatedBool) String() string {
	if n.p == nil {
		return "false"
	}
	return fmt.Sprint(!*n.p)
}

func (n negatedBool) Set(s string) error {
	switch s {
	case "true", "1":
		*n.p = false
	case "false", "0":
		*n.p = true
	default:
		return fmt.Errorf("invalid boolean %q", s)
	}
	return nil
}

func (negatedBool) Type() string { return "bool" }

// addCommonFlags registers the flags shared by diff, sync, dump and run.
func addCommonFlags(fs *pflag.FlagSet, o *commonOptions) {
	addSourceFlags(fs, &o.source)
	addGatewayFlags(fs, &o.gateway)
	addSyncFlags(fs, &o.sync)
	addNoPrune(fs, &o.sync)
	addLogFlags(fs, &o.log)
}
