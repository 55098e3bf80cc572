package client

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/wire"
)

func TestBadAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		method     string
		wantIs     []error
		wantNotIs  []error
		wantCodes  []wire.Code
		wantInText []string
	}{
		{name: "HTML page", status: 200, body: "<html><body>Bitrix maintenance</body></html>",
			wantIs: []error{ErrEmptyServerResponse}, wantNotIs: []error{ErrTransport, ErrHTTPStatus},
			wantCodes: []wire.Code{wire.CodeEmptyServerResponse}, wantInText: []string{"<html><body>Bitrix maintenance"}},
		{name: "empty body", status: 200, body: "",
			wantIs: []error{ErrEmptyServerResponse}, wantInText: []string{"empty body"}},
		{name: "whitespace body", status: 200, body: " \n",
			wantIs: []error{ErrEmptyServerResponse}},
		{name: "truncated JSON", status: 200, body: `{"OK":true,"DATA":{"a":`,
			wantIs: []error{ErrEmptyServerResponse}, wantInText: []string{`not the JSON envelope: "{\"OK\":true,\"DATA\":{\"a\":"`}},
		{name: "JSON that is not the envelope", status: 200, body: `[1,2]`, wantIs: []error{ErrEmptyServerResponse}},
		{name: "long garbage is cut", status: 200, body: strings.Repeat("x", 5000), wantIs: []error{ErrEmptyServerResponse},
			wantInText: []string{strings.Repeat("x", 100) + "…"}},
		{name: "OK false with several errors", status: 200,
			body:      `{"OK":false,"ERROR":[{"CODE":"LICENCE_ERROR","MESSAGE":"bad sign"},{"CODE":"NOT_ACTIVE_LINE","MESSAGE":"line 3 off"}]}`,
			wantIs:    []error{ErrLicence, ErrNotActiveLine, wire.ErrLicence},
			wantNotIs: []error{ErrReplay, ErrEmptyServerResponse, ErrTransport, ErrHTTPStatus},
			wantCodes: []wire.Code{wire.CodeLicence, wire.CodeNotActiveLine}, wantInText: []string{"bad sign", "line 3 off"}},
		{name: "OK false without errors", status: 200, body: `{"OK":false}`, wantIs: []error{ErrEmptyServerResponse}},
		{name: "method not found", status: 200, body: `{"OK":false,"ERROR":[{"CODE":"METHOD_NOT_FOUND","MESSAGE":"no such method"}]}`,
			wantIs: []error{ErrMethodNotFound}},
		{name: "500 HTML", status: 500, body: "<h1>Internal Server Error</h1>", method: "saveSettings",
			wantIs: []error{ErrHTTPStatus}, wantNotIs: []error{ErrTransport, ErrEmptyServerResponse},
			wantInText: []string{"500 Internal Server Error", "<h1>Internal Server Error</h1>"}},
		{name: "405 envelope", status: 405, body: `{"OK":false,"ERROR":[{"CODE":"METHOD_NOT_ALLOWED","MESSAGE":"POST only"}]}`,
			wantIs: []error{ErrHTTPStatus, ErrMethodNotAllowed}, wantCodes: []wire.Code{wire.CodeMethodNotAllowed}},
		{name: "413 envelope", status: 413, body: `{"OK":false,"ERROR":[{"CODE":"REQUEST_ENTITY_TOO_LARGE","MESSAGE":"8 MiB"}]}`,
			wantIs: []error{ErrHTTPStatus, ErrTooLarge}},
		{name: "404 empty", status: 404, body: "", wantIs: []error{ErrHTTPStatus}, wantInText: []string{"404 Not Found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, signings()[0], func(_ int, _ received, w http.ResponseWriter) {
				answerRaw(w, tt.status, tt.body)
			})
			method := tt.method
			if method == "" {
				method = "deleteConnector"
			}
			res, err := fs.client(t).Call(ctxT(t), method)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not *Error", err)
			}
			if ce.StatusCode != tt.status || ce.Method != method || ce.Attempts != 1 {
				t.Errorf("status %d method %q attempts %d", ce.StatusCode, ce.Method, ce.Attempts)
			}
			for _, w := range tt.wantIs {
				if !errors.Is(err, w) {
					t.Errorf("%v does not match %v", err, w)
				}
			}
			for _, w := range tt.wantNotIs {
				if errors.Is(err, w) {
					t.Errorf("%v matches %v", err, w)
				}
			}
			if tt.wantCodes != nil {
				got := ce.Codes()
				if len(got) != len(tt.wantCodes) {
					t.Fatalf("codes %v, want %v", got, tt.wantCodes)
				}
				for i := range got {
					if got[i] != tt.wantCodes[i] {
						t.Errorf("codes %v, want %v", got, tt.wantCodes)
					}
				}
				if CodeOf(err) != tt.wantCodes[0] {
					t.Errorf("CodeOf = %s", CodeOf(err))
				}
			}
			for _, w := range tt.wantInText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), method) {
				t.Errorf("message %q does not name the method", err)
			}
		})
	}
}

