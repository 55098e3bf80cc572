package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// SaveSettingsOptions are the inputs of `olctl saveSettings`.
type SaveSettingsOptions struct {
	RemoteOptions
	// FromFile is a YAML or JSON object of settings, read first.
	FromFile string
	// Pairs are the key=value arguments, which override the file.
	Pairs []string
}

// NewCmdSaveSettings builds `olctl saveSettings [key=value ...]`.
func NewCmdSaveSettings(f *Factory, runF func(*SaveSettingsOptions) error) *cobra.Command {
	opts := &SaveSettingsOptions{RemoteOptions: RemoteOptions{IO: f.IO, Config: f.Config, Client: f.Client, Clock: f.Clock,
		Method: openlines.MethodSaveSettings, Needs: boundToLine}}
	cmd := &cobra.Command{
		Use:     "saveSettings [key=value ...]",
		Aliases: []string{"save-settings"},
		Short:   "Save the connector's settings of the line",
		Long: `Save the connector's settings of the line (remote method saveSettings).

Settings come from --from-file (a YAML or JSON object; its key order is kept) and then from key=value
arguments, which override the file. Needs --connector and --line (OLCTL_CONNECTOR, OLCTL_LINE).

` + lineStatusHelp(openlines.MethodSaveSettings),
		Example: `  olctl saveSettings --connector botframework --line 3 bot_handle=mybot app_id=1234 app_secret=s3cr3t
  olctl save-settings --from-file settings.yaml app_secret="$APP_SECRET"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Pairs = cmd.Context(), args
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			if runF != nil {
				return runF(opts)
			}
			return saveSettingsRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.FromFile, "from-file", "", "read settings from a YAML or JSON file")
	portalDBFlag(cmd, &opts.DB)
	return cmd
}

func saveSettingsRun(opts *SaveSettingsOptions) error {
	settings := wire.NewMap()
	if opts.FromFile != "" {
		m, err := readSettingsFile(opts.FromFile)
		if err != nil {
			return err
		}
		settings = m
	}
	for _, a := range opts.Pairs {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usageErrorf("argument %q: want key=value", a)
		}
		settings.Set(strings.TrimSpace(k), v)
	}
	if settings.Len() == 0 {
		return usageErrorf("no settings: give key=value arguments or --from-file")
	}
	remote := opts.RemoteOptions
	remote.Args = []any{settings}
	return remoteRun(&remote)
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
