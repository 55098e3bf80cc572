package connector

import (
	"context"
	"strings"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/sqldb"
)

// OpenExisting opens the store of an existing connector server database to repair its queue (RedriveDead,
// Retry). As with OpenReadOnly, nothing is created and a database of another kind is ErrNotConnectorDB. A
// SQLite file that a running server serves is ErrQueueInUse: its dispatcher looks at the queue only when
// something in its own process wakes it, so the repair must go through that server (Server.RedriveDead,
// Server.Retry, or its inspector).
func OpenExisting(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqldb.OpenExisting(ctx, dsn, false)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Store, error) { _ = db.Close(); return nil, err }
	if err := checkConnectorDB(ctx, db); err != nil {
		return fail(err)
	}
	if db.Dialect == sqldb.SQLite {
		// A probe of the server's lock: a server that starts after it reads the queue from the database.
		lock, err := lockSQLite(ctx, db)
		if err != nil {
			return fail(err)
		}
		if lock != nil {
			_ = lock.Close()
		}
	}
	st, err := newStore(ctx, db, clock.System())
	if err != nil {
		return fail(err)
	}
	st.own = true
	return st, nil
}

// RedriveDead queues the dead letters that f selects again, as Server.Redrive does: every one, or with
// f.Limit > 0 the first f.Limit (after f.AfterID), in id order, each at the end of its line's queue. It
// returns how many were queued.
func (s *Store) RedriveDead(ctx context.Context, f QueueFilter) (int, error) {
	want := f.Limit
	var ids []int64
	for want <= 0 || len(ids) < want {
		f.Limit = 1000
		if want > 0 {
			f.Limit = min(1000, want-len(ids))
		}
		page, err := s.DeadLetters(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, it := range page {
			ids = append(ids, it.ID)
		}
		if len(page) < f.Limit {
			break
		}
		f.AfterID = page[len(page)-1].ID
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return s.redrive(ctx, ids)
}

// Retry lifts the block of the blocked lines f selects (f.Site and f.Line; empty is all): their attempts
// are forgotten (a failure starts the schedule anew) and they are sent at once; the time of their first
// failure stays until they deliver, for the log of their recovery. A line whose batch is in flight is
// left alone. It returns how many lines it lifted.
func (s *Store) Retry(ctx context.Context, f QueueFilter) (int, error) {
	var lifted int
	err := s.write(ctx, func(tx *stx) error {
		q := `UPDATE conn_lane SET state = ?, attempts = 0, next_at_ms = ?
			WHERE state = ? AND lease_owner = ''`
		args := []any{stateReady, s.nowMS(), stateBlocked}
		if f.Site != "" {
			q += ` AND site_id IN (SELECT id FROM conn_site WHERE domain = ? OR licence = ?)`
			args = append(args, f.Site, strings.ToLower(f.Site))
		}
		if f.Line != "" {
			q += ` AND line = ?`
			args = append(args, f.Line)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		lifted = int(n)
		return err
	})
	return lifted, err
}

// RedriveDead queues the dead letters that f selects again (see Store.RedriveDead) and wakes the dispatcher.
func (s *Server) RedriveDead(ctx context.Context, f QueueFilter) (int, error) {
	n, err := s.store.RedriveDead(ctx, f)
	if n > 0 {
		s.log.Info("connector: dead letters queued again", "items", n, "site", f.Site, "line", f.Line)
		s.wake()
	}
	return n, err
}

// Retry lifts the block of the blocked lines f selects (see Store.Retry) and wakes the dispatcher.
func (s *Server) Retry(ctx context.Context, f QueueFilter) (int, error) {
	n, err := s.store.Retry(ctx, f)
	if n > 0 {
		s.log.Info("connector: block lifted", "lines", n, "site", f.Site, "line", f.Line)
		s.wake()
	}
	return n, err
}
