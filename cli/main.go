// Package cli holds olctl's commands. Commands take their streams, configuration and clients from a Factory,
// never from globals, so tests run them in-process and compare their output.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/olctl/olctl/clock"
)

// Version is the olctl version, set at build time with -ldflags "-X github.com/olctl/olctl/cli.Version=…".
var Version = "0.1.0-dev"

// IO is the set of streams a command reads and writes, and whether each is a terminal. The zero TTY flags
// (tests, pipes) give plain output, no progress bars and no prompts.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	InTTY  bool
	OutTTY bool
	ErrTTY bool
}

// System returns the process's own standard streams, with their terminal flags detected.
func System() IO {
	return IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Factory hands commands what they need. Set its fields before the run; the root command fills in the lazy
// constructors (Config, Client) for the run.
type Factory struct {
	// IO are the streams.
	IO IO
	// LookupEnv reads an environment variable. Default: os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// HTTPClient sends every outgoing request. Default: a new http.Client for the run (no shared global).
	HTTPClient *http.Client
	// Clock tells the time. Default: clock.System().
	Clock clock.Clock

	// Config returns the run's configuration, read once on first use.
	Config func() (*Config, error)

	started bool // set once a command's Run starts: errors before it are usage errors
}

func (f *Factory) defaults() {
	if f.LookupEnv == nil {
		f.LookupEnv = osLookupEnv
	}
	if f.HTTPClient == nil {
		f.HTTPClient = &http.Client{}
	}
	f.Clock = clock.Or(f.Clock)
	if f.IO.In == nil {
		f.IO.In = eofReader{}
	}
	if f.IO.Out == nil {
		f.IO.Out = io.Discard
	}
	if f.IO.ErrOut == nil {
		f.IO.ErrOut = io.Discard
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// printer returns the output printer for the run's configuration.
func (f *Factory) printer() (printer, error) {
	cfg, err := f.Config()
	if err != nil {
		return printer{}, err
	}
	return printer{out: f.IO.Out, tty: f.IO.OutTTY, json: cfg.JSON()}, nil
}

// Main runs olctl with args on the process's environment and returns the process exit code. SIGINT and
// SIGTERM cancel the run's context.
func Main(args []string, ios IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, &Factory{IO: ios}, args)
}

// Run runs olctl with args and f, and returns the exit code. Errors are printed on f.IO.ErrOut.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if !f.started && code == ExitFailed {
		// Cobra's own errors (unknown command, wrong argument count) come before any command runs.
		code = ExitUsage
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Silent {
		return code
	}
	if f.started && f.Config != nil {
		if cfg, cerr := f.Config(); cerr == nil && cfg.JSON() {
			writeErrorJSON(f.IO.ErrOut, err, code)
			return code
		}
	}
	fmt.Fprintln(f.IO.ErrOut, "olctl:", err)
	if code == ExitUsage && cmd != nil && !f.started {
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// NewRootCmd builds the olctl command tree for one run of f.
func NewRootCmd(f *Factory) *cobra.Command {
	f.defaults()
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
		PersistentPreRunE: func(*cobra.Command, []string) error {
			f.started = true
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	addConfigFlags(root.PersistentFlags())

	loader := &configLoader{flags: root.PersistentFlags(), lookupEnv: f.LookupEnv}
	var (
		cfg    *Config
		cfgErr error
		loaded bool
	)
	f.Config = func() (*Config, error) {
		if !loaded {
			cfg, cfgErr = loader.load()
			loaded = true
		}
		return cfg, cfgErr
	}

	root.AddGroup(
		&cobra.Group{ID: "remote", Title: "Remote methods (PROTOCOL.md §6):"},
		&cobra.Group{ID: "ops", Title: "Operations:"},
		&cobra.Group{ID: "run", Title: "Servers and demos:"},
	)
	remote := []*cobra.Command{newSaveSettingsCmd(f), newCallCmd(f)}
	for _, m := range remoteMethods {
		remote = append(remote, newRemoteMethodCmd(f, m))
	}
	for _, c := range remote {
		c.GroupID = "remote"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newCheckCmd(f), newSendCmd(f), newConnectCmd(f), newEmojiCmd(f)} {
		c.GroupID = "ops"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newServeCmd(f), newConnectorCmd(f), newBFCmd(f), newDemoCmd(f)} {
		c.GroupID = "run"
		root.AddCommand(c)
	}
	root.AddCommand(
		newVersionCmd(f),
		newConfigCmd(f),
		newCompletionCmd(f),
	)
	return root
}

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the olctl version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goVersion := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVersion = bi.GoVersion
			}
			if cfg, err := f.Config(); err == nil && cfg.JSON() {
				return writeJSON(f.IO.Out, map[string]string{"version": Version, "go": goVersion})
			}
			_, err := fmt.Fprintf(f.IO.Out, "olctl %s (%s)\n", Version, goVersion)
			return err
		},
	}
}