func TestAnswerTooLarge(t *testing.T) {
	fs := newFakeServer(t, signings()[0], func(_ int, _ received, w http.ResponseWriter) {
		answerRaw(w, 200, `{"OK":true,"DATA":"`+strings.Repeat("a", 2000)+`"}`)
	})
	_, err := fs.client(t, WithMaxResponse(1000)).Call(ctxT(t), "readSettings")
	if err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Fatalf("err = %v", err)
	}
	if fs.count() != 1 {
		t.Errorf("an oversize answer was retried: %d requests", fs.count())
	}
}

func TestTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := New("http://"+addr, WithDomain(testDomain), WithLicenceKey(testLicenceKey),
		WithRetry(Retry{MaxRetries: 0}))
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"testConnect", "sendMessage"} {
		_, err = c.Call(ctxT(t), method)
		if !errors.Is(err, ErrTransport) || errors.Is(err, ErrHTTPStatus) {
			t.Fatalf("%s: err = %v, want ErrTransport", method, err)
		}
		var ne *net.OpError
		if !errors.As(err, &ne) {
			t.Errorf("%s: the *net.OpError is not reachable: %v", method, err)
		}
	}
}

func TestUnserializableArgument(t *testing.T) {
	fs := newFakeServer(t, signings()[0], nil)
	_, err := fs.client(t).Call(ctxT(t), "saveSettings", make(chan int))
	if err == nil || !strings.Contains(err.Error(), "encoding the arguments") || errors.Is(err, ErrTransport) {
		t.Fatalf("err = %v", err)
	}
	if _, err := fs.client(t).Call(ctxT(t), ""); err == nil || !strings.Contains(err.Error(), "method name is empty") {
		t.Fatalf("empty method: %v", err)
	}
	if fs.count() != 0 {
		t.Errorf("%d packets sent", fs.count())
	}
}

func TestFireAndForget(t *testing.T) {
	tests := []struct {
		name    string
		handle  func(w http.ResponseWriter, release <-chan struct{})
		wantErr error
	}{
		{name: "garbage body is not parsed", handle: func(w http.ResponseWriter, _ <-chan struct{}) { answerRaw(w, 200, "<html>whatever") }},
		{name: "OK false is not parsed", handle: func(w http.ResponseWriter, _ <-chan struct{}) {
			answerRaw(w, 200, `{"OK":false,"ERROR":[{"CODE":"LICENCE_ERROR"}]}`)
		}},
		{name: "body never ends", handle: func(w http.ResponseWriter, release <-chan struct{}) {
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"OK":tr`))
			w.(http.Flusher).Flush()
			<-release
		}},
		{name: "non-2xx is an error", handle: func(w http.ResponseWriter, _ <-chan struct{}) { answerRaw(w, 502, "bad gateway") }, wantErr: ErrHTTPStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			fs := newFakeServer(t, signings()[1], func(_ int, _ received, w http.ResponseWriter) { tt.handle(w, release) })
			t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers
			c := fs.client(t)
			start := time.Now()
			err := c.SetStatusDelivered(ctxT(t), []StatusItem{{Chat: ChatRef{ID: "1"}, Message: MessageRef{ID: "2"}}})
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if tt.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if fs.count() != 1 {
				t.Errorf("%d requests: a write was retried", fs.count())
			}
			res, err := c.CallWith(ctxT(t), "custom", nil, FireAndForget())
			if tt.wantErr == nil && (err != nil || res.Data() != nil || res.StatusCode != 200) {
				t.Errorf("FireAndForget option: %+v, %v", res, err)
			}
		})
	}
}

func TestWaitForAnswer(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantCode wire.Code
	}{
		{"OK", `{"OK":true,"DATA":{"RESULT":"OK"}}`, ""},
		{"OK false is an error", `{"OK":false,"ERROR":[{"CODE":"NOT_ACTIVE_LINE","MESSAGE":"no such line"}]}`, wire.CodeNotActiveLine},
		{"garbage is an error", `<html>whatever`, wire.CodeEmptyServerResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, signings()[0], func(_ int, _ received, w http.ResponseWriter) { answerRaw(w, 200, tt.body) })
			c := fs.client(t)
			msgs := []OutgoingMessage{{Chat: ChatRef{ID: "1"}, Message: OutgoingContent{Text: "hi"}}}
			// Without the option the answer is not read.
			if err := c.SendMessage(ctxT(t), msgs, Connector("telegrambot")); err != nil {
				t.Fatalf("fire-and-forget: %v", err)
			}
			err := c.SendMessage(ctxT(t), msgs, Connector("telegrambot"), WaitForAnswer())
			if got := CodeOf(err); tt.wantCode == "" && err != nil || tt.wantCode != "" && got != tt.wantCode {
				t.Fatalf("err = %v (code %s), want code %q", err, got, tt.wantCode)
			}
		})
	}
}
