package sqldb

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// The statements of olctl's stores are written once, with ? placeholders. DB and Tx take them so in every
// dialect: their methods below shadow those of *sql.DB and *sql.Tx and pass each query through Rebind.
// A *sql.Conn from DB.Conn does not: rebind its queries by hand.

// Rebind returns query with its ? placeholders written as the dialect's driver takes them: $1, $2, … on
// PostgreSQL, unchanged elsewhere. A ? inside a quoted string or identifier is left alone.
func (d *DB) Rebind(query string) string { return rebind(d.Dialect, query) }

func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote { // a doubled quote closes and reopens: still inside
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ExecContext is sql.DB.ExecContext with ? placeholders.
func (d *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.Rebind(query), args...)
}

// QueryContext is sql.DB.QueryContext with ? placeholders.
func (d *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.Rebind(query), args...)
}

// QueryRowContext is sql.DB.QueryRowContext with ? placeholders.
func (d *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.Rebind(query), args...)
}

// PrepareContext is sql.DB.PrepareContext with ? placeholders.
func (d *DB) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return d.DB.PrepareContext(ctx, d.Rebind(query))
}

// Exec is ExecContext with the background context.
func (d *DB) Exec(query string, args ...any) (sql.Result, error) {
	return d.ExecContext(context.Background(), query, args...)
}

// Query is QueryContext with the background context.
func (d *DB) Query(query string, args ...any) (*sql.Rows, error) {
	return d.QueryContext(context.Background(), query, args...)
}

// QueryRow is QueryRowContext with the background context.
func (d *DB) QueryRow(query string, args ...any) *sql.Row {
	return d.QueryRowContext(context.Background(), query, args...)
}

// Prepare is PrepareContext with the background context.
func (d *DB) Prepare(query string) (*sql.Stmt, error) {
	return d.PrepareContext(context.Background(), query)
}

// Tx is a *sql.Tx whose statements take ? placeholders, as DB's do.
type Tx struct {
	*sql.Tx
	dialect Dialect
}

// BeginTx is sql.DB.BeginTx, for a transaction with ? placeholders.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, dialect: d.Dialect}, nil
}

// Begin is BeginTx with the background context and default options.
func (d *DB) Begin() (*Tx, error) { return d.BeginTx(context.Background(), nil) }

// ExecContext is sql.Tx.ExecContext with ? placeholders.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(t.dialect, query), args...)
}

// QueryContext is sql.Tx.QueryContext with ? placeholders.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(t.dialect, query), args...)
}

// QueryRowContext is sql.Tx.QueryRowContext with ? placeholders.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(t.dialect, query), args...)
}

// PrepareContext is sql.Tx.PrepareContext with ? placeholders.
func (t *Tx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, rebind(t.dialect, query))
}

// Exec is ExecContext with the background context.
func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	return t.ExecContext(context.Background(), query, args...)
}

// Query is QueryContext with the background context.
func (t *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(context.Background(), query, args...)
}

// QueryRow is QueryRowContext with the background context.
func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	return t.QueryRowContext(context.Background(), query, args...)
}

// Prepare is PrepareContext with the background context.
func (t *Tx) Prepare(query string) (*sql.Stmt, error) {
	return t.PrepareContext(context.Background(), query)
}

// Querier runs statements with ? placeholders: a DB, a Tx, or a store's own wrapper of either.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InsertID runs an INSERT through q into a table whose key is an auto-increment column named id, and
// returns the new row's id: the driver's LastInsertId, or on PostgreSQL (whose drivers have none) the
// statement's RETURNING id.
func (d *DB) InsertID(ctx context.Context, q Querier, insert string, args ...any) (int64, error) {
	var id int64
	if d.Dialect == Postgres {
		err := q.QueryRowContext(ctx, insert+" RETURNING id", args...).Scan(&id)
		return id, err
	}
	res, err := q.ExecContext(ctx, insert, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}
