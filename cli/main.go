// Package cli holds olctl's commands. Commands take their streams and clients from a Factory, never from
// globals, so tests run them in-process and compare their output.
package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is the olctl version, set at build time with -ldflags "-X github.com/olctl/olctl/cli.Version=…".
var Version = "0.1.0-dev"

// IO is the set of streams a command reads and writes.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// System returns the process's own standard streams.
func System() IO { return IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Main runs olctl with args and returns the process exit code.
func Main(args []string, ios IO) int {
	root := NewRootCmd(ios)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(ios.ErrOut, "olctl:", err)
		return 2
	}
	return 0
}

// NewRootCmd builds the olctl command tree.
func NewRootCmd(ios IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "olctl",
		Short:         "The Open Lines portal SDK on the command line",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.AddCommand(newVersionCmd(ios))
	return root
}

func newVersionCmd(ios IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the olctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			_, err := fmt.Fprintf(ios.Out, "olctl %s (%s)\n", Version, goVersion)
			return err
		},
	}
}
