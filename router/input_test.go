package router_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

const (
	licenceKey = "DEMO-LICENCE-KEY-0001"
	secret     = "whsec-demo-0123456789abcdef"
	vectorsDir = "../wire/testdata/vectors/packets.json"
)

var (
	md5Creds  = wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	hmacCreds = wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"old-secret", secret}}
	epoch     = time.Unix(1732412345, 0)
)

// recorder is a handler that keeps every request it was given.
type recorder struct {
	mu    sync.Mutex
	reqs  []*router.Request
	typed []typedCall  // the calls of a HandleItems handler
	docs  []wire.Value // the items of a HandleDoc handler's calls
}

type typedCall struct {
	items []router.MessageItem
	errs  []error
}

func (r *recorder) handle(_ context.Context, req *router.Request) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return map[string]any{"RESULT": "OK", "ITEMS": req.ItemCount()}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) last(t *testing.T) *router.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the handler was not called")
	}
	return r.reqs[len(r.reqs)-1]
}

var allCommands = []string{
	router.CommandReceivingMessage, router.CommandReceivingStatusDelivery, router.CommandReceivingStatusReading,
	router.CommandReceivingError, router.CommandReceivingStatusBlock, router.CommandDeactivateConnector,
	router.CommandSetChatName,
}

// server starts an Input on 127.0.0.1 with every §5 command recorded (testConnect stays built in).
func server(t *testing.T, creds wire.Credentials, clk clock.Clock, opts ...router.InputOption) (*httptest.Server, *recorder) {
	t.Helper()
	return serverWith(t, creds, clk, viaHandle, opts...)
}

// handlerKind is how serverWith registers receivingMessage.
type handlerKind int

const (
	viaHandle      handlerKind = iota // Handle: the decoded tree in Items
	viaHandleItems                    // HandleItems: typed items, recorded in typed
	viaHandleDoc                      // HandleDoc: a wire.Doc, recorded in docs
)

func (k handlerKind) String() string {
	return [...]string{"", " (HandleItems)", " (HandleDoc)"}[k]
}

