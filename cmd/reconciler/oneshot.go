package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The one-shot verbs diff, sync and dump share this wiring.

var _ apply.Gateway = (*api7.Client)(nil)

// oneShotOptions are the flags of diff and sync beyond the common ones.
type oneShotOptions struct {
	common commonOptions
	// pruneUnlabeled also manages global rules and plugin metadata that are
	// not declared: they carry no ownership label, so by default one that
	// is not in the desired state is left alone.
	pruneUnlabeled bool
	// adopt takes over objects without our label whose ID a desired
	// resource has, instead of refusing them (OwnershipConflict).
	adopt bool
	// ignore are field-level ignore rules, as kind:nameglob:/pointer,….
	ignore []string
	// config and target name a target of the daemon's configuration file
	// whose sync settings (managedBy, prune and the delete guards, adopt,
	// pruneUnlabeled, ignore) apply where no flag says otherwise.
	config, target string

	// rules are the parsed ignore rules: the flags' and the target's.
	rules []diff.IgnoreRule
	// guardOverride is sync's --deletion-guard-override: a full commit
	// hash, lower case.
	guardOverride string
}

// addDiffFlags registers what diff uses: the source, the gateway, the
// ownership label, the scope of unlabelled kinds, adoption, ignore rules,
// the daemon's target and logging. The delete guards are sync's.
func addDiffFlags(fs *pflag.FlagSet, o *oneShotOptions) {
	addSourceFlags(fs, &o.common.source)
	addGatewayFlags(fs, &o.common.gateway)
	addManagedBy(fs, &o.common.sync)
	addScopeFlags(fs, o)
	addLogFlags(fs, &o.common.log)
}

// addSyncOnlyFlags registers every common flag and the scope flags.
func addSyncOnlyFlags(fs *pflag.FlagSet, o *oneShotOptions) {
	addCommonFlags(fs, &o.common)
	addScopeFlags(fs, o)
}

// addScopeFlags registers what decides which objects and fields a one-shot
// verb manages, as a daemon target's sync section does.
func addScopeFlags(fs *pflag.FlagSet, o *oneShotOptions) {
	addPruneUnlabeled(fs, o)
	fs.BoolVar(&o.adopt, "adopt", false, "take over objects without our managed-by label whose ID a desired resource has, instead of refusing them (OwnershipConflict)")
	fs.StringArrayVar(&o.ignore, "ignore", nil,
		"never compare these fields: KIND:NAMEGLOB:/POINTER[,/POINTER…], an empty KIND or NAMEGLOB matching all, \"*\" a pointer segment matching any key or element (for example upstream:*:/nodes); repeatable")
	fs.StringVar(&o.config, "config", "", "the daemon's configuration file: with --target, that target's sync settings (managedBy, prune and the delete guards, adopt, pruneUnlabeled, ignore) apply unless a flag is given")
	fs.StringVar(&o.target, "target", "", "the target of --config whose sync settings apply")
}

// resolveScope reads the --config target's sync settings into o where no
// flag (or RECONCILER_* variable) was given, parses the ignore rules and
// checks them. It runs before anything is loaded or requested.
func resolveScope(fs *pflag.FlagSet, o *oneShotOptions) error {
	rules, err := parseIgnoreFlags(o.ignore)
	if err != nil {
		return err
	}
	switch {
	case o.config == "" && o.target != "":
		return errors.New("--target names a target of --config, which is not given")
	case o.config != "" && o.target == "":
		return errors.New("--config needs --target to say whose sync settings apply")
	case o.config != "":
		data, err := readConfigFile(o.config)
		if err != nil {
			return err
		}
		cfg, err := reconciler.ParseConfig(o.config, data)
		if err != nil {
			return err
		}
		var spec *reconciler.TargetSpec
		names := make([]string, 0, len(cfg.Targets))
		for i := range cfg.Targets {
			names = append(names, cfg.Targets[i].Name)
			if cfg.Targets[i].Name == o.target {
				spec = &cfg.Targets[i]
			}
		}
		if spec == nil {
			return fmt.Errorf("--target %q: %s has no such target (it has %s)", o.target, o.config, strings.Join(names, ", "))
		}
		y := spec.Sync
		unset := func(name string) bool { f := fs.Lookup(name); return f != nil && !f.Changed }
		if unset("managed-by") {
			o.common.sync.ManagedBy = y.ManagedBy
		}
		if unset("prune") && unset("no-prune") {
			o.common.sync.Prune = *y.Prune
		}
		if unset("max-deletes") {
			o.common.sync.MaxDeletes = *y.MaxDeletes
		}
		if unset("max-delete-percent") {
			o.common.sync.MaxDeletePercent = *y.MaxDeletePercent
		}
		if unset("allow-empty") {
			o.common.sync.AllowEmpty = y.AllowEmpty
		}
		if unset("adopt") {
			o.adopt = y.Adopt
		}
		if unset("prune-unlabeled") {
			o.pruneUnlabeled = y.PruneUnlabeled
		}
		if unset("deletion-guard-override") { // sync only: diff never deletes
			o.guardOverride = y.DeletionGuardOverride
		}
		rules = append(rules, spec.IgnoreRules()...) // ParseConfig checked them
	}
	if _, err := diff.New(diff.Options{Ignore: rules}); err != nil {
		return fmt.Errorf("--ignore: %w", err)
	}
	o.rules = rules
	return nil
}

