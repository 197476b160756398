package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/gitops-gateway/reconciler/internal/leader"
	"github.com/gitops-gateway/reconciler/internal/metrics"
	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/internal/reconciler/clock"
	"github.com/gitops-gateway/reconciler/internal/server"
	"github.com/gitops-gateway/reconciler/pkg/api7"
	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/git"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// The daemon's parts, proven to fit.
var (
	_ reconciler.Gateway = (*api7.Client)(nil)
	_ apply.Validator    = (*api7.Client)(nil)
	_ reconciler.Source  = gitSnapshots{}
	_ reconciler.Source  = (*reconciler.DirSource)(nil)
	_ server.Daemon      = (*reconciler.Daemon)(nil)
	_ reconciler.Fencer  = (*leader.Elector)(nil)
)

// daemonOptions are run's flags beyond the common ones.
type daemonOptions struct {
	common commonOptions

	config              string
	name                string
	interval            time.Duration
	listen              string
	mode                string
	suspend             bool
	webhookSecretFile   string
	auditLog            string
	shutdownTimeout     time.Duration
	once                bool
	pruneUnlabeled      bool
	adopt               bool
	allowHistoryRewrite bool
	acceptRewrite       string
	guardOverride       string

	leaderElect bool
	leaderNS    string
	leaderID    string
	kubeconfig  string
}

// targetFlags are the flags that describe the one target of flag mode; with
// --config they are refused, as every target says its own.
var targetFlags = []string{
	"source", "ref", "path", "git-token-file", "git-username", "git-password-file", "git-ssh-key-file",
	"git-ssh-passphrase-file", "git-known-hosts-file", "git-ca-cert-file", "git-verify", "git-pgp-keyring-file",
	"git-ssh-allowed-signers-file", "backend", "server", "token-file", "token", "token-transport", "gateway-group",
	"ca-cert", "client-cert", "client-key", "timeout", "concurrency", "managed-by", "prune", "no-prune",
	"max-deletes", "max-delete-percent", "allow-empty", "name", "interval", "mode", "suspend", "prune-unlabeled",
	"adopt", "allow-history-rewrite", "accept-history-rewrite", "deletion-guard-override",
}

func addDaemonFlags(fs *pflag.FlagSet, o *daemonOptions) {
	addCommonFlags(fs, &o.common)
	fs.StringVar(&o.config, "config", "", "daemon configuration file with several targets (instead of the one-target flags)")
	fs.StringVar(&o.name, "name", "default", "name of the target given by flags (a metric label and the webhook path)")
	fs.DurationVar(&o.interval, "interval", reconciler.DefaultInterval, "time between cycles (±10% jitter)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address of /metrics, /healthz, /readyz, /status, / and /webhook/{target}")
	fs.StringVar(&o.mode, "mode", "apply", "apply (correct the gateway) or detect (report drift, never write)")
	fs.BoolVar(&o.suspend, "suspend", false, "report but never write")
	fs.StringVar(&o.webhookSecretFile, "webhook-secret-file", "", "file holding the webhook secret (for every target without its own)")
	fs.StringVar(&o.auditLog, "audit-log", "", "append audit events to this file as JSON lines, synced every cycle")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, how long requests in flight may take before they are cancelled")
	fs.BoolVar(&o.once, "once", false, "run one cycle of every target, print the summary and exit (1 when one failed); no HTTP server is started, so --listen and the webhook settings do not apply")
	fs.BoolVar(&o.pruneUnlabeled, "prune-unlabeled", false, "also manage global rules and plugin metadata that are not declared, deleting them (they carry no ownership label)")
	fs.BoolVar(&o.adopt, "adopt", false, "take over objects without our managed-by label whose ID a desired resource has")
	fs.BoolVar(&o.allowHistoryRewrite, "allow-history-rewrite", true, "apply a commit that does not descend from the last good one (a force-push); false refuses it with HistoryRewritten until the branch is restored or the commit is accepted")
	fs.StringVar(&o.acceptRewrite, "accept-history-rewrite", "", "with --allow-history-rewrite=false, the full hash of the one force-pushed commit to accept")
	fs.StringVar(&o.guardOverride, "deletion-guard-override", "", "the full hash of the one commit whose plan may delete more than --max-deletes and --max-delete-percent allow; it expires once that commit is applied")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "write only while holding the target's Kubernetes Lease (one per target), so that several replicas never write at once")
	fs.StringVar(&o.leaderNS, "leader-elect-namespace", "", "namespace of the Leases (default: the pod's, from its service account)")
	fs.StringVar(&o.leaderID, "leader-elect-identity", "", "this replica's name in the Leases (default: the host name, which is the pod's name)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for --leader-elect outside a cluster (default: the in-cluster service account)")
}

