package portal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// ErrNotPortalDB is returned by OpenItems for a database that holds no portal tables: a new one, or another
// component's (the connector server's).
var ErrNotPortalDB = errors.New("portal: not a portal database")

// Items is the store of received items of a portal database, opened without a Portal: the dead letters
// listed and redriven by a tool while the portal runs, or while it is down (olctl portal dead and redrive).
// It creates and migrates nothing, so DeadLetters works on a read-only database.
//
// A redriven item is pending again, due at once with a fresh retry schedule: the retrier of a Portal on the
// same database tries it at its next look at the store (Config.Retry.Poll, a minute by default), or the next
// Portal to start does. Items are tried in id order, the order they were received in. On a SQLite file that
// a running Portal holds, the write waits for the Portal's writer (SQLite serialises writers; sqldb's busy
// timeout bounds the wait); on MySQL and PostgreSQL it is one UPDATE among the Portal's own.
type Items struct {
	store *itemStore
	clock clock.Clock
}

// OpenItems returns the item store of the portal database db, which must hold the portal's tables
// (ErrNotPortalDB otherwise). Redrive dates its changes by clk (nil: the system clock). Close releases what
// it prepared; db stays open.
func OpenItems(ctx context.Context, db *sqldb.DB, clk clock.Clock) (*Items, error) {
	have, err := db.Components(ctx)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if !slices.Contains(have, "portal") {
		what := "it holds no olctl tables"
		if len(have) > 0 {
			what = "it holds the tables of " + strings.Join(have, ", ")
		}
		return nil, fmt.Errorf("%w: %s", ErrNotPortalDB, what)
	}
	return &Items{store: &itemStore{db: db, stmts: map[string]*sql.Stmt{}}, clock: clock.Or(clk)}, nil
}

// Close releases the prepared statements; the database stays open.
func (it *Items) Close() error { return it.store.close() }

// DeadLetters returns up to limit dead letters with an id above after, in id order (limit <= 0: 100), as
// Portal.DeadLetters does.
func (it *Items) DeadLetters(ctx context.Context, after int64, limit int) ([]DeadLetter, error) {
	return deadLetters(ctx, it.store, after, limit)
}

// Redrive makes the dead letters ids pending again, due now with a fresh retry schedule, and returns how
// many of them were dead letters (an id that is not one is left as it is).
func (it *Items) Redrive(ctx context.Context, ids ...int64) (int, error) {
	return it.store.redrive(ctx, ids, it.clock.Now())
}

// Counts returns how many items are pending (waiting for a retry, or being processed) and dead.
func (it *Items) Counts(ctx context.Context) (pending, dead int64, err error) {
	return it.store.counts(ctx)
}

// deadLetters reads a page of dead letters of s.
func deadLetters(ctx context.Context, s *itemStore, after int64, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.dead(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = DeadLetter{ID: r.id, Command: r.command, Connector: r.connector, Line: r.line, Attempts: r.attempts,
			LastError: r.lastErr, Received: time.UnixMilli(r.created).UTC(), Died: time.UnixMilli(r.due).UTC()}
		if len(r.body) > 0 {
			if v, err := wire.Unserialize(r.body); err == nil {
				out[i].Item = v
			}
		}
	}
	return out, nil
}
