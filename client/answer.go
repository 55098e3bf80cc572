package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/olctl/olctl/wire"
)

// HeaderError is the response header in which a connector server may name the error of a fire-and-forget
// call, whose body nobody reads (docs/protocol.md §10).
const HeaderError = "X-Bitrix-Error"

// readAnswer reads the answer of a call that waits for it: the body, bounded, by the rules of
// docs/protocol.md §5. A status outside 2xx is a transport failure.
func (c *Client) readAnswer(ctx context.Context, resp *http.Response) (*Result, *failure) {
	status, header := resp.StatusCode, resp.Header
	fail := func(errs ...*wire.Error) *failure {
		return &failure{err: &Error{StatusCode: status, Header: header, Errors: errs}}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.cfg.maxResponse)+1))
	if err != nil {
		f := fail(networkError("reading the answer", err))
		f.retryable = ctx.Err() == nil
		return nil, f
	}
	if len(body) > c.cfg.maxResponse {
		return nil, fail(wire.Errorf(wire.CodeAnswerMalformed, "the answer is longer than %d bytes (WithMaxResponse)", c.cfg.maxResponse))
	}
	if status < 200 || status > 299 {
		return nil, c.statusFailure(resp, body)
	}
	data, errs := readEnvelope(body)
	if errs != nil {
		return nil, fail(errs...)
	}
	return &Result{Raw: data, StatusCode: status, Header: header}, nil
}

// readNoBody reads the answer of a fire-and-forget call: the connection and the status, and the error code a
// server puts in the X-Bitrix-Error header. The body does not count: on a connection that stays open (legacy)
// a short one of announced length is drained, so that the connection can serve again, and any error doing so
// is ignored; otherwise it is closed unread.
func (c *Client) readNoBody(resp *http.Response) (*Result, *failure) {
	if !resp.Close && resp.ContentLength >= 0 && resp.ContentLength <= 4<<10 {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	status, header := resp.StatusCode, resp.Header
	if code := strings.TrimSpace(header.Get(HeaderError)); code != "" {
		return nil, &failure{err: &Error{StatusCode: status, Header: header,
			Errors: []*wire.Error{wire.Errorf(wire.Code(code), "the server's %s header", HeaderError)}}}
	}
	if status < 200 || status > 299 {
		return nil, c.statusFailure(resp, nil)
	}
	return &Result{StatusCode: status, Header: header}, nil
}

// statusFailure is an answer whose status is outside 2xx (docs/protocol.md §2: a transport error): the
// errors of its body when it is an OK-false envelope that names them (this project's server answers 405 and
// 413 so), else NETWORK_ERROR quoting the status and the body's first bytes. 5xx and 429 may be retried.
func (c *Client) statusFailure(resp *http.Response, body []byte) *failure {
	status := resp.StatusCode
	e := &Error{StatusCode: status, Header: resp.Header}
	if _, errs := readEnvelope(body); len(errs) > 0 && errs[0].Code != wire.CodeAnswerMalformed &&
		errs[0].Code != wire.CodeEmptyServerResponse {
		e.Errors = errs
	} else if b := bytes.TrimSpace(body); len(b) > 0 {
		e.Errors = []*wire.Error{wire.Errorf(wire.CodeNetwork, "HTTP %s: %q", resp.Status, quoteStart(b))}
	} else {
		e.Errors = []*wire.Error{wire.Errorf(wire.CodeNetwork, "HTTP %s", resp.Status)}
	}
	f := &failure{err: e, retryable: status >= 500 || status == http.StatusTooManyRequests}
	if f.retryable {
		f.retryAfter = c.parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return f
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
func readEnvelope(body []byte) (json.RawMessage, []*wire.Error) {
	b := bytes.TrimSpace(body)
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		switch {
		case len(b) == 0:
			return nil, []*wire.Error{wire.Errorf(wire.CodeAnswerMalformed, "the answer is empty")}
		case !json.Valid(b):
			return nil, []*wire.Error{wire.Errorf(wire.CodeAnswerMalformed, "the answer is not JSON: %q", quoteStart(b))}
		}
		return nil, []*wire.Error{wire.Errorf(wire.CodeEmptyServerResponse, "the answer is not a JSON object: %q", quoteStart(b))}
	}
	if env == nil { // null
		return nil, []*wire.Error{wire.Errorf(wire.CodeEmptyServerResponse, "the answer is null")}
	}
	ok, err := readOK(env["OK"])
	if err != nil {
		return nil, []*wire.Error{err}
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
func readOK(raw json.RawMessage) (bool, *wire.Error) {
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
	return false, wire.Errorf(wire.CodeAnswerMalformed, "OK is %s, neither true/1/\"1\" nor false/0/\"0\"/\"\"/null", quoteStart(raw))
}

// nonEmptyContainer reports whether raw, a valid JSON value, is an array or object with an element.
func nonEmptyContainer(raw json.RawMessage) bool {
	if len(raw) < 2 || raw[0] != '[' && raw[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(raw[1:], " \t\r\n")
	return len(rest) > 0 && rest[0] != ']' && rest[0] != '}'
}

func readErrors(raw json.RawMessage) []*wire.Error {
	empty := func(why string) []*wire.Error {
		return []*wire.Error{wire.Errorf(wire.CodeEmptyServerResponse, "the answer is a failure %s", why)}
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
			return []*wire.Error{oneError(raw)}
		}
		for _, k := range orderedKeys(raw) {
			items = append(items, m[k])
		}
	default:
		return empty(fmt.Sprintf("whose ERROR is %s, not a list", quoteStart(raw)))
	}
	if len(items) == 0 {
		return empty("with an empty ERROR list")
	}
	out := make([]*wire.Error, len(items))
	for i, it := range items {
		out[i] = oneError(it)
	}
	return out
}

// oneError reads one element of ERROR: its CODE (text or number) and MESSAGE.
func oneError(raw json.RawMessage) *wire.Error {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return wire.Errorf(wire.CodeUndefined, "an ERROR element that is not an object: %s", quoteStart(raw))
	}
	e := &wire.Error{Code: wire.CodeUndefined}
	switch code := m["CODE"].(type) {
	case string:
		if code != "" {
			e.Code = wire.Code(code)
		}
	case float64:
		e.Code = wire.Code(strconv.FormatFloat(code, 'f', -1, 64))
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

// orderedKeys returns the keys of a JSON object in the order written.
func orderedKeys(raw json.RawMessage) []string {
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

func quoteStart(b []byte) string {
	const n = 120
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. 0 means absent or unreadable.
func (c *Client) parseRetryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
		const year = int64(365 * 24 * time.Hour / time.Second)
		return time.Duration(min(max(s, 0), year)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(c.clock.Now()); d > 0 {
			return d
		}
	}
	return 0
}
