package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/openlines"
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
		// The kebab-case aliases of the remote methods (test-connect, …) complete as the names do.
		ValidArgsFunction: completeAliases,
	}
	// --version is olctl's own flag (not cobra's, which prints text only): `olctl version`'s output, JSON
	// under --json.
	root.Flags().BoolP("version", "v", false, "print the olctl version, its commit and build date (JSON with --json)")
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if v, _ := cmd.Flags().GetBool("version"); v {
			return versionRun(&VersionOptions{Context: cmd.Context(), IO: f.IO, JSON: versionJSON(cmd, f)})
		}
		return cmd.Help()
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	addConfigFlags(root)
	_ = root.RegisterFlagCompletionFunc(lookupKey(KeyConnector).Flag(), completeConnectors(f))
	addRunFlags(root)
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
	addToGroup(root, groupOps, NewCmdCheck(f, nil), NewCmdSend(f, nil), NewCmdConnect(f, nil), NewCmdPortal(f), NewCmdEmoji(f, nil))
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

// completeAliases offers the aliases of cmd's subcommands that start with toComplete (cobra completes only
// their names), for the first argument.
func completeAliases(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, sub := range cmd.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		for _, a := range sub.Aliases {
			if strings.HasPrefix(a, toComplete) {
				out = append(out, cobra.CompletionWithDesc(a, sub.Short))
			}
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completionTimeout bounds the listConnector call of --connector's completion: a shell waits for it.
const completionTimeout = 3 * time.Second

// completeConnectors completes --connector with the connectors the configured server offers (listConnector);
// nothing when the configuration is incomplete or the server does not answer in time.
func completeConnectors(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, completionTimeout)
		defer cancel()
		res, err := c.Call(ctx, openlines.MethodListConnector, nil)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, id := range connectorIDs(res.Raw) {
			if strings.HasPrefix(id, toComplete) {
				out = append(out, id)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// connectorIDs reads the connector ids of a listConnector answer: the keys of an object, or a list of ids
// (strings, or objects with an "id"), sorted.
func connectorIDs(raw json.RawMessage) []string {
	var ids []string
	var obj map[string]json.RawMessage
	var list []json.RawMessage
	switch {
	case json.Unmarshal(raw, &obj) == nil:
		for k := range obj {
			ids = append(ids, k)
		}
	case json.Unmarshal(raw, &list) == nil:
		for _, item := range list {
			var s string
			var o struct {
				ID any `json:"id"`
			}
			if json.Unmarshal(item, &s) == nil {
				ids = append(ids, s)
			} else if json.Unmarshal(item, &o) == nil && o.ID != nil {
				ids = append(ids, fmt.Sprint(o.ID))
			}
		}
	}
	sort.Strings(ids)
	return ids
}
