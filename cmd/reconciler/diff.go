package main

import "github.com/spf13/cobra"

func newDiffCmd(std streams) *cobra.Command {
	var opts commonOptions
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show how the gateway differs from the desired state",
		Args:  cobra.NoArgs,
		RunE:  notYet("diff", "issue 5"),
	}
	addCommonFlags(cmd.Flags(), &opts)
	_ = std
	return cmd
}
