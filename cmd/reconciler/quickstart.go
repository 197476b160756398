package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/spf13/cobra"

	exampleconfig "github.com/gitops-gateway/reconciler/examples"
	"github.com/gitops-gateway/reconciler/internal/reconciler"
	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
	"github.com/gitops-gateway/reconciler/pkg/diff"
	"github.com/gitops-gateway/reconciler/pkg/model"
)

// quickstartOptions are the quickstart's flags.
type quickstartOptions struct {
	gatewayListen string
	listen        string
	interval      time.Duration
	once          bool
	keep          bool
	examples      string
	log           logOptions
}

// quickstartTarget names the quickstart's one target.
const quickstartTarget = "quickstart"

func newQuickstartCmd(std streams, env lookupEnv) *cobra.Command {
	var o quickstartOptions
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "A demo in one command: an emulated gateway, a Git repository of the examples, and the daemon",
		Long: `Start an emulated APISIX Admin API with a generated token, make a Git
repository from the example configuration in a temporary directory, and run
the daemon against it with metrics and the status page on --listen.

It prints what it applied and three things to try: change a route by hand
and watch the drift appear and be corrected, commit a change and watch it
applied, and open the status page. Ctrl-C stops it and removes the
temporary directory (unless --keep).

--once runs one cycle, prints the summary and exits (0 when it succeeded).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuickstart(cmd.Context(), o, std, env, nil)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.gatewayListen, "gateway-listen", "127.0.0.1:9180", "address of the emulated Admin API")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address of the daemon's metrics, status page and webhooks")
	fs.DurationVar(&o.interval, "interval", 10*time.Second, "time between cycles")
	fs.BoolVar(&o.once, "once", false, "run one cycle, print the summary and exit (no daemon is left running: --listen and --interval do not apply)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory when stopping")
	fs.StringVar(&o.examples, "examples", "", "directory of configuration to start the repository from (default: the built-in examples)")
	fs.StringVar(&o.log.Level, "log-level", "warn", "log level: debug, info, warn or error")
	fs.StringVar(&o.log.Format, "log-format", "console", "log format: json or console")
	return cmd
}

// lockedWriter serialises the lines written from the loops and the main
// goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func runQuickstart(ctx context.Context, o quickstartOptions, std streams, env lookupEnv, hooks *daemonHooks) (err error) {
	if hooks == nil {
		hooks = &daemonHooks{}
	}
	out := &lockedWriter{w: std.out}
	// Checked before anything starts; zero would otherwise become the
	// daemon's default of a minute.
	if o.interval < time.Second {
		return fmt.Errorf("--interval %s: at least 1s", o.interval)
	}
	if _, err := newLogger(o.log, io.Discard); err != nil {
		return err
	}
	if err := errors.Join(checkListen("gateway-listen", o.gatewayListen), checkListen("listen", o.listen)); err != nil {
		return err
	}
	if o.examples != "" {
		if info, err := os.Stat(o.examples); err != nil {
			return fmt.Errorf("--examples: %w", err)
		} else if !info.IsDir() {
			return fmt.Errorf("--examples %s: not a directory", o.examples)
		}
	}
	tmp, err := os.MkdirTemp("", "reconciler-quickstart-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer func() {
			if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}

	// The gateway: an emulated Admin API with a generated token.
	token, err := randomToken()
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(tmp, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	em, err := emulator.New(emulator.WithAdminToken(token))
	if err != nil {
		return err
	}
	defer em.Close()
	gwLn, err := net.Listen("tcp", o.gatewayListen)
	if err != nil {
		return fmt.Errorf("emulated gateway: %w (choose another address with --gateway-listen)", err)
	}
	gwSrv := &http.Server{Handler: em, ReadHeaderTimeout: 5 * time.Second}
	gwDone := make(chan struct{})
	go func() {
		defer close(gwDone)
		_ = gwSrv.Serve(gwLn) // returns ErrServerClosed at shutdown
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = gwSrv.Shutdown(sctx) // the demo is over; nothing to report
		<-gwDone
	}()
	gwURL := "http://" + gwLn.Addr().String()

	// The repository: the examples, committed.
	repoDir := filepath.Join(tmp, "gateway-config")
	files := fs.FS(exampleconfig.FS)
	if o.examples != "" {
		files = os.DirFS(o.examples)
	}
	hash, err := commitExamples(files, repoDir)
	if err != nil {
		return fmt.Errorf("make the repository: %w", err)
	}
	srcURL, ref := "file://"+repoDir, "main"
	gitNote := ""
	if _, err := exec.LookPath("git"); err != nil {
		// file:// fetches run git upload-pack; without git, read the work
		// tree instead.
		srcURL, ref = repoDir, ""
		gitNote = " (git is not installed: the daemon reads the directory instead of the commits)"
	}

	prune := true
	allow := true
	spec := reconciler.TargetSpec{
		Name:    quickstartTarget,
		Source:  reconciler.SourceSpec{URL: srcURL, Ref: ref, CacheDir: filepath.Join(tmp, "git-cache")},
		Gateway: reconciler.GatewaySpec{Server: gwURL, TokenFile: tokenFile},
		Sync: reconciler.SyncSpec{
			Interval: reconciler.Duration(o.interval), Mode: string(reconciler.ModeApply), Prune: &prune,
			AllowHistoryRewrite: &allow,
		},
	}
	if errs := spec.Check(); len(errs) > 0 {
		return asFlagErrors(errs)
	}
	dopts := daemonOptions{
		common: commonOptions{log: o.log}, listen: o.listen, shutdownTimeout: 10 * time.Second, once: o.once,
		allowHistoryRewrite: true,
	}

	out.printf("reconciler quickstart\n")
	out.printf("  gateway  emulated APISIX %s Admin API at %s (token in %s)\n", em.Version(), gwURL, tokenFile)
	out.printf("  git      %s: branch main, commit %s with the example configuration%s\n", repoDir, hash[:7], gitNote)
	if !o.once {
		out.printf("  daemon   target %q in apply mode, a cycle every %s\n", quickstartTarget, o.interval)
	}
	out.printf("\n")

	first := true
	var listen string
	onCycle := func(target string, c reconciler.Cycle) {
		if hooks.onCycle != nil {
			defer hooks.onCycle(target, c)
		}
		if first {
			first = false
			printApplied(out, c)
			if !o.once {
				printTry(out, gwURL, tokenFile, repoDir, listen, o.interval, ref != "")
			}
			return
		}
		printChanges(out, c)
	}
	dh := &daemonHooks{
		listener: hooks.listener, clock: hooks.clock, onCycle: onCycle,
		ready: func(addr string) {
			listen = addr
			if hooks.ready != nil {
				hooks.ready(addr)
			}
		},
	}
	err = runDaemon(ctx, dopts, []reconciler.TargetSpec{spec}, std, env, dh)
	if err == nil && !o.once {
		out.printf("stopped\n")
	}
	return err
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// commitExamples copies the configuration files of src into a new
// repository at dir and commits them on main. It returns the commit hash.
func commitExamples(src fs.FS, dir string) (string, error) {
	repo, err := gogit.PlainInitWithOptions(dir, &gogit.PlainInitOptions{
		InitOptions: gogit.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return "", err
	}
	n := 0
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".yaml", ".yml", ".json", ".md":
		default:
			return nil
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", errors.New("no configuration files to commit")
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		return "", err
	}
	sig := &object.Signature{Name: "reconciler quickstart", Email: "quickstart@example.invalid", When: time.Now()}
	h, err := wt.Commit("Gateway configuration from the examples", &gogit.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// printApplied lists what the first cycle did.
func printApplied(out *lockedWriter, c reconciler.Cycle) {
	var applied []reconciler.Item
	for _, it := range c.Items {
		if it.State == reconciler.StateCorrected {
			applied = append(applied, it)
		}
	}
	sort.SliceStable(applied, func(i, j int) bool { return kindRank(applied[i].Kind) < kindRank(applied[j].Kind) })
	out.printf("First cycle at %s: %s, %d objects applied\n", orNone(c.Revision), c.Result, len(applied))
	for _, it := range applied {
		sign := map[diff.Action]string{diff.ActionCreate: "+", diff.ActionUpdate: "~", diff.ActionDelete: "-"}[it.Action]
		out.printf("  %s %-20s %s\n", sign, it.Kind, it.Name)
	}
	for _, it := range c.Items {
		if it.State == reconciler.StateFailed {
			out.printf("  ! %-20s %s: %s\n", it.Kind, it.Name, it.Error)
		}
	}
	if c.Error != "" {
		out.printf("  error: %s\n", c.Error)
	}
	out.printf("\n")
}

func kindRank(k model.Kind) int {
	for i, x := range model.Kinds() {
		if x == k {
			return i
		}
	}
	return len(model.Kinds())
}

func orNone(s string) string {
	if s == "" {
		return "(no revision)"
	}
	return s
}

// printTry prints the three things to try.
func printTry(out *lockedWriter, gwURL, tokenFile, repoDir, listen string, interval time.Duration, commits bool) {
	routeID := model.RouteID("orders-service", "orders-list")
	metricsURL := "http://" + listen + "/metrics"
	out.printf("Try:\n")
	out.printf("  1. Change a route on the gateway by hand:\n")
	out.printf("       curl -s -X PATCH %s/apisix/admin/routes/%s -H \"X-API-KEY: $(cat %s)\" -d '{\"desc\":\"edited by hand\"}'\n", gwURL, routeID, tokenFile)
	out.printf("     The next cycle (within %s) sees the drift and corrects it; watch reconciler_drift_resources go\n", interval)
	out.printf("     to 1, then back to 0 one cycle later:\n")
	out.printf("       curl -s %s | grep '^reconciler_drift_resources' | grep -v ' 0$'\n", metricsURL)
	out.printf("  2. Change the configuration in Git, and watch the next cycle apply it:\n")
	commit := "git -c user.name=you -c user.email=you@example.com commit -qam 'Cache CORS preflights longer'"
	if !commits {
		commit = "(no git: the edit itself is picked up)"
	}
	out.printf("       cd %s && sed -i.bak 's/max_age: 600/max_age: 900/' platform.yaml && rm platform.yaml.bak && %s\n", repoDir, commit)
	out.printf("  3. Open the status page: http://%s/ (JSON at /status)\n\n", listen)
	out.printf("Press Ctrl-C to stop.\n\n")
}

// printChanges prints a line per difference a later cycle found.
func printChanges(out *lockedWriter, c reconciler.Cycle) {
	if c.Changes == 0 && c.Result == reconciler.ResultSuccess {
		return
	}
	out.printf("%s %s\n", c.Start.Format("15:04:05"), cycleSummary(quickstartTarget, c))
	for _, it := range c.Items {
		var fields []string
		for _, f := range it.Fields {
			fields = append(fields, fmt.Sprintf("%s: %s → %s", f.Path, jsonValue(f.Old), jsonValue(f.New)))
			if len(fields) == 3 && len(it.Fields) > 3 {
				fields = append(fields, fmt.Sprintf("… %d more", len(it.Fields)-3))
				break
			}
		}
		detail := ""
		if it.Action == diff.ActionUpdate && len(fields) > 0 {
			detail = " (" + strings.Join(fields, "; ") + ")"
		}
		out.printf("  %s: %s %s %s%s: %s\n", it.Type, it.Action, it.Kind, it.Name, detail, it.State)
	}
}

// jsonValue renders a masked field value for a terminal.
func jsonValue(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
