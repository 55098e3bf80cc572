package sqldb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
)

// TestOpenExistingMissingFile: a SQLite file that is not there is ErrNoDatabase, and no file is made.
func TestOpenExistingMissingFile(t *testing.T) {
	for _, dsn := range []string{"nosuch.db", "sqlite:nosuch.sqlite", "file:nosuch.db?_pragma=foreign_keys(1)"} {
		t.Run(dsn, func(t *testing.T) {
			t.Chdir(t.TempDir())
			for _, ro := range []bool{false, true} {
				db, err := sqldb.OpenExisting(context.Background(), dsn, ro)
				if !errors.Is(err, sqldb.ErrNoDatabase) {
					if db != nil {
						db.Close()
					}
					t.Fatalf("OpenExisting(%q, %v): %v, want ErrNoDatabase", dsn, ro, err)
				}
			}
			if entries, _ := os.ReadDir("."); len(entries) != 0 {
				t.Fatalf("OpenExisting made files: %v", entries)
			}
		})
	}
}

// TestOpenExistingReadOnly: a read-only DB reads what is there and refuses every write, in every dialect;
// Components names the migrated components.
func TestOpenExistingReadOnly(t *testing.T) {
	t.Parallel()
	testdb.EachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		rw, err := sqldb.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()
		if got, err := rw.Components(ctx); err != nil || len(got) != 0 {
			t.Fatalf("Components of a fresh database: %v, %v; want none", got, err)
		}
		for c, table := range map[string]string{"zeta": "ro_t", "alpha": "ro_u"} {
			create := "CREATE TABLE " + table + " (k INTEGER PRIMARY KEY)"
			steps := []sqldb.Migration{{Version: 1, SQLite: []string{create}, MySQL: []string{create}, Postgres: []string{create}}}
			if err := rw.Migrate(ctx, c, steps); err != nil {
				t.Fatal(err)
			}
		}
		ro, err := sqldb.OpenExisting(ctx, dsn, true)
		if err != nil {
			t.Fatalf("OpenExisting: %v", err)
		}
		defer ro.Close()
		got, err := ro.Components(ctx)
		if err != nil || !slices.Equal(got, []string{"alpha", "zeta"}) {
			t.Fatalf("Components: %v, %v; want [alpha zeta]", got, err)
		}
		if ro.Dialect == sqldb.MySQL {
			return // MySQL has no read-only session setting every version knows (see OpenExisting)
		}
		if _, err := ro.ExecContext(ctx, "INSERT INTO ro_t (k) VALUES (1)"); err == nil {
			t.Fatal("a read-only DB wrote a row")
		}
		var n int
		if err := ro.QueryRowContext(ctx, "SELECT COUNT(*) FROM ro_t").Scan(&n); err != nil || n != 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
	})
}

// TestOpenExistingFile opens a SQLite file that is there, writable and read-only.
func TestOpenExistingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, ro := range []bool{false, true} {
		db, err := sqldb.OpenExisting(ctx, path, ro)
		if err != nil {
			t.Fatalf("OpenExisting(%v): %v", ro, err)
		}
		_, err = db.ExecContext(ctx, "CREATE TABLE w (k INTEGER)")
		db.Close()
		if (err == nil) == ro {
			t.Fatalf("read-only %v: CREATE TABLE err = %v", ro, err)
		}
	}
}
