package client

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func outgoing(chat, text string) openlines.OutgoingMessage {
	return openlines.OutgoingMessage{
		IM:      openlines.IMRef{ChatID: "42", MessageID: "1001"},
		Message: openlines.OutgoingContent{UserID: "7", Text: text},
		Chat:    openlines.ChatRef{ID: chat},
	}
}

// sentMessages returns the message list of the last packet, as the server decoded it.
func sentMessages(t *testing.T, f *fixture) []openlines.OutgoingMessage {
	t.Helper()
	var msgs []openlines.OutgoingMessage
	if err := f.Last(t).Bind(0, &msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// The outgoing message travels in the current shape: DATA [[msg, …]], files as links, no user.
func TestOutgoingMessageShape(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t, WithConnector("vkgroup"))
	m := outgoing("chat-1", "Hello")
	m.Message.Files = []openlines.OutgoingFile{{Name: "a.png", Type: "image", MIME: "image/png",
		Link: "https://portal.example.com/a.png", Size: 1200, SizeF: "1.2 KB", Width: 10, Height: 20}}
	if err := c.SendMessage(ctxT(t), []openlines.OutgoingMessage{m, outgoing("chat-2", "Bye")}); err != nil {
		t.Fatal(err)
	}
	got := f.Last(t)
	if got.Method != "sendMessage" || len(got.Args) != 1 {
		t.Fatalf("%s with %d arguments", got.Method, len(got.Args))
	}
	list, ok := got.Args[0].([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("DATA is not [[msg, msg]]: %#v", got.Args)
	}
	first := list[0].(*wire.Map)
	if keys := mapKeys(first); keys != "im,message,chat" {
		t.Fatalf("message keys %s", keys)
	}
	msgs := sentMessages(t, f)
	if msgs[0].Message.Files[0] != m.Message.Files[0] || msgs[0].IM != m.IM || msgs[0].Chat.ID != "chat-1" || msgs[1].Message.Text != "Bye" {
		t.Fatalf("sent %+v", msgs)
	}

	// updateMessage and deleteMessage carry the external ids.
	up := openlines.OutgoingMessage{IM: m.IM, Chat: m.Chat, Message: openlines.OutgoingContent{ID: []string{"ext-1"}, Text: "Hello!"}}
	if err := c.UpdateMessage(ctxT(t), []openlines.OutgoingMessage{up}); err != nil {
		t.Fatal(err)
	}
	if got := sentMessages(t, f); f.Last(t).Method != "updateMessage" || got[0].Message.ID[0] != "ext-1" || got[0].Message.Text != "Hello!" {
		t.Fatalf("updateMessage sent %+v", got)
	}
	del := openlines.OutgoingMessage{IM: m.IM, Chat: m.Chat, Message: openlines.OutgoingContent{ID: []string{"ext-1", "ext-2"}}}
	if err := c.DeleteMessage(ctxT(t), []openlines.OutgoingMessage{del}); err != nil {
		t.Fatal(err)
	}
	if got := sentMessages(t, f); f.Last(t).Method != "deleteMessage" || len(got[0].Message.ID) != 2 {
		t.Fatalf("deleteMessage sent %+v", got)
	}
	if err := c.SendMessage(ctxT(t), nil); wire.CodeOf(err) != wire.CodeNotAllRequiredData {
		t.Fatalf("no messages: %v", err)
	}
}

// Typing is a sendMessage item with message.type typing_start and no user.
func TestSendTyping(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t, WithConnector("vkgroup"))
	msgs := []openlines.OutgoingMessage{outgoing("chat-1", "")}
	if err := c.SendTyping(ctxT(t), msgs); err != nil {
		t.Fatal(err)
	}
	got := f.Last(t)
	if got.Method != "sendMessage" {
		t.Fatalf("method %s", got.Method)
	}
	item := got.Args[0].([]any)[0].(*wire.Map)
	if _, ok := item.Get("user"); ok {
		t.Fatal("a typing item carries a user")
	}
	if sent := sentMessages(t, f); sent[0].Message.Type != "typing_start" || sent[0].Chat.ID != "chat-1" {
		t.Fatalf("sent %+v", sent)
	}
	if msgs[0].Message.Type != "" {
		t.Fatal("SendTyping changed the caller's slice")
	}
}

func mapKeys(m *wire.Map) string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, wire.KeyString(e.Key))
	}
	return strings.Join(out, ",")
}

