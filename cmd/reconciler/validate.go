package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitops-gateway/reconciler/pkg/model"
)

func newValidateCmd(std streams, env lookupEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PATH...",
		Short: "Load and validate ADC-format files offline",
		Long: `Load and validate ADC-format files offline, as the daemon does before any
request: every *.yaml, *.yml and *.json file under each directory (names
starting with "." are skipped) and every file named, together.

Exit status 0 prints one line counting the resources per kind, and on
stderr a warning for each secret written in plain text (a private key, an
auth plugin's key or password that is not ${VAR}, $env:// or $secret://);
exit status 1 prints every problem, one per line, as
file:line: resource: message.
${VAR} references are substituted from the environment.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return validate(std, env, args)
		},
	}
}

// validate loads the paths as one configuration and reports.
func validate(std streams, env lookupEnv, args []string) error {
	root, rel, err := commonRoot(args)
	if err != nil {
		return err
	}
	resources, err := model.Load(os.DirFS(root), model.LoadOptions{Env: env, Paths: rel})
	var list model.Errors
	if errors.As(err, &list) {
		cwd, _ := os.Getwd() // only for shorter names; an error leaves them absolute
		for _, e := range list {
			shown := *e
			if shown.File != "" {
				shown.File = displayPath(cwd, filepath.Join(root, filepath.FromSlash(e.File)))
			}
			fmt.Fprintln(std.err, shown.Error())
		}
		return &exitError{code: 1}
	}
	if err != nil {
		return err
	}
	cwd, _ := os.Getwd()
	for _, w := range model.PlaintextSecrets(resources) {
		w.File = displayPath(cwd, filepath.Join(root, filepath.FromSlash(w.File)))
		fmt.Fprintln(std.err, "warning:", w)
	}
	fmt.Fprintln(std.out, summary(resources))
	return nil
}

// commonRoot returns the directory to open, and the paths relative to it in
// fs.FS form: the working directory when it holds every path (so that
// errors name files as the user does), else the deepest directory that
// does.
func commonRoot(args []string) (string, []string, error) {
	abs := make([]string, len(args))
	var root string
	for i, a := range args {
		p, err := filepath.Abs(a)
		if err != nil {
			return "", nil, fmt.Errorf("validate %s: %w", a, err)
		}
		abs[i] = p
		dir := p
		if info, err := os.Stat(p); err != nil {
			return "", nil, fmt.Errorf("validate: %w", err)
		} else if !info.IsDir() {
			dir = filepath.Dir(p)
		}
		if i == 0 {
			root = dir
			continue
		}
		for !within(root, dir) {
			root = filepath.Dir(root)
		}
	}
	if cwd, err := os.Getwd(); err == nil && within(cwd, root) {
		root = cwd
	}
	rel := make([]string, len(abs))
	for i, p := range abs {
		r, err := filepath.Rel(root, p)
		if err != nil {
			return "", nil, fmt.Errorf("validate %s: %w", args[i], err)
		}
		rel[i] = filepath.ToSlash(r)
	}
	return root, rel, nil
}

// within reports whether path is dir or under it.
func within(dir, path string) bool {
	r, err := filepath.Rel(dir, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// displayPath shows path relative to the working directory when it is
// under it.
func displayPath(cwd, path string) string {
	if cwd != "" && within(cwd, path) {
		if r, err := filepath.Rel(cwd, path); err == nil {
			return r
		}
	}
	return path
}

// summaryKinds are the kinds in the order of a summary, with their
// singular and plural names.
var summaryKinds = []struct {
	kind         model.Kind
	one, several string
}{
	{model.KindService, "service", "services"},
	{model.KindRoute, "route", "routes"},
	{model.KindStreamRoute, "stream route", "stream routes"},
	{model.KindUpstream, "upstream", "upstreams"},
	{model.KindConsumer, "consumer", "consumers"},
	{model.KindCredential, "credential", "credentials"},
	{model.KindConsumerGroup, "consumer group", "consumer groups"},
	{model.KindSSL, "SSL", "SSLs"},
	{model.KindGlobalRule, "global rule", "global rules"},
	{model.KindPluginMetadata, "plugin metadata", "plugin metadata"},
}

// summary counts resources per kind: "valid: 3 services, 6 routes, …".
func summary(resources []model.Resource) string {
	counts := make(map[model.Kind]int)
	for _, r := range resources {
		counts[r.Key.Kind]++
	}
	var parts []string
	for _, k := range summaryKinds {
		n := counts[k.kind]
		if n == 0 {
			continue
		}
		name := k.several
		if n == 1 {
			name = k.one
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, name))
	}
	if len(parts) == 0 {
		return "valid: no resources"
	}
	return "valid: " + strings.Join(parts, ", ")
}
