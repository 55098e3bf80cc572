package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/olctl/olctl/wire"
)

// ErrConfig matches every configuration error of New.
var ErrConfig = errors.New("client: invalid configuration")

// Error is a failed call. It always carries at least one protocol error, in order: the server's (every one
// of an OK-false answer), or the reader's (docs/protocol.md §5: ANSWER_MALFORMED, EMPTY_SERVER_RESPONSE,
// NETWORK_ERROR for no connection, a timeout or a status outside 2xx), or the client's own refusal
// (CONNECTOR_ID_NOT_SPECIFIED); Connect puts its step's code first (FAILED_TO_TEST_CONNECTOR, …).
//
// errors.Is matches any carried code (errors.Is(err, wire.CodeNetwork)) and the causes they wrap
// (context.Canceled, …); wire.CodeOf returns the first code, and errors.As reaches the first *wire.Error and
// its cause.
type Error struct {
	Method     string        // the remote method, as sent
	Connector  string        // CONNECTOR as sent
	Line       string        // LINE as sent
	StatusCode int           // HTTP status of the last answer; 0 when none arrived
	Header     http.Header   // headers of the last answer, nil when none arrived
	Attempts   int           // HTTP attempts made; 0 when the call was refused before sending
	Errors     []*wire.Error // the protocol errors, never empty
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
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the first protocol error, so that wire.CodeOf and errors.As see it.
func (e *Error) Unwrap() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e.Errors[0]
}

// Is reports whether any carried error matches target: its code, or its cause.
func (e *Error) Is(target error) bool {
	for _, x := range e.Errors {
		if errors.Is(x, target) {
			return true
		}
	}
	return false
}

// Codes returns the protocol codes carried, in order.
func (e *Error) Codes() []wire.Code {
	out := make([]wire.Code, len(e.Errors))
	for i, x := range e.Errors {
		out[i] = x.Code
	}
	return out
}
