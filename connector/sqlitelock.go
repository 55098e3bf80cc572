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
