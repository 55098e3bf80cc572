package connector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/olctl/olctl/sqldb"
)

// ErrQueueInUse is returned by NewServer for a SQLite database that another server (of this process or
// another) is serving: one process owns a SQLite queue.
var ErrQueueInUse = errors.New("connector: another server is serving this SQLite queue")

// ErrInMemory is returned by NewServer and Open for an in-memory SQLite database (":memory:"): sqldb.Open
// gives it a single connection (each connection would be a database of its own), and the server's reads
// and writes run on several at once, so it could never serve. A file holds the queue; the default DSN is a
// temporary one.
var ErrInMemory = errors.New(`connector: the queue needs a SQLite file, not an in-memory database (leave DSN empty for a temporary file)`)

// checkSQLiteFile returns ErrInMemory for a SQLite database in memory.
func checkSQLiteFile(ctx context.Context, db *sqldb.DB) error {
	if db.Dialect != sqldb.SQLite {
		return nil
	}
	path, err := sqliteFile(ctx, db)
	if err != nil {
		return err
	}
	if path == "" {
		return ErrInMemory
	}
	return nil
}

// sqliteFile returns the file of a SQLite database's main schema ("" in memory).
func sqliteFile(ctx context.Context, db *sqldb.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return "", fmt.Errorf("connector: the SQLite database's file: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name string
		var file sql.NullString
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file.String, nil
		}
	}
	return "", rows.Err()
}
