// Command reconciler keeps API7 Enterprise and Apache APISIX gateways in step
// with declarative configuration in Git.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}, os.LookupEnv)
	stop()
	os.Exit(code)
}

// streams are the process's standard streams, passed down so that tests can
// capture them.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

// lookupEnv is os.LookupEnv; only main reads the environment.
type lookupEnv func(string) (string, bool)

// exitError carries a process exit code other than 1 (for example 2 for
// "drift found" from diff). Its message, when not empty, is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, std streams, env lookupEnv) int {
	root := newRootCmd(std, env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(std.err, "reconciler:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(std.err, "reconciler:", err)
	return 1
}

func newRootCmd(std streams, env lookupEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "reconciler",
		Short: "GitOps reconciliation for API7 Enterprise and Apache APISIX gateways",
		Long: `reconciler keeps API7 Enterprise and Apache APISIX gateways in step with
declarative configuration in ADC's format kept in Git: it diffs, applies and
reports drift as Prometheus metrics.

Every flag can also be set as an environment variable RECONCILER_<FLAG> in
upper snake case (--max-deletes is RECONCILER_MAX_DELETES); a flag on the
command line wins.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd, env)
		},
	}
	root.SetIn(std.in)
	root.SetOut(std.out)
	root.SetErr(std.err)
	root.AddCommand(
		newRunCmd(std, env),
		newDiffCmd(std, env),
		newSyncCmd(std, env),
		newDumpCmd(std),
		newValidateCmd(std, env),
		newEmulatorCmd(std),
		newQuickstartCmd(std, env),
		newVersionCmd(std),
	)
	return root
}
