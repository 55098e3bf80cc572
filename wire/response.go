package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

// ParseResponse reads an answer body by the rules of docs/protocol.md §5, the same for every reader of this
// module. On success the answer's Data is set only when DATA is a non-empty array or object. A failure is an
// error: a *ResponseError carrying every error of the answer in order (the answer is returned too, with them
// in Errors), or EMPTY_SERVER_RESPONSE and ANSWER_MALFORMED for a body that is no envelope.
func ParseResponse(body []byte) (*Response, error) {
	data, errs := readEnvelope(body)
	if errs == nil {
		return &Response{OK: true, Data: data}, nil
	}
	r := &Response{Errors: make([]ErrorItem, len(errs))}
	for i, e := range errs {
		r.Errors[i] = ErrorItem{Code: string(e.Code), Message: e.Message}
	}
	return r, &ResponseError{Errors: errs}
}

// readEnvelope reads an answer body by the rules of docs/protocol.md §5:
//
//  1. a body that is not JSON is ANSWER_MALFORMED;
//  2. OK missing, false, null, 0, "" or "0" is a failure; true, 1 or "1" a success; any other value
//     ANSWER_MALFORMED;
//  3. on success DATA counts only when it is a non-empty array or object (else the data is nil);
//  4. on failure each element of an ERROR list is one error with its CODE (ERROR_UNDEFINED when it has
//     none) and MESSAGE; a single ERROR object is one error (an object of error objects, PHP's list with
//     holes, one per value); ERROR missing, not a list, or empty is EMPTY_SERVER_RESPONSE.
//
// A JSON body that is not an object has no OK: a failure without ERROR.
func readEnvelope(body []byte) (json.RawMessage, []*Error) {
	b := bytes.TrimSpace(body)
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		switch {
		case len(b) == 0:
			return nil, []*Error{Errorf(CodeAnswerMalformed, "the answer is empty")}
		case !json.Valid(b):
			return nil, []*Error{Errorf(CodeAnswerMalformed, "the answer is not JSON: %q", quoteStart(b))}
		}
		return nil, []*Error{Errorf(CodeEmptyServerResponse, "the answer is not a JSON object: %q", quoteStart(b))}
	}
	if env == nil { // null
		return nil, []*Error{Errorf(CodeEmptyServerResponse, "the answer is null")}
	}
	ok, err := readOK(env["OK"])
	if err != nil {
		return nil, []*Error{err}
	}
	if ok {
		if d := env["DATA"]; nonEmptyContainer(d) {
			return d, nil
		}
		return nil, nil
	}
	return nil, readErrors(env["ERROR"])
}

// readOK reads OK, a valid JSON value or nil when absent.
func readOK(raw json.RawMessage) (bool, *Error) {
	switch string(raw) {
	case "", "null", "false", "0", `""`, `"0"`:
		return false, nil
	case "true", "1", `"1"`:
		return true, nil
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && (f == 0 || f == 1) {
			return f == 1, nil // 0.0, 1.0, 1e0
		}
	}
	return false, Errorf(CodeAnswerMalformed, "OK is %s, neither true/1/\"1\" nor false/0/\"0\"/\"\"/null", quoteStart(raw))
}

// nonEmptyContainer reports whether raw, a valid JSON value, is an array or object with an element.
func nonEmptyContainer(raw json.RawMessage) bool {
	if len(raw) < 2 || raw[0] != '[' && raw[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(raw[1:], " \t\r\n")
	return len(rest) > 0 && rest[0] != ']' && rest[0] != '}'
}

func readErrors(raw json.RawMessage) []*Error {
	empty := func(why string) []*Error {
		return []*Error{Errorf(CodeEmptyServerResponse, "the answer is a failure %s", why)}
	}
	if len(raw) == 0 {
		return empty("without ERROR")
	}
	var items []json.RawMessage
	switch raw[0] {
	case '[':
		_ = json.Unmarshal(raw, &items)
	case '{':
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		if _, ok := m["CODE"]; ok || !allObjects(m) {
			return []*Error{oneError(raw)}
		}
		for _, k := range objectKeys(raw) {
			items = append(items, m[k])
		}
	default:
		return empty(fmt.Sprintf("whose ERROR is %s, not a list", quoteStart(raw)))
	}
	if len(items) == 0 {
		return empty("with an empty ERROR list")
	}
	out := make([]*Error, len(items))
	for i, it := range items {
		out[i] = oneError(it)
	}
	return out
}

// oneError reads one element of ERROR: its CODE (text or number) and MESSAGE.
func oneError(raw json.RawMessage) *Error {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return Errorf(CodeUndefined, "an ERROR element that is not an object: %s", quoteStart(raw))
	}
	e := &Error{Code: CodeUndefined}
	switch code := m["CODE"].(type) {
	case string:
		if code != "" {
			e.Code = Code(code)
		}
	case float64:
		e.Code = Code(strconv.FormatFloat(code, 'f', -1, 64))
	}
	e.Message, _ = m["MESSAGE"].(string)
	return e
}

func allObjects(m map[string]json.RawMessage) bool {
	for _, v := range m {
		if len(v) == 0 || v[0] != '{' {
			return false
		}
	}
	return len(m) > 0
}

// objectKeys returns the keys of a JSON object in the order written: PHP's arrays arrive as JSON objects
// whose order carries meaning, which a Go map loses.
func objectKeys(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var keys []string
	if _, err := dec.Token(); err != nil {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. 0 means absent or unreadable.
func quoteStart(b []byte) string {
	const n = 120
	if len(b) > n {
		return fmt.Sprintf("%s…", b[:n])
	}
	return string(b)
}
