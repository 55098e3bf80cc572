package cli

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

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

// exitCodesHelp is the table printed by olctl --help and copied into the README.
const exitCodesHelp = `Exit codes:
  0  success
  1  the server answered an error (OK:false) or a check failed
  2  usage or configuration error (including a listen address that is bad or in use)
  3  network or transport error (DNS, TCP, TLS, timeout, HTTP 405/413/5xx, not a protocol answer)
  4  signature or licence refused (LICENCE_ERROR, REPLAY, HASH_EMPTY)`

// UsageError is a bad flag, argument or configuration value (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usageErrorf makes a UsageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: errorf(format, args...)}
}

// ExitError carries an explicit exit code. Silent means the command already reported the failure (for example
// a check table with a failed row) and Main prints nothing more.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + itoa(e.Code)
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
	}
	return "error"
}
