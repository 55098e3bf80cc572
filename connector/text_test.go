package connector

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// TestTextTheDatabaseCannotStore: a NUL or invalid UTF-8 in a value the records keep (a chat id, a line, a
// setting) is stored where the database can hold it (SQLite any bytes, MySQL a NUL) and answered
// BAD_PACKET where it cannot, with nothing stored; never INTERNAL_ERROR.
func TestTextTheDatabaseCannotStore(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		p := newFakePortal(t, "key-text", nil)
		s := newTestServer(t, p, Config{DSN: dsn, NoDispatch: true})
		hook := p.connect("echo", "1", nil)
		nul, badUTF8 := "a\x00b", "a\xffb"
		refused := func(v string) bool {
			switch s.store.db.Dialect {
			case sqldb.SQLite:
				return false
			case sqldb.MySQL:
				return v == badUTF8
			}
			return true
		}
		rows := func() string {
			var b strings.Builder
			for _, tbl := range []string{"conn_site", "conn_line", "conn_param", "conn_lane", "conn_queue"} {
				var n int
				if err := s.store.db.QueryRow(`SELECT COUNT(*) FROM ` + tbl).Scan(&n); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "%s=%d ", tbl, n)
			}
			return b.String()
		}
		check := func(what, v string, status int, code string, before string) {
			t.Helper()
			want := "OK"
			if refused(v) {
				want = string(wire.CodeBadPacket)
			}
			if code != want {
				t.Errorf("%s %q: %d %s, want %s", what, v, status, code, want)
			}
			if want != "OK" && rows() != before {
				t.Errorf("%s %q: the records changed: %s, were %s", what, v, rows(), before)
			}
		}
		// A webhook's JSON turns invalid UTF-8 into U+FFFD; \u0000 is a NUL.
		before := rows()
		status, code := rawPost(t, "POST", hook, "application/json", `{"user":{"id":"u"},"message":{"id":"1"},"chat":{"id":"a\u0000b"}}`)
		check("webhook chat.id", nul, status, code, before)
		for i, v := range []string{nul, badUTF8} {
			before := rows()
			f, err := p.fields("saveSettings", "echo", fmt.Sprint(i+2), wire.NewMap("name", v))
			if err != nil {
				t.Fatal(err)
			}
			status, code := rawPost(t, "POST", s.PortalEndpoint(), "application/x-www-form-urlencoded", f.Encode())
			check("setting", v, status, code, before)
			f, err = p.fields("saveSettings", "echo", "l"+v, wire.NewMap("name", "x"))
			if err != nil {
				t.Fatal(err)
			}
			before = rows()
			status, code = rawPost(t, "POST", s.PortalEndpoint(), "application/x-www-form-urlencoded", f.Encode())
			check("line", v, status, code, before)
		}
		if _, err := p.call(context.Background(), "testConnect", "echo", "1"); err != nil {
			t.Fatalf("the server after the refusals: %v", err)
		}
	})
}
