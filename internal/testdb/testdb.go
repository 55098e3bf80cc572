// Package testdb gives tests a fresh database of each dialect: a SQLite file in the test's temporary
// directory, a database made for the test on the MariaDB/MySQL server named by OLCTL_TEST_MYSQL_DSN, and a
// schema made for it in the PostgreSQL database named by OLCTL_TEST_POSTGRES_DSN, dropped when it ends. Without a server
// (the variable unset, or nothing answering) its tests skip loudly; with CI=true they fail instead, because
// CI must run them.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/olctl/olctl/sqldb"
)

// The variables that name the servers for tests.
const (
	EnvDSN         = "OLCTL_TEST_MYSQL_DSN"    // MariaDB/MySQL, e.g. root@tcp(127.0.0.1:3306)/test?parseTime=true
	EnvPostgresDSN = "OLCTL_TEST_POSTGRES_DSN" // PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
)

// SQLiteDSN returns the DSN of a new SQLite file in t's temporary directory.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "olctl.db")
}

// SQLite opens a new SQLite database for t and closes it when t ends.
func SQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	return open(t, SQLiteDSN(t))
}

// MySQLDSN makes a new, empty MySQL database for t, drops it when t ends, and returns its DSN. It skips t
// (or fails it, under CI=true) when no server is configured.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(serverDSN(t, EnvDSN, "MariaDB"))
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	adb, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	name := newName()
	create(t, adb, "MariaDB", EnvDSN, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
		"DROP DATABASE IF EXISTS `"+name+"`")
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// MySQL opens a new MySQL database for t (see MySQLDSN).
func MySQL(t testing.TB) *sqldb.DB {
	t.Helper()
	return open(t, MySQLDSN(t))
}

// PostgresDSN makes a new, empty PostgreSQL schema for t in the database OLCTL_TEST_POSTGRES_DSN names,
// drops it when t ends, and returns a DSN whose search_path is that schema: to the stores, which name their
// tables unqualified, a database of their own (made in milliseconds, where CREATE DATABASE takes a second
// or two). It skips t (or fails it, under CI=true) when no server is configured.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := serverDSN(t, EnvPostgresDSN, "PostgreSQL")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgresDSN, err)
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgresDSN, err)
	}
	adb := stdlib.OpenDB(*cfg)
	adb.SetMaxOpenConns(1)
	name := newName()
	create(t, adb, "PostgreSQL", EnvPostgresDSN, `CREATE SCHEMA "`+name+`"`, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`)
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres opens a new PostgreSQL database for t (see PostgresDSN).
func Postgres(t testing.TB) *sqldb.DB {
	t.Helper()
	return open(t, PostgresDSN(t))
}

// Each runs fn as three subtests, "sqlite", "mysql" and "postgres", each with its own fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	EachDSN(t, func(t *testing.T, dsn string) { fn(t, open(t, dsn)) })
}

// EachDSN runs fn as the subtests of Each with the DSN of the fresh database, for tests that open it
// themselves (or hand it to a child process).
func EachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteDSN(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQLDSN(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresDSN(t)) })
}

// serverDSN returns the value of env, skipping t (failing it under CI=true) when it is unset.
func serverDSN(t testing.TB, env, server string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: %s tests must run in CI (make test sets it)", env, server)
		}
		t.Skipf("SKIPPING %s test: %s is not set (make test sets it and starts %s)", server, env, server)
	}
	return dsn
}

func newName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "olctl_t_" + hex.EncodeToString(b)
}

// create runs createSQL on the server adb reaches, skipping t (failing it under CI=true) when the server
// does not answer, and runs dropSQL and closes adb when t ends.
func create(t testing.TB, adb *sql.DB, server, env, createSQL, dropSQL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := adb.ExecContext(ctx, createSQL); err != nil {
		_ = adb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s at %s does not answer: %v", server, env, err)
		}
		t.Skipf("SKIPPING %s test: server at %s does not answer: %v", server, env, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := adb.ExecContext(ctx, dropSQL); err != nil {
			t.Logf("%s: %v", dropSQL, err)
		}
		_ = adb.Close()
	})
}

func open(t testing.TB, dsn string) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
