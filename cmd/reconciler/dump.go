package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

type dumpOptions struct {
	common commonOptions
	output string
	withID bool
}

func newDumpCmd(std streams) *cobra.Command {
	var opts dumpOptions
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Write the gateway's owned objects as ADC-format YAML",
		Long: `Read the objects the gateway holds with our managed-by label and write them
as one ADC-format YAML file, to bootstrap a repository: routes, stream routes
and extra upstreams nested in their service, credentials in their consumer.

The Admin API never returns SSL private keys, so each one is written as a
variable reference, ${SSL_KEY_<SNI>} (listed on stderr): set it when loading
the file, or replace it with a $secret:// or $env:// reference. Every global
rule and plugin metadata object is included (they carry no ownership label).

--with-id writes every resource's id, so that IDs that do not follow from
names survive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	out, vars, err := dumpYAML(inv.Owned, model.MarshalOptions{WithID: opts.withID})
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
		fmt.Fprintf(std.err, "set %s to the private key of %s before loading the dump\n", v.name, v.ssl)
	}
	return nil
}

// keyVar is the variable a dump writes for one SSL private key.
type keyVar struct {
	name string
	ssl  string // what it is for: ssl/<id> "<snis>"
}

// placeholderPrefix marks where a private key goes in the marshalled YAML,
// before it is replaced by its ${VAR} (which Marshal would escape).
const placeholderPrefix = "RECONCILERSSLKEYPLACEHOLDER"

var nonVarChars = regexp.MustCompile(`[^A-Z0-9]+`)

// dumpYAML marshals live resources as ADC-format YAML: without the key
// fingerprint label, with a ${SSL_KEY_…} reference for every private key.
func dumpYAML(rs []model.Resource, opts model.MarshalOptions) ([]byte, []keyVar, error) {
	out := make([]model.Resource, 0, len(rs))
	var vars []keyVar
	used := map[string]bool{}
	replace := map[string]string{}
	for _, r := range rs {
		if r.Key.Kind == model.KindSSL {
			r = diff.StripFingerprint(r)
			r, vars = withKeyPlaceholders(r, vars, used, replace)
		}
		out = append(out, r)
	}
	y, err := model.Marshal(out, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dump: %w", err)
	}
	for token, v := range replace {
		y = bytes.ReplaceAll(y, []byte(token), []byte(`"${`+v+`}"`))
	}
	return y, vars, nil
}

// withKeyPlaceholders gives every certificate of an SSL a key placeholder.
func withKeyPlaceholders(r model.Resource, vars []keyVar, used map[string]bool, replace map[string]string) (model.Resource, []keyVar) {
	certs, _ := r.Body["certificates"].([]any)
	if len(certs) == 0 {
		return r, vars
	}
	body := make(map[string]any, len(r.Body))
	for k, v := range r.Body {
		body[k] = v
	}
	newCerts := make([]any, len(certs))
	base := "SSL_KEY_" + strings.Trim(nonVarChars.ReplaceAllString(strings.ToUpper(firstSNI(r)), "_"), "_")
	if len(base) > 48 {
		base = base[:48]
	}
	for i, c := range certs {
		cm, _ := c.(map[string]any)
		nc := make(map[string]any, len(cm)+1)
		for k, v := range cm {
			nc[k] = v
		}
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s_%d", base, i+1)
		}
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		used[name] = true
		token := fmt.Sprintf("%s%06d", placeholderPrefix, len(replace))
		replace[token] = name
		nc["key"] = token
		newCerts[i] = nc
		vars = append(vars, keyVar{name: name, ssl: fmt.Sprintf("%s %q", r.Key, r.Name)})
	}
	body["certificates"] = newCerts
	r.Body = body
	return r, vars
}

func firstSNI(r model.Resource) string {
	if snis, ok := r.Body["snis"].([]any); ok && len(snis) > 0 {
		if s, ok := snis[0].(string); ok {
			return s
		}
	}
	return r.Key.ID
}
