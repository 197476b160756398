package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gitops-gateway/reconciler/pkg/api7/emulator"
)

// The token given by --token or RECONCILER_TOKEN is a model.Secret from
// the moment it is parsed: the options print it redacted under every verb,
// and so does the flag (help, flag dumps).
func TestTokenFlagHoldsASecret(t *testing.T) {
	const canary = "flag-canary-9d3e71"
	envWith := func(vars map[string]string) lookupEnv {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	tests := []struct {
		name string
		args []string
		env  lookupEnv
	}{
		{"flag", []string{"--token", canary}, noEnv},
		{"flag with =", []string{"--token=" + canary}, noEnv},
		{"environment", nil, envWith(map[string]string{"RECONCILER_TOKEN": canary})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o daemonOptions
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			addDaemonFlags(cmd.Flags(), &o)
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := applyEnv(cmd, tt.env); err != nil {
				t.Fatal(err)
			}
			if got := o.common.gateway.Token.Reveal(); got != canary {
				t.Fatalf("token %q, want the canary", got)
			}
			var dump strings.Builder
			fmt.Fprintf(&dump, "%v %+v %#v %v %+v %#v\n", o, o, o, o.common.gateway, o.common.gateway, &o.common.gateway)
			fmt.Fprintf(&dump, "%v %+v %#v\n", o.common, o.common, &o.common)
			cmd.Flags().VisitAll(func(f *pflag.Flag) { fmt.Fprintf(&dump, "%s=%s (default %q)\n", f.Name, f.Value, f.DefValue) })
			dump.WriteString(cmd.Flags().FlagUsages())
			dump.WriteString(cmd.UsageString())
			if strings.Contains(dump.String(), canary) {
				t.Fatalf("the token shows:\n%s", dump.String())
			}
			if f := cmd.Flags().Lookup("token"); f.Value.String() != "[redacted]" || f.DefValue != "" {
				t.Errorf("--token prints %q with default %q", f.Value.String(), f.DefValue)
			}
		})
	}
}

// The emulator's --token and --viewer-token are secrets the same way.
func TestEmulatorTokenFlagsHoldSecrets(t *testing.T) {
	const admin, viewer = "emu-admin-canary-51c2", "emu-viewer-canary-a07b"
	var o emulatorOptions
	fs := pflag.NewFlagSet("emulator", pflag.ContinueOnError)
	addEmulatorFlags(fs, &o)
	if err := fs.Parse([]string{"--token", admin, "--viewer-token", viewer}); err != nil {
		t.Fatal(err)
	}
	opts, tokens, err := emulatorConfig(o)
	if err != nil || len(opts) == 0 || tokens[emulator.TokenNameAdmin] != admin || tokens[emulator.TokenNameViewer] != viewer {
		t.Fatalf("emulatorConfig: %v, tokens %d", err, len(tokens))
	}
	dump := fmt.Sprintf("%v %+v %#v", o, o, &o) + fs.FlagUsages()
	for _, s := range []string{admin, viewer} {
		if strings.Contains(dump, s) {
			t.Fatalf("a token shows:\n%s", dump)
		}
	}
}

// Through the whole command line: the token works (the gateway accepts it)
// and never shows in help, errors or logs, at debug level included.
func TestTokenNeverPrinted(t *testing.T) {
	gw := startGateway(t) // its admin token is daemonToken, a canary
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "routes.yaml"), []byte(shopRoutes(1, "x")), 0o644); err != nil {
		t.Fatal(err)
	}
	tokenFile := tempFile(t, "token", "another-token")
	env := func(k string) (string, bool) {
		if k == "RECONCILER_TOKEN" {
			return daemonToken, true
		}
		return "", false
	}
	common := []string{"--source", dir, "--server", gw.srv.URL, "--log-level", "debug"}
	tests := []struct {
		name string
		args []string
		env  lookupEnv
		code int
	}{
		{"run with --token", append([]string{"run", "--once", "--listen", "127.0.0.1:0", "--token", daemonToken}, common...), noEnv, 0},
		{"run with RECONCILER_TOKEN", append([]string{"run", "--once", "--listen", "127.0.0.1:0"}, common...), env, 0},
		{"sync with --token", append([]string{"sync", "--token", daemonToken}, common...), noEnv, 0},
		{"diff with RECONCILER_TOKEN", append([]string{"diff"}, common...), env, 0},
		{"token refused", []string{"diff", "--source", dir, "--server", gw.srv.URL, "--token", daemonToken + "-wrong", "--log-level", "debug"}, noEnv, 1},
		{"both token and file", append([]string{"run", "--once", "--token", daemonToken, "--token-file", tokenFile}, common...), noEnv, 1},
		{"another flag invalid", append([]string{"run", "--once", "--token", daemonToken, "--timeout", "soon"}, common...), noEnv, 1},
		{"unknown flag", []string{"diff", "--token=" + daemonToken, "--no-such-flag=" + daemonToken}, noEnv, 1},
		{"help", []string{"run", "--token", daemonToken, "--help"}, env, 0},
		{"emulator help", []string{"emulator", "--token", daemonToken, "--help"}, env, 0},
		{"emulator both", []string{"emulator", "--token", daemonToken, "--token-file", tokenFile, "--listen", "127.0.0.1:0"}, noEnv, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, streams{in: strings.NewReader(""), out: &out, err: &errb}, tt.env)
			all := out.String() + errb.String()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, all)
			}
			if all == "" {
				t.Fatal("no output at all: nothing was checked")
			}
			if strings.Contains(all, daemonToken) {
				t.Fatalf("the token shows:\n%s", all)
			}
		})
	}
}
