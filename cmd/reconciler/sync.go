package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/gitops-gateway/reconciler/pkg/apply"
	"github.com/gitops-gateway/reconciler/pkg/diff"
)

func newSyncCmd(std streams, env lookupEnv) *cobra.Command {
	var opts oneShotOptions
	var dryRun bool
	var guardOverride string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Apply the desired state to the gateway",
		Long: `Load the desired state from --source, diff it with the objects the gateway
holds with our managed-by label, and apply the changes: writes first, each as
soon as what it depends on exists, then — only if every write succeeded — the
deletes, dependents first.

Guards checked before the first write: --no-prune holds every delete back;
more deletes than --max-deletes or --max-delete-percent of the owned objects,
or an empty desired state without --allow-empty, deletes nothing; a desired
ID held by an object without our label is refused (OwnershipConflict).
--deletion-guard-override COMMIT lifts --max-deletes and --max-delete-percent
(never --allow-empty) for that one commit of a Git source, as the daemon's
setting of the same name: at any other commit (a later push) the override does
not apply.

--dry-run prints the changes and the plan and sends no write.

Exit status: 0 when everything was applied, 1 when anything failed or a
guard refused (each failure is listed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.guardOverride = guardOverride
			// resolveScope takes a --config target's override when the
			// flag is not given (ParseConfig has checked its form).
			if err := resolveScope(cmd.Flags(), &opts); err != nil {
				return err
			}
			if err := errors.Join(checkGatewayFlags(opts.common.gateway), checkSyncFlags(opts.common.sync)); err != nil {
				return err
			}
			if opts.guardOverride != "" && !commitHash.MatchString(opts.guardOverride) {
				return fmt.Errorf("--deletion-guard-override %q: want the full hash of the commit (40 or 64 hex digits)", opts.guardOverride)
			}
			opts.guardOverride = strings.ToLower(opts.guardOverride)
			return runSync(cmd.Context(), opts, dryRun, std, env)
		},
	}
	addSyncOnlyFlags(cmd.Flags(), &opts)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes and the plan; send no write")
	cmd.Flags().StringVar(&guardOverride, "deletion-guard-override", "",
		"the full hash of the one commit of a Git source whose deletes may exceed --max-deletes and --max-delete-percent (never --allow-empty); at any other commit the guards apply")
	return cmd
}

func policyOf(o oneShotOptions) apply.Policy {
	y := o.common.sync
	return apply.Policy{
		Prune:            y.Prune,
		MaxDeletes:       y.MaxDeletes,
		MaxDeletePercent: y.MaxDeletePercent,
		AllowEmpty:       y.AllowEmpty,
		Adopt:            o.adopt,
	}
}

func runSync(ctx context.Context, opts oneShotOptions, dryRun bool, std streams, env lookupEnv) error {
	log, err := newLogger(opts.common.log, std.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr may not support Sync; nothing to do about it
	c, err := newClient(opts.common, log, adoptAll(opts))
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }() // releases the token watcher; nothing to report

	st, err := compute(ctx, opts, env, c)
	if err != nil {
		return err
	}
	warnPlaintext(std.err, st.desired)
	policy := policyOf(opts)
	if opts.guardOverride != "" {
		commit := commitOf(st.desired.Revision)
		switch {
		case commit == "":
			return fmt.Errorf("--deletion-guard-override applies to Git sources: %s has no commit to bind the override to", st.desired.Description)
		case commit == opts.guardOverride:
			fmt.Fprintf(std.err, "max-deletes and max-delete-percent are lifted for commit %s (--deletion-guard-override)\n", commit)
			policy.MaxDeletes, policy.MaxDeletePercent = -1, 100
		default:
			fmt.Fprintf(std.err, "warning: --deletion-guard-override %s names another commit than the source's %s: not this one, and the delete guards apply\n",
				opts.guardOverride, commit)
		}
	}
	plan := apply.NewPlan(apply.Input{
		Changes:         st.changes,
		Desired:         len(st.desired.Resources),
		Live:            st.live,
		ListingComplete: true, // List returns a complete inventory or an error
	}, policy)

	if dryRun {
		out := diff.Text(st.changes, diff.TextOptions{Color: isTerminal(std.out, env)})
		out = append(out, '\n')
		out = append(out, plan.Text()...)
		if _, err := std.out.Write(out); err != nil {
			return fmt.Errorf("write the plan: %w", err)
		}
		if failing := failingRefusals(plan.Refusals); failing != nil {
			return &exitError{code: 1, err: fmt.Errorf("dry run: the sync would be refused: %w", failing)}
		}
		return nil
	}

	log = log.With(zap.String("revision", st.desired.Revision))
	ex := &apply.Executor{
		Gateway:     validatingClient{c},
		Concurrency: opts.common.gateway.Concurrency,
		Observer: apply.Observer{
			Refusal: func(r *apply.RefusalError) {
				log.Debug("guard refused", zap.String("reason", string(r.Reason)), zap.String("detail", r.Detail))
			},
			Outcome: func(o apply.Outcome) { logOutcome(log, o) },
		},
	}
	res, err := ex.Execute(ctx, plan)
	report(std, st, res)
	if err != nil {
		if errors.Is(err, apply.ErrPreflight) {
			return err
		}
		return &exitError{code: 1, err: fmt.Errorf("sync of %s did not complete: %d failed, %d skipped",
			st.desired.Description, res.Counts.Failed, res.Counts.Skipped)}
	}
	return nil
}

// commitHash is what --deletion-guard-override takes: a full SHA-1 or
// SHA-256 commit hash.
var commitHash = regexp.MustCompile(`^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)

