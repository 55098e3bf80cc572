package sqldb

import (
	"context"
	"database/sql"
	"fmt"
)

// Migration is one schema step of a component: its statements for each dialect, run in order once. A
// dialect without statements skips the step (a fix of a schema that dialect never had).
type Migration struct {
	Version  int
	SQLite   []string
	MySQL    []string
	Postgres []string
}

func (m Migration) statements(d Dialect) []string {
	switch d {
	case MySQL:
		return m.MySQL
	case Postgres:
		return m.Postgres
	}
	return m.SQLite
}

// execer is what the steps of a migration run on: a connection (MySQL) or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Migrate brings component's schema up to date, recording applied versions in olctl_schema. It is safe to
// call at every start and from several processes at once: on MySQL a named lock serialises them (its DDL
// commits as it goes); on SQLite and PostgreSQL the whole migration runs in one transaction, DDL included,
// that SQLite write-locks from its start and PostgreSQL serialises with an advisory lock (one for every
// component: they share olctl_schema).
func (d *DB) Migrate(ctx context.Context, component string, steps []Migration) error {
	if err := d.migrate(ctx, component, steps); err != nil {
		return fmt.Errorf("sqldb: migrate %s: %w", component, err)
	}
	return nil
}

func (d *DB) migrate(ctx context.Context, component string, steps []Migration) error {
	if _, err := New(d.DB, d.Dialect); err != nil {
		return err
	}
	if d.Dialect == MySQL {
		conn, err := d.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		lock := "olctl_migrate_" + component
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", lock).Scan(&got); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if !got.Valid || got.Int64 != 1 {
			return fmt.Errorf("could not take the migration lock")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", lock) //nolint:errcheck
		return d.runSteps(ctx, conn, component, steps)
	}
	tx, err := d.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (Open's DSN sets _txlock=immediate)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck
	if d.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('olctl_migrate'))"); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if err := d.runSteps(ctx, tx, component, steps); err != nil {
		return err
	}
	return tx.Commit()
}

func (d *DB) runSteps(ctx context.Context, exec execer, component string, steps []Migration) error {
	if _, err := exec.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS olctl_schema (
		component VARCHAR(64) NOT NULL,
		version INTEGER NOT NULL,
		PRIMARY KEY (component, version))`); err != nil {
		return err
	}
	for _, m := range steps {
		var n int
		if err := exec.QueryRowContext(ctx, "SELECT COUNT(*) FROM olctl_schema WHERE component = ? AND version = ?", component, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		for _, s := range m.statements(d.Dialect) {
			if _, err := exec.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("to version %d: %w", m.Version, err)
			}
		}
		if _, err := exec.ExecContext(ctx, "INSERT INTO olctl_schema (component, version) VALUES (?, ?)", component, m.Version); err != nil && !IsUniqueViolation(err) {
			return err
		}
	}
	return nil
}
