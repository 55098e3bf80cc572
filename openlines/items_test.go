package openlines

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/olctl/olctl/wire"
)

// vectorData returns the DATA of a vector of the wire package's copy of the PHP vectors, decoded and with
// both stubs undone, as a receiver reads it.
func vectorData(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "vectors", "packets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs map[string]struct {
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	v, ok := vs[name]
	if !ok {
		t.Fatalf("no vector %s", name)
	}
	p := &wire.Packet{RawData: v.Fields["DATA"]}
	if err := p.DecodeData(); err != nil {
		t.Fatal(err)
	}
	return p.Data
}

func bindOne[T any](t *testing.T, name string) T {
	t.Helper()
	var items []T
	if err := wire.Bind(vectorData(t, name), &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("%s: %d items", name, len(items))
	}
	return items[0]
}

func TestMessageItemOfCurrentVectors(t *testing.T) {
	t.Parallel()
	m := bindOne[MessageItem](t, "server_to_portal_receivingMessage_current_empty_arrays")
	if m.Type() != MessageNew || m.TypeMessage != "Message" {
		t.Fatalf("type %q → %q", m.TypeMessage, m.Type())
	}
	if len(m.Message.Files) != 0 || len(m.Message.Attachments) != 0 {
		t.Fatalf("empty arrays: %+v", m.Message)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if role, _ := m.Recipient.Get("role"); role != "bot" {
		t.Fatalf("recipient %+v: the whole map is kept", m.Recipient)
	}

	m = bindOne[MessageItem](t, "server_to_portal_receivingMessage_current_bigfile_location_emoji")
	if !m.Message.FailedBigFile || len(m.Message.Attachments) != 1 {
		t.Fatalf("message %+v", m.Message)
	}
	loc := m.Message.Attachments[0].Location
	if loc == nil || loc.Title != "Main office" || loc.Coordinates.Latitude != "55.75393" || loc.Coordinates.Longitude != "37.620795" {
		t.Fatalf("location %+v", loc)
	}
	if m.Message.FirstID() != "act-0002-wc" {
		t.Fatalf("id %v", m.Message.ID)
	}
}

func TestMessageItemValidate(t *testing.T) {
	t.Parallel()
	ok := MessageItem{User: User{ID: "u"}, Chat: Chat{ID: "c"}}
	for _, tc := range []struct {
		name string
		item MessageItem
		code wire.Code
	}{
		{"no message.id is fine", ok, ""},
		{"no user.id", MessageItem{Chat: Chat{ID: "c"}}, wire.CodeNoUserIM},
		{"no chat.id", MessageItem{User: User{ID: "u"}}, wire.CodeNotAllRequiredData},
		{"unknown type", MessageItem{User: User{ID: "u"}, Chat: Chat{ID: "c"}, TypeMessage: "poll"}, wire.CodeUnsupportedType},
		{"welcome", MessageItem{User: User{ID: "u"}, Chat: Chat{ID: "c"}, TypeMessage: "Welcome"}, ""},
		{"command_start", MessageItem{User: User{ID: "u"}, Chat: Chat{ID: "c"}, TypeMessage: "COMMAND_START"}, ""},
	} {
		err := tc.item.Validate()
		if tc.code == "" && err != nil || tc.code != "" && !errors.Is(err, tc.code) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
	for _, tc := range []struct {
		item MessageItem
		ok   bool
	}{
		{MessageItem{Message: Message{Text: "hi"}}, true},
		{MessageItem{Message: Message{Files: []File{{URL: "u"}}}}, true},
		{MessageItem{Message: Message{Text: " \n"}}, false},
		{MessageItem{TypeMessage: MessageDelete}, true},
		{MessageItem{TypeMessage: MessageTypingStart}, true},
		{MessageItem{TypeMessage: MessagePost}, false},
	} {
		if err := tc.item.ValidateContent(); (err == nil) != tc.ok {
			t.Errorf("%+v: ValidateContent %v", tc.item, err)
		}
	}
}

func TestErrorItemIsFlat(t *testing.T) {
	t.Parallel()
	e := bindOne[ErrorItem](t, "server_to_portal_receivingError_current")
	want := ErrorItem{Code: ErrorNotSendMessageChat, ChatID: "118", MessageID: "40211", UserID: "wc-7Hq2Lx",
		MessageConnector: "The messenger refused the message (HTTP 403)", Params: ErrorParams{ErrorCode: "HTTP_403"}}
	if e.Code != want.Code || e.ChatID != want.ChatID || e.MessageID != want.MessageID || e.UserID != want.UserID ||
		e.MessageConnector != want.MessageConnector || e.Params.ErrorCode != want.Params.ErrorCode {
		t.Fatalf("got %+v\nwant %+v", e, want)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestStatusBlockTellsBlockFromUnblock(t *testing.T) {
	t.Parallel()
	deny := bindOne[StatusBlockItem](t, "server_to_portal_receivingStatusBlock_deny_current")
	allow := bindOne[StatusBlockItem](t, "server_to_portal_receivingStatusBlock_allow_current")
	if !deny.Blocked() || allow.Blocked() {
		t.Fatalf("deny blocked %v, allow blocked %v", deny.Blocked(), allow.Blocked())
	}
	if deny.Validate() != nil || allow.Validate() != nil {
		t.Fatal("both are valid")
	}
	bad := StatusBlockItem{Chat: Chat{ID: "c"}, Message: Message{Type: "maybe"}}
	if bad.Validate() == nil {
		t.Fatal("an unknown message.type must not validate")
	}
}

func TestChatNameIsOneMap(t *testing.T) {
	t.Parallel()
	var c ChatName
	if err := wire.Bind(vectorData(t, "server_to_portal_setChatName_current"), &c); err != nil {
		t.Fatal(err)
	}
	if c != (ChatName{Name: "Ivan Sidorov (web chat)", ChatID: "wc-conv-7Hq2Lx", UserID: "wc-7Hq2Lx"}) {
		t.Fatalf("%+v", c)
	}
	if c.Validate() != nil || (&ChatName{Name: "x"}).Validate() == nil {
		t.Fatal("Validate")
	}
}

func TestMessageIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   any
		want []string
	}{
		{nil, nil},
		{"", nil},
		{"a", []string{"a"}},
		{int64(7), []string{"7"}},
		{[]any{"x", int64(2)}, []string{"x", "2"}},
		{wire.NewMap("0", "y"), []string{"y"}},
		{[]string{"p", "", "q"}, []string{"p", "q"}}, // as a sender builds it
	} {
		m := Message{ID: tc.id}
		got := m.IDs()
		if len(got) != len(tc.want) {
			t.Errorf("%#v: %v, want %v", tc.id, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%#v: %v, want %v", tc.id, got, tc.want)
			}
		}
	}
}
