package main

import "github.com/spf13/cobra"

func newDumpCmd(std streams) *cobra.Command {
	var opts commonOptions
	cmd := &cobra.Command{
		Use:   "dump",
		Short: "Write the gateway's owned objects as ADC-format YAML",
		Args:  cobra.NoArgs,
		RunE:  notYet("dump", "issue 5"),
	}
	addCommonFlags(cmd.Flags(), &opts)
	_ = std
	return cmd
}
