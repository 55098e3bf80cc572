package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/olctl/olctl/wire"
)

// Sentinels for errors.Is, one per protocol code (PROTOCOL.md §3). They are wire's own sentinels, so
// errors.Is(err, client.ErrLicence) and errors.Is(err, wire.ErrLicence) are the same test.
var (
	ErrHashEmpty           = wire.ErrHashEmpty
	ErrLicence             = wire.ErrLicence
	ErrReplay              = wire.ErrReplay
	ErrBadPacket           = wire.ErrBadPacket
	ErrUnknownCommand      = wire.ErrUnknownCommand
	ErrNotActiveLine       = wire.ErrNotActiveLine
	ErrNoUserIM            = wire.ErrNoUserIM
	ErrNoAddUser           = wire.ErrNoAddUser
	ErrFailedSaveSettings  = wire.ErrFailedSaveSettings
	ErrFailedTestConnector = wire.ErrFailedTestConnector
	ErrFailedRegister      = wire.ErrFailedRegister
	ErrMethodNotFound      = wire.ErrMethodNotFound
	ErrEmptyServerResponse = wire.ErrEmptyServerResponse
	ErrInternal            = wire.ErrInternal
	ErrMethodNotAllowed    = wire.ErrMethodNotAllowed
	ErrTooLarge            = wire.ErrTooLarge
)

// Sentinels of the client itself, for failures that carry no protocol code.
var (
	// ErrTransport matches an *Error whose request got no HTTP answer at all (connection refused, reset,
	// timeout of an attempt, TLS failure). A cancelled or expired context matches context.Canceled or
	// context.DeadlineExceeded instead.
	ErrTransport = errors.New("client: no answer from the connector server")
	// ErrHTTPStatus matches an *Error whose answer had a status outside 2xx.
	ErrHTTPStatus = errors.New("client: unexpected HTTP status")
	// ErrConfig matches every configuration error of New.
	ErrConfig = errors.New("client: invalid configuration")
	// ErrNoChatContext matches a Bot Framework message whose chat has no stored context (see WithChatContext).
	ErrNoChatContext = errors.New("client: no Bot Framework context for the chat")
)

// Error is a failed remote call: the protocol errors the server answered (every one of an OK:false answer, in
// order), or a transport failure, or an answer that is not the JSON envelope (EMPTY_SERVER_RESPONSE, quoting
// its first bytes). errors.Is matches any carried protocol code against the sentinels (ErrLicence, …), and
// ErrTransport / ErrHTTPStatus / context errors as described there; errors.As reaches the *wire.Error items.
type Error struct {
	Method     string        // the remote method, as sent
	Connector  string        // CONNECTOR as sent
	Line       string        // LINE as sent
	StatusCode int           // HTTP status of the last answer; 0 when none arrived
	Header     http.Header   // headers of the last answer, nil when none arrived
	Errors     []*wire.Error // the protocol errors carried, in order
	Err        error         // the cause without a protocol code: transport, status, context
	Attempts   int           // HTTP attempts made

	transport bool // no answer arrived, and not because of the caller's context
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("client: ")
	b.WriteString(e.Method)
	if e.Connector != "" || e.Line != "" {
		fmt.Fprintf(&b, " (connector %q, line %q)", e.Connector, e.Line)
	}
	for i, x := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(x.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Is matches ErrTransport when no answer arrived for a reason other than the caller's context (an attempt
// that ran out of its WithTimeout budget counts as a transport failure); protocol codes and other causes are
// matched through Unwrap.
func (e *Error) Is(target error) bool {
	return target == ErrTransport && e.transport
}

// Unwrap returns the carried protocol errors and the cause.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, len(e.Errors)+1)
	for _, x := range e.Errors {
		out = append(out, x)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Codes returns the protocol codes carried, in order.
func (e *Error) Codes() []wire.Code {
	out := make([]wire.Code, len(e.Errors))
	for i, x := range e.Errors {
		out[i] = x.Code
	}
	return out
}

// errAttemptTimeout is the cause of an attempt that ran out of its WithTimeout budget while the caller's
// context was still live: a transport failure, retried like one.
var errAttemptTimeout = errors.New("client: attempt timed out")

// ConnectError is a failed Connect: which step failed, under the protocol code of that step
// (FAILED_TO_SAVE_SETTINGS_CONNECTOR, FAILED_TO_TEST_CONNECTOR or FAILED_REGISTER_CONNECTOR), wrapping the
// step's own error. errors.Is matches both the step's code and the codes of the cause; wire.CodeOf gives the
// step's code.
type ConnectError struct {
	Step string    // "saveSettings", "testConnect" or "register"
	Code wire.Code // the step's protocol code
	Err  error     // the step's error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("client: connect: step %s failed (%s): %v", e.Step, e.Code, e.Err)
}

// Unwrap returns the step's protocol error, which wraps the cause: wire.CodeOf sees the step's code and
// errors.Is reaches the codes of the cause.
func (e *ConnectError) Unwrap() error {
	return &wire.Error{Code: e.Code, Message: "step " + e.Step + " failed", Err: e.Err}
}

// CodeOf returns the first protocol code err carries anywhere in its tree (wire.CodeOf follows only single
// Unwrap chains, while an *Error carries a list): the first code of an OK:false answer, the step's code of a
// ConnectError, EMPTY_SERVER_RESPONSE for an answer that is not the envelope. Errors without one get
// wire.CodeOf's answer (BAD_PACKET for codec errors, INTERNAL_ERROR otherwise).
func CodeOf(err error) wire.Code {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return wire.CodeOf(err)
}
