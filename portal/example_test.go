package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// A portal backend gets a working receiver in a few lines: New wires emoji, files, users, the Bot Framework
// chat context, the SQL stores (SQLite in DataDir here) and the client.
func ExampleNew() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}

	// The connector server, faked: it takes the portal's calls.
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wire.WriteResponse(w, map[string]string{"RESULT": "OK"}, nil)
	}))
	defer server.Close()
	dir, err := os.MkdirTemp("", "portal-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	p, err := portal.New(context.Background(), portal.Config{
		Credentials: creds,
		ServerURL:   server.URL,
		Domain:      "https://portal.example.com",
		DataDir:     dir, // or DSN: "mysql://user:pass@tcp(db:3306)/portal"
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	// The line is connected: p.Client().Connect sets its status, or here directly.
	err = p.SetLineStatus(context.Background(), "botframework", "3", openlines.LineStatus{Active: true, Connection: true, Register: true})
	if err != nil {
		panic(err)
	}
	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
		fmt.Printf("%s, line %s, chat %s, user %s: %s\n", m.Connector, m.Line, m.Chat.ID, m.UserID, m.Text)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", p.Handler())
	site := httptest.NewServer(mux)
	defer site.Close()

	// What the connector server sends: a signed receivingMessage packet.
	packet := &wire.Packet{Command: "receivingMessage", Connector: "botframework.skype", Line: "3", Version: "1.0.0",
		Data: []any{wire.NewMap(
			"user", wire.NewMap("id", "29:1A2b3C", "name", "Ann Lee"),
			"message", wire.NewMap("id", "1700000000001", "date", 1700000000, "text", "Hello :wave:"),
			"chat", wire.NewMap("id", "a:conv-42"),
		)}}
	fields, _ := packet.Encode(wire.ToPortal)
	signer, _ := wire.NewSigner(creds, nil)
	signed, _ := signer.Sign(fields)
	resp, err := http.Post(site.URL+"/pub/imconnector/", "application/x-www-form-urlencoded", strings.NewReader(signed.Encode()))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output:
	// botframework.skype, line 3, chat a:conv-42, user 1: Hello [ICON=/bitrix/images/emoji/1f44b.svg?v=2.2.5 title=:wave:]
	// {"OK":true,"DATA":[]}
}
