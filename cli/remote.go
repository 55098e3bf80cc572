package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
)

// remoteMethod describes one remote method command (docs/protocol.md §10).
type remoteMethod struct {
	Name  string // as in the protocol
	Alias string // kebab-case alias
	Short string
	// Arg names the one positional argument ("LINE"), "" when the method takes none.
	Arg string
	// Needs are the configuration keys the method cannot go without: the connector of a connector-bound
	// method, and the line of one that acts on a line.
	Needs []string
}

var (
	boundToLine      = []string{KeyConnector, KeyLine}
	boundToConnector = []string{KeyConnector}
)

var remoteMethods = []remoteMethod{
	{Name: openlines.MethodTestConnect, Alias: "test-connect", Short: "Check that the server accepts this portal's signed calls", Needs: boundToConnector},
	{Name: openlines.MethodRegister, Alias: "register", Short: "Register the connector of the line (after saveSettings and testConnect)", Needs: boundToLine},
	{Name: openlines.MethodUnregister, Alias: "unregister", Short: "Unregister the connector of the line", Needs: boundToLine},
	{Name: openlines.MethodDeleteConnector, Alias: "delete-connector", Short: "Delete the connector of the line and its settings", Needs: boundToLine},
	{Name: openlines.MethodReadSettings, Alias: "read-settings", Short: "Read the connector's settings of the line (secrets masked)", Needs: boundToLine},
	{Name: openlines.MethodInfoConnect, Alias: "info-connect", Short: "Show the connection state of the connector of the line", Needs: boundToLine},
	{Name: openlines.MethodInfoConnectLink, Alias: "info-connect-link", Short: "Show the connector's links (webhook URL, per-channel links)", Needs: boundToLine},
	{Name: openlines.MethodListConnector, Alias: "list-connector", Short: "List the connectors the server offers"},
	{Name: openlines.MethodInfoConnectorsLine, Alias: "info-connectors-line", Short: "Show every connector of a line", Arg: "LINE"},
	{Name: openlines.MethodDeleteLine, Alias: "delete-line", Short: "Delete every connector of a line", Arg: "LINE"},
}

// callResultJSON is the JSON document of every remote call command.
type callResultJSON struct {
	Method    string          `json:"method"`
	Connector string          `json:"connector"`
	Line      string          `json:"line"`
	OK        bool            `json:"ok"`
	Data      json.RawMessage `json:"data"`
	// LineStatus is the line's status the call wrote into the portal database (absent when it wrote none or
	// deleted it).
	LineStatus *openlines.LineStatus `json:"line_status,omitempty"`
}

// RemoteOptions are the inputs of a remote method command (saveSettings, call and each of remoteMethods).
type RemoteOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	Client  func(extra ...client.Option) (*client.Client, error)
	Clock   clock.Clock

	Method string
	Args   []any
	// Needs are the configuration keys the call cannot go without (see remoteMethod).
	Needs []string
	// DB is the portal database where a method that changes its line (saveSettings, register, unregister,
	// deleteConnector) writes the line's status; "" writes none.
	DB string
	// Yes deletes without asking (deleteConnector, deleteLine ask on a terminal otherwise).
	Yes bool
	// LineArg says that the first of Args is the line the method is about (infoConnectorsLine LINE).
	LineArg bool
}

// NewCmdRemote builds the command of remote method m: `olctl testConnect`, `olctl register`, ….
func NewCmdRemote(f *Factory, m remoteMethod, runF func(*RemoteOptions) error) *cobra.Command {
	opts := &RemoteOptions{IO: f.IO, Config: f.Config, Client: f.Client, Clock: f.Clock, Method: m.Name, Needs: m.Needs,
		LineArg: m.Arg == "LINE"}
	use, args := m.Name, cobra.NoArgs
	if m.Arg != "" {
		use += " " + m.Arg
		args = needArgs(1, 1, m.Arg)
	}
	cmd := &cobra.Command{
		Use:     use,
		Aliases: aliasesOf(m.Name, m.Alias),
		Short:   m.Short,
		Long:    remoteLong(m),
		Example: remoteExample(m),
		Args:    args,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context = cmd.Context()
			if changesLineStatus(m.Name) {
				envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			}
			if m.Arg != "" {
				opts.Args = []any{args[0]}
			}
			if runF != nil {
				return runF(opts)
			}
			return remoteRun(opts)
		},
	}
	if changesLineStatus(m.Name) {
		portalDBFlag(cmd, &opts.DB)
	}
	if isDelete(m.Name) {
		yesFlag(cmd, &opts.Yes)
	}
	return cmd
}

// isDelete reports whether method deletes on the server: it asks first on a terminal.
func isDelete(method string) bool {
	return strings.EqualFold(method, openlines.MethodDeleteConnector) || strings.EqualFold(method, openlines.MethodDeleteLine)
}

// yesFlag adds -y, --yes to a command that deletes.
func yesFlag(cmd *cobra.Command, dst *bool) {
	cmd.Flags().BoolVarP(dst, "yes", "y", false, "delete without asking (it asks when stdin is a terminal)")
}