// serverWith is server with receivingMessage registered as via says.
func serverWith(t *testing.T, creds wire.Credentials, clk clock.Clock, via handlerKind, opts ...router.InputOption) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	r := router.New()
	for _, c := range allCommands {
		r.Handle(c, rec.handle)
	}
	switch via {
	case viaHandleDoc:
		router.HandleDoc(r, router.CommandReceivingMessage, func(ctx context.Context, req *router.Request, items wire.Value) (any, error) {
			rec.mu.Lock()
			rec.docs = append(rec.docs, items)
			rec.mu.Unlock()
			return rec.handle(ctx, req)
		})
	case viaHandleItems:
		router.HandleItems(r, router.CommandReceivingMessage, func(ctx context.Context, req *router.Request, items []router.MessageItem, errs []error) (any, error) {
			rec.mu.Lock()
			rec.typed = append(rec.typed, typedCall{items, errs})
			rec.mu.Unlock()
			return rec.handle(ctx, req)
		})
	}
	r.Handle("panics", func(context.Context, *router.Request) (any, error) { panic("boom") })
	opts = append([]router.InputOption{router.WithCredentials(creds), router.WithClock(clk)}, opts...)
	srv := httptest.NewServer(router.NewInput(r, opts...))
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestVectorsAcceptedAsTheyAre(t *testing.T) {
	n := 0
	for _, v := range routertest.LoadVectors(t, vectorsDir) {
		if !strings.HasPrefix(v.Name, "server_to_portal") {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			ts, _ := strconv.ParseInt(v.Fields.Get(wire.FieldTimestamp), 10, 64)
			clk := clock.NewFake(time.Unix(ts+10, 0))
			srv, rec := server(t, v.Credentials(), clk)
			a := routertest.Post(t, srv.Client(), srv.URL, v.Fields.Encode())
			if a.Status != 200 || a.Err != nil {
				t.Fatalf("answer %d %s: %v", a.Status, a.Body, a.Err)
			}
			cmd := v.Fields.Get(wire.FieldCommand)
			if cmd == router.CommandTestConnect {
				if string(a.Response.Data) != `{"RESULT":"OK"}` {
					t.Fatalf("testConnect answered %s", a.Body)
				}
				if rec.count() != 0 {
					t.Fatal("testConnect reached a recorder")
				}
				return
			}
			req := rec.last(t)
			if req.Command != cmd || req.Connector != "botframework.skype" || req.Line != "3" {
				t.Fatalf("request %q %q %q", req.Command, req.Connector, req.Line)
			}
			items, err := router.BindItems[router.MessageItem](req.Items)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 {
				t.Fatalf("%d items", len(items))
			}
			it := items[0]
			want := router.MessageItem{
				User:       router.User{ID: "29:1A2b3C", Name: "Анна Петрова", Picture: router.Picture{URL: "http://127.0.0.1:9/avatar.png"}},
				Message:    router.Message{ID: "1700000000001", Date: 1700000000, Text: "Привет :smile: can you help? :+1:", Files: []router.File{{URL: "http://127.0.0.1:9/files/report.pdf", Name: "report.pdf"}}},
				Chat:       router.Chat{ID: "a:conv-42"},
				Recipient:  router.Account{ID: "28:bot-id", Name: "helpdesk-bot"},
				ServiceURL: "https://smba.trafficmanager.net/apis/",
			}
			if !equalJSON(t, it, want) {
				t.Fatalf("item\n got %+v\nwant %+v", it, want)
			}
			if err := it.Validate(); err != nil || it.Type() != router.MessageNew {
				t.Fatalf("validate %v, type %q", err, it.Type())
			}
		})
	}
	if n < 2 {
		t.Fatalf("only %d server → portal vectors", n)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

// commandItems are representative items of each §5 command and the typed check of what the handler got.
var commandItems = map[string]struct {
	items any
	check func(t *testing.T, items []any)
}{
	router.CommandReceivingMessage: {
		items: []any{wire.NewMap(
			"user", wire.NewMap("id", "u1", "name", "Ann Lee", "gender", "female", "picture", wire.NewMap("url", "http://x/p.png", "headers", []any{wire.NewMap("name", "Authorization", "value", "Bearer t")})),
			"message", wire.NewMap("id", 42, "date", "1700000000", "text", "hi", "files", []any{wire.NewMap("url", "http://x/f.txt", "type", "text/plain")}),
			"chat", wire.NewMap("id", "c1", "name", "Support", "url", "http://x/c1"),
			"type_message", "message_update",
			"extra", wire.NewMap("k", "v"),
			"unknown_key", "kept",
		)},
		check: func(t *testing.T, items []any) {
			it := bind[router.MessageItem](t, items)
			if it.User.ID != "u1" || it.User.Gender != "female" || it.User.Picture.Headers[0].Value != "Bearer t" ||
				it.Message.ID != "42" || it.Message.Date != 1700000000 || it.Message.Files[0].Type != "text/plain" ||
				it.Chat.URL != "http://x/c1" || it.Type() != router.MessageUpdate || it.Other["unknown_key"] != "kept" {
				t.Fatalf("item %+v", it)
			}
			if m, ok := it.Extra.(*wire.Map); !ok || m.String("k") != "v" {
				t.Fatalf("extra %#v", it.Extra)
			}
		},
	},
	router.CommandReceivingStatusDelivery: {
		items: []any{wire.NewMap("im", wire.NewMap("chat_id", 7, "message_id", 99), "message", wire.NewMap("id", "ext-1", "date", 1700000001), "chat", wire.NewMap("id", "c1"))},
		check: func(t *testing.T, items []any) {
			it := bind[router.StatusDeliveryItem](t, items)
			if it.IM.ChatID != "7" || it.IM.MessageID != "99" || it.Message.ID != "ext-1" || it.Message.Date != 1700000001 || it.Chat.ID != "c1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	router.CommandReceivingStatusReading: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1"))},
		check: func(t *testing.T, items []any) {
			it := bind[router.StatusReadingItem](t, items)
			if it.Chat.ID != "c1" || it.Message.ID != "m1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	router.CommandReceivingError: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1"), "error", wire.NewMap("code", "BLOCKED", "message", "user blocked the bot"))},
		check: func(t *testing.T, items []any) {
			it := bind[router.ErrorItem](t, items)
			if it.Error.Code != "BLOCKED" || it.Error.Message != "user blocked the bot" || it.Message.ID != "m1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	router.CommandReceivingStatusBlock: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "u1"))},
		check: func(t *testing.T, items []any) {
			it := bind[router.StatusBlockItem](t, items)
			if it.Chat.ID != "c1" || it.User.ID != "u1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	router.CommandDeactivateConnector: {
		items: nil,
		check: func(t *testing.T, items []any) {
			if len(items) != 0 {
				t.Fatalf("items %#v", items)
			}
		},
	},
	router.CommandSetChatName: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1", "name", "New name"))},
		check: func(t *testing.T, items []any) {
			it := bind[router.ChatNameItem](t, items)
			if it.Chat.Name != "New name" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
}

func bind[T any](t *testing.T, items []any) T {
	t.Helper()
	out, err := router.BindItems[T](items)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d items", len(out))
	}
	return out[0]
}

