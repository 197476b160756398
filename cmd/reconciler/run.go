package main

import "github.com/spf13/cobra"

func newRunCmd(std streams) *cobra.Command {
	var opts commonOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the reconciliation daemon",
		Args:  cobra.NoArgs,
		RunE:  notYet("run", "issue 7"),
	}
	addCommonFlags(cmd.Flags(), &opts)
	_ = std
	return cmd
}
