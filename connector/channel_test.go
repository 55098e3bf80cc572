package connector

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestLineReal: a line's real connector is the lower-cased id before the first '.'.
func TestLineReal(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"botframework", "botframework"},
		{"botframework.skype", "botframework"},
		{"BotFramework.Skype.x", "botframework"},
		{"echo", "echo"},
		{"", ""},
	} {
		if got := (&Line{Connector: tc.in}).Real(); got != tc.want {
			t.Errorf("Line{Connector: %q}.Real() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChannelsRegisterLookup(t *testing.T) {
	c := NewChannels()
	for _, bad := range []string{"", "a.b", "a/b", " "} {
		if err := c.Register(bad, NewEcho); err == nil {
			t.Errorf("Register(%q) accepted", bad)
		}
	}
	if err := c.Register("x", nil); err == nil {
		t.Error("Register with a nil factory accepted")
	}
	if err := c.Register("Other", NewEcho); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		conn, want string
		err        error
	}{
		{"echo", "echo", nil},
		{"echo.virtual", "echo", nil},
		{"OTHER.x", "other", nil},
		{"nope", "", ErrUnknownConnector},
		{"", "", ErrUnknownConnector},
	} {
		id, f, err := c.Lookup(tc.conn)
		if !errors.Is(err, tc.err) || id != tc.want || (err == nil) != (f != nil) {
			t.Errorf("Lookup(%q) = %q, %v, %v; want %q, %v", tc.conn, id, f != nil, err, tc.want, tc.err)
		}
	}
	if got := c.IDs(); len(got) != 2 || got[0] != "echo" || got[1] != "other" {
		t.Errorf("IDs = %v", got)
	}
	// A factory whose channel has another id is refused when the server builds its channels.
	if _, err := c.build(Env{}); err == nil {
		t.Error("build accepted a channel registered as other whose ID is echo")
	}
}

func TestEchoReceive(t *testing.T) {
	e, _ := NewEcho(Env{})
	l := &Line{Connector: "echo.test", LineID: "1"}
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	for _, tc := range []struct {
		name, body string
		n          int
		code       wire.Code
	}{
		{"one", `{"user":{"id":"u"},"message":{"id":"1","text":"hi"},"chat":{"id":"c"}}`, 1, ""},
		{"list", `[{"user":{"id":"u"},"message":{"id":1},"chat":{"id":"c"}},{"user":{"id":"u"},"message":{"id":2},"chat":{"id":"c"}}]`, 2, ""},
		{"items", `{"items":[{"command":"receivingStatusReading","chat":{"id":"c"},"message":{"id":"1"}}]}`, 1, ""},
		{"no user", `{"message":{"id":"1"},"chat":{"id":"c"}}`, 0, wire.CodeBadPacket},
		{"not json", `{"user":`, 0, wire.CodeBadPacket},
		{"trailing", `{} {}`, 0, wire.CodeBadPacket},
		{"empty list", `[]`, 0, wire.CodeBadPacket},
		{"scalar", `"x"`, 0, wire.CodeBadPacket},
		{"items not list", `{"items":3}`, 0, wire.CodeBadPacket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Receive(context.Background(), l, r, []byte(tc.body))
			if tc.code != "" {
				if wire.CodeOf(err) != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || len(got) != tc.n {
				t.Fatalf("got %d items, %v", len(got), err)
			}
			for _, in := range got {
				if in.Connector != "echo.test" || in.DedupKey == "" {
					t.Errorf("item %+v", in)
				}
				if _, err := wire.Serialize(in.Item); err != nil {
					t.Errorf("item does not serialize: %v", err)
				}
			}
		})
	}
}

func TestEchoSend(t *testing.T) {
	ch, _ := NewEcho(Env{})
	e := ch.(*Echo)
	item := wire.NewMap("im", wire.NewMap("chat_id", "5", "message_id", "77"), "message", wire.NewMap("text", "hi"), "chat", wire.NewMap("id", "c1"))
	out, err := e.Send(context.Background(), &Line{Connector: "echo"}, "sendMessage", []any{item})
	if err != nil || len(out) != 1 || out[0].Command != "receivingStatusDelivery" {
		t.Fatalf("Send = %+v, %v", out, err)
	}
	if d := out[0].Item.(openlines.StatusDeliveryItem); d.IM.MessageID != "77" || d.IM.ChatID != "5" || len(d.Message.IDs()) != 1 || d.Chat.ID != "c1" {
		t.Errorf("delivery %+v", d)
	}
	out, err = e.Send(context.Background(), &Line{Connector: "echo", Settings: map[string]string{"fail_send": "Y"}}, "sendMessage", []any{item})
	if err != nil || len(out) != 1 || out[0].Command != "receivingError" {
		t.Fatalf("Send fail_send = %+v, %v", out, err)
	}
	// A flat receivingError with the portal's own ids (docs/protocol.md §7).
	if f := out[0].Item.(openlines.ErrorItem); f.Code != openlines.ErrorNotSendMessageChat || f.ChatID != "5" || f.MessageID != "77" || f.Validate() != nil {
		t.Errorf("error %+v", f)
	}
	if len(e.Sent()) != 2 {
		t.Errorf("Sent = %d", len(e.Sent()))
	}
	if _, err := e.Send(context.Background(), &Line{}, "sendMessage", []any{"not a map"}); err == nil {
		t.Error("a scalar item was accepted")
	}
}
