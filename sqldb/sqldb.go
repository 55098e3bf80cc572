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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL flavour of a DB.
type Dialect string

// The dialects olctl supports.
const (
	SQLite   Dialect = "sqlite"
	MySQL    Dialect = "mysql" // MySQL or MariaDB
	Postgres Dialect = "postgres"
)

// DB is a *sql.DB that knows its dialect. Its statements take ? placeholders in every dialect (see Rebind).
type DB struct {
	*sql.DB
	Dialect Dialect
	// stop ends the checkpointer of a SQLite file that Open opened (see checkpointer); nil otherwise.
	stop func()
}

// Close stops the DB's checkpointer, if any, and closes the database.
func (d *DB) Close() error {
	if d.stop != nil {
		d.stop()
	}
	return d.DB.Close()
}

// Errors of Open and New.
var (
	// ErrBadDSN is returned for a DSN that names no supported database.
	ErrBadDSN = errors.New("sqldb: bad DSN")
	// ErrBadDialect is returned by New for a dialect other than SQLite, MySQL and Postgres.
	ErrBadDialect = errors.New("sqldb: unknown dialect")
)

// New wraps a database the caller opened: SQLite through modernc.org/sqlite, MySQL or MariaDB through
// github.com/go-sql-driver/mysql, PostgreSQL through github.com/jackc/pgx/v5/stdlib. The caller keeps
// its pool settings and closes db. A SQLite database should be opened as Open does (busy timeout, WAL,
// _txlock=immediate), or concurrent writers fail with SQLITE_BUSY.
func New(db *sql.DB, d Dialect) (*DB, error) {
	if db == nil {
		return nil, errors.New("sqldb: database is nil")
	}
	switch d {
	case SQLite, MySQL, Postgres:
		return &DB{DB: db, Dialect: d}, nil
	}
	return nil, fmt.Errorf("%w %q (want %q, %q or %q)", ErrBadDialect, string(d), SQLite, MySQL, Postgres)
}

// Pool sizes of the server databases. A connector server needs a connection per dispatch worker, for the
// committer and for the webhooks and confirmations in flight; PostgreSQL's connections are processes
// (100 by default per server, shared by every process of a deployment), so its pool is smaller.
const (
	sqliteIdleConns = 16
	mysqlOpenConns  = 64
	pgOpenConns     = 32
	serverIdleConns = 16
	connLifetime    = 5 * time.Minute
)

// Open opens the database a DSN names and checks that it answers:
//
//   - "sqlite:PATH", "file:PATH", a path ending in .db/.sqlite, or ":memory:" open SQLite
//     (WAL journal checkpointed in the background, 10 s busy timeout, immediate write transactions,
//     foreign keys on; see checkpointer);
//   - "mysql://DSN" or a go-sql-driver DSN such as "root@tcp(127.0.0.1:3306)/olctl?parseTime=true"
//     open MySQL/MariaDB (parseTime is forced on);
//   - "postgres://…" or "postgresql://…" open PostgreSQL through pgx.
func Open(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, true) }

// open is Open; a SQLite file gets its checkpointer when checkpoint is set (a database opened read-only
// leaves the checkpoints to its writers).
func open(ctx context.Context, dsn string, checkpoint bool) (*DB, error) {
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
			db.SetMaxOpenConns(mysqlOpenConns)
		}
	case Postgres:
		var cfg *pgx.ConnConfig
		if cfg, err = pgx.ParseConfig(target); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
		}
		db = stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(pgOpenConns)
	}
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", dialect, err)
	}
	if dialect != SQLite {
		db.SetMaxIdleConns(serverIdleConns)
		db.SetConnMaxLifetime(connLifetime)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqldb: %s does not answer: %w", dialect, err)
	}
	d := &DB{DB: db, Dialect: dialect}
	if dialect == SQLite && checkpoint && !strings.Contains(target, "mode=memory") {
		d.stop = startCheckpointer(d)
	}
	return d, nil
}

func parse(dsn string) (Dialect, string, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return "", "", fmt.Errorf("%w: empty", ErrBadDSN)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
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
	return "", "", fmt.Errorf("%w: %q (want sqlite:PATH, PATH.db, mysql://DSN, user@tcp(host:port)/db or postgres://…)", ErrBadDSN, dsn)
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
	q.Add("_pragma", "wal_autocheckpoint(0)") // see checkpointer
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

// sqlState is implemented by the errors of PostgreSQL drivers (pgx's *pgconn.PgError, lib/pq's *pq.Error).
type sqlState interface{ SQLState() string }

func pgState(err error) string {
	var e sqlState
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique or primary key violation, in any dialect.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return pgState(err) == "23505"
}

// IsInvalidText reports whether err is the database refusing a text value it cannot store: invalid UTF-8
// (MySQL, PostgreSQL) or a NUL character (PostgreSQL). SQLite stores any bytes. The value is the caller's
// bad input, to be answered as such, not a failure of the database.
func IsInvalidText(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1366 || me.Number == 1300 // incorrect string value, invalid character string
	}
	switch pgState(err) {
	case "22021", "22P05": // character not in repertoire, untranslatable character
		return true
	}
	return false
}

// IsRetryable reports whether err ended a transaction that may simply run again: a deadlock or a lock wait
// timeout (MySQL), a deadlock, a serialization failure or a lock not available (PostgreSQL).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	switch pgState(err) {
	case "40P01", "40001", "55P03":
		return true
	}
	return false
}
