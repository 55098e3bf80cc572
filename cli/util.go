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

// needArgs accepts from min to max positional arguments (max < 0: any number from min), and otherwise fails
// with a usage error that names them (what, as in the command's use line: "LINE", "METHOD [ARG ...]") where
// cobra would count them only. An argument given as a flag of the same name (--line for LINE) is pointed
// at its place.
func needArgs(min, max int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			msg := fmt.Sprintf("%s needs %s", c.CommandPath(), what)
			if f := c.Flags().Lookup(strings.ToLower(what)); f != nil && f.Changed {
				msg += fmt.Sprintf(" (the %s is the argument here, not --%s: %s %s)", f.Name, f.Name, c.CommandPath(), f.Value)
			}
			return usageErrorf("%s", msg)
		case max >= 0 && len(args) > max:
			return usageErrorf("%s takes %s, not %d arguments (%s)", c.CommandPath(), what, len(args), strings.Join(args, " "))
		}
		return nil
	}
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
