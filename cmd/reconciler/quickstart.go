package main

import "github.com/spf13/cobra"

func newQuickstartCmd(std streams) *cobra.Command {
	_ = std
	return &cobra.Command{
		Use:   "quickstart",
		Short: "Run a demo",
		Args:  cobra.NoArgs,
		RunE:  notYet("quickstart", " emulator, a local Git repository and the daemon:issue 7"),
	}
}