// confirmDelete asks the person at the terminal whether to run the delete method (not when stdin is not a
// terminal, nor with --yes); a "no" is an error that sends nothing.
func confirmDelete(opts *RemoteOptions, cfg *Config) error {
	if !isDelete(opts.Method) || !opts.IO.InTTY || opts.Yes {
		return nil
	}
	what := fmt.Sprintf("Delete connector %s of line %s on %s (its settings and registration)?", cfg.Connector, cfg.Line, cfg.Server)
	if strings.EqualFold(opts.Method, openlines.MethodDeleteLine) {
		line := any(cfg.Line)
		if len(opts.Args) > 0 {
			line = opts.Args[0]
		}
		what = fmt.Sprintf("Delete every connector of line %v on %s?", line, cfg.Server)
	}
	ok, err := newPrompter(opts.Context, opts.IO).confirm(what, false)
	if err != nil {
		return err
	}
	if !ok {
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%s: cancelled, nothing deleted", opts.Method)}
	}
	return nil
}

func remoteLong(m remoteMethod) string {
	long := m.Short + " (remote method " + m.Name + ")."
	switch len(m.Needs) {
	case 1:
		long += "\n\nNeeds --connector (OLCTL_CONNECTOR)."
	case 2:
		long += "\n\nNeeds --connector and --line (OLCTL_CONNECTOR, OLCTL_LINE)."
	}
	if changesLineStatus(m.Name) {
		long += "\n\n" + lineStatusHelp(m.Name)
	}
	if isDelete(m.Name) {
		long += "\n\nIt asks first when stdin is a terminal, unless --yes."
	}
	return long
}

// lineStatusHelp says what a successful method writes into the portal database.
func lineStatusHelp(method string) string {
	what := map[string]string{
		openlines.MethodSaveSettings:    "sets the line's ACTIVE",
		openlines.MethodRegister:        "sets the line's ACTIVE, CONNECTION and REGISTER and clears its ERROR: 'olctl serve' lets its messages in",
		openlines.MethodUnregister:      "clears the line's REGISTER: 'olctl serve' refuses its messages with NOT_ACTIVE_LINE",
		openlines.MethodDeleteConnector: "deletes the line's status",
	}[method]
	return "Once the server accepts it, it " + what + " in the portal database (--db, the one 'olctl serve' reads;\n" +
		"a failed call writes nothing)."
}

func remoteExample(m remoteMethod) string {
	example := "  olctl " + m.Name
	if m.Arg != "" {
		example += " 3"
	}
	switch len(m.Needs) {
	case 1:
		example += " --connector botframework"
	case 2:
		example += " --connector botframework --line 3"
	}
	example += "\n  olctl " + m.Alias
	if m.Arg != "" {
		example += " 3"
	}
	return example + " --json"
}

func aliasesOf(name, alias string) []string {
	if alias == name {
		return nil
	}
	return []string{alias}
}

// remoteRun calls the method, writes the line's status when the method changes it, and prints the answer.
func remoteRun(opts *RemoteOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := cfg.Require(append(cfg.signedCallKeys(), opts.Needs...)...); err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := confirmDelete(opts, cfg); err != nil {
		return err
	}
	var store *statusStore
	if changesLineStatus(opts.Method) {
		if store, err = openStatusStore(opts.Context, opts.DB, opts.Clock); err != nil {
			return err
		}
		defer store.Close()
	}
	callCtx, cancel := cfg.callContext(opts.Context)
	defer cancel()
	res, err := c.Call(callCtx, opts.Method, opts.Args)
	if err != nil {
		return err
	}
	doc := callResultJSON{Method: opts.Method, Connector: cfg.Connector, Line: cfg.Line, OK: true, Data: rawOrNull(res.Raw)}
	if openlines.IsConnectorLess(opts.Method) {
		doc.Connector, doc.Line = openlines.ConnectorAll, "" // as sent (docs/protocol.md §3.1)
		if opts.LineArg {
			doc.Line = fmt.Sprint(opts.Args[0]) // the line the method is about
		}
	}
	if store != nil {
		if doc.LineStatus, err = store.recordMethod(opts.Context, opts.Method, cfg.Connector, cfg.Line); err != nil {
			return fmt.Errorf("%s succeeded, but the line status was not written to --db: %w", opts.Method, err)
		}
		if !cfg.JSON() {
			fmt.Fprintf(opts.IO.ErrOut, "line status of %s on line %s in %s: %s\n", openlines.RealConnector(cfg.Connector),
				cfg.Line, opts.DB, describeStatusPtr(doc.LineStatus))
		}
	}
	return printResult(opts.IO, cfg, doc, res.Raw)
}

// printResult prints a call's answer: doc under --json, else DATA as FIELD/VALUE rows ("METHOD: OK" when it
// has none).
func printResult(ios IO, cfg *Config, doc callResultJSON, raw json.RawMessage) error {
	if cfg.JSON() {
		return writeJSON(ios.Out, doc)
	}
	rows, err := flattenJSON(raw)
	if err != nil {
		return err
	}
	if len(rows) == 1 && rows[0][0] == "." && (rows[0][1] == "{}" || rows[0][1] == "[]") {
		rows = nil // an empty object or list says nothing more than OK
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(ios.Out, emptyAnswer(doc))
		return err
	}
	return writeTable(ios, &Table{Header: []string{"FIELD", "VALUE"}, Rows: rows})
}

// emptyAnswer says what an answer without DATA means: "METHOD: OK", and for a method about a line's
// connectors that the line has none.
func emptyAnswer(doc callResultJSON) string {
	switch {
	case strings.EqualFold(doc.Method, openlines.MethodInfoConnectorsLine):
		return fmt.Sprintf("%s: OK, line %s has no connectors", doc.Method, doc.Line)
	case strings.EqualFold(doc.Method, openlines.MethodListConnector):
		return fmt.Sprintf("%s: OK, the server offers no connectors", doc.Method)
	}
	return doc.Method + ": OK"
}