// commitOf returns the commit hash of a Git revision (main@sha1:<hash>),
// or "" for a directory.
func commitOf(revision string) string {
	_, hash, ok := strings.Cut(revision, "@sha1:")
	if !ok {
		_, hash, ok = strings.Cut(revision, "@sha256:")
	}
	if !ok {
		return ""
	}
	return hash
}

func failingRefusals(rs []*apply.RefusalError) error {
	var errs []error
	for _, r := range rs {
		if r.Failure() {
			errs = append(errs, r)
		}
	}
	return errors.Join(errs...)
}

func logOutcome(log *zap.Logger, o apply.Outcome) {
	fields := []zap.Field{
		zap.String("kind", string(o.Key.Kind)), zap.Stringer("key", o.Key), zap.String("action", string(o.Action)),
		zap.Int("attempt", o.Attempts), zap.Duration("duration", o.Duration),
	}
	// The report lists failures and skips for people; the log has every
	// outcome, at debug level, for machines.
	if o.Err != nil {
		fields = append(fields, zap.Error(o.Err))
	}
	log.Debug(string(o.Status), fields...)
}

// report prints the summary to stdout and every failure, skip and refusal
// to stderr.
func report(std streams, st state, res apply.Result) {
	fmt.Fprintf(std.out, "sync %s: %d applied, %d failed, %d skipped in %s (%d gateway calls)\n",
		st.desired.Description, res.Counts.Applied, res.Counts.Failed, res.Counts.Skipped,
		res.Duration.Round(time.Millisecond), res.Calls)
	for _, r := range res.Refusals {
		fmt.Fprintf(std.err, "refused: %s\n", r)
	}
	writeOutcomes(std.err, res, apply.StatusFailed)
	writeOutcomes(std.err, res, apply.StatusSkipped)
}

func writeOutcomes(w io.Writer, res apply.Result, st apply.Status) {
	for _, o := range res.Outcomes {
		if o.Status != st {
			continue
		}
		where := ""
		if o.Change.Origin.File != "" {
			where = " at " + o.Change.Origin.String()
		}
		fmt.Fprintf(w, "%s: %s %s %q%s: %v\n", st, o.Action, o.Key, o.Name, where, o.Err)
	}
}
