package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// notYet is the RunE of a verb whose issue has not landed.
func notYet(verb, issue string) func(*cobra.Command, []string) error {
	return func(*cobra.Command, []string) error {
		return fmt.Errorf("%s: %w (tracked in %s)", verb, errNotImplemented, issue)
	}
}
