package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/olctl/olctl/sqldb"
)

// A backend hands its own database to the stores (users.NewSQLStore(ctx, db), portal.Config{DB: db}, …):
// here a SQLite file it opened itself; on PostgreSQL, sql.Open("pgx", "postgres://…") with
// github.com/jackc/pgx/v5/stdlib imported, and sqldb.Postgres.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer raw.Close()
	db, err := sqldb.New(raw, sqldb.SQLite)
	if err != nil {
		fmt.Println(err)
		return
	}
	// What a store does with it: migrate its tables, then run its statements.
	ctx := context.Background()
	create := "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)"
	err = db.Migrate(ctx, "notes", []sqldb.Migration{{Version: 1, SQLite: []string{create}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	id, err := db.InsertID(ctx, db, "INSERT INTO notes (body) VALUES (?)", "hello")
	fmt.Println(id, err)
	var body string
	_ = db.QueryRowContext(ctx, "SELECT body FROM notes WHERE id = ?", id).Scan(&body)
	fmt.Println(body)
	// Output:
	// 1 <nil>
	// hello
}

// Statements take ? placeholders in every dialect; on PostgreSQL they are numbered.
func ExampleDB_Rebind() {
	db := &sqldb.DB{Dialect: sqldb.Postgres}
	fmt.Println(db.Rebind("SELECT name FROM t WHERE id = ? AND note <> '?' AND kind IN (?, ?)"))
	// Output: SELECT name FROM t WHERE id = $1 AND note <> '?' AND kind IN ($2, $3)
}
