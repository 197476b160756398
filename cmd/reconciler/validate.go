package main

import "github.com/spf13/cobra"

func newValidateCmd(std streams, env lookupEnv) *cobra.Command {
	_, _ = std, env
	return &cobra.Command{
		Use:   "validate PATH...",
		Short: "Load and validate ADC-format files offline",
		Args:  cobra.MinimumNArgs(1),
		RunE:  notYet("validate", "issue 2"),
	}
}