func TestEveryCommandInBothModes(t *testing.T) {
	for _, creds := range []wire.Credentials{md5Creds, hmacCreds} {
		t.Run(string(creds.Mode), func(t *testing.T) {
			clk := clock.NewFake(epoch)
			srv, rec := server(t, creds, clk)
			send := routertest.NewSender(t, creds, clk, "botframework.skype", "3")
			a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, router.CommandTestConnect, nil))
			if a.Err != nil || string(a.Response.Data) != `{"RESULT":"OK"}` {
				t.Fatalf("testConnect: %s", a.Body)
			}
			for _, cmd := range allCommands {
				t.Run(cmd, func(t *testing.T) {
					c := commandItems[cmd]
					a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, cmd, c.items))
					if a.Status != 200 || a.Err != nil || !a.Response.OK {
						t.Fatalf("answer %d %s", a.Status, a.Body)
					}
					req := rec.last(t)
					if req.Command != cmd || req.Connector != "botframework.skype" || req.Line != "3" || req.Packet == nil {
						t.Fatalf("request %+v", req)
					}
					c.check(t, req.Items)
				})
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	clk := clock.NewFake(epoch)
	okItems := commandItems[router.CommandReceivingMessage].items
	md5Send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	hmacSend := routertest.NewSender(t, hmacCreds, clk, "botframework", "3")

	// resign replaces DATA before signing, so that the packet is well signed but carries bad data.
	resign := func(s *routertest.Sender, cmd, data string) string {
		f, err := s.Unsigned(cmd, okItems)
		if err != nil {
			t.Fatal(err)
		}
		for i := range f {
			if f[i].Name == wire.FieldData {
				f[i].Value = data
			}
		}
		signed, err := s.Signer.Sign(f)
		if err != nil {
			t.Fatal(err)
		}
		return signed.Encode()
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	replayed := hmacSend.Body(t, router.CommandReceivingMessage, okItems)
	fakeKey := routertest.NewSender(t, wire.Credentials{Mode: wire.MD5, LicenceKey: "someone-else"}, clk, "botframework", "3")

	cases := []struct {
		name   string
		creds  wire.Credentials
		method string
		body   func() string
		before func(url string, c *http.Client) // e.g. deliver once first
		status int
		code   wire.Code
	}{
		{name: "missing BX_HASH", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, router.CommandReceivingMessage, okItems)
			return f[:len(f)-1].Encode()
		}, status: 200, code: wire.CodeHashEmpty},
		{name: "wrong hash", creds: md5Creds, body: func() string {
			return fakeKey.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "tampered value", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, router.CommandReceivingMessage, okItems)
			f[2].Value = "4" // LINE
			return f.Encode()
		}, status: 200, code: wire.CodeLicence},
		{name: "hash over reordered fields", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, router.CommandReceivingMessage, okItems)
			f[1], f[2] = f[2], f[1]
			return f.Encode()
		}, status: 200, code: wire.CodeLicence},
		{name: "stale timestamp", creds: hmacCreds, body: func() string {
			old := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(-301*time.Second)), "botframework", "3")
			return old.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeReplay},
		{name: "future timestamp", creds: hmacCreds, body: func() string {
			f := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(301*time.Second)), "botframework", "3")
			return f.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeReplay},
		{name: "reused nonce", creds: hmacCreds, body: func() string { return replayed },
			before: func(url string, c *http.Client) {
				if a := routertest.Post(t, c, url, replayed); a.Err != nil {
					t.Fatalf("first delivery: %s", a.Body)
				}
			}, status: 200, code: wire.CodeReplay},
		{name: "md5 packet to an hmac receiver", creds: hmacCreds, body: func() string {
			return md5Send.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "hmac packet to an md5 receiver", creds: md5Creds, body: func() string {
			return hmacSend.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "bad base64", creds: md5Creds, body: func() string {
			return resign(md5Send, router.CommandReceivingMessage, "%%not*base64")
		}, status: 200, code: wire.CodeBadPacket},
		{name: "bad serialize", creds: md5Creds, body: func() string {
			return resign(md5Send, router.CommandReceivingMessage, b64(`a:1:{i:0;s:5:"abc";}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "an object in DATA", creds: hmacCreds, body: func() string {
			return resign(hmacSend, router.CommandReceivingMessage, b64(`a:1:{i:0;O:8:"stdClass":1:{s:1:"a";i:1;}}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "a reference in DATA", creds: md5Creds, body: func() string {
			return resign(md5Send, router.CommandReceivingMessage, b64(`a:2:{i:0;a:0:{}i:1;R:2;}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "DATA not a list", creds: md5Creds, body: func() string {
			return resign(md5Send, router.CommandReceivingMessage, b64(`i:5;`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "no DATA", creds: md5Creds, body: func() string {
			f, _ := md5Send.Unsigned(router.CommandReceivingMessage, okItems)
			signed, err := md5Send.Signer.Sign(f[:len(f)-1])
			if err != nil {
				t.Fatal(err)
			}
			return signed.Encode()
		}, status: 200, code: wire.CodeBadPacket},
		{name: "duplicate field", creds: md5Creds, body: func() string {
			return md5Send.Body(t, router.CommandReceivingMessage, okItems) + "&LINE=3"
		}, status: 200, code: wire.CodeBadPacket},
		{name: "unknown command", creds: md5Creds, body: func() string {
			return md5Send.Body(t, "dropDatabase", okItems)
		}, status: 200, code: wire.CodeUnknownCommand},
		{name: "GET", creds: md5Creds, method: http.MethodGet, body: func() string { return "" },
			status: 405, code: wire.CodeMethodNotAllowed},
		{name: "PUT", creds: md5Creds, method: http.MethodPut, body: func() string {
			return md5Send.Body(t, router.CommandReceivingMessage, okItems)
		}, status: 405, code: wire.CodeMethodNotAllowed},
		{name: "oversize body", creds: md5Creds, body: func() string {
			return md5Send.Body(t, router.CommandReceivingMessage, []any{wire.NewMap("user", wire.NewMap("id", "u"), "message", wire.NewMap("id", "1", "text", strings.Repeat("x", 9<<20)))})
		}, status: 413, code: wire.CodeRequestEntityTooLarge},
		{name: "a handler that panics", creds: md5Creds, body: func() string {
			return md5Send.Body(t, "panics", okItems)
		}, status: 200, code: wire.CodeInternal},
	}
	for _, c := range cases {
		for _, via := range []handlerKind{viaHandle, viaHandleItems, viaHandleDoc} {
			t.Run(c.name+via.String(), func(t *testing.T) {
				srv, rec := serverWith(t, c.creds, clk, via)
				if c.before != nil {
					c.before(srv.URL, srv.Client())
				}
				before := rec.count()
				method := c.method
				if method == "" {
					method = http.MethodPost
				}
				a := routertest.Do(t, srv.Client(), method, srv.URL, c.body())
				if a.Status != c.status {
					t.Fatalf("status %d, want %d (%s)", a.Status, c.status, a.Body)
				}
				if a.Response == nil || a.Response.OK || len(a.Response.Errors) != 1 || a.Codes()[0] != c.code {
					t.Fatalf("answer %s, want code %s", a.Body, c.code)
				}
				if a.Response.Errors[0].Message == "" {
					t.Fatal("the error has no message")
				}
				if got := rec.count(); got != before {
					t.Fatalf("the handler was called %d times", got-before)
				}
			})
		}
	}
}

func TestInputWithoutCredentialsRefusesEverything(t *testing.T) {
	for _, creds := range []wire.Credentials{{}, {Mode: wire.HMACSHA256}, {Mode: "sha1", LicenceKey: "k"}} {
		in := router.NewInput(router.New(), router.WithCredentials(creds))
		if !errors.Is(in.Err(), router.ErrNoCredentials) {
			t.Fatalf("%+v: Err() = %v", creds, in.Err())
		}
		srv := httptest.NewServer(in)
		send := routertest.NewSender(t, md5Creds, nil, "botframework", "3")
		a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, router.CommandTestConnect, nil))
		srv.Close()
		if !errors.Is(a.Err, wire.ErrLicence) {
			t.Fatalf("%+v: answer %s", creds, a.Body)
		}
	}
	if err := router.NewInput(nil, router.WithCredentials(md5Creds)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestMethodNotAllowedNamesPOST(t *testing.T) {
	srv, _ := server(t, md5Creds, nil)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
}

func TestBodyCapIsConfigurable(t *testing.T) {
	send := routertest.NewSender(t, md5Creds, nil, "botframework", "3")
	body := send.Body(t, router.CommandTestConnect, nil)
	for _, c := range []struct {
		max    int64
		status int
	}{{int64(len(body)), 200}, {int64(len(body)) - 1, 413}} {
		srv, _ := server(t, md5Creds, nil, router.WithMaxBody(c.max))
		if a := routertest.Post(t, srv.Client(), srv.URL, body); a.Status != c.status {
			t.Fatalf("cap %d: status %d (%s)", c.max, a.Status, a.Body)
		}
	}
}

func TestSharedReplayGuard(t *testing.T) {
	clk := clock.NewFake(epoch)
	guard := wire.NewReplayGuard(clk, wire.WithWindow(time.Minute))
	a, _ := server(t, hmacCreds, clk, router.WithReplayGuard(guard))
	b, _ := server(t, hmacCreds, clk, router.WithReplayGuard(guard))
	send := routertest.NewSender(t, hmacCreds, clk, "botframework", "3")
	body := send.Body(t, router.CommandTestConnect, nil)
	if ans := routertest.Post(t, nil, a.URL, body); ans.Err != nil {
		t.Fatal(ans.Err)
	}
	if ans := routertest.Post(t, nil, b.URL, body); !errors.Is(ans.Err, wire.ErrReplay) {
		t.Fatalf("second input accepted a replay: %s", ans.Body)
	}
	old := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(-61*time.Second)), "botframework", "3")
	if ans := routertest.Post(t, nil, a.URL, old.Body(t, router.CommandTestConnect, nil)); !errors.Is(ans.Err, wire.ErrReplay) {
		t.Fatalf("the guard's window was not used: %s", ans.Body)
	}
}

func TestSecretRotation(t *testing.T) {
	clk := clock.NewFake(epoch)
	srv, _ := server(t, hmacCreds, clk)
	for _, s := range hmacCreds.Secrets {
		send := routertest.NewSender(t, wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{s}}, clk, "botframework", "3")
		if a := routertest.Post(t, nil, srv.URL, send.Body(t, router.CommandTestConnect, nil)); a.Err != nil {
			t.Fatalf("secret %q refused: %s", s, a.Body)
		}
	}
}

func TestRefusalsAreObserved(t *testing.T) {
	m := router.NewMetrics(nil)
	srv, _ := server(t, md5Creds, nil, router.WithObserver(m))
	routertest.Do(t, nil, http.MethodGet, srv.URL, "")
	routertest.Post(t, nil, srv.URL, "BX_COMMAND=testConnect&DATA=x")
	snap := m.Snapshot()
	if len(snap) != 1 || snap[0].Command != router.RefusedLabel || snap[0].Requests != 2 ||
		snap[0].Errors[wire.CodeMethodNotAllowed] != 1 || snap[0].Errors[wire.CodeHashEmpty] != 1 {
		t.Fatalf("%+v", snap)
	}
}
