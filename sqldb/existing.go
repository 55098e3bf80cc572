package sqldb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
)

// ErrNoDatabase is returned by OpenExisting for a SQLite file that is not there.
var ErrNoDatabase = errors.New("sqldb: no such database")

// OpenExisting opens, as Open does, a database that must exist already: a SQLite file that is not there is
// ErrNoDatabase instead of a new, empty file. With readOnly no statement of the DB can write: SQLite runs
// with the query_only pragma, PostgreSQL with default_transaction_read_only; MySQL has no such setting that
// every version knows, so there only the caller's statements keep it unchanged.
func OpenExisting(ctx context.Context, dsn string, readOnly bool) (*DB, error) {
	dialect, _, err := parse(dsn)
	if err != nil {
		return nil, err
	}
	switch dialect {
	case SQLite:
		path, query, memory := sqlitePath(dsn)
		if memory {
			break
		}
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s", ErrNoDatabase, path)
			}
			return nil, fmt.Errorf("sqldb: %w", err)
		}
		if readOnly {
			if query != "" {
				query += "&"
			}
			dsn = "file:" + path + "?" + query + "_pragma=query_only(1)"
		}
	case Postgres:
		if readOnly {
			u, err := url.Parse(strings.TrimSpace(dsn))
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
			}
			q := u.Query()
			q.Set("default_transaction_read_only", "on")
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	}
	return open(ctx, dsn, !readOnly)
}

// sqlitePath splits a SQLite DSN into its file and its query, and tells an in-memory database.
func sqlitePath(dsn string) (path, query string, memory bool) {
	dsn = strings.TrimSpace(dsn)
	if dsn == ":memory:" || dsn == "sqlite::memory:" {
		return "", "", true
	}
	dsn = strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	path, query, _ = strings.Cut(dsn, "?")
	if path == "" {
		path = "olctl.db" // as Open names it
	}
	return path, query, strings.Contains(query, "mode=memory") || path == ":memory:"
}

// Components returns the components whose schema the database holds (those Migrate ran for), sorted; none
// for a database that no olctl store has migrated.
func (d *DB) Components(ctx context.Context) ([]string, error) {
	var exists bool
	var err error
	switch d.Dialect {
	case SQLite:
		err = d.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'olctl_schema'`).Scan(&exists)
	case MySQL:
		err = d.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM information_schema.tables
			WHERE table_schema = DATABASE() AND table_name = 'olctl_schema'`).Scan(&exists)
	default:
		err = d.QueryRowContext(ctx, `SELECT to_regclass('olctl_schema') IS NOT NULL`).Scan(&exists)
	}
	if err != nil {
		return nil, fmt.Errorf("sqldb: components: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := d.QueryContext(ctx, `SELECT DISTINCT component FROM olctl_schema`)
	if err != nil {
		return nil, fmt.Errorf("sqldb: components: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return out, rows.Err()
}
