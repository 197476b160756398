package main

import "github.com/spf13/cobra"

func newEmulatorCmd(std streams) *cobra.Command {
	_ = std
	return &cobra.Command{
		Use:   "emulator",
		Short: "Serve an in-process Admin API emulator",
		Args:  cobra.NoArgs,
		RunE:  notYet("emulator", "issue 3"),
	}
}
