package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
)

// The portal database: where `olctl serve` keeps its state and reads the line statuses of its line gate, and
// where `olctl connect` and the remote methods that change a line write them (docs/protocol.md §7, §10).
// `olctl serve` defaults to portal.db in its --data-dir, "." by default: the same file as defaultPortalDB.
const (
	defaultPortalDB = "portal.db"
	envPortalDB     = envPrefix + "PORTAL_DB"
)

// portalDBFlag adds --db, the portal database of the line statuses, to cmd, kept in dst (default portal.db;
// OLCTL_PORTAL_DB replaces the default, see envDefault).
func portalDBFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "db", defaultPortalDB, `portal database where line statuses are written (SQLite path, `+
		`mysql://… or postgres://…; env `+envPortalDB+`; "" writes none)`)
}

// envDefault sets *dst from the environment variable env when cmd's flag was not given: the variable
// replaces the flag's default.
func envDefault(cmd *cobra.Command, flag, env string, dst *string, lookupEnv func(string) (string, bool)) {
	if cmd.Flags().Changed(flag) {
		return
	}
	if v, ok := lookupEnv(env); ok {
		*dst = v
	}
}

// statusStore is a line status store opened for one command.
type statusStore struct {
	*portal.SQLStatusStore
	db *sqldb.DB
}

// openStatusStore opens the line status store of the portal database dsn; an empty dsn is no store (nil,
// nil).
func openStatusStore(ctx context.Context, dsn string, clk clock.Clock) (*statusStore, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, nil
	}
	db, err := openPortalDB(ctx, dsn, portalCreate)
	if err != nil {
		return nil, err
	}
	st, err := portal.NewSQLStatusStore(ctx, db, clk)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	return &statusStore{SQLStatusStore: st, db: db}, nil
}

// Close closes the database; a nil store has none.
func (s *statusStore) Close() error {
	if s == nil {
		return nil
	}
	return s.db.Close()
}

// methodStatus is the status of a line after a remote method run on its own succeeded, and whether the
// method changes it: saveSettings sets ACTIVE; register sets ACTIVE, CONNECTION and REGISTER and clears
// ERROR (the line is connected, as after the connect flow); unregister clears REGISTER. deleteConnector
// deletes the status (see changesLineStatus). A method that fails changes nothing.
func methodStatus(s openlines.LineStatus, method string) (openlines.LineStatus, bool) {
	switch {
	case strings.EqualFold(method, openlines.MethodSaveSettings):
		s.Active = true
	case strings.EqualFold(method, openlines.MethodRegister):
		s = openlines.LineStatus{Active: true, Connection: true, Register: true}
	case strings.EqualFold(method, openlines.MethodUnregister):
		s.Register = false
	default:
		return s, false
	}
	return s, true
}

// changesLineStatus reports whether a successful method changes its line's status in the portal database.
func changesLineStatus(method string) bool {
	_, ok := methodStatus(openlines.LineStatus{}, method)
	return ok || strings.EqualFold(method, openlines.MethodDeleteConnector)
}

// recordMethod writes the status of (connector, line) after method succeeded and returns it (nil when the
// status was deleted).
func (s *statusStore) recordMethod(ctx context.Context, method, connector, line string) (*openlines.LineStatus, error) {
	real := openlines.RealConnector(connector)
	if strings.EqualFold(method, openlines.MethodDeleteConnector) {
		if _, err := s.DeleteLineStatus(ctx, real, line); err != nil {
			return nil, err
		}
		return nil, nil
	}
	cur, err := s.LineStatus(ctx, real, line)
	if err != nil {
		return nil, err
	}
	next, _ := methodStatus(cur, method)
	if err := s.SetLineStatus(ctx, real, line, next); err != nil {
		return nil, err
	}
	return &next, nil
}

// describeStatusPtr is describeStatus of *s, "deleted" for nil.
func describeStatusPtr(s *openlines.LineStatus) string {
	if s == nil {
		return "deleted"
	}
	return describeStatus(*s)
}

// describeStatus shows a line status as its set flags ("active, connection, register"; "none").
func describeStatus(s openlines.LineStatus) string {
	var on []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"active", s.Active}, {"connection", s.Connection}, {"register", s.Register}, {"error", s.Error}} {
		if f.set {
			on = append(on, f.name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ", ")
}
