package portal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
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

// A subscriber that writes its action through Tx acts exactly once per item: the row commits with the
// portal's record that the item fired, so the packet the connector server sends again is a duplicate that
// writes nothing, and a crash or an error before that commit leaves neither the row nor the record.
func ExampleTx() {
	ctx := context.Background()
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	dir, err := os.MkdirTemp("", "portal-tx-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// The backend's table lives in the portal's database: Tx is a transaction on it.
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(dir, "portal.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE inbox (chat VARCHAR(64) NOT NULL, body TEXT NOT NULL)`); err != nil {
		panic(err)
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials:  creds,
		ServerURL:    "http://127.0.0.1:1", // not called: the current profile acknowledges by the answer
		Domain:       "https://portal.example.com",
		DB:           db,
		DataDir:      dir,
		AnswerWithin: -1, // answer once the items finished, so that the count below is final
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	if err := p.SetLineStatus(ctx, "botframework", "3", openlines.LineStatus{Active: true, Connection: true, Register: true}); err != nil {
		panic(err)
	}
	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
		tx, err := portal.Tx(ctx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO inbox (chat, body) VALUES (?, ?)`, m.Chat.ID, m.Text)
		return err // nil: the row and the item's record commit together; an error rolls back both
	})
	_, err = portal.Tx(ctx)
	fmt.Println("outside a subscriber:", errors.Is(err, portal.ErrNoTx))

	site := httptest.NewServer(p.Handler())
	defer site.Close()
	packet := &wire.Packet{Command: "receivingMessage", Connector: "botframework.skype", Line: "3", Version: "1.0.0",
		Data: []any{wire.NewMap(
			"user", wire.NewMap("id", "29:1A2b3C", "name", "Ann Lee"),
			"message", wire.NewMap("id", "1700000000001", "date", 1700000000, "text", "Hello"),
			"chat", wire.NewMap("id", "a:conv-42"),
		)}}
	fields, _ := packet.Encode(wire.ToPortal)
	signer, _ := wire.NewSigner(creds, nil)
	for range 2 { // the connector server sends the packet twice
		signed, _ := signer.Sign(fields)
		resp, err := http.Post(site.URL+"/pub/imconnector/", "application/x-www-form-urlencoded", strings.NewReader(signed.Encode()))
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	var rows int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox`).Scan(&rows); err != nil {
		panic(err)
	}
	fmt.Println("rows in inbox:", rows)
	// Output:
	// outside a subscriber: true
	// {"OK":true,"DATA":[]}
	// {"OK":true,"DATA":[]}
	// rows in inbox: 1
}