func newRunCmd(std streams, env lookupEnv) *cobra.Command { return newRunCmdWith(std, env, nil) }

// newRunCmdWith is run with hooks for tests (nil for none).
func newRunCmdWith(std streams, env lookupEnv, hooks *daemonHooks) *cobra.Command {
	var opts daemonOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the reconciliation daemon",
		Long: `Run one reconcile loop per target: every --interval (±10% jitter), sooner after
a failure (with backoff) or on a webhook, fetch the desired state, read the
gateway, diff, and apply (--mode apply) or only report (--mode detect).

Targets come from --config (several), or from the flags (one, named --name).
Drift is exported at /metrics, the status at /status and /, on --listen.

On SIGTERM no new cycle or write starts; requests in flight may finish
within --shutdown-timeout; the audit log is synced; the exit status is 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(checkShutdownTimeout(opts.shutdownTimeout), checkListen("listen", opts.listen)); err != nil {
				return err
			}
			specs, err := targetSpecs(cmd.Flags(), opts)
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), opts, specs, std, env, hooks)
		},
	}
	addDaemonFlags(cmd.Flags(), &opts)
	return cmd
}

// targetSpecs returns the targets of --config, or the one target of the
// flags.
func targetSpecs(fs *pflag.FlagSet, o daemonOptions) ([]reconciler.TargetSpec, error) {
	if o.config != "" {
		var given []string
		for _, f := range targetFlags {
			switch {
			case fromEnv(fs, f):
				given = append(given, envName(f)+" (--"+f+")")
			case fs.Changed(f):
				given = append(given, "--"+f)
			}
		}
		if len(given) > 0 {
			return nil, fmt.Errorf("%s: with --config every target is described in the file", strings.Join(given, ", "))
		}
		data, err := readConfigFile(o.config)
		if err != nil {
			return nil, err
		}
		cfg, err := reconciler.ParseConfig(o.config, data)
		if err != nil {
			return nil, err
		}
		return cfg.Targets, nil
	}
	s, g, y := o.common.source, o.common.gateway, o.common.sync
	if err := errors.Join(checkGatewayFlags(g), checkSyncFlags(y)); err != nil {
		return nil, err
	}
	if o.interval < time.Second { // zero would become the file's default, 1m
		return nil, fmt.Errorf("--interval %s: at least 1s", o.interval)
	}
	if o.mode == "" { // would become the file's default, apply
		return nil, errors.New(`--mode "": want apply or detect`)
	}
	if s.GitCacheDir != "" && s.Source != "" && !git.IsGitURL(s.Source) {
		return nil, fmt.Errorf("--git-cache-dir applies to Git sources; %s is a local directory", s.Source)
	}
	prune := y.Prune
	maxDeletes, maxPercent := y.MaxDeletes, y.MaxDeletePercent
	spec := reconciler.TargetSpec{
		Name: o.name,
		Source: reconciler.SourceSpec{
			// No CacheDir: newSource keeps the target's objects in a
			// directory of its own under --git-cache-dir, as with --config,
			// never in the directory the one-shot verbs use.
			URL: s.Source, Ref: s.Ref, Path: s.Path,
			Auth: reconciler.SourceAuth{
				TokenFile: s.GitTokenFile, Username: s.GitUsername, PasswordFile: s.GitPasswordFile,
				SSHKeyFile: s.GitSSHKeyFile, SSHPassphraseFile: s.GitSSHPassFile, KnownHostsFile: s.GitKnownHostsFile,
				CAFile: s.GitCACertFile,
			},
			Verify: reconciler.VerifySpec{Mode: s.GitVerifyMode, PGPKeyringFile: s.GitPGPKeyringFile, SSHAllowedSignersFile: s.GitSSHSignersFile},
		},
		Gateway: reconciler.GatewaySpec{
			Backend: g.Backend, Server: g.Server, TokenFile: g.TokenFile, TokenTransport: g.TokenTransport,
			GatewayGroup: g.GatewayGroup, CACertFile: g.CACertFile, ClientCertFile: g.ClientCertFile,
			ClientKeyFile: g.ClientKeyFile, Timeout: reconciler.Duration(g.Timeout), Concurrency: g.Concurrency,
		},
		Sync: reconciler.SyncSpec{
			Interval: reconciler.Duration(o.interval), Mode: o.mode, Suspend: o.suspend, Prune: &prune,
			MaxDeletes: &maxDeletes, MaxDeletePercent: &maxPercent, AllowEmpty: y.AllowEmpty, ManagedBy: y.ManagedBy,
			Adopt: o.adopt, PruneUnlabeled: o.pruneUnlabeled, AllowHistoryRewrite: &o.allowHistoryRewrite,
			AcceptHistoryRewrite: o.acceptRewrite, DeletionGuardOverride: o.guardOverride,
		},
	}
	if errs := spec.Check(); len(errs) > 0 {
		return nil, asFlagErrors(errs)
	}
	return []reconciler.TargetSpec{spec}, nil
}

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, reconciler.MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return data, nil
}

// daemonHooks let the quickstart and tests watch the daemon.
type daemonHooks struct {
	// listener replaces listening on --listen.
	listener net.Listener
	// onCycle is called after every cycle of every target.
	onCycle func(target string, c reconciler.Cycle)
	// ready is called once the server listens, with its address.
	ready func(addr string)
	// clock replaces the real clock.
	clock clock.Clock
	// leases replaces the Kubernetes Lease API of --leader-elect.
	leases coordinationv1client.LeasesGetter
}

// runDaemon builds the targets, serves HTTP and runs the loops until ctx is
// done (or one cycle each with --once), then shuts down within the bound.
func runDaemon(ctx context.Context, o daemonOptions, specs []reconciler.TargetSpec, std streams, env lookupEnv, hooks *daemonHooks) error {
	if hooks == nil {
		hooks = &daemonHooks{}
	}
	log, err := newLogger(o.common.log, std.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr may not support Sync; nothing to do about it
	rt, err := buildDaemon(o, specs, env, log, hooks)
	if err != nil {
		return err
	}
	defer rt.close(log)

	if !o.leaderElect && (o.leaderNS != "" || o.leaderID != "" || o.kubeconfig != "") {
		return errors.New("--leader-elect-namespace, --leader-elect-identity and --kubeconfig apply with --leader-elect only")
	}
	if o.once {
		if o.leaderElect {
			return errors.New("--once and --leader-elect: a single cycle does not campaign for the lease; run it without --leader-elect")
		}
		return rt.once(ctx, std)
	}
	// The secret is read for every webhook (so a rotated one applies at
	// once); a file that is missing or empty now is refused rather than
	// found by the first webhook.
	for _, t := range rt.d.Targets() {
		if file, ok := rt.secrets[t.Name()]; ok {
			if err := server.CheckSecretFile(file); err != nil {
				return fmt.Errorf("target %q: %s: %w", t.Name(), rt.secretFrom[t.Name()], err)
			}
		}
	}
	ln := hooks.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", o.listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	return rt.serve(ctx, ln, o.shutdownTimeout, log, hooks)
}

// daemonRuntime is a built daemon and what must be closed after it.
type daemonRuntime struct {
	d       *reconciler.Daemon
	reg     *prometheus.Registry
	audit   *reconciler.Audit
	secrets map[string]string // target → webhook secret file
	// secretFrom says where each target's secret file was named:
	// webhook.secretFile or --webhook-secret-file.
	secretFrom map[string]string
	closers    []func() error
	clock      clock.Clock
	electors   []*leader.Elector
}

func buildDaemon(o daemonOptions, specs []reconciler.TargetSpec, env lookupEnv, log *zap.Logger, hooks *daemonHooks) (rt *daemonRuntime, err error) {
	clk := hooks.clock
	if clk == nil {
		clk = clock.Real{}
	}
	rt = &daemonRuntime{reg: prometheus.NewRegistry(), secrets: map[string]string{}, secretFrom: map[string]string{}, clock: clk}
	defer func() {
		if err != nil {
			rt.close(log)
		}
	}()
	rt.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b := currentBuild()
	m := metrics.New(rt.reg, metrics.Build{Version: b.Version, Revision: b.Commit, GoVersion: b.GoVersion})
	if o.auditLog != "" {
		if rt.audit, err = reconciler.OpenAudit(o.auditLog, log); err != nil {
			return rt, fmt.Errorf("--audit-log: %w", err)
		}
		rt.closers = append(rt.closers, rt.audit.Close)
	} else {
		rt.audit = reconciler.NewAudit(log)
	}
	deps := reconciler.Deps{Clock: clk, Rand: newRand(), Metrics: m, Audit: rt.audit, Logger: log, OnCycle: hooks.onCycle}
	var election *leader.Config
	var leases coordinationv1client.LeasesGetter
	if o.leaderElect && !o.once {
		if election, leases, err = leaderElection(o, hooks, log); err != nil {
			return rt, err
		}
	}
	var targets []*reconciler.Target
	for _, spec := range specs {
		var fencer reconciler.Fencer
		if election != nil {
			e, err := leader.New(leases, spec.Name, *election)
			if err != nil {
				return rt, err
			}
			rt.electors = append(rt.electors, e)
			fencer = e
		}
		t, err := buildTarget(o, spec, env, deps, log, rt, fencer)
		if err != nil {
			return rt, fmt.Errorf("target %q: %w", spec.Name, err)
		}
		targets = append(targets, t)
		switch {
		case spec.Webhook.SecretFile != "":
			rt.secrets[spec.Name], rt.secretFrom[spec.Name] = spec.Webhook.SecretFile, "webhook.secretFile"
		case o.webhookSecretFile != "":
			rt.secrets[spec.Name], rt.secretFrom[spec.Name] = o.webhookSecretFile, "--webhook-secret-file"
		}
	}
	rt.d, err = reconciler.NewDaemon(targets, clk, log)
	return rt, err
}

// leaderElection returns the electors' configuration and the Lease API.
func leaderElection(o daemonOptions, hooks *daemonHooks, log *zap.Logger) (*leader.Config, coordinationv1client.LeasesGetter, error) {
	ns := o.leaderNS
	if ns == "" {
		var err error
		if ns, err = leader.InClusterNamespace(); err != nil {
			return nil, nil, fmt.Errorf("--leader-elect: no --leader-elect-namespace: %w", err)
		}
	}
	id := o.leaderID
	if id == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, nil, fmt.Errorf("--leader-elect: no --leader-elect-identity, and no host name: %w", err)
		}
		id = h
	}
	leases := hooks.leases
	if leases == nil {
		c, err := leader.NewClient(o.kubeconfig)
		if err != nil {
			return nil, nil, err
		}
		leases = c
	}
	return &leader.Config{Namespace: ns, Identity: id, Logger: log.Named("leader")}, leases, nil
}

func buildTarget(o daemonOptions, spec reconciler.TargetSpec, env lookupEnv, deps reconciler.Deps, log *zap.Logger, rt *daemonRuntime, fencer reconciler.Fencer) (*reconciler.Target, error) {
	tlog := log.With(zap.String("target", spec.Name))
	src, srcURL, err := newSource(o, spec, env, tlog)
	if err != nil {
		return nil, err
	}
	var target atomic.Pointer[reconciler.Target]
	name := spec.Name
	m := deps.Metrics
	g := spec.Gateway
	cfg := api7.Config{
		Backend:        api7.Backend(g.Backend),
		Server:         g.Server,
		TokenFile:      g.TokenFile,
		TokenTransport: api7.TokenTransport(g.TokenTransport),
		GatewayGroup:   g.GatewayGroup,
		TLS: api7.TLSConfig{
			CAFile: g.CACertFile, CertFile: g.ClientCertFile, KeyFile: g.ClientKeyFile,
			SkipVerify: o.common.gateway.TLSSkipVerify, // from the command line only (A3)
		},
		Timeout:     time.Duration(g.Timeout),
		Concurrency: g.Concurrency,
		ManagedBy:   spec.Sync.ManagedBy,
		Logger:      tlog,
		Hooks: api7.Hooks{
			Request: func(ri api7.RequestInfo) { m.ObserveAdminRequest(name, ri.Method, ri.Code, ri.Duration) },
			Throttled: func() {
				m.AdminThrottled(name)
			},
			TokenReloaded: func() {
				if t := target.Load(); t != nil {
					t.TokenChanged()
				}
			},
		},
	}
	if spec.Sync.Adopt {
		cfg.Adopt = func(model.Key) bool { return true }
	}
	if g.TokenFile == "" && !o.common.gateway.Token.IsZero() {
		cfg.Token = o.common.gateway.Token
	}
	client, err := api7.New(cfg)
	if err != nil {
		return nil, err
	}
	rt.closers = append(rt.closers, client.Close)
	t, err := reconciler.NewTarget(reconciler.TargetConfig{
		Name: spec.Name, Source: src, Gateway: client, SourceURL: srcURL, Server: g.Server,
		Mode: reconciler.Mode(spec.Sync.Mode), Suspend: spec.Sync.Suspend, Interval: time.Duration(spec.Sync.Interval),
		Policy: apply.Policy{
			Prune: *spec.Sync.Prune, MaxDeletes: *spec.Sync.MaxDeletes, MaxDeletePercent: *spec.Sync.MaxDeletePercent,
			AllowEmpty: spec.Sync.AllowEmpty, Adopt: spec.Sync.Adopt,
		},
		Ignore: spec.IgnoreRules(), PruneUnlabeled: spec.Sync.PruneUnlabeled,
		DeletionGuardOverride: spec.Sync.DeletionGuardOverride, Concurrency: g.Concurrency, Env: env,
		TokenWatched: g.TokenFile != "", TLSVerifyDisabled: o.common.gateway.TLSSkipVerify,
		Fencer: fencer,
	}, deps)
	if err != nil {
		return nil, err
	}
	target.Store(t)
	return t, nil
}

// newSource makes a Git source for a Git URL and a directory source
// otherwise. It returns the source and its URL for display.
func newSource(o daemonOptions, spec reconciler.TargetSpec, env lookupEnv, log *zap.Logger) (reconciler.Source, string, error) {
	s := spec.Source
	if !git.IsGitURL(s.URL) {
		if s.Ref != "" {
			return nil, "", fmt.Errorf("source ref %q applies to Git sources; %s is a local directory", s.Ref, s.URL)
		}
		if s.Auth != (reconciler.SourceAuth{}) || s.Verify != (reconciler.VerifySpec{}) || s.CacheDir != "" || s.Timeout != 0 {
			return nil, "", fmt.Errorf("source auth, verify, cacheDir and timeout (or their --git-* flags) apply to Git sources; %s is a local directory", s.URL)
		}
		if !*spec.Sync.AllowHistoryRewrite || spec.Sync.AcceptHistoryRewrite != "" {
			return nil, "", fmt.Errorf("allowHistoryRewrite and acceptHistoryRewrite apply to Git sources; %s is a local directory, which has no history", s.URL)
		}
		ds, err := reconciler.NewDirSource(s.URL, s.Path)
		if err != nil {
			return nil, "", err
		}
		return ds, ds.Dir(), nil
	}
	mode, err := git.ParseVerifyMode(s.Verify.Mode)
	if err != nil {
		return nil, "", err
	}
	// Each target has its own object store (the store is locked while a
	// fetch runs): the file's cacheDir, or a directory per target under
	// --git-cache-dir or the user's cache directory; in memory when there
	// is none.
	cacheDir := s.CacheDir
	key := spec.Name + "-" + cacheKey(sourceOptions{Source: s.URL, Ref: s.Ref})
	switch {
	case cacheDir != "":
	case o.common.source.GitCacheDir != "":
		cacheDir = filepath.Join(o.common.source.GitCacheDir, key)
	default:
		if base := userCacheDir(env); base != "" {
			cacheDir = filepath.Join(base, "reconciler", "daemon", key)
		}
	}
	history := git.HistoryFollow
	if !*spec.Sync.AllowHistoryRewrite {
		history = git.HistoryRefuse
	}
	gs, err := git.New(git.Options{
		URL: s.URL, Ref: s.Ref, Path: s.Path, History: history, AcceptRewrite: spec.Sync.AcceptHistoryRewrite,
		Auth: git.Auth{
			TokenFile: s.Auth.TokenFile, Username: s.Auth.Username, PasswordFile: s.Auth.PasswordFile,
			SSHKeyFile: s.Auth.SSHKeyFile, SSHPassphraseFile: s.Auth.SSHPassphraseFile,
			KnownHostsFile: s.Auth.KnownHostsFile, CAFile: s.Auth.CAFile,
		},
		Verify:   git.Verification{Mode: mode, PGPKeyringFile: s.Verify.PGPKeyringFile, SSHAllowedSignersFile: s.Verify.SSHAllowedSignersFile},
		CacheDir: cacheDir,
		Timeout:  time.Duration(s.Timeout),
		Limits:   git.Limits{MaxFileSize: model.MaxFileSize, MaxTreeSize: model.MaxTreeSize},
		Include:  model.IsConfigFile,
		Logger:   log,
	})
	if err != nil {
		return nil, "", err
	}
	return gitSnapshots{gs}, gs.URL(), nil
}

// gitSnapshots adapts pkg/git to the daemon's Source.
type gitSnapshots struct{ s *git.Source }

func (g gitSnapshots) Fetch(ctx context.Context) (reconciler.Snapshot, error) {
	r, err := g.s.Fetch(ctx)
	if err != nil {
		return reconciler.Snapshot{}, err
	}
	author := r.Commit.Author.Name
	if r.Commit.Author.Email != "" {
		author += " <" + r.Commit.Author.Email + ">"
	}
	return reconciler.Snapshot{
		Revision: r.Commit.Revision, Files: r.Files, Unchanged: r.Unchanged, Rewritten: r.Rewritten,
		Commit: reconciler.Commit{Hash: r.Commit.Hash, Author: author, Message: strings.TrimSpace(r.Commit.Message), Date: r.Commit.Date},
	}, nil
}

// serve runs the HTTP server and the loops until ctx is done, then stops
// them: no new cycle, requests in flight bounded by drain, the server shut
// down within the same bound.
func (rt *daemonRuntime) serve(ctx context.Context, ln net.Listener, drain time.Duration, log *zap.Logger, hooks *daemonHooks) error {
	b := currentBuild()
	srv := server.New(server.Handler(server.Options{
		Daemon: rt.d, Gatherer: rt.reg, Logger: log, Version: b.Version,
		WebhookSecretFile: func(target string) string { return rt.secrets[target] },
	}))
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	log.Info("serving", zap.String("listen", ln.Addr().String()), zap.Int("targets", len(rt.d.Targets())))
	if hooks.ready != nil {
		hooks.ready(ln.Addr().String())
	}

	// The electors campaign until the loops have stopped: the writes they
	// fenced finish first, then the Leases are released.
	electCtx, stopElectors := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElectors()
	electorsDone := make(chan struct{})
	go func() {
		defer close(electorsDone)
		var wg sync.WaitGroup
		for _, e := range rt.electors {
			wg.Go(func() { e.Run(electCtx) })
		}
		wg.Wait()
	}()

	loopCtx, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	loopsDone := make(chan bool, 1)
	go func() { loopsDone <- rt.d.Run(loopCtx, drain) }()

	var serveErr error
	select {
	case <-ctx.Done():
		// A second signal now ends the process at once.
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		log.Info("shutting down: no new cycle starts", zap.Duration("duration", drain))
	case err := <-srvErr:
		serveErr = fmt.Errorf("http server: %w", err)
		log.Error("http server failed; shutting down", zap.Error(err))
	}
	stopLoops()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server did not shut down cleanly", zap.Error(err))
		_ = srv.Close()
	}
	if !<-loopsDone {
		log.Warn("requests were cancelled at the shutdown bound")
	}
	stopElectors()
	select {
	case <-electorsDone:
	case <-shutdownCtx.Done():
		log.Warn("the Leases were not released within the shutdown bound")
	}
	log.Info("stopped")
	return serveErr
}

// once runs one cycle of every target and prints a summary line each.
func (rt *daemonRuntime) once(ctx context.Context, std streams) error {
	cycles := rt.d.RunOnce(ctx)
	failed := 0
	for i, t := range rt.d.Targets() {
		c := cycles[i]
		fmt.Fprintln(std.out, cycleSummary(t.Name(), c))
		if c.Result != reconciler.ResultSuccess {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d targets failed", failed, len(cycles))}
	}
	return nil
}

// newRand is the jitter's random source.
func newRand() func() float64 { return rand.Float64 }

// cycleSummary is one line for people.
func cycleSummary(target string, c reconciler.Cycle) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", target, c.Result)
	if len(c.Reasons) > 0 {
		reasons := make([]string, len(c.Reasons))
		for i, r := range c.Reasons {
			reasons[i] = string(r)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(reasons, ", "))
	}
	if c.Revision != "" {
		fmt.Fprintf(&b, " at %s", c.Revision)
	}
	fmt.Fprintf(&b, ": %d difference(s) (%d pending, %d drift), %d applied, %d failed, %d skipped",
		c.Changes, c.Counts.Pending, c.Counts.Drift, c.Counts.Applied, c.Counts.Failed, c.Counts.Skipped)
	if c.Error != "" {
		first, _, _ := strings.Cut(c.Error, "\n")
		fmt.Fprintf(&b, " — %s", first)
	}
	return b.String()
}

// close closes what the daemon opened, the audit file last but one
// (flushed and synced).
func (rt *daemonRuntime) close(log *zap.Logger) {
	for i := len(rt.closers) - 1; i >= 0; i-- {
		if err := rt.closers[i](); err != nil {
			log.Warn("close", zap.Error(err))
		}
	}
	rt.closers = nil
}
