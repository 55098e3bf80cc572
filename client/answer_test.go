package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Each reading rule of docs/protocol.md §5, over real HTTP, for a call that reads its answer.
func TestAnswerReading(t *testing.T) {
	t.Parallel()
	const (
		ok        = ""
		malformed = wire.CodeAnswerMalformed
		empty     = wire.CodeEmptyServerResponse
		undefined = wire.CodeUndefined
	)
	tests := []struct {
		name  string
		body  string
		codes []wire.Code // nil: success
		data  string      // Raw on success
		msg   string      // the first error's message contains it
	}{
		// 1. OK.
		{name: "OK true", body: `{"OK":true,"DATA":{"ID":"1"}}`, data: `{"ID":"1"}`},
		{name: "OK 1", body: `{"OK":1,"DATA":{"ID":"1"}}`, data: `{"ID":"1"}`},
		{name: `OK "1"`, body: `{"OK":"1","DATA":[1,2]}`, data: `[1,2]`},
		{name: "OK 1.0", body: `{"OK":1.0,"DATA":{"A":1}}`, data: `{"A":1}`},
		{name: "OK false", body: `{"OK":false,"DATA":[],"ERROR":[{"CODE":"LICENCE_ERROR"}]}`, codes: []wire.Code{wire.CodeLicence}},
		{name: "OK missing", body: `{"ERROR":[{"CODE":"NOT_ACTIVE_LINE"}]}`, codes: []wire.Code{wire.CodeNotActiveLine}},
		{name: "OK null", body: `{"OK":null,"ERROR":[{"CODE":"A"}]}`, codes: []wire.Code{"A"}},
		{name: "OK 0", body: `{"OK":0,"ERROR":[{"CODE":"A"}]}`, codes: []wire.Code{"A"}},
		{name: `OK ""`, body: `{"OK":"","ERROR":[{"CODE":"A"}]}`, codes: []wire.Code{"A"}},
		{name: `OK "0"`, body: `{"OK":"0","ERROR":[{"CODE":"A"}]}`, codes: []wire.Code{"A"}},
		{name: `OK "true"`, body: `{"OK":"true","DATA":{"A":1}}`, codes: []wire.Code{malformed}, msg: `OK is "true"`},
		{name: "OK 2", body: `{"OK":2}`, codes: []wire.Code{malformed}},
		{name: `OK "yes"`, body: `{"OK":"yes"}`, codes: []wire.Code{malformed}},
		{name: "OK []", body: `{"OK":[]}`, codes: []wire.Code{malformed}},
		{name: "OK {}", body: `{"OK":{}}`, codes: []wire.Code{malformed}},
		{name: "ok in lower case is no OK", body: `{"ok":true}`, codes: []wire.Code{empty}},
		// 2. DATA counts only when a non-empty array or object.
		{name: "DATA []", body: `{"OK":true,"DATA":[]}`},
		{name: "DATA {}", body: `{"OK":true,"DATA":{}}`},
		{name: "DATA a string", body: `{"OK":true,"DATA":"text"}`},
		{name: "DATA true", body: `{"OK":true,"DATA":true}`},
		{name: "DATA 0", body: `{"OK":true,"DATA":0}`},
		{name: "DATA null", body: `{"OK":true,"DATA":null}`},
		{name: "no DATA", body: `{"OK":true}`},
		{name: "DATA nested empty", body: `{"OK":true,"DATA":[[]]}`, data: `[[]]`},
		// 3. ERROR.
		{name: "two errors, one without CODE", body: `{"OK":false,"ERROR":[{"CODE":"A","MESSAGE":"first"},{"MESSAGE":"second"}]}`,
			codes: []wire.Code{"A", undefined}, msg: "first"},
		{name: "an empty CODE", body: `{"OK":false,"ERROR":[{"CODE":""}]}`, codes: []wire.Code{undefined}},
		{name: "a numeric CODE", body: `{"OK":false,"ERROR":[{"CODE":404}]}`, codes: []wire.Code{"404"}},
		{name: "an element that is not an object", body: `{"OK":false,"ERROR":["LICENCE_ERROR"]}`, codes: []wire.Code{undefined}},
		{name: "one ERROR object", body: `{"OK":false,"ERROR":{"CODE":"MODULE_NOT_INSTALLED"}}`, codes: []wire.Code{wire.CodeModuleNotInstalled}},
		{name: "one ERROR object without CODE", body: `{"OK":false,"ERROR":{"MESSAGE":"x"}}`, codes: []wire.Code{undefined}},
		{name: "ERROR as PHP's list with holes", body: `{"OK":false,"ERROR":{"1":{"CODE":"B"},"0":{"CODE":"A"}}}`, codes: []wire.Code{"B", "A"}},
		{name: "ERROR missing", body: `{"OK":false,"DATA":[]}`, codes: []wire.Code{empty}},
		{name: "ERROR a string", body: `{"OK":false,"ERROR":"LICENCE_ERROR"}`, codes: []wire.Code{empty}},
		{name: "ERROR a number", body: `{"OK":false,"ERROR":5}`, codes: []wire.Code{empty}},
		{name: "ERROR null", body: `{"OK":false,"ERROR":null}`, codes: []wire.Code{empty}},
		{name: "ERROR an empty list", body: `{"OK":false,"ERROR":[]}`, codes: []wire.Code{empty}},
		// 4. Not JSON.
		{name: "HTML", body: `<html>Bad gateway</html>`, codes: []wire.Code{malformed}, msg: "<html>"},
		{name: "empty body", body: ``, codes: []wire.Code{malformed}},
		{name: "truncated JSON", body: `{"OK":tr`, codes: []wire.Code{malformed}},
		{name: "two JSON values", body: `{"OK":true}{"OK":true}`, codes: []wire.Code{malformed}},
		{name: "JSON that is not an object", body: `[1,2]`, codes: []wire.Code{empty}},
		{name: "a JSON string", body: `"OK"`, codes: []wire.Code{empty}},
		{name: "spaces around", body: " \n{\"OK\":true,\"DATA\":{\"A\":1}}\n", data: `{"A":1}`},
	}
	f := md5Fixture(t)
	c := f.client(t, WithRetry(Retry{}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Handle(answerRaw(http.StatusOK, tt.body))
			res, err := c.Call(ctxT(t), "readSettings", nil)
			if got := codesOf(t, err); !slices.Equal(got, tt.codes) {
				t.Fatalf("codes %v (%v), want %v", got, err, tt.codes)
			}
			if tt.codes == nil && string(res.Raw) != tt.data {
				t.Fatalf("Raw %q, want %q", res.Raw, tt.data)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
			if err != nil && wire.CodeOf(err) != tt.codes[0] {
				t.Fatalf("wire.CodeOf = %s", wire.CodeOf(err))
			}
		})
	}
}

