// Package receiver shows a portal receiver on the application's own database: portal.New keeps its tables
// (line statuses, processed items, users, Bot Framework chat contexts) in a *sql.DB the application opened
// with database/sql, and leaves it open on Close.
package receiver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

const licenceKey = "my-licence-key" // the portal's licence key: it signs every packet (md5, as Bitrix does)

func TestReceiverSQLite(t *testing.T) {
	// The pragmas are those sqldb.Open sets: without the busy timeout, WAL and immediate write
	// transactions, concurrent writers fail with SQLITE_BUSY.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "app.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	receive(t, db, sqldb.SQLite)
}

func TestReceiverPostgres(t *testing.T) {
	db, err := sql.Open("pgx", postgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	receive(t, db, sqldb.Postgres)
}

// receive runs a portal on db, connects a line and receives a customer's message through the connector
// server.
func receive(t *testing.T, db *sql.DB, dialect sqldb.Dialect) {
	ctx := t.Context()
	server := startConnectorServer(t)
	mux := http.NewServeMux()
	site := httptest.NewServer(mux) // the portal's site: the connector server posts to /pub/imconnector/
	defer site.Close()

	store, err := sqldb.New(db, dialect) // the portal's tables go into the application's database
	if err != nil {
		t.Fatal(err)
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
		ServerURL:   server.URL(), // where the portal's calls go
		Domain:      site.URL,     // this portal's own URL (BX_DOMAIN), where the server posts
		DB:          store,
		FilesDir:    t.TempDir(), // where imported attachments are kept
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	received := make(chan portal.Message, 1)
	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
		received <- m
		return nil // acknowledged; an error leaves the item to be delivered again
	})
	mux.Handle("/pub/imconnector/", p.Handler())

	// Connect line 1 (saveSettings → testConnect → register): the portal records the line as open, and
	// only an open line's messages get in. register answers the messenger's webhook URL.
	hook, err := p.Client().Connect(ctx, client.Settings{},
		client.Connector(connector.EchoID), client.Line("1")) // "botframework", … on a real server
	if err != nil {
		t.Fatal(err)
	}

	// A customer writes: the echo channel's messenger is its webhook, which takes items as JSON.
	postWebhook(t, hook.String("URL_WEBHOOK"), `{"user":{"id":"u-1","name":"Ann Lee"},`+
		`"message":{"id":"m-1","date":1700000000,"text":"Hello :wave:"},"chat":{"id":"chat-1"}}`)

	select {
	case m := <-received:
		want := "Hello [ICON=/bitrix/images/emoji/1f44b.svg?v=2.2.5 title=:wave:]" // emoji as Bitrix's icons
		if m.Connector != connector.EchoID || m.Line != "1" || m.Chat.ID != "chat-1" || m.Text != want {
			t.Errorf("received %s line %s chat %s: %q, want echo line 1 chat chat-1: %q", m.Connector, m.Line, m.Chat.ID, m.Text, want)
		}
		if m.UserID == "" {
			t.Error("the customer has no internal user")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the customer's message did not reach the portal")
	}

	// The line's status is a row of the application's database, which stays open after the portal closes.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var lines int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM olctl_portal_status").Scan(&lines); err != nil || lines != 1 {
		t.Fatalf("olctl_portal_status: %d rows, %v; want the connected line", lines, err)
	}
}

// startConnectorServer runs a connector server in this process (127.0.0.1, a random port, a temporary
// SQLite database, the echo channel) that knows one portal by its licence key.
func startConnectorServer(t *testing.T) *connector.Server {
	t.Helper()
	srv, err := connector.NewServer(connector.Config{Sites: []connector.Site{{LicenceKey: licenceKey}},
		AllowPrivateNetworks: true, // the portal of the test listens on 127.0.0.1
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// postWebhook posts a messenger's webhook body to the connector server.
func postWebhook(t *testing.T, hook, body string) {
	t.Helper()
	resp, err := http.Post(hook, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %s", resp.Status)
	}
}

// postgresDSN is OLCTL_TEST_POSTGRES_DSN with its search_path set to a new schema, which the test drops at
// its end. Without the variable the test is skipped, loudly, or fails under CI=true.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("OLCTL_TEST_POSTGRES_DSN")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("OLCTL_TEST_POSTGRES_DSN is not set, and CI=true needs the PostgreSQL example to run")
		}
		t.Skip("SKIPPING the PostgreSQL example: set OLCTL_TEST_POSTGRES_DSN " +
			"(e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "olctl_example_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatalf("OLCTL_TEST_POSTGRES_DSN: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			_, _ = db.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`)
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OLCTL_TEST_POSTGRES_DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
