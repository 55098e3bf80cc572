package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Response is the JSON envelope of every answer (docs/protocol.md §5).
type Response struct {
	OK     bool            `json:"OK"`
	Data   json.RawMessage `json:"DATA,omitempty"`
	Errors []ErrorItem     `json:"ERROR,omitempty"`
}

// ErrorItem is one error of an OK:false answer.
type ErrorItem struct {
	Code    string `json:"CODE"`
	Message string `json:"MESSAGE"`
}

// OKBody returns the body of a successful answer carrying data (nil data gives {"OK":true}).
func OKBody(data any) ([]byte, error) {
	r := Response{OK: true}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		r.Data = b
	}
	return json.Marshal(r)
}

// ErrorBody returns the body of an OK:false answer for err, {"OK":false,"DATA":[],"ERROR":[…]} as Bitrix writes
// it (docs/protocol.md §5): a wrapped *Error or Code becomes one item (a *ResponseError gives all of its
// items); anything else is INTERNAL_ERROR.
func ErrorBody(err error) []byte {
	r := Response{OK: false, Data: json.RawMessage("[]"), Errors: ErrorItems(err)}
	b, _ := json.Marshal(r)
	return b
}

// ErrorItems turns an error into the ERROR list of an answer.
func ErrorItems(err error) []ErrorItem {
	var re *ResponseError
	if errors.As(err, &re) {
		out := make([]ErrorItem, len(re.Errors))
		for i, e := range re.Errors {
			out[i] = ErrorItem{Code: string(e.Code), Message: e.Message}
		}
		return out
	}
	var pe *Error
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Err != nil {
			if msg != "" {
				msg += ": "
			}
			msg += pe.Err.Error()
		}
		return []ErrorItem{{Code: string(pe.Code), Message: msg}}
	}
	var code Code
	if errors.As(err, &code) {
		if err == code { // a bare code says nothing more
			return []ErrorItem{{Code: string(code)}}
		}
		return []ErrorItem{{Code: string(code), Message: err.Error()}}
	}
	return []ErrorItem{{Code: string(CodeOf(err)), Message: err.Error()}}
}

// WriteResponse answers an HTTP request: with err == nil, {"OK":true,"DATA":data}; else the OK:false envelope
// with HTTP 200, or 405 and 413 for a wrong method and an oversize body (docs/protocol.md §2).
func WriteResponse(w http.ResponseWriter, data any, err error) {
	w.Header()["Content-Type"] = jsonContentType // canonical key already: no canonicalising, no new slice
	if err == nil {
		body, merr := OKBody(data)
		if merr == nil {
			_, _ = w.Write(body)
			return
		}
		err = &Error{Code: CodeInternal, Message: "encoding the answer", Err: merr}
	}
	w.WriteHeader(httpStatus(err))
	_, _ = w.Write(ErrorBody(err))
}

var jsonContentType = []string{"application/json; charset=utf-8"}

// ResponseError is an OK:false answer: every error it carried, in order. errors.Is matches any of their codes.
type ResponseError struct {
	Errors []*Error
}

func (e *ResponseError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		parts[i] = x.Error()
	}
	return strings.Join(parts, "; ")
}

// Is reports whether any carried error has target's code.
func (e *ResponseError) Is(target error) bool {
	for _, x := range e.Errors {
		if x.Is(target) {
			return true
		}
	}
	return false
}

// Unwrap returns the carried errors (for errors.As).
func (e *ResponseError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, x := range e.Errors {
		out[i] = x
	}
	return out
}

// ParseResponse reads an answer body. A body that is empty or not the JSON envelope is an
// EMPTY_SERVER_RESPONSE error quoting its first bytes; OK:false is a *ResponseError.
func ParseResponse(body []byte) (*Response, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, Errorf(CodeEmptyServerResponse, "the server answered with an empty body")
	}
	var r Response
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&r); err != nil || dec.More() || trimmed[0] != '{' {
		return nil, Errorf(CodeEmptyServerResponse, "the server's answer is not the JSON envelope: %q", quoteStart(trimmed))
	}
	if !r.OK {
		re := &ResponseError{}
		for _, it := range r.Errors {
			re.Errors = append(re.Errors, &Error{Code: Code(it.Code), Message: it.Message})
		}
		if len(re.Errors) == 0 {
			re.Errors = append(re.Errors, Errorf(CodeEmptyServerResponse, "the server answered OK:false without an error"))
		}
		return &r, re
	}
	return &r, nil
}

func quoteStart(b []byte) string {
	const n = 120
	if len(b) > n {
		return fmt.Sprintf("%s…", b[:n])
	}
	return string(b)
}