// testConnect is judged by OK alone (docs/protocol.md §5).
func TestTestConnectIsJudgedByOKAlone(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t)
	for body, want := range map[string][]wire.Code{
		`{"OK":true,"DATA":{"RESULT":"OK"}}`:                         nil,
		`{"OK":true,"DATA":[]}`:                                      nil,
		`{"OK":true,"DATA":{"RESULT":"FAIL"}}`:                       nil,
		`{"OK":true,"DATA":false}`:                                   nil,
		`{"OK":false,"ERROR":[{"CODE":"FAILED_TO_TEST_CONNECTOR"}]}`: {wire.CodeFailedTestConnector},
	} {
		f.Handle(answerRaw(http.StatusOK, body))
		if got := codesOf(t, c.TestConnect(ctxT(t))); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

// A status outside 2xx is a transport error (NETWORK_ERROR), but a 405 or 413 envelope keeps its codes.
func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t, WithRetry(Retry{}))
	for _, tt := range []struct {
		status int
		body   string
		code   wire.Code
		msg    string
	}{
		{http.StatusServiceUnavailable, "busy", wire.CodeNetwork, `HTTP 503 Service Unavailable: "busy"`},
		{http.StatusNotFound, "", wire.CodeNetwork, "HTTP 404 Not Found"},
		{http.StatusBadGateway, `{"OK":true}`, wire.CodeNetwork, "HTTP 502"},
		{http.StatusMethodNotAllowed, `{"OK":false,"ERROR":[{"CODE":"METHOD_NOT_ALLOWED"}]}`, wire.CodeMethodNotAllowed, ""},
		{http.StatusRequestEntityTooLarge, `{"OK":false,"ERROR":[{"CODE":"REQUEST_ENTITY_TOO_LARGE"}]}`, wire.CodeRequestEntityTooLarge, ""},
	} {
		f.Handle(answerRaw(tt.status, tt.body))
		err := c.SaveSettings(ctxT(t), Settings{"a": "b"})
		var e *Error
		if !errors.As(err, &e) || e.StatusCode != tt.status || wire.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%d %q: %v", tt.status, tt.body, err)
		}
	}
}

func TestAnswerTooLarge(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(answerRaw(http.StatusOK, `{"OK":true,"DATA":{"A":"`+strings.Repeat("x", 200)+`"}}`))
	_, err := f.client(t, WithMaxResponse(100)).Call(ctxT(t), "readSettings", nil)
	if wire.CodeOf(err) != wire.CodeAnswerMalformed || !strings.Contains(err.Error(), "longer than 100 bytes") {
		t.Fatalf("err = %v", err)
	}
}

