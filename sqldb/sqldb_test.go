package sqldb_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want sqldb.Dialect
		bad  bool
	}{
		{dsn: "", bad: true},
		{dsn: "postgres://x", bad: true},
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

func TestMigrateAndUniqueViolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		steps := []sqldb.Migration{{
			Version: 1,
			SQLite:  []string{"CREATE TABLE t (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)"},
			MySQL:   []string{"CREATE TABLE t (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)"},
		}}
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
		if _, err := db.ExecContext(ctx, "INSERT INTO t (k, v) VALUES ('a', 1)"); err != nil {
			t.Fatal(err)
		}
		_, err := db.ExecContext(ctx, "INSERT INTO t (k, v) VALUES ('a', 2)")
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: err = %v, want a unique violation", err)
		}
		if sqldb.IsUniqueViolation(errors.New("other")) {
			t.Fatal("a plain error is not a unique violation")
		}
	})
}
