package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// foldCommandNames returns args with each command name that matches a command only when case is ignored
// (olctl testconnect, olctl CONNECTOR queue ls) replaced by that command's name, so that the remote methods,
// whose names are camelCase, are accepted in any case. It walks the arguments as cobra does, stepping over
// flags and their values, and stops at the first argument that names no subcommand, or at "--".
func foldCommandNames(root *cobra.Command, args []string) []string {
	out := append([]string(nil), args...)
	cmd := root
	for i := 0; i < len(out); i++ {
		a := out[i]
		switch {
		case a == "--":
			return out
		case strings.HasPrefix(a, "-"):
			if takesValue(cmd, a) {
				i++ // the flag's value
			}
			continue
		}
		if !cmd.HasSubCommands() {
			return out
		}
		sub := findFolded(cmd, a)
		if sub == nil {
			return out
		}
		out[i] = sub.Name()
		cmd = sub
	}
	return out
}

// findFolded returns cmd's subcommand named or aliased a, exactly or else ignoring case when only one
// matches so; nil when none does.
func findFolded(cmd *cobra.Command, a string) *cobra.Command {
	var folded []*cobra.Command
	for _, sub := range cmd.Commands() {
		if sub.Name() == a || sub.HasAlias(a) {
			return sub
		}
		if strings.EqualFold(sub.Name(), a) || hasAliasFold(sub, a) {
			folded = append(folded, sub)
		}
	}
	if len(folded) == 1 {
		return folded[0]
	}
	return nil
}

func hasAliasFold(cmd *cobra.Command, a string) bool {
	for _, al := range cmd.Aliases {
		if strings.EqualFold(al, a) {
			return true
		}
	}
	return false
}

// takesValue reports whether the flag argument a ("--name", "-x"; not "--name=v") of cmd takes the next
// argument as its value.
func takesValue(cmd *cobra.Command, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	var f *pflag.Flag
	if name, ok := strings.CutPrefix(a, "--"); ok {
		f = lookupFlag(cmd, func(fs *pflag.FlagSet) *pflag.Flag { return fs.Lookup(name) })
	} else if short := strings.TrimPrefix(a, "-"); len(short) == 1 {
		f = lookupFlag(cmd, func(fs *pflag.FlagSet) *pflag.Flag { return fs.ShorthandLookup(short) })
	}
	return f != nil && f.NoOptDefVal == ""
}

// lookupFlag finds a flag among cmd's own flags and those it inherits.
func lookupFlag(cmd *cobra.Command, find func(*pflag.FlagSet) *pflag.Flag) *pflag.Flag {
	for c := cmd; c != nil; c = c.Parent() {
		if f := find(c.PersistentFlags()); f != nil {
			return f
		}
		if c == cmd {
			if f := find(c.Flags()); f != nil {
				return f
			}
		}
	}
	return nil
}
