package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// requireSubcommand makes a command that only groups others fail with a usage error when run without a
// known subcommand (cobra would print help and exit 0).
func requireSubcommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return usageErrorf("%s needs a subcommand: %s", c.CommandPath(), subcommandNames(c))
	}
	return cmd
}

func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return strings.Join(names, ", ")
}
