package cli

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the olctl version, set at build time with -ldflags "-X github.com/olctl/olctl/cli.Version=…".
var Version = "0.1.0-dev"

// VersionOptions are the inputs of `olctl version`.
type VersionOptions struct {
	Context context.Context // the run's context, set when the command runs
	IO      IO
	Config  func() (*Config, error)
}

// NewCmdVersion builds `olctl version`. runF, when not nil, runs instead of the command's own run, with the
// options the flags and arguments set (tests check the parsing so); every NewCmd… takes it.
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO, Config: f.Config}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the olctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *VersionOptions) error {
	goVersion := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
	}
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if cfg.JSON() {
		return writeJSON(opts.IO.Out, map[string]string{"version": Version, "go": goVersion})
	}
	_, err = fmt.Fprintf(opts.IO.Out, "olctl %s (%s)\n", Version, goVersion)
	return err
}
