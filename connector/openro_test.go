package connector

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/olctl/olctl/sqldb"
)

// storeOpeners are the ways to open a database that must be a connector server's.
var storeOpeners = map[string]func(context.Context, string) (*Store, error){"OpenReadOnly": OpenReadOnly}

// TestOpenReadOnly: a missing SQLite file is refused and not made; a database of another kind is
// ErrNotConnectorDB and keeps its tables; a connector database reads.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "nosuch.db")
	for name, open := range storeOpeners {
		if _, err := open(ctx, missing); !errors.Is(err, sqldb.ErrNoDatabase) {
			t.Fatalf("%s(missing): %v, want sqldb.ErrNoDatabase", name, err)
		}
		if matches, _ := filepath.Glob(filepath.Join(dir, "nosuch*")); len(matches) != 0 {
			t.Fatalf("%s made %v", name, matches)
		}
	}
	other := filepath.Join(dir, "portal.db")
	db, err := sqldb.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	step := []sqldb.Migration{{Version: 1, SQLite: []string{"CREATE TABLE p (k INTEGER)"}}}
	if err := db.Migrate(ctx, "portal", step); err != nil {
		t.Fatal(err)
	}
	for name, open := range storeOpeners {
		if _, err := open(ctx, other); !errors.Is(err, ErrNotConnectorDB) || err.Error() != "connector: not a connector server database: it holds the tables of portal" {
			t.Fatalf("%s(portal database): %v", name, err)
		}
	}
	if have, _ := db.Components(ctx); fmt.Sprint(have) != "[portal]" {
		t.Fatalf("the portal database holds %v after the refusals", have)
	}
	db.Close()
	conn := filepath.Join(dir, "connector.db")
	st, err := Open(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro, err := OpenReadOnly(ctx, conn)
	if err != nil {
		t.Fatalf("OpenReadOnly(connector database): %v", err)
	}
	defer ro.Close()
	if qs, err := ro.QueueStats(ctx); err != nil || qs.Pending != 0 {
		t.Fatalf("QueueStats: %+v, %v", qs, err)
	}
	if _, err := ro.DB().ExecContext(ctx, `DELETE FROM conn_lane`); err == nil {
		t.Fatal("a read-only store wrote")
	}
}