// No connection, a hang-up and an attempt timeout are NETWORK_ERROR.
func TestNetworkErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	c, err := New("http://"+addr, WithDomain(testDomain), WithConnector("botframework"), WithRetry(Retry{}))
	if err != nil {
		t.Fatal(err)
	}
	err = c.SaveSettings(ctxT(t), Settings{"a": "b"})
	var e *Error
	if wire.CodeOf(err) != wire.CodeNetwork || !errors.As(err, &e) || e.StatusCode != 0 || e.Attempts != 1 {
		t.Fatalf("connection refused: %v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("the cause is not reachable: %v", err)
	}

	f := md5Fixture(t, clienttest.Lenient())
	f.Handle(func(w http.ResponseWriter, _ *clienttest.Call) { hangUp(w) })
	if err := f.client(t).Unregister(ctxT(t)); wire.CodeOf(err) != wire.CodeNetwork {
		t.Fatalf("hang-up: %v", err)
	}

	f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		select {
		case <-call.Context.Done():
		case <-time.After(5 * time.Second):
		}
	})
	err = f.client(t, WithTimeout(50*time.Millisecond)).Unregister(ctxT(t))
	if wire.CodeOf(err) != wire.CodeNetwork || !strings.Contains(err.Error(), "within 50ms") {
		t.Fatalf("attempt timeout: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an attempt timeout is not the caller's deadline: %v", err)
	}
}

func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// Fire-and-forget methods never need the body: the connection, the status and x-bitrix-error decide.
func TestFireAndForget(t *testing.T) {
	t.Parallel()
	items := []openlines.StatusItem{{Chat: openlines.ChatRef{ID: "c1"}, Message: openlines.MessageRef{ID: "m1"}}}
	tests := []struct {
		name    string
		handle  clienttest.Handler
		opts    []CallOption
		want    wire.Code // "" for success
		wantMsg string
	}{
		{name: "an OK-false body is not read", handle: func(w http.ResponseWriter, _ *clienttest.Call) {
			clienttest.Fail(w, wire.CodeLicence)
		}},
		{name: "a body that is not JSON", handle: answerRaw(http.StatusOK, "<html>")},
		{name: "x-bitrix-error", want: wire.CodeNotActiveLine, handle: func(w http.ResponseWriter, _ *clienttest.Call) {
			w.Header().Set("x-bitrix-error", "NOT_ACTIVE_LINE")
			clienttest.OK(w, nil)
		}},
		{name: "x-bitrix-error on a 500", want: "SERVER_BUSY", handle: func(w http.ResponseWriter, _ *clienttest.Call) {
			w.Header().Set("x-bitrix-error", "SERVER_BUSY")
			clienttest.Raw(w, 500, "")
		}},
		{name: "an empty x-bitrix-error", handle: func(w http.ResponseWriter, _ *clienttest.Call) {
			w.Header().Set("x-bitrix-error", "")
			clienttest.OK(w, nil)
		}},
		{name: "a 503", want: wire.CodeNetwork, wantMsg: "HTTP 503", handle: answerRaw(http.StatusServiceUnavailable, "busy")},
		{name: "a body cut short", handle: func(w http.ResponseWriter, _ *clienttest.Call) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte(`{"OK":tr`))
			w.(http.Flusher).Flush()
			hangUp(w)
		}},
		{name: "FireAndForget(false) reads the answer", opts: []CallOption{FireAndForget(false)}, want: wire.CodeLicence,
			handle: func(w http.ResponseWriter, _ *clienttest.Call) { clienttest.Fail(w, wire.CodeLicence) }},
	}
	for _, p := range []wire.Profile{wire.Current, wire.Legacy} {
		for _, tt := range tests {
			t.Run(p.String()+"/"+tt.name, func(t *testing.T) {
				f := md5Fixture(t)
				f.Handle(tt.handle)
				c := f.client(t, WithProfile(p))
				err := c.SetStatusDelivered(ctxT(t), items, tt.opts...)
				if tt.want == "" && err != nil || tt.want != "" && wire.CodeOf(err) != tt.want {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err %v does not say %q", err, tt.wantMsg)
				}
				if f.Count() != 1 {
					t.Fatalf("%d packets: a fire-and-forget call is never retried", f.Count())
				}
			})
		}
	}
}

// A fire-and-forget call returns once the status line is in, without waiting for the body.
func TestFireAndForgetDoesNotWaitForTheBody(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	release := make(chan struct{})
	defer close(release)
	f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"OK":`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-call.Context.Done():
		}
	})
	c := f.client(t)
	msgs := []openlines.OutgoingMessage{{IM: openlines.IMRef{ChatID: "1", MessageID: "2"}, Chat: openlines.ChatRef{ID: "c"},
		Message: openlines.OutgoingContent{Text: "hi"}}}
	done := make(chan error, 1)
	go func() { done <- c.SendMessage(ctxT(t), msgs) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SendMessage waited for the body")
	}
	// The same call, made to read its answer, waits.
	res := make(chan error, 1)
	go func() { res <- c.SendMessage(ctxT(t), msgs, FireAndForget(false)) }()
	select {
	case err := <-res:
		t.Fatalf("FireAndForget(false) returned before the body: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

// A method that is not fire-and-forget by name can be made one.
func TestFireAndForgetOnAnyMethod(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(answerRaw(http.StatusOK, "not json"))
	res, err := f.client(t).Call(ctxT(t), "register", nil, FireAndForget(true))
	if err != nil || res.StatusCode != 200 || res.Raw != nil {
		t.Fatalf("%+v, %v", res, err)
	}
}