// The stored Bot Framework context overrides the message's from and service_url; a chat without one is sent
// unchanged, and logged; other connectors are never touched.
func TestBotFrameworkContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := bfcontext.NewMemoryStore()
	recipient := wire.NewMap("id", "28:bot", "name", "Helpdesk", "role", "bot")
	if _, err := store.Put(ctx, bfcontext.Context{ChatID: "29:abc", Connector: "botframework.skype", From: recipient,
		ServiceURL: "https://smba.example/"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, bfcontext.Context{ChatID: "29:url-only", Connector: "botframework.skype",
		ServiceURL: "https://other.example/"}); err != nil {
		t.Fatal(err)
	}
	own := outgoing("29:abc", "hi")
	own.From, own.ServiceURL = wire.NewMap("id", "28:mine"), "https://mine/"
	tests := []struct {
		name       string
		connector  string
		store      bfcontext.Store
		msg        openlines.OutgoingMessage
		wantFrom   string // the id of from, "" for none
		wantURL    string
		wantLogged bool
	}{
		{"merged", "botframework.skype", store, outgoing("29:abc", "hi"), "28:bot", "https://smba.example/", false},
		{"the stored values win", "botframework.skype", store, own, "28:bot", "https://smba.example/", false},
		{"the real id in any case", "BotFramework.skype", nil, outgoing("29:abc", "hi"), "", "", true},
		{"only what is stored is merged", "botframework.skype", store, func() openlines.OutgoingMessage {
			m := outgoing("29:url-only", "hi")
			m.From = wire.NewMap("id", "28:mine")
			return m
		}(), "28:mine", "https://other.example/", false},
		{"no context: sent unchanged", "botframework.skype", store, outgoing("29:unknown", "hi"), "", "", true},
		{"no context of this virtual connector", "botframework.telegram", store, outgoing("29:abc", "hi"), "", "", true},
		{"no store: sent unchanged", "botframework.skype", nil, own, "28:mine", "https://mine/", true},
		{"another connector is not touched", "vkgroup", store, outgoing("29:abc", "hi"), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := md5Fixture(t)
			var logs bytes.Buffer
			opts := []Option{WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))}
			if tt.store != nil {
				opts = append(opts, WithChatContext(tt.store))
			}
			c := f.client(t, opts...)
			in := []openlines.OutgoingMessage{tt.msg}
			before := in[0]
			for _, send := range []func(context.Context, []openlines.OutgoingMessage, ...CallOption) error{c.SendMessage, c.UpdateMessage, c.DeleteMessage} {
				if err := send(ctxT(t), in, Connector(tt.connector)); err != nil {
					t.Fatal(err)
				}
				item := f.Last(t).Args[0].([]any)[0].(*wire.Map)
				from, _ := item.Get("from")
				fromID := ""
				if m, ok := from.(*wire.Map); ok {
					fromID = m.String("id")
					if tt.wantFrom == "28:bot" && mapKeys(m) != "id,name,role" {
						t.Errorf("the whole recipient map is not sent: %s", mapKeys(m))
					}
				}
				if fromID != tt.wantFrom || item.String("service_url") != tt.wantURL {
					t.Errorf("%s: from %q, service_url %q; want %q, %q", f.Last(t).Method, fromID, item.String("service_url"), tt.wantFrom, tt.wantURL)
				}
			}
			if in[0].From != before.From || in[0].ServiceURL != before.ServiceURL {
				t.Error("the caller's message was changed")
			}
			if logged := strings.Contains(logs.String(), "no Bot Framework context"); logged != tt.wantLogged {
				t.Errorf("logged %v, want %v:\n%s", logged, tt.wantLogged, logs.String())
			}
		})
	}
}

type failingStore struct{ bfcontext.Store }

func (failingStore) Get(context.Context, string, string) (bfcontext.Context, error) {
	return bfcontext.Context{}, errors.New("database down")
}

// A store that fails is an error before anything is sent: the message would lose its context silently.
func TestBotFrameworkContextStoreFailure(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t, WithChatContext(failingStore{}))
	err := c.SendMessage(ctxT(t), []openlines.OutgoingMessage{outgoing("29:abc", "hi")})
	if wire.CodeOf(err) != wire.CodeInternal || !strings.Contains(err.Error(), "database down") || f.Count() != 0 {
		t.Fatalf("err %v, %d packets", err, f.Count())
	}
}

// setStatusReading goes only to the connectors that take it (vkgroup, avito; configurable) and counts as
// done for the others.
func TestSetStatusReading(t *testing.T) {
	t.Parallel()
	items := []openlines.StatusItem{{Chat: openlines.ChatRef{ID: "chat-1"}, Message: openlines.MessageRef{ID: "ext-9"}}}
	for _, tt := range []struct {
		connector string
		opts      []Option
		sent      bool
	}{
		{"vkgroup", nil, true},
		{"avito", nil, true},
		{"VKGroup", nil, true},
		{"botframework.skype", nil, false},
		{"telegrambot", nil, false},
		{"telegrambot", []Option{WithReadingConnectors("telegrambot", "vkgroup")}, true},
		{"avito", []Option{WithReadingConnectors("telegrambot", "vkgroup")}, false},
		{"vkgroup", []Option{WithReadingConnectors()}, false},
	} {
		f := md5Fixture(t)
		c := f.client(t, tt.opts...)
		if err := c.SetStatusReading(ctxT(t), items, Connector(tt.connector)); err != nil {
			t.Fatalf("%s: %v", tt.connector, err)
		}
		res, err := c.Call(ctxT(t), "setStatusReading", []any{items}, Connector(tt.connector))
		if err != nil || res == nil {
			t.Fatalf("%s by Call: %v", tt.connector, err)
		}
		if sent := f.Count() == 2; sent != tt.sent {
			t.Errorf("%s %v: sent %v, want %v", tt.connector, tt.opts, sent, tt.sent)
		}
		if tt.sent {
			var got []openlines.StatusItem
			if err := f.Last(t).Bind(0, &got); err != nil || got[0] != items[0] {
				t.Errorf("%s: sent %+v, %v", tt.connector, got, err)
			}
		}
	}
}

func TestSetStatusDeliveredAndInitialize(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	c := f.client(t)
	items := []openlines.StatusItem{{Chat: openlines.ChatRef{ID: "chat-1"}, Message: openlines.MessageRef{ID: "m-1"}}}
	if err := c.SetStatusDelivered(ctxT(t), items, Connector("botframework.webchat"), Line("5")); err != nil {
		t.Fatal(err)
	}
	got := f.Last(t)
	var sent []openlines.StatusItem
	if err := got.Bind(0, &sent); err != nil || sent[0] != items[0] || got.Connector != "botframework.webchat" || got.Line != "5" {
		t.Fatalf("%+v %v on %s/%s", sent, err, got.Connector, got.Line)
	}
	if err := c.InitializeReceiveMessages(ctxT(t), true); err != nil {
		t.Fatal(err)
	}
	if got := f.Last(t); got.Method != "initializeReceiveMessages" || got.Args[0] != true {
		t.Fatalf("%s %v", got.Method, got.Args)
	}
}
