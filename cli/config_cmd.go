package cli

import (
	"context"
	"fmt"
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
	// File is the config file read, "" when none was.
	File string `json:"file"`
	// Searched is where the config file was looked for (--config, OLCTL_CONFIG, else the default path); ""
	// when there is nowhere to look (no HOME).
	Searched string `json:"searched"`
	// UnknownKeys are the keys of the file that are not configuration keys.
	UnknownKeys []string          `json:"unknown_keys"`
	Values      []configValueJSON `json:"values"`
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
		Long: `Show the effective value of every configuration key, secrets masked, and where each came from (flag,
env, file, default). It names the config file it read, or the path where it looked for one; the keys of the
file that olctl does not know are warned about on stderr (and listed under --json).`,
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
	doc := configViewJSON{File: cfg.File, Searched: cfg.FileWanted, UnknownKeys: append([]string{}, cfg.UnknownKeys...),
		Values: []configValueJSON{}}
	if !cfg.JSON() {
		fmt.Fprintln(opts.IO.ErrOut, describeConfigFile(cfg))
	}
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

// describeConfigFile says which config file was read, or where one was looked for.
func describeConfigFile(cfg *Config) string {
	switch {
	case cfg.File != "":
		return "config file: " + cfg.File
	case cfg.FileWanted != "":
		return "config file: none at " + cfg.FileWanted + " (values come from flags, the environment and defaults)"
	}
	return "config file: none (no HOME or XDG_CONFIG_HOME to look in; give --config or OLCTL_CONFIG)"
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
