package main

import "github.com/spf13/cobra"

func newSyncCmd(std streams) *cobra.Command {
	var opts commonOptions
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Apply the desired state to the gateway",
		Args:  cobra.NoArgs,
		RunE:  notYet("sync", "issue 5"),
	}
	addCommonFlags(cmd.Flags(), &opts)
	_ = std
	return cmd
}
