package cli

import (
	"github.com/spf13/cobra"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// NewCmdCall builds `olctl call METHOD [ARG ...]`: any remote method, its arguments parsed as JSON when they
// parse. It writes no line status, whatever the method.
func NewCmdCall(f *Factory, runF func(*RemoteOptions) error) *cobra.Command {
	opts := &RemoteOptions{IO: f.IO, Config: f.Config, Client: f.Client, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "call METHOD [ARG ...]",
		Short: "Call any remote method",
		Long: `Call any remote method with positional arguments. Each ARG is taken as JSON when it parses (objects,
lists, numbers, true/false, null), else as a string. The method name is sent as it is: the client keeps no
list of methods, and the server answers METHOD_NOT_FOUND for one it does not know. A connector-bound method
needs --connector. call writes no line status: use the method's own command (olctl register, ...) for that.
deleteConnector and deleteLine ask first when stdin is a terminal, unless --yes.`,
		Example: `  olctl call testConnect
  olctl call saveSettings '{"bot_handle":"mybot","app_id":"1234"}' --connector botframework --line 3
  olctl call infoConnectorsLine 3 --json`,
		Args: needArgs(1, -1, "METHOD [ARG ...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Method = cmd.Context(), args[0]
			if !openlines.IsConnectorLess(opts.Method) {
				opts.Needs = boundToConnector // named as the configuration names it, not by the client's refusal
			}
			opts.Args = make([]any, 0, len(args)-1)
			for _, a := range args[1:] {
				opts.Args = append(opts.Args, parseArg(a))
			}
			if runF != nil {
				return runF(opts)
			}
			return remoteRun(opts)
		},
	}
	yesFlag(cmd, &opts.Yes)
	return cmd
}

// parseArg reads a call argument: JSON when it parses (objects keep their key order), else the string.
func parseArg(s string) any {
	v, err := wire.ParseJSON([]byte(s))
	if err != nil {
		return s
	}
	return v
}
