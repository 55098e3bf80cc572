package wire

import "fmt"

// Code is a protocol error code (docs/protocol.md §5). A Code is also the error of that code alone, and what
// errors.Is matches against: errors.Is(err, wire.CodeLicence) holds for every error that is, wraps or carries
// (in a *ResponseError) an *Error with that code, and for the Code itself.
type Code string

// Error returns the code itself.
func (c Code) Error() string { return string(c) }

// The protocol's error codes: packet-level, reader-side, connecting and item-level ones of Bitrix, then this
// project's own (docs/protocol.md §5).
const (
	CodeHashEmpty             Code = "HASH_EMPTY"
	CodeLicence               Code = "LICENCE_ERROR"
	CodeReplay                Code = "REPLAY"
	CodeBadPacket             Code = "BAD_PACKET"
	CodeNoConnector           Code = "CONNECTOR_ID_NOT_SPECIFIED"
	CodeUnknownConnector      Code = "IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR"
	CodeUnknownCommand        Code = "IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND"
	CodeNotActiveLine         Code = "NOT_ACTIVE_LINE"
	CodeModuleNotInstalled    Code = "MODULE_NOT_INSTALLED"
	CodeAnswerMalformed       Code = "ANSWER_MALFORMED"
	CodeNetwork               Code = "NETWORK_ERROR"
	CodeUndefined             Code = "ERROR_UNDEFINED"
	CodeNoUserIM              Code = "CONNECTOR_PROXY_NO_USER_IM"
	CodeNoAddUser             Code = "CONNECTOR_PROXY_NO_ADD_USER"
	CodeNotAllRequiredData    Code = "IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA"
	CodeUnsupportedType       Code = "PROVIDER_UNSUPPORTED_TYPE_INCOMING_MESSAGE"
	CodeFailedSaveSettings    Code = "FAILED_TO_SAVE_SETTINGS_CONNECTOR"
	CodeFailedTestConnector   Code = "FAILED_TO_TEST_CONNECTOR"
	CodeFailedRegister        Code = "FAILED_REGISTER_CONNECTOR"
	CodeMethodNotFound        Code = "METHOD_NOT_FOUND"
	CodeEmptyServerResponse   Code = "EMPTY_SERVER_RESPONSE"
	CodeInternal              Code = "INTERNAL_ERROR"
	CodeMethodNotAllowed      Code = "METHOD_NOT_ALLOWED"
	CodeRequestEntityTooLarge Code = "REQUEST_ENTITY_TOO_LARGE"
)

// Error is a protocol error: a code and a human message, optionally wrapping a cause. errors.Is matches it
// against its code: errors.Is(err, wire.CodeLicence).
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Message == "" && e.Err == nil:
		return string(e.Code)
	case e.Err == nil:
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	case e.Message == "":
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's code, or an *Error with the same code.
func (e *Error) Is(target error) bool { return isCode(target, e.Code) }

// isCode reports whether target is code, or an *Error with code.
func isCode(target error, code Code) bool {
	switch t := target.(type) {
	case Code:
		return t == code
	case *Error:
		return t.Code == code
	}
	return false
}

// Errorf makes an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the protocol code of err: its own when it is (or wraps) an *Error or a Code, BAD_PACKET for
// codec errors, INTERNAL_ERROR otherwise.
func CodeOf(err error) Code {
	for e := err; e != nil; {
		switch x := e.(type) {
		case *Error:
			return x.Code
		case Code:
			return x
		}
		if _, ok := e.(*SyntaxError); ok {
			return CodeBadPacket
		}
		if _, ok := e.(*BindError); ok {
			return CodeBadPacket
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return CodeInternal
}
