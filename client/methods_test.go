package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/wire"
)

func TestWrappers(t *testing.T) {
	msgs := []OutgoingMessage{{
		IM:      IMRef{ChatID: "17", MessageID: "901"},
		Message: OutgoingContent{UserID: "1", Text: "hello", Files: []OutgoingFile{{Name: "a.png", Type: "image/png", Link: "https://p/a.png", Size: 10}}},
		Chat:    ChatRef{ID: "29:abc"},
	}}
	wantMsg := []any{[]any{wire.NewMap(
		"im", wire.NewMap("chat_id", "17", "message_id", "901"),
		"message", wire.NewMap("user_id", "1", "text", "hello", "files", []any{wire.NewMap("name", "a.png", "type", "image/png", "link", "https://p/a.png", "size", int64(10))}),
		"chat", wire.NewMap("id", "29:abc"),
	)}}
	items := []StatusItem{{Chat: ChatRef{ID: "c1"}, Message: MessageRef{ID: "m1"}}, {Chat: ChatRef{ID: "c1"}, Message: MessageRef{ID: "m2"}}}
	wantItems := []any{[]any{
		wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1")),
		wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m2")),
	}}
	tests := []struct {
		name    string
		command string
		answer  any // DATA the server answers
		call    func(ctx context.Context, c *Client) (any, error)
		args    []any
		want    any
	}{
		{name: "SaveSettings", command: "saveSettings", answer: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SaveSettings(ctx, Settings{"bot_handle": "b", "app_id": "1", "app_secret": "s"})
			},
			args: []any{wire.NewMap("app_id", "1", "app_secret", "s", "bot_handle", "b")}},
		{name: "TestConnect", command: "testConnect", answer: map[string]any{"RESULT": "OK"},
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.TestConnect(ctx) }},
		{name: "Register", command: "register", answer: map[string]any{"URL": "https://srv/imwebhook/botframework?h=x"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.Register(ctx) },
			want: Data{"URL": "https://srv/imwebhook/botframework?h=x"}},
		{name: "Register empty", command: "register", answer: []any{},
			call: func(ctx context.Context, c *Client) (any, error) { return c.Register(ctx) }, want: Data{}},
		{name: "Unregister", command: "unregister",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Unregister(ctx) }},
		{name: "DeleteConnector", command: "deleteConnector",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteConnector(ctx) }},
		{name: "ReadSettings", command: "readSettings", answer: map[string]any{"app_id": "1", "app_secret": "***"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ReadSettings(ctx) },
			want: Settings{"app_id": "1", "app_secret": "***"}},
		{name: "InfoConnect", command: "infoConnect",
			answer: map[string]any{"ID": "bot1", "NAME": "My bot", "URL": "https://bot", "URL_IM": "https://im", "PICTURE": nil},
			call:   func(ctx context.Context, c *Client) (any, error) { return c.InfoConnect(ctx) },
			want: &ConnectorInfo{ID: "bot1", Name: "My bot", URL: "https://bot", URLIM: "https://im",
				Data: Data{"ID": "bot1", "NAME": "My bot", "URL": "https://bot", "URL_IM": "https://im", "PICTURE": nil}}},
		{name: "InfoConnectLink", command: "infoConnectLink", answer: map[string]any{"skype": "https://join.skype/x"},
			call: func(ctx context.Context, c *Client) (any, error) { return c.InfoConnectLink(ctx) },
			want: Data{"skype": "https://join.skype/x"}},
		{name: "ListConnector object", command: "listConnector",
			answer: json.RawMessage(`{"telegrambot":"Telegram","botframework.skype":"Skype","botframework":"Bot Framework"}`),
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ListConnector(ctx) },
			want:   []ConnectorEntry{{"telegrambot", "Telegram"}, {"botframework.skype", "Skype"}, {"botframework", "Bot Framework"}}},
		{name: "InfoConnectorsLine", command: "infoConnectorsLine",
			answer: map[string]any{"botframework.skype": map[string]any{"ACTIVE": "Y", "CONNECTION": true, "REGISTER": 1, "ERROR": "N"}},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.InfoConnectorsLine(ctx, "3")
			},
			args: []any{"3"},
			want: map[string]ConnectorStatus{"botframework.skype": {Active: true, Connection: true, Register: true,
				Data: Data{"ACTIVE": "Y", "CONNECTION": true, "REGISTER": json.Number("1"), "ERROR": "N"}}}},
		{name: "DeleteLine", command: "deleteLine",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteLine(ctx, "5") },
			args: []any{"5"}},
		{name: "SendMessage", command: "sendMessage", answer: "ignored",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SendMessage(ctx, msgs, Connector("telegrambot"))
			}, args: wantMsg},
		{name: "UpdateMessage", command: "updateMessage",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.UpdateMessage(ctx, msgs, Connector("telegrambot"))
			}, args: wantMsg},
		{name: "DeleteMessage", command: "deleteMessage",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.DeleteMessage(ctx, msgs, Connector("telegrambot"))
			}, args: wantMsg},
		{name: "SetStatusDelivered", command: "setStatusDelivered",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.SetStatusDelivered(ctx, items) },
			args: wantItems},
		{name: "SetStatusReading", command: "setStatusReading",
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.SetStatusReading(ctx, items) },
			args: wantItems},
		{name: "InitializeReceiveMessages", command: "initializeReceiveMessages",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.InitializeReceiveMessages(ctx, true)
			}, args: []any{true}},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				fs := newFakeServer(t, s, func(_ int, p received, w http.ResponseWriter) { answer(w, tt.answer) })
				got, err := tt.call(ctxT(t), fs.client(t))
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				pk := fs.received()
				if len(pk) != 1 {
					t.Fatalf("%d packets, want 1", len(pk))
				}
				if pk[0].Err != nil {
					t.Fatalf("server refused: %v", pk[0].Err)
				}
				if c := pk[0].Packet.Command; c != tt.command {
					t.Errorf("BX_COMMAND %q, want %q", c, tt.command)
				}
				if !reflect.DeepEqual(pk[0].Args, tt.args) {
					t.Errorf("arguments\n got %#v\nwant %#v", pk[0].Args, tt.args)
				}
				if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
					t.Errorf("result\n got %#v\nwant %#v", got, tt.want)
				}
			})
		}
	}
}

func TestTestConnectFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer any
		ok     bool
	}{
		{"RESULT OK", map[string]any{"RESULT": "OK"}, true},
		{"true", true, true},
		{"no data", nil, true},
		{"false", false, false},
		{"RESULT ERROR", map[string]any{"RESULT": "ERROR"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, signings()[0], func(_ int, _ received, w http.ResponseWriter) {
				if tt.answer == false {
					answerRaw(w, 200, `{"OK":true,"DATA":false}`)
					return
				}
				answer(w, tt.answer)
			})
			err := fs.client(t).TestConnect(ctxT(t))
			if tt.ok != (err == nil) {
				t.Fatalf("TestConnect = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, ErrFailedTestConnector) {
				t.Errorf("%v does not match ErrFailedTestConnector", err)
			}
		})
	}
}

func TestListConnectorShapes(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    []ConnectorEntry
		wantErr string
	}{
		{"object of names", `{"b":"B","a":"A"}`, []ConnectorEntry{{"b", "B"}, {"a", "A"}}, ""},
		{"object of objects", `{"x":{"NAME":"X"},"y":{"id":"yy","name":"Y"}}`, []ConnectorEntry{{"x", "X"}, {"yy", "Y"}}, ""},
		{"list of objects", `[{"ID":"a","NAME":"A"},{"id":7,"name":"Seven"}]`, []ConnectorEntry{{"a", "A"}, {"7", "Seven"}}, ""},
		{"list of strings", `["a","b"]`, []ConnectorEntry{{"a", "a"}, {"b", "b"}}, ""},
		{"empty array", `[]`, []ConnectorEntry{}, ""},
		{"null", `null`, []ConnectorEntry{}, ""},
		{"number", `5`, nil, "not a list or an object"},
		{"item without id", `[{"name":"x"}]`, nil, "has no id"},
		{"item of wrong type", `[5]`, nil, "neither a string nor an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConnectorList([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

func TestSendMessageBotFrameworkContext(t *testing.T) {
	ctx := ctxT(t)
	store := bfcontext.NewMemoryStore()
	if _, err := store.Put(ctx, bfcontext.Context{ChatID: "29:abc", Connector: "botframework.skype",
		From: bfcontext.Account{ID: "28:bot", Name: "Bot"}, ServiceURL: "https://smba.example/"}); err != nil {
		t.Fatal(err)
	}
	msg := func(chat string) OutgoingMessage {
		return OutgoingMessage{IM: IMRef{ChatID: "1", MessageID: "2"}, Message: OutgoingContent{UserID: "3", Text: "hi"},
			Chat: ChatRef{ID: chat}}
	}
	own := msg("29:zzz")
	own.From, own.ServiceURL = &bfcontext.Account{ID: "28:other"}, "https://own/"
	tests := []struct {
		name      string
		connector string
		store     bfcontext.Store
		msgs      []OutgoingMessage
		wantFrom  []*wire.Map // nil: no from key
		wantURL   []string
		wantErr   error
	}{
		{name: "virtual botframework", connector: "botframework.skype", store: store, msgs: []OutgoingMessage{msg("29:abc")},
			wantFrom: []*wire.Map{wire.NewMap("id", "28:bot", "name", "Bot")}, wantURL: []string{"https://smba.example/"}},
		{name: "real id is case-insensitive", connector: "BotFramework.skype", store: store, msgs: []OutgoingMessage{msg("29:abc")},
			wantErr: ErrNoChatContext}, // stored under the lower-case virtual connector only
		{name: "message carries its own", connector: "botframework.skype", store: nil, msgs: []OutgoingMessage{own},
			wantFrom: []*wire.Map{wire.NewMap("id", "28:other")}, wantURL: []string{"https://own/"}},
		{name: "unknown chat", connector: "botframework.skype", store: store, msgs: []OutgoingMessage{msg("29:abc"), msg("29:nope")},
			wantErr: bfcontext.ErrNotFound},
		{name: "no store", connector: "botframework.skype", store: nil, msgs: []OutgoingMessage{msg("29:abc")},
			wantErr: ErrNoChatContext},
		{name: "other connector untouched", connector: "telegrambot", store: store, msgs: []OutgoingMessage{msg("29:abc")},
			wantFrom: []*wire.Map{nil}, wantURL: []string{""}},
		{name: "botframework-like name is not botframework", connector: "botframeworkx", store: store,
			msgs: []OutgoingMessage{msg("29:abc")}, wantFrom: []*wire.Map{nil}, wantURL: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, signings()[1], nil)
			c := fs.client(t, WithChatContext(tt.store))
			if tt.store == nil {
				c = fs.client(t)
			}
			before := append([]OutgoingMessage(nil), tt.msgs...)
			err := c.SendMessage(ctx, tt.msgs, Connector(tt.connector))
			if !reflect.DeepEqual(before, tt.msgs) {
				t.Error("SendMessage modified the caller's messages")
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if fs.count() != 0 {
					t.Error("a packet was sent despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := fs.received()[0]
			items := p.Args[0].([]any)
			for i, it := range items {
				m := it.(*wire.Map)
				from, hasFrom := m.Get("from")
				if tt.wantFrom[i] == nil {
					if hasFrom {
						t.Errorf("item %d has from %v", i, from)
					}
				} else if !reflect.DeepEqual(from, tt.wantFrom[i]) {
					t.Errorf("item %d from = %#v, want %#v", i, from, tt.wantFrom[i])
				}
				if u := m.String("service_url"); u != tt.wantURL[i] {
					t.Errorf("item %d service_url = %q, want %q", i, u, tt.wantURL[i])
				}
			}
		})
	}
}

func TestSendMessageNeedsMessages(t *testing.T) {
	fs := newFakeServer(t, signings()[0], nil)
	err := fs.client(t).SendMessage(ctxT(t), nil)
	if err == nil || !strings.Contains(err.Error(), "no messages") || fs.count() != 0 {
		t.Fatalf("err = %v, packets %d", err, fs.count())
	}
}

func TestConnect(t *testing.T) {
	tests := []struct {
		name     string
		failAt   string // command that fails
		wantStep string
		wantCode error
		wantSent []string
	}{
		{name: "all steps", wantSent: []string{"saveSettings", "testConnect", "register"}},
		{name: "save fails", failAt: "saveSettings", wantStep: "saveSettings", wantCode: ErrFailedSaveSettings,
			wantSent: []string{"saveSettings"}},
		{name: "test fails", failAt: "testConnect", wantStep: "testConnect", wantCode: ErrFailedTestConnector,
			wantSent: []string{"saveSettings", "testConnect"}},
		{name: "register fails", failAt: "register", wantStep: "register", wantCode: ErrFailedRegister,
			wantSent: []string{"saveSettings", "testConnect", "register"}},
	}
	for _, s := range signings() {
		for _, tt := range tests {
			t.Run(s.name+"/"+tt.name, func(t *testing.T) {
				fs := newFakeServer(t, s, func(_ int, p received, w http.ResponseWriter) {
					switch {
					case p.Packet.Command == tt.failAt:
						wire.WriteResponse(w, nil, wire.Errorf(wire.CodeNotActiveLine, "line 3 is off"))
					case p.Packet.Command == "register":
						answer(w, map[string]any{"URL": "https://hook"})
					case p.Packet.Command == "testConnect":
						answer(w, map[string]any{"RESULT": "OK"})
					default:
						answer(w, true)
					}
				})
				d, err := fs.client(t).Connect(ctxT(t), Settings{"app_id": "1"})
				var sent []string
				for _, p := range fs.received() {
					if p.Err != nil {
						t.Fatalf("server refused: %v", p.Err)
					}
					sent = append(sent, p.Packet.Command)
				}
				if !reflect.DeepEqual(sent, tt.wantSent) {
					t.Errorf("sent %v, want %v", sent, tt.wantSent)
				}
				if tt.failAt == "" {
					if err != nil || d.String("url") != "https://hook" {
						t.Fatalf("Connect = %v, %v", d, err)
					}
					return
				}
				var ce *ConnectError
				if !errors.As(err, &ce) || ce.Step != tt.wantStep {
					t.Fatalf("err = %v, want a ConnectError at %s", err, tt.wantStep)
				}
				if !errors.Is(err, tt.wantCode) || !errors.Is(err, ErrNotActiveLine) {
					t.Errorf("%v does not match both the step code and NOT_ACTIVE_LINE", err)
				}
				if got := wire.CodeOf(err); got != tt.wantCode.(*wire.Error).Code {
					t.Errorf("wire.CodeOf = %s", got)
				}
				if got := CodeOf(err); got != tt.wantCode.(*wire.Error).Code {
					t.Errorf("CodeOf = %s", got)
				}
				if !strings.Contains(err.Error(), tt.wantStep) || !strings.Contains(err.Error(), "line 3 is off") {
					t.Errorf("message %q", err)
				}
			})
		}
	}
}
