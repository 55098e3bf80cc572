package cli

import (
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
)

// IO is the set of streams a command reads and writes, and whether each is a terminal. The zero TTY flags
// (tests, pipes) give plain output, no progress bars and no prompts.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	InTTY  bool
	OutTTY bool
	ErrTTY bool

	// Width is the number of columns of the terminal Out is, 0 when unknown: tables on a terminal are fitted
	// to it (to 80 columns when unknown).
	Width int
}

// System returns the process's own standard streams, with their terminal flags detected.
func System() IO {
	ios := IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	if ios.OutTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			ios.Width = w
		}
	}
	return ios
}

// Factory hands commands what they need for one run: the streams, and lazy constructors that build a value on
// first use and hand out the same one afterwards. It only constructs; what a command does with the values is
// the command's. Set a field to replace its default (tests do); NewCmdRoot fills in the nil ones.
type Factory struct {
	// IO are the streams. Nil streams read nothing and discard what is written.
	IO IO
	// LookupEnv reads an environment variable. Default: os.LookupEnv.
	LookupEnv func(key string) (string, bool)
	// Clock tells the time. Default: clock.System().
	Clock clock.Clock

	// HTTPClient returns the client of every outgoing request. Default: one new http.Client for the run (no
	// shared global) that trusts --ca-file too, or verifies nothing with --insecure.
	HTTPClient func() (*http.Client, error)
	// Config returns the run's configuration: flags over OLCTL_* variables over the config file over
	// defaults, read once.
	Config func() (*Config, error)
	// Client returns a new Output client of the configuration (server, domain, licence key, signing,
	// profile, region, connector, line, timeout) on HTTPClient and Clock, with extra options applied last.
	// A missing or invalid setting is a ConfigError (exit 2).
	Client func(extra ...client.Option) (*client.Client, error)
	// WizardHints returns where the connect wizard looks for running servers to offer as defaults.
	// Default: the default addresses of serve, connector serve and bf serve's --control, none with
	// OLCTL_CONNECT_PROBE=0.
	WizardHints func() (WizardHints, error)
}

// complete fills in the defaults of f's nil fields; flags are the root's persistent flags, which Config
// reads.
func (f *Factory) complete(flags *pflag.FlagSet) {
	if f.IO.In == nil {
		f.IO.In = eofReader{}
	}
	if f.IO.Out == nil {
		f.IO.Out = io.Discard
	}
	if f.IO.ErrOut == nil {
		f.IO.ErrOut = io.Discard
	}
	if f.LookupEnv == nil {
		f.LookupEnv = os.LookupEnv
	}
	f.Clock = clock.Or(f.Clock)
	if f.HTTPClient == nil {
		f.HTTPClient = sync.OnceValues(func() (*http.Client, error) { return newHTTPClient(flags, f.LookupEnv) })
	}
	if f.Config == nil {
		loader := &configLoader{flags: flags, lookupEnv: f.LookupEnv, errOut: f.IO.ErrOut}
		f.Config = sync.OnceValues(loader.load)
	}
	if f.WizardHints == nil {
		f.WizardHints = func() (WizardHints, error) { return wizardHintsOf(f.LookupEnv) }
	}
	if f.Client == nil {
		f.Client = func(extra ...client.Option) (*client.Client, error) {
			cfg, err := f.Config()
			if err != nil {
				return nil, err
			}
			hc, err := f.HTTPClient()
			if err != nil {
				return nil, err
			}
			return newClient(cfg, hc, f.Clock, extra...)
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
