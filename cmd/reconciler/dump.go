package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

type dumpOptions struct {
	common         commonOptions
	output         string
	withID         bool
	includeSecrets bool
}

func newDumpCmd(std streams) *cobra.Command {
	var opts dumpOptions
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Write the gateway's owned objects as ADC-format YAML",
		Long: `Read the objects the gateway holds with our managed-by label and write them
as one ADC-format YAML file, to bootstrap a repository: routes, stream routes
and extra upstreams nested in their service, credentials in their consumer.

Secrets are not written: each credential key, password and other secret
plugin field becomes a variable reference such as ${CREDENTIAL_ALICE_MAIN_KEY},
and each SSL private key (which the Admin API never returns) one such as
${SSL_KEY_API_EXAMPLE_COM}; stderr lists them. Set them when loading the file,
or replace them with $secret:// or $env:// references. --include-secrets
writes the secrets the gateway returns instead. Every global rule and plugin
metadata object is included (they carry no ownership label).

--with-id writes every resource's id, so that IDs that do not follow from
names survive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(checkGatewayFlags(opts.common.gateway), checkManagedBy(opts.common.sync.ManagedBy)); err != nil {
				return err
			}
			// RECONCILER_OUTPUT is diff's format too: a format name from
			// the environment is not taken as the file to write.
			if fromEnv(cmd.Flags(), "output") && isFormatName(opts.output) {
				return fmt.Errorf("RECONCILER_OUTPUT=%s is diff's output format; dump's --output is the file to write: give -o FILE, or unset the variable for dump", opts.output)
			}
			return runDump(cmd.Context(), opts, std)
		},
	}
	addDumpFlags(cmd.Flags(), &opts)
	return cmd
}

func addDumpFlags(fs *pflag.FlagSet, o *dumpOptions) {
	addGatewayFlags(fs, &o.common.gateway)
	addManagedBy(fs, &o.common.sync)
	addLogFlags(fs, &o.common.log)
	fs.StringVarP(&o.output, "output", "o", "", "file to write (default: standard output)")
	fs.BoolVar(&o.withID, "with-id", false, "write every resource's id")
	fs.BoolVar(&o.includeSecrets, "include-secrets", false, "write secrets (credential keys, passwords) as read instead of ${VAR} references: the output then holds them in plaintext")
}

func runDump(ctx context.Context, opts dumpOptions, std streams) error {
	log, err := newLogger(opts.common.log, std.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr may not support Sync; nothing to do about it
	c, err := newClient(opts.common, log, nil)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }() // releases the token watcher; nothing to report

	inv, err := c.List(ctx)
	if err != nil {
		return err
	}
	out, vars, err := dumpYAML(inv.Owned, model.MarshalOptions{WithID: opts.withID}, opts.includeSecrets)
	if err != nil {
		return err
	}
	if opts.output == "" {
		if _, err := std.out.Write(out); err != nil {
			return fmt.Errorf("write the dump: %w", err)
		}
	} else if err := os.WriteFile(opts.output, out, 0o600); err != nil {
		return fmt.Errorf("write the dump: %w", err)
	}
	for _, v := range vars {
		fmt.Fprintf(std.err, "set %s to the %s before loading the dump\n", v.name, v.what)
	}
	if opts.includeSecrets {
		fmt.Fprintln(std.err, "warning: the dump holds secrets in plaintext (--include-secrets); keep it out of Git")
	}
	return nil
}

// secretVar is a variable a dump writes in place of a secret.
type secretVar struct {
	name string
	what string // what it stands for: the field and the resource
}

// placeholderPrefix marks where a secret goes in the marshalled YAML,
// before it is replaced by its ${VAR} (which Marshal would escape).
const placeholderPrefix = "RECONCILERSECRETPLACEHOLDER"

var nonVarChars = regexp.MustCompile(`[^A-Z0-9]+`)

// dumper replaces secrets with variable references.
type dumper struct {
	includeSecrets bool
	vars           []secretVar
	used           map[string]bool
	replace        map[string]string // placeholder → variable name
}

// dumpYAML marshals live resources as ADC-format YAML: without the key
// fingerprint labels, with a ${VAR} reference for every private key (which
// the Admin API never returns as written: see diff.WriteOnlyPointers) and,
// unless includeSecrets, for every other secret (credential keys,
// passwords: see diff.SecretPointers).
func dumpYAML(rs []model.Resource, opts model.MarshalOptions, includeSecrets bool) ([]byte, []secretVar, error) {
	d := &dumper{includeSecrets: includeSecrets, used: map[string]bool{}, replace: map[string]string{}}
	out := make([]model.Resource, 0, len(rs))
	for _, r := range rs {
		out = append(out, d.resource(r))
	}
	y, err := model.Marshal(out, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dump: %w", err)
	}
	for token, v := range d.replace {
		y = bytes.ReplaceAll(y, []byte(token), []byte(`"${`+v+`}"`))
	}
	return y, d.vars, nil
}

func (d *dumper) resource(r model.Resource) model.Resource {
	r = diff.StripFingerprint(r)
	var ptrs []string
	if !d.includeSecrets {
		ptrs = diff.SecretPointers(r)
	}
	// Private keys are never read back as written (SSL keys are stripped,
	// upstream client keys encrypted): each gets a reference.
	for _, p := range diff.WriteOnlyPointers(r) {
		if !slices.Contains(ptrs, p) {
			ptrs = append(ptrs, p)
		}
	}
	if len(ptrs) == 0 {
		return r
	}
	body, _ := deepCopy(r.Body).(map[string]any)
	for _, p := range ptrs {
		name := d.varName(r, p)
		token := fmt.Sprintf("%s%06d", placeholderPrefix, len(d.replace))
		if setAt(body, p, token) {
			d.replace[token] = name
			d.vars = append(d.vars, secretVar{name: name, what: fmt.Sprintf("%s of %s %q", strings.TrimPrefix(p, "/"), r.Key, r.Name)})
		}
	}
	r.Body = body
	return r
}

// varName derives a unique variable name from the resource and the field:
// SSL_KEY_<first SNI>, or <KIND>_<consumer>_<name>_<field>.
func (d *dumper) varName(r model.Resource, p string) string {
	field := p[strings.LastIndexByte(p, '/')+1:]
	var parts []string
	if r.Key.Kind == model.KindSSL {
		parts = []string{"SSL", "KEY", firstSNI(r)}
	} else {
		kind := strings.TrimPrefix(string(r.Key.Kind), "consumer_")
		parts = []string{kind, r.Key.Consumer, r.Name, field}
	}
	base := strings.Trim(nonVarChars.ReplaceAllString(strings.ToUpper(strings.Join(parts, "_")), "_"), "_")
	if len(base) > 60 {
		base = base[:60]
	}
	name := base
	for n := 2; d.used[name]; n++ {
		name = fmt.Sprintf("%s_%d", base, n)
	}
	d.used[name] = true
	return name
}

// setAt replaces the value at the JSON pointer p inside body.
func setAt(body map[string]any, p string, v any) bool {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var cur any = body
	for i, s := range segs {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		last := i == len(segs)-1
		switch t := cur.(type) {
		case map[string]any:
			if last {
				t[s] = v
				return true
			}
			cur = t[s]
		case []any:
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n >= len(t) {
				return false
			}
			if last {
				t[n] = v
				return true
			}
			cur = t[n]
		default:
			return false
		}
	}
	return false
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, e := range t {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func firstSNI(r model.Resource) string {
	if snis, ok := r.Body["snis"].([]any); ok && len(snis) > 0 {
		if s, ok := snis[0].(string); ok {
			return s
		}
	}
	return r.Key.ID
}
