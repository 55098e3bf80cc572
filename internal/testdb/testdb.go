// Package testdb gives tests a fresh database of each dialect: a SQLite file in the test's temporary
// directory, and a MariaDB/MySQL database made for the test on the server named by OLCTL_TEST_MYSQL_DSN and
// dropped when it ends. Without that variable the MySQL tests skip loudly; with CI=true they fail instead,
// because CI must run them.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/olctl/olctl/sqldb"
)

// EnvDSN is the variable that names the MariaDB/MySQL server for tests.
const EnvDSN = "OLCTL_TEST_MYSQL_DSN"

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
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: MariaDB tests must run in CI (make test sets it)", EnvDSN)
		}
		t.Skipf("SKIPPING MariaDB test: %s is not set (make test sets it and starts MariaDB)", EnvDSN)
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "olctl_t_" + hex.EncodeToString(b)
	admin := cfg.Clone()
	admin.DBName = ""
	adb, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		_ = adb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB at %s does not answer: %v", EnvDSN, err)
		}
		t.Skipf("SKIPPING MariaDB test: server at %s does not answer: %v", EnvDSN, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = adb.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`")
		_ = adb.Close()
	})
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// MySQL opens a new MySQL database for t (see MySQLDSN).
func MySQL(t testing.TB) *sqldb.DB {
	t.Helper()
	return open(t, MySQLDSN(t))
}

// Each runs fn as two subtests, "sqlite" and "mysql", each with its own fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("mysql", func(t *testing.T) { fn(t, MySQL(t)) })
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
