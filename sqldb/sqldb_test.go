package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn  string
		want sqldb.Dialect
		bad  bool
	}{
		{dsn: "", bad: true},
		{dsn: "   ", bad: true},
		{dsn: "pg://x", bad: true},
		{dsn: "postgres://host:notaport/db", bad: true},
		{dsn: "postgres://x/db?sslmode=nonsense", bad: true},
		{dsn: "mysql://bad dsn without at", bad: true},
		{dsn: ":memory:", want: sqldb.SQLite},
	} {
		db, err := sqldb.Open(context.Background(), tc.dsn)
		if tc.bad {
			if !errors.Is(err, sqldb.ErrBadDSN) {
				t.Errorf("Open(%q) err = %v, want ErrBadDSN", tc.dsn, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.dsn, err)
		}
		if db.Dialect != tc.want {
			t.Errorf("Open(%q) dialect = %s", tc.dsn, db.Dialect)
		}
		_ = db.Close()
	}
}

func TestOpenServerThatDoesNotAnswer(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback refuses connections: a well-formed DSN whose server is down.
	for _, dsn := range []string{"postgres://u@127.0.0.1:1/db?connect_timeout=2", "u@tcp(127.0.0.1:1)/db"} {
		_, err := sqldb.Open(context.Background(), dsn)
		if err == nil || errors.Is(err, sqldb.ErrBadDSN) {
			t.Errorf("Open(%q) err = %v, want a server that does not answer", dsn, err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	raw, err := sql.Open("sqlite", "file:"+t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := sqldb.New(nil, sqldb.SQLite); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := sqldb.New(raw, "oracle"); !errors.Is(err, sqldb.ErrBadDialect) {
		t.Errorf("New(oracle) err = %v, want ErrBadDialect", err)
	}
	db, err := sqldb.New(raw, sqldb.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), "test", []sqldb.Migration{{Version: 1, SQLite: []string{"CREATE TABLE t (k TEXT)"}}}); err != nil {
		t.Fatalf("Migrate on the caller's database: %v", err)
	}
	if err := (&sqldb.DB{DB: raw, Dialect: "oracle"}).Migrate(context.Background(), "x", nil); !errors.Is(err, sqldb.ErrBadDialect) {
		t.Errorf("Migrate with a bad dialect: err = %v, want ErrBadDialect", err)
	}
}

func TestRebind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, pg string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c IN (?, ?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"},
		{"SELECT '?', \"a?b\", ? FROM t WHERE x = 'it''s ?' AND y = ?", "SELECT '?', \"a?b\", $1 FROM t WHERE x = 'it''s ?' AND y = $2"},
		{"VALUES (?,?),(?,?),(?,?),(?,?),(?,?),(?,?)", "VALUES ($1,$2),($3,$4),($5,$6),($7,$8),($9,$10),($11,$12)"},
	} {
		for _, d := range []sqldb.Dialect{sqldb.SQLite, sqldb.MySQL, sqldb.Postgres} {
			want := tc.in
			if d == sqldb.Postgres {
				want = tc.pg
			}
			if got := (&sqldb.DB{Dialect: d}).Rebind(tc.in); got != want {
				t.Errorf("%s: Rebind(%q) = %q, want %q", d, tc.in, got, want)
			}
		}
	}
}

func TestMigrateAndUniqueViolation(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		create := "CREATE TABLE t (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)"
		steps := []sqldb.Migration{
			{Version: 1, SQLite: []string{create}, MySQL: []string{create}, Postgres: []string{create}},
			// A step without statements for a dialect is recorded there and skipped.
			{Version: 2, SQLite: []string{"CREATE INDEX t_v ON t (v)"}},
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = db.Migrate(ctx, "test", steps) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM olctl_schema WHERE component = ?", "test").Scan(&n); err != nil || n != 2 {
			t.Fatalf("versions recorded: %d, %v; want 2", n, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", "a", 1); err != nil {
			t.Fatal(err)
		}
		_, err := db.ExecContext(ctx, "INSERT INTO t (k, v) VALUES (?, ?)", "a", 2)
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: err = %v, want a unique violation", err)
		}
		if sqldb.IsUniqueViolation(errors.New("other")) || sqldb.IsUniqueViolation(nil) {
			t.Fatal("a plain error is not a unique violation")
		}
		if sqldb.IsRetryable(err) {
			t.Fatal("a unique violation is not retryable")
		}
	})
}

// TestPlaceholders runs the same ? statements through DB, Tx and prepared statements in every dialect.
func TestPlaceholders(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		create := map[sqldb.Dialect]string{
			sqldb.SQLite:   "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, note TEXT NOT NULL)",
			sqldb.MySQL:    "CREATE TABLE p (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL)",
			sqldb.Postgres: "CREATE TABLE p (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL)",
		}[db.Dialect]
		if _, err := db.ExecContext(ctx, create); err != nil {
			t.Fatal(err)
		}
		a, err := db.InsertID(ctx, db, "INSERT INTO p (name, note) VALUES (?, '?')", "a")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.InsertID(ctx, tx, "INSERT INTO p (name, note) VALUES (?, ?)", "b", "x")
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := tx.QueryRowContext(ctx, "SELECT name FROM p WHERE id = ?", b).Scan(&name); err != nil || name != "b" {
			t.Fatalf("in the transaction: %q, %v", name, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if a == 0 || b <= a {
			t.Fatalf("ids %d, %d: want increasing, non-zero", a, b)
		}
		st, err := db.PrepareContext(ctx, "SELECT note FROM p WHERE id = ? AND name = ?")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var note string
		if err := st.QueryRowContext(ctx, a, "a").Scan(&note); err != nil || note != "?" {
			t.Fatalf("prepared: note %q, %v; want the quoted ? kept", note, err)
		}
	})
}

// TestInvalidText: text a database cannot store is told apart from other failures. SQLite stores any
// bytes, MySQL refuses invalid UTF-8 (a NUL is a character there), PostgreSQL refuses both.
func TestInvalidText(t *testing.T) {
	t.Parallel()
	refused := map[sqldb.Dialect][]bool{ // for "a\xffb", "a\x00b"
		sqldb.SQLite:   {false, false},
		sqldb.MySQL:    {true, false},
		sqldb.Postgres: {true, true},
	}
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		create := "CREATE TABLE x (v TEXT NOT NULL)"
		if db.Dialect == sqldb.MySQL {
			create += " DEFAULT CHARSET=utf8mb4"
		}
		if _, err := db.ExecContext(ctx, create); err != nil {
			t.Fatal(err)
		}
		for i, v := range []string{"a\xffb", "a\x00b"} {
			_, err := db.ExecContext(ctx, "INSERT INTO x (v) VALUES (?)", v)
			if want := refused[db.Dialect][i]; (err != nil) != want || err != nil && !sqldb.IsInvalidText(err) {
				t.Errorf("%q: err = %v, want refused %v and IsInvalidText", v, err, want)
			}
		}
		if sqldb.IsInvalidText(errors.New("x")) || sqldb.IsInvalidText(nil) {
			t.Error("a plain error is not invalid text")
		}
	})
}
