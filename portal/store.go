package portal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olctl/olctl/internal/sqldb"
)

// migrations of the portal's own tables: the record of processed items and the connectors' status.
var migrations = []sqldb.Migration{{
	Version: 1,
	SQLite: []string{
		`CREATE TABLE olctl_portal_processed (
			key_hash     TEXT NOT NULL PRIMARY KEY,
			connector_id TEXT NOT NULL,
			line_id      TEXT NOT NULL,
			chat_id      TEXT NOT NULL,
			message_id   TEXT NOT NULL,
			variant      TEXT NOT NULL,
			processed_at INTEGER NOT NULL
		)`,
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
			key_hash     CHAR(64) NOT NULL PRIMARY KEY,
			connector_id TEXT NOT NULL,
			line_id      TEXT NOT NULL,
			chat_id      TEXT NOT NULL,
			message_id   TEXT NOT NULL,
			variant      VARCHAR(100) NOT NULL,
			processed_at BIGINT NOT NULL,
			INDEX olctl_portal_processed_at (processed_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
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
}}

// ItemKey identifies a processed receivingMessage item (PROTOCOL.md §5.1 step 6): connector, line, chat id
// and message id, plus a variant so that an edit or a deletion of a message is not taken for a redelivery
// of the message itself (see itemKey).
type ItemKey struct {
	Connector, Line, ChatID, MessageID, Variant string
}

// Hash returns the key's storage id: hex SHA-256 of its length-prefixed parts (so no two keys collide by
// concatenation).
func (k ItemKey) Hash() string {
	h := sha256.New()
	for _, s := range []string{k.Connector, k.Line, k.ChatID, k.MessageID, k.Variant} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ProcessedStore records the items the portal processed, so that a redelivered item is confirmed again
// without firing its event twice. The record must survive restarts.
type ProcessedStore interface {
	// Seen reports, for each key, whether it is recorded.
	Seen(ctx context.Context, keys []ItemKey) ([]bool, error)
	// Mark records keys as processed at the given time, atomically; keys already recorded are kept.
	Mark(ctx context.Context, keys []ItemKey, at time.Time) error
	// Prune forgets the keys recorded before t and returns how many. The connector server gives up an item
	// 24 h after its first attempt (PROTOCOL.md §7), so records older than a few days are no longer needed.
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// SQLProcessedStore is a ProcessedStore in the table olctl_portal_processed (SQLite or MySQL).
type SQLProcessedStore struct{ db *sqldb.DB }

// NewSQLProcessedStore returns a ProcessedStore on db, creating the portal's tables when needed.
func NewSQLProcessedStore(ctx context.Context, db *sqldb.DB) (*SQLProcessedStore, error) {
	if err := db.Migrate(ctx, "portal", migrations); err != nil {
		return nil, err
	}
	return &SQLProcessedStore{db: db}, nil
}

// Seen implements ProcessedStore with one query.
func (s *SQLProcessedStore) Seen(ctx context.Context, keys []ItemKey) ([]bool, error) {
	out := make([]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	hashes := make([]string, len(keys))
	args := make([]any, len(keys))
	for i, k := range keys {
		hashes[i] = k.Hash()
		args[i] = hashes[i]
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key_hash FROM olctl_portal_processed WHERE key_hash IN (`+
		placeholders(len(keys))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("portal: reading processed items: %w", err)
	}
	defer rows.Close()
	found := make(map[string]bool, len(keys))
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("portal: reading processed items: %w", err)
		}
		found[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("portal: reading processed items: %w", err)
	}
	for i, h := range hashes {
		out[i] = found[h]
	}
	return out, nil
}

// Mark implements ProcessedStore with one statement.
func (s *SQLProcessedStore) Mark(ctx context.Context, keys []ItemKey, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO olctl_portal_processed (key_hash, connector_id, line_id, chat_id, message_id, variant, processed_at) VALUES `)
	args := make([]any, 0, 7*len(keys))
	seen := make(map[string]bool, len(keys))
	n := 0
	for _, k := range keys {
		h := k.Hash()
		if seen[h] {
			continue
		}
		seen[h] = true
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString("(?,?,?,?,?,?,?)")
		args = append(args, h, k.Connector, k.Line, k.ChatID, k.MessageID, k.Variant, at.Unix())
	}
	if s.db.Dialect == sqldb.MySQL {
		b.WriteString(` ON DUPLICATE KEY UPDATE key_hash = key_hash`)
	} else {
		b.WriteString(` ON CONFLICT (key_hash) DO NOTHING`)
	}
	if _, err := s.db.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("portal: recording processed items: %w", err)
	}
	return nil
}

// Prune implements ProcessedStore.
func (s *SQLProcessedStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM olctl_portal_processed WHERE processed_at < ?`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("portal: pruning processed items: %w", err)
	}
	return res.RowsAffected()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

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
