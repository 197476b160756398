package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// emulatorOptions are the flags of `reconciler emulator`.
type emulatorOptions struct {
	Listen          string
	Backend         string
	Token           model.Secret
	TokenFile       string
	ViewerToken     model.Secret
	ViewerTokenFile string
	NoAuth          bool
	APISIXVersion   string
	API7Version     string
	Latency         time.Duration
	State           string
	StreamMode      bool
	Plugins         []string
	GatewayGroups   []string
	PersistDefaults bool
	DeleteCheckLag  time.Duration
	FaultSeed       int64
	Fault503        float64
	Fault429        float64
	FaultHang       float64
	FaultTruncate   float64
	FaultReset      float64
	ShutdownTimeout time.Duration
	log             logOptions
}

func newEmulatorCmd(std streams) *cobra.Command {
	var o emulatorOptions
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve an in-process Admin API emulator",
		Long: `Serve an emulated Admin API — Apache APISIX 3.x (/apisix/admin) or API7
Enterprise (/api and the gateway-group scoped /apisix/admin) — with an
in-memory store, until SIGTERM or SIGINT. With --state the store is loaded
at start (when the file exists) and written back at once, so that a file
that cannot be written is refused before serving, and saved at shutdown. A --token-file or
--viewer-token-file is re-read when it changes (its directory is watched, as
Kubernetes swaps a ..data symlink): the new token works and the old one
stops working at once, as on a server whose token was regenerated.`,
		Example: `  reconciler emulator --token-file admin.key
  reconciler emulator --backend api7ee --token-file token --gateway-group default --gateway-group prod
  reconciler emulator --token-file admin.key --latency 2ms --fault-503-rate 0.05 --state emulator.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkEmulatorFlags(cmd.Flags(), o); err != nil {
				return err
			}
			return runEmulator(cmd.Context(), o, std)
		},
	}
	addEmulatorFlags(cmd.Flags(), &o)
	return cmd
}

func addEmulatorFlags(fs *pflag.FlagSet, o *emulatorOptions) {
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:9180", "address to serve the Admin API on")
	fs.StringVar(&o.Backend, "backend", "apisix", "Admin API flavour: apisix or api7ee")
	secretFlag(fs, &o.Token, "token", "admin token (prefer --token-file or RECONCILER_TOKEN)")
	fs.StringVar(&o.TokenFile, "token-file", "", "file holding the admin token (re-read when it changes: the old token stops working at once)")
	secretFlag(fs, &o.ViewerToken, "viewer-token", "read-only (GET) token")
	fs.StringVar(&o.ViewerTokenFile, "viewer-token-file", "", "file holding the read-only token (re-read when it changes)")
	fs.BoolVar(&o.NoAuth, "no-auth", false, "accept requests without a token (APISIX's admin_key_required: false)")
	fs.StringVar(&o.APISIXVersion, "apisix-version", emulator.DefaultAPISIXVersion, "APISIX version to behave as (before 3.14 schema defaults are stored)")
	fs.StringVar(&o.API7Version, "api7-version", emulator.DefaultAPI7Version, "version GET /api/version reports (api7ee)")
	fs.DurationVar(&o.Latency, "latency", 0, "delay added to every request")
	fs.StringVar(&o.State, "state", "", "file to load the store from at start and save it to at shutdown (holds secrets: kept mode 0600)")
	fs.BoolVar(&o.StreamMode, "stream-mode", false, "enable stream routes (otherwise they answer 400, as APISIX in http mode)")
	fs.StringSliceVar(&o.Plugins, "plugins", nil, "enabled plugins (default: the five of the recorded APISIX build; every known plugin for api7ee)")
	fs.StringSliceVar(&o.GatewayGroups, "gateway-group", nil, "api7ee gateway group names (repeatable; default: default)")
	fs.BoolVar(&o.PersistDefaults, "persist-defaults", false, "store schema defaults as APISIX before 3.14 did, whatever --apisix-version")
	fs.DurationVar(&o.DeleteCheckLag, "delete-check-lag", 0, "how long delete checks still see removed references (APISIX's \"still using it now\" race)")
	fs.Int64Var(&o.FaultSeed, "fault-seed", 1, "seed of the fault injection")
	fs.Float64Var(&o.Fault503, "fault-503-rate", 0, "share of requests answered 503")
	fs.Float64Var(&o.Fault429, "fault-429-rate", 0, "share of requests answered 429 with Retry-After")
	fs.Float64Var(&o.FaultHang, "fault-hang-rate", 0, "share of requests that hang until the client gives up")
	fs.Float64Var(&o.FaultTruncate, "fault-truncate-rate", 0, "share of responses cut short")
	fs.Float64Var(&o.FaultReset, "fault-reset-rate", 0, "share of responses whose connection is reset halfway through the body")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long to wait for requests in flight at shutdown")
	addLogFlags(fs, &o.log)
}

// checkEmulatorFlags refuses flags that would be accepted and ignored: the
// API7 Enterprise ones with the apisix backend, and negative durations.
func checkEmulatorFlags(fs *pflag.FlagSet, o emulatorOptions) error {
	var errs []error
	if o.Backend != string(emulator.BackendAPI7EE) {
		for _, f := range []string{"gateway-group", "api7-version"} {
			if fs.Changed(f) {
				errs = append(errs, fmt.Errorf("--%s applies to --backend api7ee; APISIX has no gateway groups or API7 version", f))
			}
		}
	}
	if o.DeleteCheckLag < 0 {
		errs = append(errs, fmt.Errorf("--delete-check-lag %s: must be 0 or more", o.DeleteCheckLag))
	}
	if err := checkShutdownTimeout(o.ShutdownTimeout); err != nil {
		errs = append(errs, err)
	}
	if err := checkListen("listen", o.Listen); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readSecretFile reads a token file; the value is trimmed and must not be
// empty. Errors name the file, never its content.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// emulatorConfig turns the flags into emulator options. tokens holds the
// tokens configured (from flags or files), by token name.
func emulatorConfig(o emulatorOptions) (opts []emulator.Option, tokens map[string]string, err error) {
	opts = []emulator.Option{emulator.WithBackend(emulator.Backend(o.Backend))}
	tokens = map[string]string{}
	token, viewer := o.Token.Reveal(), o.ViewerToken.Reveal()
	if token != "" && o.TokenFile != "" {
		return nil, nil, errors.New("give --token or --token-file, not both")
	}
	if viewer != "" && o.ViewerTokenFile != "" {
		return nil, nil, errors.New("give --viewer-token or --viewer-token-file, not both")
	}
	if o.TokenFile != "" {
		t, err := readSecretFile(o.TokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--token-file: %w", err)
		}
		token = t
	}
	if o.ViewerTokenFile != "" {
		t, err := readSecretFile(o.ViewerTokenFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--viewer-token-file: %w", err)
		}
		viewer = t
	}
	switch {
	case token == "" && !o.NoAuth:
		return nil, nil, errors.New("an admin token is required: --token-file, --token (or RECONCILER_TOKEN), or --no-auth")
	case token != "" && token == viewer:
		return nil, nil, errors.New("the viewer token must differ from the admin token")
	}
	if token != "" {
		opts = append(opts, emulator.WithAdminToken(token))
		tokens[emulator.TokenNameAdmin] = token
	}
	if viewer != "" {
		opts = append(opts, emulator.WithViewerToken(viewer))
		tokens[emulator.TokenNameViewer] = viewer
	}
	if o.NoAuth {
		opts = append(opts, emulator.WithoutAuth())
	}
	opts = append(opts,
		emulator.WithAPISIXVersion(o.APISIXVersion),
		emulator.WithAPI7Version(o.API7Version),
		emulator.WithLatency(o.Latency),
		emulator.WithDeleteCheckLag(o.DeleteCheckLag),
		emulator.WithFaults(emulator.Faults{
			Seed: o.FaultSeed, Unavailable: o.Fault503, RateLimited: o.Fault429, Hang: o.FaultHang, Truncate: o.FaultTruncate,
			Reset: o.FaultReset,
		}),
	)
	if o.StreamMode {
		opts = append(opts, emulator.WithStreamMode())
	}
	if len(o.Plugins) > 0 {
		opts = append(opts, emulator.WithPlugins(o.Plugins...))
	}
	if len(o.GatewayGroups) > 0 {
		opts = append(opts, emulator.WithGatewayGroups(o.GatewayGroups...))
	}
	if o.PersistDefaults {
		opts = append(opts, emulator.WithPersistDefaults())
	}
	return opts, tokens, nil
}

func runEmulator(ctx context.Context, o emulatorOptions, std streams) error {
	log, err := emulatorLogger(o.log, std.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	opts, tokens, err := emulatorConfig(o)
	if err != nil {
		return err
	}
	em, err := emulator.New(opts...)
	if err != nil {
		return err
	}
	if o.State != "" {
		if err := loadState(em, o.State); err != nil {
			return err
		}
		// Saved once now, so that a file that cannot be written is found
		// at start rather than at shutdown, when the state would be lost.
		if err := saveState(em, o.State); err != nil {
			return err
		}
	}
	files := map[string]string{}
	if o.TokenFile != "" {
		files[emulator.TokenNameAdmin] = o.TokenFile
	}
	if o.ViewerTokenFile != "" {
		files[emulator.TokenNameViewer] = o.ViewerTokenFile
	}
	stopWatch, err := watchTokenFiles(em, files, tokens, log)
	if err != nil {
		return err
	}
	defer stopWatch()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: em, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	log.Info("emulator listening", zap.String("url", url), zap.String("backend", o.Backend),
		zap.String("apisix_version", em.Version()))
	// The address on stdout lets scripts (and tests) find a :0 port.
	fmt.Fprintln(std.out, url)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shutting down")
	em.Close() // release injected hangs, so Shutdown does not wait for them
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(drain)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	if o.State != "" {
		if err := saveState(em, o.State); err != nil {
			return errors.Join(shutdownErr, err)
		}
		log.Info("state saved", zap.String("file", o.State))
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	return nil
}

// watchTokenFiles re-reads the token files (token name → path) whenever
// something changes in their directories (the directory, not the file:
// Kubernetes replaces a ..data symlink and editors rename over the file),
// and gives the emulator a new value for the token whose file changed: the
// old value stops working at once. An empty or unreadable file, or one that
// holds another token's value, keeps the current token. current holds the
// values of every token the emulator was started with (from flags or
// files), by name. stop ends the watch and waits for it.
func watchTokenFiles(em *emulator.Emulator, files, current map[string]string, log *zap.Logger) (stop func(), err error) {
	if len(files) == 0 {
		return func() {}, nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch token files: %w", err)
	}
	for _, path := range files {
		if err := w.Add(filepath.Dir(path)); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watch the directory of %s: %w", path, err)
		}
	}
	reread := func() {
		for name, path := range files {
			tok, err := readSecretFile(path)
			switch {
			case err != nil:
				log.Warn("token file not re-read; keeping the current token", zap.String("key", name), zap.Error(err))
				continue
			case tok == current[name]:
				continue
			}
			taken := false
			for other, t := range current {
				taken = taken || (other != name && t == tok)
			}
			if taken {
				log.Warn("token file holds another token's value; keeping the current token", zap.String("key", name), zap.String("file", path))
				continue
			}
			if err := em.RotateToken(name, tok); err != nil {
				log.Warn("token not rotated", zap.String("key", name), zap.Error(err))
				continue
			}
			current[name] = tok
			log.Info("token rotated from its file; the old value no longer works", zap.String("key", name), zap.String("file", path))
		}
	}
	// A change between the first read and the watch is picked up now.
	reread()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				reread()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("watching token files", zap.Error(err))
			}
		}
	}()
	return func() {
		_ = w.Close()
		<-done
	}, nil
}

// loadState loads a state file; a missing file is an empty start.
func loadState(em *emulator.Emulator, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	defer f.Close()
	if err := em.Load(f); err != nil {
		return fmt.Errorf("--state %s: %w", path, err)
	}
	return nil
}

// saveState writes the state atomically (temporary file, then rename),
// readable by the owner only: it holds plugin secrets and private keys.
func saveState(em *emulator.Emulator, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("--state: %w", err)
	}
	if err := em.Save(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("--state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}

// emulatorLogger builds the verb's logger from --log-level and --log-format.
func emulatorLogger(o logOptions, w io.Writer) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.Level)
	}
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch o.Format {
	case "json":
		enc = zapcore.NewJSONEncoder(cfg)
	case "console":
		enc = zapcore.NewConsoleEncoder(cfg)
	default:
		return nil, fmt.Errorf("--log-format %q: want json or console", o.Format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)).Named("emulator"), nil
}