// parseIgnoreFlags parses --ignore values: KIND:NAMEGLOB:/POINTER[,…]. The
// kind has no colon; the name glob runs to the next colon; the rest is a
// comma-separated list of JSON pointers.
func parseIgnoreFlags(values []string) ([]diff.IgnoreRule, error) {
	var rules []diff.IgnoreRule
	for _, v := range values {
		kind, rest, ok1 := strings.Cut(v, ":")
		name, paths, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || paths == "" {
			return nil, fmt.Errorf("--ignore %q: want KIND:NAMEGLOB:/POINTER[,/POINTER…], for example upstream:*:/nodes", v)
		}
		rules = append(rules, diff.IgnoreRule{Kind: model.Kind(kind), Name: name, Paths: strings.Split(paths, ",")})
	}
	return rules, nil
}

// adoptAll is the client's adoption rule under --adopt.
func adoptAll(o oneShotOptions) func(model.Key) bool {
	if !o.adopt {
		return nil
	}
	return func(model.Key) bool { return true }
}

func addManagedBy(fs *pflag.FlagSet, o *syncOptions) {
	fs.StringVar(&o.ManagedBy, "managed-by", "reconciler", "value of the managed-by label that marks owned objects")
}

func addPruneUnlabeled(fs *pflag.FlagSet, o *oneShotOptions) {
	fs.BoolVar(&o.pruneUnlabeled, "prune-unlabeled", false,
		"also manage global rules and plugin metadata that are not declared, deleting them (they carry no ownership label)")
}

// newLogger builds the logger of a one-shot verb, writing to w.
func newLogger(o logOptions, w io.Writer) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.Level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "time"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch o.Format {
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	case "console":
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("--log-format %q: want json or console", o.Format)
	}
	return zap.New(zapcore.NewCore(encoder, zapcore.AddSync(w), level)), nil
}

// newClient builds the Admin API client from the gateway flags.
func newClient(o commonOptions, log *zap.Logger, adopt func(model.Key) bool) (*api7.Client, error) {
	g := o.gateway
	if g.GatewayGroup != "" && g.GatewayGroup != api7.DefaultGroup && g.Backend == string(api7.BackendAPISIX) {
		// Refused rather than ignored: APISIX has no gateway groups.
		return nil, fmt.Errorf("--gateway-group %q applies to the api7ee backend; APISIX has no gateway groups", g.GatewayGroup)
	}
	cfg := api7.Config{
		Backend:        api7.Backend(g.Backend),
		Server:         g.Server,
		TokenFile:      g.TokenFile,
		TokenTransport: api7.TokenTransport(g.TokenTransport),
		GatewayGroup:   g.GatewayGroup,
		TLS: api7.TLSConfig{
			CAFile:     g.CACertFile,
			CertFile:   g.ClientCertFile,
			KeyFile:    g.ClientKeyFile,
			SkipVerify: g.TLSSkipVerify,
		},
		Timeout:     g.Timeout,
		Concurrency: g.Concurrency,
		ManagedBy:   o.sync.ManagedBy,
		Adopt:       adopt,
		Logger:      log.Named("api7"),
	}
	if !g.Token.IsZero() {
		cfg.Token = g.Token
	}
	c, err := api7.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin API client: %w", err)
	}
	return c, nil
}

// state is what diff and sync compute before they differ: the desired state,
// the live inventory (scoped) and the change set.
type state struct {
	desired desired
	live    model.Inventory
	changes diff.ChangeSet
	// conflicts are desired keys held by unowned objects.
	conflicts []model.Key
}

