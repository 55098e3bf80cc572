package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/sqldb"
)

// TestCheckpointedInTheBackground: a SQLite file that Open opens commits without checkpointing
// (wal_autocheckpoint 0 on every connection), and its checkpointer copies the WAL into the database file
// soon after, while a read-only DB on the file reads what was written.
func TestCheckpointedInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	db, err := sqldb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auto int
	if err := db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	ro, err := sqldb.OpenExisting(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	row := strings.Repeat("x", 4000)
	for range 300 { // about 300 pages, each commit its own frames
		if _, err := db.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, row); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	eventually.True(t, 10*time.Second, "the rows copied into the database file", func() bool { return size() >= 300*4000 })
	var n int
	if err := ro.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 300 {
		t.Fatalf("read-only: %d rows (%v), want 300", n, err)
	}
}
