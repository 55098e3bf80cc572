package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
)

// ErrNoStatusKey is returned for a status without a connector.
var ErrNoStatusKey = errors.New("portal: a line status needs a connector")

// SQLStatusStore keeps the status of each (real connector, line) in the table olctl_portal_status: the
// openlines.LineStatusStore that the connect flow writes (client.Connect, olctl connect) and the line gate
// reads. Pass it the real connector id (openlines.RealConnector); a virtual id is stored under its real one.
// Safe for concurrent use, also by several processes on one database.
type SQLStatusStore struct {
	db    *sqldb.DB
	clock clock.Clock
}

var _ openlines.LineStatusStore = (*SQLStatusStore)(nil)

// NewSQLStatusStore returns the status store on db, creating the portal's tables when needed. Changes are
// stamped on clk (nil: the system clock).
func NewSQLStatusStore(ctx context.Context, db *sqldb.DB, clk clock.Clock) (*SQLStatusStore, error) {
	if err := db.Migrate(ctx, "portal", migrations); err != nil {
		return nil, err
	}
	return &SQLStatusStore{db: db, clock: clock.Or(clk)}, nil
}

// LineStatus implements openlines.LineStatusStore: a line with no stored status has every flag false.
func (s *SQLStatusStore) LineStatus(ctx context.Context, realConnector, line string) (openlines.LineStatus, error) {
	st, _, err := s.LookupLineStatus(ctx, realConnector, line)
	return st, err
}

// LookupLineStatus returns the stored status and whether one is stored.
func (s *SQLStatusStore) LookupLineStatus(ctx context.Context, realConnector, line string) (openlines.LineStatus, bool, error) {
	var st openlines.LineStatus
	real := openlines.RealConnector(realConnector)
	err := s.db.QueryRowContext(ctx, `SELECT flag_active, flag_connection, flag_register, flag_error
		FROM olctl_portal_status WHERE connector_id = ? AND line_id = ?`, real, line).
		Scan(&st.Active, &st.Connection, &st.Register, &st.Error)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, false, nil
	case err != nil:
		return st, false, fmt.Errorf("portal: reading the status of %s on line %s: %w", real, line, err)
	}
	return st, true, nil
}