// compute loads the desired state, lists the gateway and diffs. Nothing is
// listed when loading fails, and nothing is computed when listing fails.
func compute(ctx context.Context, o oneShotOptions, env lookupEnv, c *api7.Client) (state, error) {
	d, err := loadDesired(ctx, o.common.source, env)
	if err != nil {
		return state{}, err
	}
	inv, err := c.List(ctx)
	if err != nil {
		return state{}, err
	}
	defaults, err := c.Defaults(ctx)
	if err != nil {
		return state{}, err
	}
	differ, err := diff.New(diff.Options{Defaults: defaults, Ignore: o.rules})
	if err != nil {
		return state{}, err
	}
	live := scope(d.Resources, inv, o.pruneUnlabeled)
	st := state{desired: d, live: live, changes: differ.Compute(d.Resources, live.Owned)}
	unowned := make(map[model.Key]bool, len(live.Unowned))
	for _, k := range live.Unowned {
		unowned[k] = true
	}
	for _, r := range d.Resources {
		if unowned[r.Key] {
			st.conflicts = append(st.conflicts, r.Key)
		}
	}
	return st, nil
}

// unlabeledKinds carry no ownership label on the gateway: everything of
// these kinds is listed as owned, so only what is declared is managed.
var unlabeledKinds = map[model.Kind]bool{model.KindGlobalRule: true, model.KindPluginMetadata: true}

// scope restricts the live inventory to what this run manages: global rules
// and plugin metadata that are not declared are left out (so never
// deleted) unless pruneUnlabeled.
func scope(want []model.Resource, inv model.Inventory, pruneUnlabeled bool) model.Inventory {
	if pruneUnlabeled {
		return inv
	}
	declared := make(map[model.Key]bool, len(want))
	for _, r := range want {
		declared[r.Key] = true
	}
	out := model.Inventory{Unowned: inv.Unowned, Owned: make([]model.Resource, 0, len(inv.Owned))}
	for _, r := range inv.Owned {
		if unlabeledKinds[r.Key.Kind] && !declared[r.Key] {
			continue
		}
		out.Owned = append(out.Owned, r)
	}
	return out
}

// warnPlaintext prints a warning for each secret written in plain text in
// the desired state (never the value).
func warnPlaintext(w io.Writer, d desired) {
	for _, pw := range model.PlaintextSecrets(d.Resources) {
		fmt.Fprintln(w, "warning:", pw)
	}
}

// isTerminal reports whether w is a terminal, for colour. NO_COLOR turns
// colour off everywhere.
func isTerminal(w io.Writer, env lookupEnv) bool {
	if v, ok := env("NO_COLOR"); ok && v != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// conflictWarning says which desired resources collide with unowned
// objects, and what sync does with them.
func conflictWarning(keys []model.Key, adopt bool) string {
	if len(keys) == 0 {
		return ""
	}
	names := make([]string, 0, min(len(keys), 5))
	for _, k := range keys[:min(len(keys), 5)] {
		names = append(names, k.String())
	}
	more := ""
	if len(keys) > 5 {
		more = fmt.Sprintf(" and %d more", len(keys)-5)
	}
	what := "sync refuses them (OwnershipConflict) unless --adopt"
	if adopt {
		what = "sync takes them over (--adopt)"
	}
	return fmt.Sprintf("warning: %d desired resources have the ID of an object not labelled managed-by for this target (%s%s): %s",
		len(keys), strings.Join(names, ", "), more, what)
}

// validatingClient adapts the client's configs/validate to apply.Validator:
// a server without the endpoint validates nothing, and the server's
// refusals are mapped to the resources they name.
type validatingClient struct{ *api7.Client }

func (v validatingClient) Validate(ctx context.Context, rs []model.Resource) error {
	err := v.Client.Validate(ctx, rs)
	if err == nil || errors.Is(err, api7.ErrUnsupported) {
		return nil
	}
	var ve *api7.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	bad := invalidResources{}
	for _, is := range ve.Issues {
		if is.Key.IsZero() {
			return err // an answer we cannot attribute: refuse the whole set
		}
		bad[is.Key] = errors.New(is.Message)
	}
	return bad
}

// invalidResources is the server's refusal, by resource.
type invalidResources map[model.Key]error

func (e invalidResources) Error() string {
	return fmt.Sprintf("the server refused %d resources", len(e))
}

func (e invalidResources) InvalidResources() map[model.Key]error { return e }
