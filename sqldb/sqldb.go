// Package sqldb opens the SQL databases olctl keeps its state in: an embedded SQLite file (pure Go, no cgo)
// by default and MySQL/MariaDB for production. It hides the few differences between the two dialects that
// the stores care about and runs their schema migrations.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL flavour of a DB.
type Dialect string

// The dialects olctl supports.
const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// DB is a *sql.DB that knows its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
}

// ErrBadDSN is returned for a DSN that names no supported database.
var ErrBadDSN = errors.New("sqldb: bad DSN")

// sqliteIdleConns is the number of idle connections kept to a SQLite file.
const sqliteIdleConns = 16

// Open opens the database a DSN names and checks that it answers:
//
//   - "sqlite:PATH", "file:PATH", a path ending in .db/.sqlite, or ":memory:" open SQLite
//     (WAL journal, 10 s busy timeout, immediate write transactions, foreign keys on);
//   - "mysql://DSN" or a go-sql-driver DSN such as "root@tcp(127.0.0.1:3306)/olctl?parseTime=true"
//     open MySQL/MariaDB (parseTime is forced on).
func Open(ctx context.Context, dsn string) (*DB, error) {
	dialect, target, err := parse(dsn)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	switch dialect {
	case SQLite:
		db, err = sql.Open("sqlite", target)
		switch {
		case err != nil:
		case strings.Contains(target, "mode=memory"):
			db.SetMaxOpenConns(1) // every connection to :memory: would be a new, empty database
		default:
			// Keep the connections that concurrent requests open: with database/sql's default of 2 idle
			// connections, every burst of requests opened new ones (file, pragmas) and prepared every
			// statement again, 5 % of the portal's CPU under load. The number open stays unlimited, so that
			// code holding a transaction can always get a second connection.
			db.SetMaxIdleConns(sqliteIdleConns)
		}
	case MySQL:
		db, err = sql.Open("mysql", target)
		if err == nil {
			db.SetMaxOpenConns(64)
			db.SetMaxIdleConns(16)
			db.SetConnMaxLifetime(5 * time.Minute)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", dialect, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqldb: %s does not answer: %w", dialect, err)
	}
	return &DB{DB: db, Dialect: dialect}, nil
}

func parse(dsn string) (Dialect, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return "", "", fmt.Errorf("%w: empty", ErrBadDSN)
	case strings.HasPrefix(dsn, "mysql://"):
		return mysqlDSN(strings.TrimPrefix(dsn, "mysql://"))
	case strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix("):
		return mysqlDSN(dsn)
	case dsn == ":memory:" || dsn == "sqlite::memory:":
		return SQLite, "file:olctl?mode=memory&cache=shared" + sqlitePragmas("&"), nil
	case strings.HasPrefix(dsn, "sqlite:"):
		return SQLite, sqliteDSN(strings.TrimPrefix(dsn, "sqlite:")), nil
	case strings.HasPrefix(dsn, "file:"), strings.HasSuffix(dsn, ".db"), strings.HasSuffix(dsn, ".sqlite"):
		return SQLite, sqliteDSN(dsn), nil
	}
	return "", "", fmt.Errorf("%w: %q (want sqlite:PATH, PATH.db, mysql://DSN or user@tcp(host:port)/db)", ErrBadDSN, dsn)
}

func sqliteDSN(p string) string {
	if p == "" {
		p = "olctl.db"
	}
	if !strings.HasPrefix(p, "file:") {
		p = "file:" + p
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sqlitePragmas(sep)
}

func sqlitePragmas(sep string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return sep + q.Encode()
}

func mysqlDSN(dsn string) (Dialect, string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrBadDSN, err)
	}
	cfg.ParseTime = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.MultiStatements = false
	return MySQL, cfg.FormatDSN(), nil
}

// IsUniqueViolation reports whether err is a unique or primary key violation in either dialect.
func IsUniqueViolation(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Migration is one schema step of a component: its statements for each dialect, run in order once.
type Migration struct {
	Version int
	SQLite  []string
	MySQL   []string
}

// Migrate brings component's schema up to date, recording applied versions in olctl_schema. It is safe to
// call at every start and from several processes at once: on MySQL a named lock serialises them, on SQLite
// the whole migration runs in one immediate (write-locked) transaction, DDL included.
func (d *DB) Migrate(ctx context.Context, component string, steps []Migration) error {
	conn, err := d.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var exec interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	} = conn
	var tx *sql.Tx
	if d.Dialect == MySQL {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", "olctl_migrate_"+component).Scan(&got); err != nil {
			return fmt.Errorf("sqldb: migrate %s: lock: %w", component, err)
		}
		if !got.Valid || got.Int64 != 1 {
			return fmt.Errorf("sqldb: migrate %s: could not take the migration lock", component)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", "olctl_migrate_"+component) //nolint:errcheck
	} else {
		tx, err = conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN sets _txlock=immediate)
		if err != nil {
			return fmt.Errorf("sqldb: migrate %s: %w", component, err)
		}
		defer tx.Rollback() //nolint:errcheck
		exec = tx
	}
	if _, err := exec.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS olctl_schema (
		component VARCHAR(64) NOT NULL,
		version INTEGER NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", component, err)
	}
	for _, m := range steps {
		var n int
		if err := exec.QueryRowContext(ctx, "SELECT COUNT(*) FROM olctl_schema WHERE component = ? AND version = ?", component, m.Version).Scan(&n); err != nil {
			return fmt.Errorf("sqldb: migrate %s: %w", component, err)
		}
		if n > 0 {
			continue
		}
		stmts := m.SQLite
		if d.Dialect == MySQL {
			stmts = m.MySQL
		}
		for _, s := range stmts {
			if _, err := exec.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("sqldb: migrate %s to version %d: %w", component, m.Version, err)
			}
		}
		if _, err := exec.ExecContext(ctx, "INSERT INTO olctl_schema (component, version) VALUES (?, ?)", component, m.Version); err != nil && !IsUniqueViolation(err) {
			return fmt.Errorf("sqldb: migrate %s: %w", component, err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqldb: migrate %s: %w", component, err)
		}
	}
	return nil
}
