package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitops-gateway/reconciler/pkg/diff"
)

func newDiffCmd(std streams, env lookupEnv) *cobra.Command {
	var opts oneShotOptions
	var output string
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show how the gateway differs from the desired state",
		Long: `Load the desired state from --source, read the objects the gateway holds
with our managed-by label, and print the changes a sync would make, field by
field. Secrets are masked.

Output (-o): text (coloured on a terminal), json (a stable schema with a
summary of counts) or markdown (for a pull-request comment).

Exit status: 0 in sync, 2 when there are changes, 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveScope(cmd.Flags(), &opts); err != nil {
				return err
			}
			if err := errors.Join(checkGatewayFlags(opts.common.gateway), checkManagedBy(opts.common.sync.ManagedBy)); err != nil {
				return err
			}
			return runDiff(cmd.Context(), opts, output, std, env)
		},
	}
	addDiffFlags(cmd.Flags(), &opts)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or markdown")
	return cmd
}

func runDiff(ctx context.Context, opts oneShotOptions, output string, std streams, env lookupEnv) error {
	render, err := renderer(output, isTerminal(std.out, env))
	if err != nil {
		return err
	}
	log, err := newLogger(opts.common.log, std.err)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }() // stderr may not support Sync; nothing to do about it
	c, err := newClient(opts.common, log, adoptAll(opts))
	if err != nil {
		return err
	}
	defer c.Close()

	st, err := compute(ctx, opts, env, c)
	if err != nil {
		return err
	}
	warnPlaintext(std.err, st.desired)
	out, err := render(st.changes)
	if err != nil {
		return err
	}
	if _, err := std.out.Write(out); err != nil {
		return fmt.Errorf("write the diff: %w", err)
	}
	if w := conflictWarning(st.conflicts, opts.adopt); w != "" {
		fmt.Fprintln(std.err, w)
	}
	if !st.changes.Empty() {
		return &exitError{code: 2}
	}
	return nil
}

// isFormatName reports whether s is one of diff's -o formats.
func isFormatName(s string) bool {
	_, err := renderer(s, false)
	return err == nil
}

// renderer returns the renderer for -o.
func renderer(output string, color bool) (func(diff.ChangeSet) ([]byte, error), error) {
	switch output {
	case "text":
		return func(cs diff.ChangeSet) ([]byte, error) { return diff.Text(cs, diff.TextOptions{Color: color}), nil }, nil
	case "json":
		return diff.JSON, nil
	case "markdown", "md":
		return func(cs diff.ChangeSet) ([]byte, error) { return diff.Markdown(cs), nil }, nil
	}
	return nil, fmt.Errorf("-o %q: want text, json or markdown", output)
}
