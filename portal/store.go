package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/olctl/olctl/sqldb"
)

// migrations of the portal's own tables: the record of processed items (ItemKey.Sum, 24 bytes: the table
// stays small and its pages dense, since it takes one row per message) and the connectors'
// status.
var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{
		`CREATE TABLE olctl_portal_processed (
			key_sum      BLOB NOT NULL PRIMARY KEY,
			processed_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		`CREATE INDEX olctl_portal_processed_at ON olctl_portal_processed (processed_at)`,
		`CREATE TABLE olctl_portal_status (
			connector_id    TEXT NOT NULL,
			line_id         TEXT NOT NULL,
			flag_active     INTEGER NOT NULL DEFAULT 0,
			flag_connection INTEGER NOT NULL DEFAULT 0,
			flag_register   INTEGER NOT NULL DEFAULT 0,
			flag_error      INTEGER NOT NULL DEFAULT 0,
			updated_at      INTEGER NOT NULL,
			PRIMARY KEY (connector_id, line_id)
		)`,
	},
	MySQL: []string{
		`CREATE TABLE olctl_portal_processed (
			key_sum      BINARY(24) NOT NULL PRIMARY KEY,
			processed_at BIGINT NOT NULL,
			INDEX olctl_portal_processed_at (processed_at)
		) ENGINE=InnoDB`,
		`CREATE TABLE olctl_portal_status (
			connector_id    VARCHAR(191) NOT NULL,
			line_id         VARCHAR(191) NOT NULL,
			flag_active     TINYINT NOT NULL DEFAULT 0,
			flag_connection TINYINT NOT NULL DEFAULT 0,
			flag_register   TINYINT NOT NULL DEFAULT 0,
			flag_error      TINYINT NOT NULL DEFAULT 0,
			updated_at      BIGINT NOT NULL,
			PRIMARY KEY (connector_id, line_id)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	},
}, {
	// The index on processed_at doubled the pages every record of processed items writes (on SQLite, half
	// of the receive pipeline's database time); Prune, which runs daily, scans the table instead.
	Version: 2,
	SQLite:  []string{`DROP INDEX IF EXISTS olctl_portal_processed_at`},
	MySQL:   []string{`ALTER TABLE olctl_portal_processed DROP INDEX olctl_portal_processed_at`},
}}

// Flag is one of the status flags of a connector on a line (PROTOCOL.md §7).
type Flag string

// The status flags.
const (
	FlagActive     Flag = "ACTIVE"     // the connector is switched on for the line
	FlagConnection Flag = "CONNECTION" // its settings were saved and tested
	FlagRegister   Flag = "REGISTER"   // it is registered with the connector server
	FlagError      Flag = "ERROR"      // emergency: it needs an administrator (set by deactivateConnector)
)

func (f Flag) column() (string, error) {
	switch f {
	case FlagActive:
		return "flag_active", nil
	case FlagConnection:
		return "flag_connection", nil
	case FlagRegister:
		return "flag_register", nil
	case FlagError:
		return "flag_error", nil
	}
	return "", fmt.Errorf("portal: unknown status flag %q", string(f))
}

// ConnectorStatus is the status of a connector on a line.
type ConnectorStatus struct {
	Connector, Line                     string
	Active, Connection, Register, Error bool
	UpdatedAt                           time.Time // zero when nothing is stored
}

// StatusStore keeps the status of each (connector, line).
type StatusStore interface {
	// Get returns the stored status, or one with every flag false (and a zero UpdatedAt) when none is stored.
	Get(ctx context.Context, connector, line string) (ConnectorStatus, error)
	// Put stores every flag of s, stamped with at.
	Put(ctx context.Context, s ConnectorStatus, at time.Time) error
	// Set changes one flag, leaving the others as they are, in one atomic statement.
	Set(ctx context.Context, connector, line string, f Flag, value bool, at time.Time) error
}

// ErrNoStatusKey is returned for a status without a connector.
var ErrNoStatusKey = errors.New("portal: a connector status needs a connector")

// SQLStatusStore is a StatusStore in the table olctl_portal_status (SQLite or MySQL).
type SQLStatusStore struct{ db *sqldb.DB }

// NewSQLStatusStore returns a StatusStore on db, creating the portal's tables when needed.
func NewSQLStatusStore(ctx context.Context, db *sqldb.DB) (*SQLStatusStore, error) {
	if err := db.Migrate(ctx, "portal", migrations); err != nil {
		return nil, err
	}
	return &SQLStatusStore{db: db}, nil
}

// Get implements StatusStore.
func (s *SQLStatusStore) Get(ctx context.Context, connector, line string) (ConnectorStatus, error) {
	st := ConnectorStatus{Connector: connector, Line: line}
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT flag_active, flag_connection, flag_register, flag_error, updated_at
		FROM olctl_portal_status WHERE connector_id = ? AND line_id = ?`, connector, line).
		Scan(&st.Active, &st.Connection, &st.Register, &st.Error, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("portal: reading the status of %s on line %s: %w", connector, line, err)
	}
	st.UpdatedAt = time.Unix(at, 0).UTC()
	return st, nil
}

// Put implements StatusStore.
func (s *SQLStatusStore) Put(ctx context.Context, st ConnectorStatus, at time.Time) error {
	if st.Connector == "" {
		return ErrNoStatusKey
	}
	q := `INSERT INTO olctl_portal_status (connector_id, line_id, flag_active, flag_connection, flag_register, flag_error, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) `
	if s.db.Dialect == sqldb.MySQL {
		q += `ON DUPLICATE KEY UPDATE flag_active = VALUES(flag_active), flag_connection = VALUES(flag_connection),
			flag_register = VALUES(flag_register), flag_error = VALUES(flag_error), updated_at = VALUES(updated_at)`
	} else {
		q += `ON CONFLICT (connector_id, line_id) DO UPDATE SET flag_active = excluded.flag_active,
			flag_connection = excluded.flag_connection, flag_register = excluded.flag_register,
			flag_error = excluded.flag_error, updated_at = excluded.updated_at`
	}
	_, err := s.db.ExecContext(ctx, q, st.Connector, st.Line, st.Active, st.Connection, st.Register, st.Error, at.Unix())
	if err != nil {
		return fmt.Errorf("portal: storing the status of %s on line %s: %w", st.Connector, st.Line, err)
	}
	return nil
}

// Set implements StatusStore.
func (s *SQLStatusStore) Set(ctx context.Context, connector, line string, f Flag, value bool, at time.Time) error {
	if connector == "" {
		return ErrNoStatusKey
	}
	col, err := f.column()
	if err != nil {
		return err
	}
	q := `INSERT INTO olctl_portal_status (connector_id, line_id, ` + col + `, updated_at) VALUES (?, ?, ?, ?) `
	if s.db.Dialect == sqldb.MySQL {
		q += `ON DUPLICATE KEY UPDATE ` + col + ` = VALUES(` + col + `), updated_at = VALUES(updated_at)`
	} else {
		q += `ON CONFLICT (connector_id, line_id) DO UPDATE SET ` + col + ` = excluded.` + col + `, updated_at = excluded.updated_at`
	}
	if _, err := s.db.ExecContext(ctx, q, connector, line, value, at.Unix()); err != nil {
		return fmt.Errorf("portal: setting %s of %s on line %s: %w", f, connector, line, err)
	}
	return nil
}