// SetLineStatus implements openlines.LineStatusStore.
func (s *SQLStatusStore) SetLineStatus(ctx context.Context, realConnector, line string, st openlines.LineStatus) error {
	real := openlines.RealConnector(realConnector)
	if real == "" {
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
	_, err := s.db.ExecContext(ctx, q, real, line, flag(st.Active), flag(st.Connection), flag(st.Register), flag(st.Error),
		s.clock.Now().Unix())
	if err != nil {
		return fmt.Errorf("portal: storing the status of %s on line %s: %w", real, line, err)
	}
	return nil
}

// SetLineError sets ERROR of (realConnector, line), leaving the other flags as they are, in one statement
// (deactivateConnector: the connection was taken over elsewhere).
func (s *SQLStatusStore) SetLineError(ctx context.Context, realConnector, line string) error {
	real := openlines.RealConnector(realConnector)
	if real == "" {
		return ErrNoStatusKey
	}
	q := `INSERT INTO olctl_portal_status (connector_id, line_id, flag_error, updated_at) VALUES (?, ?, 1, ?) `
	if s.db.Dialect == sqldb.MySQL {
		q += `ON DUPLICATE KEY UPDATE flag_error = 1, updated_at = VALUES(updated_at)`
	} else {
		q += `ON CONFLICT (connector_id, line_id) DO UPDATE SET flag_error = 1, updated_at = excluded.updated_at`
	}
	if _, err := s.db.ExecContext(ctx, q, real, line, s.clock.Now().Unix()); err != nil {
		return fmt.Errorf("portal: setting ERROR of %s on line %s: %w", real, line, err)
	}
	return nil
}

// DeleteLineStatus forgets the status of (realConnector, line) and reports whether one was stored.
func (s *SQLStatusStore) DeleteLineStatus(ctx context.Context, realConnector, line string) (bool, error) {
	real := openlines.RealConnector(realConnector)
	res, err := s.db.ExecContext(ctx, `DELETE FROM olctl_portal_status WHERE connector_id = ? AND line_id = ?`, real, line)
	if err != nil {
		return false, fmt.Errorf("portal: deleting the status of %s on line %s: %w", real, line, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// LineStatuses returns the stored status of every line of realConnector (a virtual id reads its real one's),
// by line id.
func (s *SQLStatusStore) LineStatuses(ctx context.Context, realConnector string) (map[string]openlines.LineStatus, error) {
	real := openlines.RealConnector(realConnector)
	rows, err := s.db.QueryContext(ctx, `SELECT line_id, flag_active, flag_connection, flag_register, flag_error
		FROM olctl_portal_status WHERE connector_id = ?`, real)
	if err != nil {
		return nil, fmt.Errorf("portal: reading the line statuses of %s: %w", real, err)
	}
	defer rows.Close()
	out := map[string]openlines.LineStatus{}
	for rows.Next() {
		var line string
		var st openlines.LineStatus
		if err := rows.Scan(&line, &st.Active, &st.Connection, &st.Register, &st.Error); err != nil {
			return nil, fmt.Errorf("portal: reading the line statuses of %s: %w", real, err)
		}
		out[line] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("portal: reading the line statuses of %s: %w", real, err)
	}
	return out, nil
}

// flag is a status flag as stored: 1 or 0 (a bool is not an integer to every driver).
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// StatusConnector is the event of a change of a line's status (OnAddStatusConnector, OnUpdateStatusConnector,
// OnDeleteStatusConnector; docs/protocol.md §7): Connector is the real connector id, Status the status after
// the change (before it, for a deletion).
type StatusConnector struct {
	Connector string               `json:"connector"`
	Line      string               `json:"line"`
	Status    openlines.LineStatus `json:"-"`
	At        time.Time            `json:"-"` // when the change was made, on the portal's clock
}

// StatusFields are a line's status flags as Bitrix's events carry them: "Y" or "N".
type StatusFields struct {
	Active     string `json:"ACTIVE"`
	Connection string `json:"CONNECTION"`
	Register   string `json:"REGISTER"`
	Error      string `json:"ERROR"`
}

// Fields returns the flags as "Y" or "N", the fields of Bitrix's status events.
func (s StatusConnector) Fields() StatusFields {
	yn := func(b bool) string {
		if b {
			return "Y"
		}
		return "N"
	}
	return StatusFields{Active: yn(s.Status.Active), Connection: yn(s.Status.Connection), Register: yn(s.Status.Register),
		Error: yn(s.Status.Error)}
}

// lineStatuses is the portal's front of its status store: the gate reads it, and the changes made through
// it fire the status events.
type lineStatuses struct {
	store  openlines.LineStatusStore
	events *events
	clock  clock.Clock
	logf   func(msg string, args ...any)
}

// lookup returns the stored status and whether one is stored. A replaced store that cannot tell counts a
// status with every flag false as none.
func (l *lineStatuses) lookup(ctx context.Context, real, line string) (openlines.LineStatus, bool, error) {
	if s, ok := l.store.(interface {
		LookupLineStatus(ctx context.Context, realConnector, line string) (openlines.LineStatus, bool, error)
	}); ok {
		return s.LookupLineStatus(ctx, real, line)
	}
	st, err := l.store.LineStatus(ctx, real, line)
	return st, st != (openlines.LineStatus{}), err
}

func (l *lineStatuses) get(ctx context.Context, real, line string) (openlines.LineStatus, error) {
	return l.store.LineStatus(ctx, real, line)
}

// set stores s and fires OnAddStatusConnector (the line had no status) or OnUpdateStatusConnector.
func (l *lineStatuses) set(ctx context.Context, real, line string, s openlines.LineStatus) error {
	_, found, err := l.lookup(ctx, real, line)
	if err != nil {
		return err
	}
	if err := l.store.SetLineStatus(ctx, real, line, s); err != nil {
		return err
	}
	subs := &l.events.statusUpdate
	if !found {
		subs = &l.events.statusAdd
	}
	l.notify(ctx, subs, StatusConnector{Connector: real, Line: line, Status: s, At: l.clock.Now()})
	return nil
}

// setError sets ERROR, keeping the other flags (one statement on the SQL store).
func (l *lineStatuses) setError(ctx context.Context, real, line string) error {
	if s, ok := l.store.(*SQLStatusStore); ok {
		return s.SetLineError(ctx, real, line)
	}
	st, err := l.store.LineStatus(ctx, real, line)
	if err != nil {
		return err
	}
	st.Error = true
	return l.store.SetLineStatus(ctx, real, line, st)
}

// delete forgets the status and fires OnDeleteStatusConnector with the status it had.
func (l *lineStatuses) delete(ctx context.Context, real, line string) error {
	st, found, err := l.lookup(ctx, real, line)
	if err != nil || !found {
		return err
	}
	if s, ok := l.store.(*SQLStatusStore); ok {
		if _, err := s.DeleteLineStatus(ctx, real, line); err != nil {
			return err
		}
	} else if err := l.store.SetLineStatus(ctx, real, line, openlines.LineStatus{}); err != nil {
		return err
	}
	l.notify(ctx, &l.events.statusDelete, StatusConnector{Connector: real, Line: line, Status: st, At: l.clock.Now()})
	return nil
}

func (l *lineStatuses) notify(ctx context.Context, subs *subscribers[StatusConnector], ev StatusConnector) {
	if err := subs.fire(ctx, ev); err != nil {
		l.logf("portal: a status event subscriber failed", "connector", ev.Connector, "line", ev.Line, "error", err)
	}
}

// statusStore is the LineStatusStore the portal hands to the connect flow: its changes go through the
// portal, so that they fire the status events.
type statusStore struct{ l *lineStatuses }

func (s statusStore) LineStatus(ctx context.Context, realConnector, line string) (openlines.LineStatus, error) {
	return s.l.get(ctx, openlines.RealConnector(realConnector), line)
}

func (s statusStore) SetLineStatus(ctx context.Context, realConnector, line string, st openlines.LineStatus) error {
	return s.l.set(ctx, openlines.RealConnector(realConnector), line, st)
}
