package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/wire"
)

// Exit codes of olctl. Every error is sorted into one of these in one place, ExitCode.
const (
	// ExitOK: the command succeeded.
	ExitOK = 0
	// ExitFailed: the server answered an error (OK:false) or a check failed.
	ExitFailed = 1
	// ExitUsage: bad flags or arguments, or an incomplete or invalid configuration.
	ExitUsage = 2
	// ExitNetwork: the server could not be reached or did not answer in the protocol (DNS, TCP, TLS, timeouts,
	// HTTP 405/413/5xx, a body that is not the JSON envelope).
	ExitNetwork = 3
	// ExitAuth: the server refused the signature or the licence (LICENCE_ERROR, REPLAY, HASH_EMPTY).
	ExitAuth = 4
)

// exitCodesHelp is the table printed by olctl --help and copied into the package documentation.
const exitCodesHelp = `Exit codes:
  0  success
  1  the server answered an error (OK:false) or a check failed
  2  usage or configuration error (including a listen address that is bad or in use)
  3  network or transport error (DNS, TCP, TLS, timeout, HTTP 405/413/5xx, not a protocol answer)
  4  signature or licence refused (LICENCE_ERROR, REPLAY, HASH_EMPTY)
  130  cancelled: Ctrl-C at a prompt or during a call (servers stop with 0)`

// Main runs olctl with the process's arguments and standard streams and returns the process exit code.
// SIGINT and SIGTERM cancel the run's context.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, &Factory{IO: System()}, os.Args[1:])
}

// Run runs olctl with args and f and returns the exit code. A failure is reported on f.IO.ErrOut: one JSON
// document under --json, else "olctl: " and the error (with a pointer to --help for a usage error that came
// before the command ran).
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewCmdRoot(f)
	started := false // set once a command's run starts: errors before it are usage errors
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		started = true
		return nil
	}
	root.SetArgs(foldCommandNames(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var chosen *ExitError // a command that chose its exit code keeps it (check --watch: the last run's)
	if errors.Is(ctx.Err(), context.Canceled) && !errors.As(err, &chosen) {
		// Interrupted (Ctrl-C, SIGTERM): what failed failed because of it, not because a server did.
		err = &ExitError{Code: ExitCancelled, Err: fmt.Errorf("cancelled (%v)", context.Cause(ctx))}
	}
	code := ExitCode(err)
	if !started && code == ExitFailed {
		// Cobra's own errors (unknown command, wrong argument count) come before any command runs.
		code = ExitUsage
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Silent {
		return code
	}
	if wantsJSON(f, args) {
		writeErrorJSON(f.IO.ErrOut, err, code)
		return code
	}
	fmt.Fprintln(f.IO.ErrOut, "olctl:", err)
	if code == ExitUsage && cmd != nil && !started {
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// wantsJSON reports whether the run asked for JSON: by its arguments (--json, -o json, --output=json; the last
// given wins), which count even when their parsing failed (a flag error is then reported as JSON too), else
// by the configuration (OLCTL_OUTPUT, the config file).
func wantsJSON(f *Factory, args []string) bool {
	if v, ok := outputInArgs(args); ok {
		return v
	}
	if cfg, err := f.Config(); err == nil {
		return cfg.JSON()
	}
	v, ok := f.LookupEnv(lookupKey(KeyOutput).Env())
	return ok && strings.EqualFold(strings.TrimSpace(v), "json")
}

// outputInArgs reads the output format args ask for: json (true) or another (false), and whether they ask
// for one at all. It stops at "--".
func outputInArgs(args []string) (json, given bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		var val string
		switch {
		case a == "--":
			return json, given
		case a == "--json" || a == "--json=true":
			json, given = true, true
			continue
		case a == "--output" || a == "-o":
			if i+1 >= len(args) {
				continue
			}
			i++
			val = args[i]
		case strings.HasPrefix(a, "--output="):
			val = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			val = strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		default:
			continue
		}
		json, given = strings.EqualFold(strings.TrimSpace(val), "json"), true
	}
	return json, given
}

// UsageError is a bad flag, argument or configuration value (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf makes a UsageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an explicit exit code. Silent means the command already reported the failure (for example
// a check table with a failed row) and Run prints nothing more.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode sorts err into olctl's exit codes: nil is 0; see the Exit constants for the rest. Errors that match
// nothing are 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	var ce *ConfigError
	if errors.As(err, &ce) || errors.Is(err, client.ErrConfig) {
		return ExitUsage
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "listen" {
		return ExitUsage // a bad or busy listen address is the caller's configuration
	}
	if isAuth(err) {
		return ExitAuth
	}
	if isNetwork(err) {
		return ExitNetwork
	}
	return ExitFailed
}

// isAuth reports a refused signature or licence.
func isAuth(err error) bool {
	return errors.Is(err, wire.CodeLicence) || errors.Is(err, wire.CodeReplay) || errors.Is(err, wire.CodeHashEmpty)
}

// isNetwork reports an error of the network or of the HTTP transport: the server did not answer in the protocol.
func isNetwork(err error) bool {
	var (
		ne net.Error
		ue *url.Error
		oe *net.OpError
		de *net.DNSError
	)
	switch {
	case errors.Is(err, wire.CodeNetwork), errors.Is(err, wire.CodeAnswerMalformed):
		return true
	case errors.Is(err, wire.CodeEmptyServerResponse), errors.Is(err, wire.CodeMethodNotAllowed),
		errors.Is(err, wire.CodeRequestEntityTooLarge):
		return true
	case errors.As(err, &de), errors.As(err, &oe), errors.As(err, &ue), errors.As(err, &ne):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return false
}

// category names an exit code for JSON reports.
func category(code int) string {
	switch code {
	case ExitOK:
		return "ok"
	case ExitFailed:
		return "server"
	case ExitUsage:
		return "usage"
	case ExitNetwork:
		return "network"
	case ExitAuth:
		return "auth"
	case ExitCancelled:
		return "cancelled"
	}
	return "error"
}

// errorJSON is the JSON document written on stderr for a failed command under --json.
type errorJSON struct {
	Error struct {
		Category string   `json:"category"`
		ExitCode int      `json:"exit_code"`
		Codes    []string `json:"codes"`
		Message  string   `json:"message"`
	} `json:"error"`
}

// writeErrorJSON writes err as an errorJSON document.
func writeErrorJSON(w io.Writer, err error, code int) {
	var doc errorJSON
	doc.Error.Category = category(code)
	doc.Error.ExitCode = code
	doc.Error.Codes = []string{}
	var ce *client.Error
	if errors.As(err, &ce) {
		for _, c := range ce.Codes() {
			doc.Error.Codes = append(doc.Error.Codes, string(c))
		}
	} else if we := (*wire.Error)(nil); errors.As(err, &we) {
		doc.Error.Codes = append(doc.Error.Codes, string(we.Code))
	}
	doc.Error.Message = err.Error()
	_ = writeJSON(w, doc)
}
