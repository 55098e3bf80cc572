package cli

import (
	"github.com/spf13/cobra"
)

// Groups of the root command's help.
const (
	groupRemote = "remote"
	groupOps    = "ops"
	groupRun    = "run"
)

// NewCmdRoot builds the olctl command tree for one run of f, filling in f's nil fields first.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "olctl",
		Short: "The Open Lines portal SDK on the command line",
		Long: `olctl calls the Open Lines connector server as a portal would, checks connectivity, and runs a
portal receiver, the connector server and a fake Bot Framework service for tests and demos.

Configuration, strongest first: flags (--server, --licence-key, ...), environment variables (OLCTL_SERVER,
OLCTL_LICENCE_KEY, ...), the config file (--config, else $XDG_CONFIG_HOME/olctl/config.yaml), defaults.
'olctl config view' shows the effective values and where each came from.

Output: tables on a terminal, tab-separated text when piped, one JSON document with --json (--output json).
Errors go to stderr.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	addConfigFlags(root)
	f.complete(root.PersistentFlags())
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)

	root.AddGroup(
		&cobra.Group{ID: groupRemote, Title: "Remote methods (docs/protocol.md §10):"},
		&cobra.Group{ID: groupOps, Title: "Operations:"},
		&cobra.Group{ID: groupRun, Title: "Servers and demos:"},
	)
	remote := []*cobra.Command{NewCmdSaveSettings(f, nil), NewCmdCall(f, nil)}
	for _, m := range remoteMethods {
		remote = append(remote, NewCmdRemote(f, m, nil))
	}
	addToGroup(root, groupRemote, remote...)
	addToGroup(root, groupOps, NewCmdCheck(f, nil), NewCmdSend(f, nil), NewCmdConnect(f, nil), NewCmdEmoji(f, nil))
	addToGroup(root, groupRun, NewCmdServe(f, nil), NewCmdConnector(f), NewCmdBF(f), NewCmdDemo(f, nil))
	root.AddCommand(NewCmdVersion(f, nil), NewCmdConfig(f), NewCmdCompletion(f, nil))
	return root
}

func addToGroup(root *cobra.Command, group string, cmds ...*cobra.Command) {
	for _, c := range cmds {
		c.GroupID = group
		root.AddCommand(c)
	}
}
