package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdConfig builds `olctl config`, the group of the configuration commands.
func NewCmdConfig(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect olctl's configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdConfigView(f, nil))
	return requireSubcommand(cmd)
}

// configValueJSON is one key of `config view --json`.
type configValueJSON struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source Source `json:"source"`
	Flag   string `json:"flag"`
	Env    string `json:"env"`
}

// configViewJSON is the document `config view --json` prints.
type configViewJSON struct {
	File   string            `json:"file"`
	Values []configValueJSON `json:"values"`
}

// ConfigViewOptions are the inputs of `olctl config view`.
type ConfigViewOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
}

// NewCmdConfigView builds `olctl config view`.
func NewCmdConfigView(f *Factory, runF func(*ConfigViewOptions) error) *cobra.Command {
	opts := &ConfigViewOptions{IO: f.IO, Config: f.Config}
	return &cobra.Command{
		Use:   "view",
		Short: "Show the effective configuration, secrets masked, and where each value came from",
		Example: `  olctl config view
  OLCTL_SERVER=https://connector.example.com olctl config view --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return configViewRun(opts)
		},
	}
}

func configViewRun(opts *ConfigViewOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	doc := configViewJSON{File: cfg.File, Values: []configValueJSON{}}
	tbl := &Table{Header: []string{"KEY", "VALUE", "SOURCE"}}
	for _, k := range configKeys {
		src := cfg.Sources[k.Key]
		var val any = cfg.value(k.Key)
		shown := cfg.value(k.Key)
		if k.Key == KeySecret {
			masked := make([]string, len(cfg.Secrets))
			for i, s := range cfg.Secrets {
				masked[i] = mask(s)
			}
			val = masked
			shown = strings.Join(masked, ",")
		} else if k.Secret {
			shown = mask(shown)
			val = shown
		}
		doc.Values = append(doc.Values, configValueJSON{Key: k.Key, Value: val, Source: src,
			Flag: "--" + k.Flag(), Env: k.Env()})
		tbl.Append(k.Key, shown, describeSource(src, k, cfg.File))
	}
	return newPrinter(opts.IO, cfg).print(doc, func() *Table { return tbl })
}

func describeSource(s Source, k configKey, file string) string {
	switch s {
	case SourceFlag:
		return "flag --" + k.Flag()
	case SourceEnv:
		return "env " + k.Env()
	case SourceFile:
		return "file " + file
	}
	return string(s)
}
