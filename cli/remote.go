package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// remoteMethod describes one remote method command (PROTOCOL.md §6).
type remoteMethod struct {
	Name  string // as in the protocol
	Alias string // kebab-case alias
	Short string
	// Arg names the one positional argument ("LINE"), "" when the method takes none.
	Arg string
	// Bound methods act on one connector of one line: they need --connector and --line.
	Bound bool
}

var remoteMethods = []remoteMethod{
	{Name: "testConnect", Alias: "test-connect", Short: "Check that the server accepts this portal's signed calls"},
	{Name: "register", Alias: "register", Short: "Register the connector of the line (after saveSettings and testConnect)", Bound: true},
	{Name: "unregister", Alias: "unregister", Short: "Unregister the connector of the line", Bound: true},
	{Name: "deleteConnector", Alias: "delete-connector", Short: "Delete the connector of the line and its settings", Bound: true},
	{Name: "readSettings", Alias: "read-settings", Short: "Read the connector's settings of the line (secrets masked)", Bound: true},
	{Name: "infoConnect", Alias: "info-connect", Short: "Show the connection state of the connector of the line", Bound: true},
	{Name: "infoConnectLink", Alias: "info-connect-link", Short: "Show the connector's links (webhook URL, per-channel links)", Bound: true},
	{Name: "listConnector", Alias: "list-connector", Short: "List the connectors the server offers"},
	{Name: "infoConnectorsLine", Alias: "info-connectors-line", Short: "Show every connector of a line", Arg: "LINE"},
	{Name: "deleteLine", Alias: "delete-line", Short: "Delete every connector of a line", Arg: "LINE"},
}

// callResultJSON is the JSON document of every remote call command.
type callResultJSON struct {
	Method    string          `json:"method"`
	Connector string          `json:"connector"`
	Line      string          `json:"line"`
	OK        bool            `json:"ok"`
	Data      json.RawMessage `json:"data"`
}

// remoteCall runs method with args and prints its answer.
func (f *Factory) remoteCall(cmd *cobra.Command, method string, args []any, bound bool, opts ...client.CallOption) error {
	c, cfg, err := f.newClient()
	if err != nil {
		return err
	}
	if bound {
		if err := cfg.Require(KeyConnector, KeyLine); err != nil {
			return err
		}
	}
	res, err := c.Call(cmd.Context(), method, args, opts...)
	if err != nil {
		return err
	}
	return f.printResult(cfg, method, res)
}

func (f *Factory) printResult(cfg *Config, method string, res *client.Result) error {
	connector, line := cfg.Connector, cfg.Line
	if openlines.IsConnectorLess(method) {
		connector, line = openlines.ConnectorAll, "" // what the client sends for them
	}
	doc := callResultJSON{Method: method, Connector: connector, Line: line, OK: true, Data: rawOrNull(res.Raw)}
	if cfg.JSON() {
		return writeJSON(f.IO.Out, doc)
	}
	rows, err := flattenJSON(res.Raw)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(f.IO.Out, "%s: OK\n", method)
		return err
	}
	return writeTable(f.IO.Out, &Table{Header: []string{"FIELD", "VALUE"}, Rows: rows}, f.IO.OutTTY)
}

func newRemoteMethodCmd(f *Factory, m remoteMethod) *cobra.Command {
	use := m.Name
	args := cobra.NoArgs
	if m.Arg != "" {
		use += " " + m.Arg
		args = cobra.ExactArgs(1)
	}
	long := m.Short + " (remote method " + m.Name + ")."
	if m.Bound {
		long += "\n\nNeeds --connector and --line (OLCTL_CONNECTOR, OLCTL_LINE)."
	}
	example := "  olctl " + m.Name
	if m.Arg != "" {
		example += " 3"
	}
	if m.Bound {
		example += " --connector botframework --line 3"
	}
	example += "\n  olctl " + m.Alias
	if m.Arg != "" {
		example += " 3"
	}
	example += " --json"
	cmd := &cobra.Command{
		Use:     use,
		Aliases: aliasesOf(m.Name, m.Alias),
		Short:   m.Short,
		Long:    long,
		Example: example,
		Args:    args,
		RunE: func(cmd *cobra.Command, args []string) error {
			var callArgs []any
			if m.Arg != "" {
				callArgs = []any{args[0]}
			}
			return f.remoteCall(cmd, m.Name, callArgs, m.Bound)
		},
	}
	return cmd
}

