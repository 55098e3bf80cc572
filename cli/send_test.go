package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

func TestSend(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("sendMessage", func(fakeCall) (any, error) { return true, nil })
	r := run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "echo")},
		"send", "--chat", "chat-1", "--message-id", "m-1", "--user-id", "42", "--file", "https://files.example.com/a/invoice.pdf",
		"hello", "world").wantCode(t, 0)
	if r.out != "sent message m-1 to chat chat-1 (echo, line 3)\n" {
		t.Fatalf("output %q", r.out)
	}
	calls := fs.received()
	if len(calls) != 1 || calls[0].Method != "sendMessage" || calls[0].Connector != "echo" {
		t.Fatalf("calls %+v", calls)
	}
	// The current shape of a file (docs/protocol.md §10): name, type, mime, link, downloadLink, size, sizef.
	want := "[[{im={chat_id=chat-1 message_id=m-1} message={user_id=42 text=hello world files=[{name=invoice.pdf type= mime= link=https://files.example.com/a/invoice.pdf downloadLink= size=0 sizef=}]} chat={id=chat-1}}]]"
	if got := describeValue(calls[0].Args); got != want {
		t.Fatalf("args\n got %s\nwant %s", got, want)
	}

	// --raw keeps the text as it is.
	run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "echo")}, "send", "--chat", "c3", "--raw", ":+1:").wantCode(t, 0)
	if got := describeValue(fs.received()[1].Args); !strings.Contains(got, "text=:+1:}") {
		t.Fatalf("--raw changed the text: %s", got)
	}

	// Text from stdin, JSON output parsed back.
	var doc sendResultJSON
	run(t, runOpts{env: fs.env("OLCTL_CONNECTOR", "echo"), stdin: "from stdin\n"}, "send", "--chat", "c2", "--json", "-").
		wantCode(t, 0).decodeJSON(t, &doc)
	if !doc.OK || doc.Message.Message.Text != "from stdin" || doc.Message.Chat.ID != "c2" || doc.Message.IM.MessageID == "" {
		t.Fatalf("JSON %+v", doc)
	}
}

// portalDBWithContext is a portal database holding one chat's Bot Framework context; it returns its path.
func portalDBWithContext(t *testing.T, c bfcontext.Context) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	db, err := sqldb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := bfcontext.NewSQLStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSendBotFrameworkContextFromDB(t *testing.T) {
	path := portalDBWithContext(t, bfcontext.Context{ChatID: "29:conv", Connector: "botframework.skype",
		From: wire.NewMap("id", "28:bot", "name", "Bot"), ServiceURL: "https://smba.example.com/"})

	fs := newFakeServer(t, hmacCreds())
	fs.answer("sendMessage", func(fakeCall) (any, error) { return true, nil })
	env := fs.env("OLCTL_CONNECTOR", "botframework.skype")
	run(t, runOpts{env: env}, "send", "--chat", "29:conv", "--db", path, "--message-id", "1", "hi :smile:").wantCode(t, 0)
	calls := fs.received()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	got := describeValue(calls[0].Args)
	for _, w := range []string{"from={id=28:bot name=Bot}", "service_url=https://smba.example.com/",
		"text=hi [ICON=/bitrix/images/emoji/1f604.svg?v=2.2.5 title=:smile:]"} {
		if !strings.Contains(got, w) {
			t.Fatalf("message %s lacks %s", got, w)
		}
	}

	// Without --db, or for a chat the portal never saw, the message goes unchanged (docs/protocol.md §8.4).
	run(t, runOpts{env: env}, "send", "--chat", "29:conv", "hi").wantCode(t, 0)
	run(t, runOpts{env: env}, "send", "--chat", "29:other", "--db", path, "hi").wantCode(t, 0)
	calls = fs.received()
	if len(calls) != 3 {
		t.Fatalf("calls %+v", calls)
	}
	for _, c := range calls[1:] {
		if got := describeValue(c.Args); strings.Contains(got, "from=") || strings.Contains(got, "service_url=") {
			t.Fatalf("a message without a stored context was changed: %s", got)
		}
	}
}

func TestSendErrors(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	fs.answer("sendMessage", func(fakeCall) (any, error) { return nil, wire.Errorf(wire.CodeNotActiveLine, "inactive") })
	echo := fs.env("OLCTL_CONNECTOR", "echo")
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"missing chat", echo, []string{"hi"}, ExitUsage, "missing --chat"},
		{"no text", echo, []string{"--chat", "c"}, ExitUsage, "olctl send needs TEXT (- reads it from stdin)"},
		{"empty text", echo, []string{"--chat", "c", " "}, ExitUsage, "empty message"},
		{"local file", echo, []string{"--chat", "c", "--file", "/etc/passwd", "x"}, ExitUsage, "files travel as links"},
		{"missing connector", fs.env("OLCTL_CONNECTOR", ""), []string{"--chat", "c", "x"}, ExitUsage, "--connector, OLCTL_CONNECTOR"},
		{"unreachable", fs.env("OLCTL_CONNECTOR", "echo", "OLCTL_SERVER", closedURL(t)), []string{"--chat", "c", "x"}, ExitNetwork, "sendMessage"},
		// sendMessage is fire-and-forget in the SDK (docs/protocol.md §10), but olctl send waits for the answer: a person
		// must learn that the server refused the message.
		{"server refuses", echo, []string{"--chat", "c", "x"}, ExitFailed, "NOT_ACTIVE_LINE"},
		{"http 503", fs.env("OLCTL_CONNECTOR", "echo", "OLCTL_SERVER", down.URL), []string{"--chat", "c", "x"}, ExitNetwork, "503"},
		{"bad db", echo, []string{"--chat", "c", "--db", "mysql://", "x"}, ExitUsage, "--db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, append([]string{"send"}, tt.args...)...).wantCode(t, tt.code)
			if !strings.Contains(r.err, tt.want) {
				t.Fatalf("stderr %q lacks %q", r.err, tt.want)
			}
		})
	}
}

func TestNewCmdSendParsing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want SendOptions
		err  string
	}{
		{name: "defaults", args: []string{"--chat", "c1", "hello", "world"},
			want: SendOptions{Chat: "c1", UserID: "1", Text: []string{"hello", "world"}}},
		{name: "every flag", args: []string{"--chat", "c1", "--im-chat", "42", "--message-id", "m1", "--user-id", "7",
			"--file", "https://a/x.pdf", "--file", "https://a/y.png", "--db", "p.db", "--raw", "-"},
			want: SendOptions{Chat: "c1", IMChat: "42", MessageID: "m1", UserID: "7", Files: []string{"https://a/x.pdf", "https://a/y.png"},
				DB: "p.db", DBGiven: true, Raw: true, Text: []string{"-"}}},
		{name: "db from the environment", env: map[string]string{envPortalDB: "env.db"}, args: []string{"--chat", "c", "x"},
			want: SendOptions{Chat: "c", UserID: "1", DB: "env.db", Text: []string{"x"}}},
		{name: "no chat", args: []string{"hi"}, err: "missing --chat"},
		{name: "no text", args: []string{"--chat", "c"}, err: "send needs TEXT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *SendOptions
			err := parse(NewCmdSend(testFactory(tt.env), func(o *SendOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, runF ran %v", err, got != nil)
			}
			g := *got
			g.Context, g.IO, g.Config, g.Client = nil, IO{}, nil, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
