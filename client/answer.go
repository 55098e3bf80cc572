package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// readEnvelope reads an answer body by the rules of docs/protocol.md §5 (wire.ParseResponse): the DATA that
// counts, or every error of a failure.
func readEnvelope(body []byte) (json.RawMessage, []*wire.Error) {
	r, err := wire.ParseResponse(body)
	if err != nil {
		var re *wire.ResponseError
		if errors.As(err, &re) {
			return nil, re.Errors
		}
		return nil, []*wire.Error{{Code: wire.CodeOf(err), Message: err.Error()}}
	}
	return r.Data, nil
}

// quoteStart returns the first bytes of b, for an error message.
func quoteStart(b []byte) string {
	const n = 120
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

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