func aliasesOf(name, alias string) []string {
	if alias == name {
		return nil
	}
	return []string{alias}
}

func newSaveSettingsCmd(f *Factory) *cobra.Command {
	var fromFile string
	cmd := &cobra.Command{
		Use:     "saveSettings [key=value ...]",
		Aliases: []string{"save-settings"},
		Short:   "Save the connector's settings of the line",
		Long: `Save the connector's settings of the line (remote method saveSettings).

Settings come from --from-file (a YAML or JSON object; its key order is kept) and then from key=value
arguments, which override the file. Needs --connector and --line (OLCTL_CONNECTOR, OLCTL_LINE).`,
		Example: `  olctl saveSettings --connector botframework --line 3 bot_handle=mybot app_id=1234 app_secret=s3cr3t
  olctl save-settings --from-file settings.yaml app_secret="$APP_SECRET"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			settings := wire.NewMap()
			if fromFile != "" {
				m, err := readSettingsFile(fromFile)
				if err != nil {
					return err
				}
				settings = m
			}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return usageErrorf("argument %q: want key=value", a)
				}
				settings.Set(strings.TrimSpace(k), v)
			}
			if settings.Len() == 0 {
				return usageErrorf("no settings: give key=value arguments or --from-file")
			}
			return f.remoteCall(cmd, "saveSettings", []any{settings}, true)
		},
	}
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read settings from a YAML or JSON file")
	return cmd
}

// readSettingsFile reads a YAML (or JSON) object of settings, keeping its key order.
func readSettingsFile(path string) (*wire.Map, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--from-file: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--from-file %s: %w", path, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, usageErrorf("--from-file %s: want an object of settings (key: value)", path)
	}
	v, err := yamlValue(doc.Content[0])
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--from-file %s: %w", path, err)}
	}
	return v.(*wire.Map), nil
}

// yamlValue converts a YAML node into a value wire serializes, keeping mapping order.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := wire.NewMap()
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m.Set(n.Content[i].Value, v)
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	}
	return nil, fmt.Errorf("line %d: unsupported YAML value", n.Line)
}

func newCallCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "call METHOD [ARG ...]",
		Short: "Call any remote method",
		Long: `Call any remote method with positional arguments. Each ARG is taken as JSON when it parses (objects,
lists, numbers, true/false, null), else as a string. The method name is sent as it is: the client keeps no
list of methods, and the server answers METHOD_NOT_FOUND for one it does not know.`,
		Example: `  olctl call testConnect
  olctl call saveSettings '{"bot_handle":"mybot","app_id":"1234"}' --connector botframework --line 3
  olctl call infoConnectorsLine 3 --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			callArgs := make([]any, 0, len(args)-1)
			for _, a := range args[1:] {
				callArgs = append(callArgs, parseArg(a))
			}
			return f.remoteCall(cmd, args[0], callArgs, false)
		},
	}
	return cmd
}

// parseArg reads a call argument: JSON when it parses (objects keep their key order), else the string.
func parseArg(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := jsonValue(dec)
	if err != nil || dec.More() {
		return s
	}
	if _, err := dec.Token(); err == nil { // trailing garbage
		return s
	}
	return v
}

// jsonValue decodes one JSON value, objects as ordered wire.Maps and numbers as int64 or float64.
func jsonValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := wire.NewMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				m.Set(kt.(string), v)
			}
			_, err := dec.Token()
			return m, err
		case '[':
			out := []any{}
			for dec.More() {
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		return t.Float64()
	default:
		return t, nil // string, bool, nil
	}
}
