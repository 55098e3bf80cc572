package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
)

// makeDBs makes, in the working directory, portal.db as `olctl serve` keeps it and connector.db as
// `olctl connector serve` keeps it.
func makeDBs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "portal.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := portal.NewSQLStatusStore(ctx, db, clock.System()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st, err := connector.Open(ctx, "connector.db")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// components returns the olctl components a database holds.
func components(t *testing.T, dsn string) string {
	t.Helper()
	db, err := sqldb.OpenExisting(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	have, err := db.Components(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(have, ",")
}

// TestDatabaseOfTheRightKind: the inspectors and send refuse a missing database (and make no file) and a
// database of the other kind (and write nothing into it), with exit 2 and a message naming the flag and
// what the database is; connect may create the portal database but refuses the connector's.
func TestDatabaseOfTheRightKind(t *testing.T) {
	var out strings.Builder
	t.Run("run", func(t *testing.T) { testDatabaseOfTheRightKind(t, &out) })
	golden(t, "dbkind", out.String())
}

func testDatabaseOfTheRightKind(t *testing.T, out *strings.Builder) {
	t.Chdir(t.TempDir())
	makeDBs(t)
	send := []string{"send", "--server", "http://127.0.0.1:1", "--domain", "http://portal.example", "--licence-key", "k", "--connector", "echo", "--line", "1", "--chat", "c", "hi"}
	cases := []struct {
		name string
		args []string
	}{
		{"stats missing", []string{"connector", "queue", "stats", "--db", "nosuch.db"}},
		{"ls missing", []string{"connector", "queue", "ls", "--db", "nosuch.db"}},
		{"dead missing", []string{"connector", "queue", "dead", "--db", "sub/nosuch.db"}},
		{"stats portal", []string{"connector", "queue", "stats", "--db", "portal.db"}},
		{"dead portal", []string{"connector", "queue", "dead", "--db", "portal.db"}},
		{"send connector", append(append([]string{}, send...), "--db", "connector.db")},
		{"send missing", append(append([]string{}, send...), "--db", "elsewhere/portal.db")},
		{"register connector", []string{"register", "--server", "http://127.0.0.1:1", "--domain", "http://portal.example", "--licence-key", "k", "--connector", "echo", "--line", "1", "--db", "connector.db"}},
	}
	for _, c := range cases {
		r := olctl(t, c.args...).wantCode(t, ExitUsage)
		fmt.Fprintf(out, "$ olctl %s\nexit %d\n%s\n", strings.Join(c.args, " "), r.code, r.err)
	}
	for _, f := range []string{"nosuch.db", "sub", "elsewhere"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was made", f)
		}
	}
	if got := components(t, "portal.db"); got != "portal" {
		t.Errorf("portal.db holds %s after the refusals, want portal", got)
	}
	if got := components(t, "connector.db"); got != "connector" {
		t.Errorf("connector.db holds %s after the refusals, want connector", got)
	}
	// The right kinds open: the empty queue of connector.db, and the chat contexts of portal.db (send then
	// fails on the network, exit 3, not on the database).
	olctl(t, "connector", "queue", "stats", "--db", "connector.db", "--json").wantCode(t, ExitOK)
	olctl(t, append(append([]string{}, send...), "--db", "portal.db")...).wantCode(t, ExitNetwork)
}
