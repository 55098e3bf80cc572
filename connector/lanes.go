package connector

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// Lane states (conn_lane.state).
const (
	stateReady    = 0 // may be dispatched when next_at has come (next_at is the last service time)
	stateAwaiting = 1 // a receivingMessage batch was accepted; next_at is the confirmation deadline
	stateBlocked  = 2 // attempts failures so far; next_at is the end of the block
)

// laneCache maps (site, line) to the lane id; lanes are never deleted.
type laneCache struct{ m sync.Map }

type laneKey struct {
	site int64
	line string
}

// laneID returns the lane of (site, line), creating it.
func (s *Store) laneID(ctx context.Context, tx *stx, lanes *laneCache, siteID int64, line string) (int64, error) {
	if v, ok := lanes.m.Load(laneKey{siteID, line}); ok {
		return v.(int64), nil
	}
	if _, err := tx.ExecContext(ctx, s.insertIgnore(`conn_lane (site_id, line) VALUES (?, ?)`), siteID, line); err != nil {
		return 0, err
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM conn_lane WHERE site_id = ? AND line = ?`, siteID, line).Scan(&id); err != nil {
		return 0, err
	}
	// Cached once committed: a lane rolled back (or made by an earlier, failed write of a combined
	// transaction) must not be remembered.
	tx.afterCommit(func() { lanes.m.Store(laneKey{siteID, line}, id) })
	return id, nil
}

// lane is a conn_lane row.
type lane struct {
	id, siteID        int64
	line              string
	state, attempts   int
	firstFail, nextAt int64
	sentUpto          int64
	leaseOwner        string
	leaseUntil        int64
}

const laneCols = `id, site_id, line, state, attempts, first_fail_ms, next_at_ms, sent_upto, lease_owner, lease_until_ms`

func scanLane(r rowScanner) (*lane, error) {
	var l lane
	err := r.Scan(&l.id, &l.siteID, &l.line, &l.state, &l.attempts, &l.firstFail, &l.nextAt, &l.sentUpto, &l.leaseOwner, &l.leaseUntil)
	return &l, err
}

// batch is what one dispatch sends: the head items of a lane with the same command and connector.
type batch struct {
	lane      *lane
	command   string
	connector string
	first     int64
	last      int64
	ids       []int64
	created   []int64
	blobs     [][]byte
	// byAnswer: the portal acknowledges the batch by its OK answer (a current site, or a command that is
	// never confirmed); otherwise a legacy portal confirms each item with setStatusDelivered. The
	// dispatcher sets it once it knows the site.
	byAnswer bool
}

// anyReady tells, without a write transaction, whether some lane may be ready for claim.
func (s *Store) anyReady(ctx context.Context) (bool, error) {
	now := s.nowMS()
	var one int
	err := s.rdb().QueryRowContext(ctx, `SELECT 1 FROM conn_lane WHERE idle = 0 AND next_at_ms <= ? AND lease_until_ms <= ? LIMIT 1`, now, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// claimResult says what a claim did.
type claimResult struct {
	batch       *batch      // to send, with the lane leased to the caller
	worked      bool        // something changed (a lane was examined)
	lane        *lane       // the lane examined, as it was
	deadLetters int         // items moved to the dead-letter table
	timedOut    bool        // a confirmation deadline passed
	failure     laneFailure // the failed attempt, when timedOut
	unblocked   bool        // an awaited batch turned out confirmed
	recovered   *recovery   // with unblocked: the lane had failed and is served again
}

// claim finds one lane that is ready and either settles it (confirmation deadline, dead letters, nothing
// left) or leases it to owner and returns its next batch.
func (s *Store) claim(ctx context.Context, owner string) (claimResult, error) {
	var res claimResult
	err := s.write(ctx, func(tx *stx) error {
		res = claimResult{}
		now := s.nowMS()
		l, err := scanLane(tx.QueryRowContext(ctx, `SELECT `+laneCols+` FROM conn_lane
			WHERE idle = 0 AND next_at_ms <= ? AND lease_until_ms <= ? ORDER BY next_at_ms, id LIMIT 1`+s.forUpdate(true), now, now))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res.worked = true
		seen := *l
		res.lane = &seen
		switch l.state {
		case stateAwaiting:
			remaining, err := s.countUpto(ctx, tx, l.id, l.sentUpto)
			if err != nil {
				return err
			}
			if remaining > 0 { // the confirmation did not come in time
				res.timedOut = true
				res.failure, err = s.failTx(ctx, tx, l, now)
				return err
			}
			res.unblocked, res.recovered = true, recoveryOf(l)
			if err := s.succeedTx(ctx, tx, l.id, now); err != nil {
				return err
			}
		case stateBlocked:
			if l.attempts >= len(s.pol.Schedule) { // the last block ended
				n, err := s.deadLetterTx(ctx, tx, l, now)
				if err != nil {
					return err
				}
				res.deadLetters = n
				if err := s.succeedTx(ctx, tx, l.id, now); err != nil {
					return err
				}
				// The line is failing until it delivers again (a redrive, a new item): its recovery is logged then.
				if _, err := tx.ExecContext(ctx, `UPDATE conn_lane SET first_fail_ms = ? WHERE id = ?`, l.firstFail, l.id); err != nil {
					return err
				}
			}
		}
		b, err := s.headBatch(ctx, tx, l)
		if err != nil {
			return err
		}
		if b == nil {
			_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET idle = 1 WHERE id = ?`, l.id)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_owner = ?, lease_until_ms = ?, sent_upto = ? WHERE id = ?`,
			owner, now+s.pol.LeaseTTL.Milliseconds(), b.last, l.id); err != nil {
			return err
		}
		l.sentUpto = b.last
		res.batch = b
		return nil
	})
	return res, err
}

// headBatch reads the head of a lane: up to Policy.Batch items with the command and connector of the first
// (one for commands whose packets hold one item or none). A batch never holds two items with the same
// (chat.id, message.id), so that a confirmation names exactly one of them.
func (s *Store) headBatch(ctx context.Context, tx *stx, l *lane) (*batch, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, command, connector, chat_id, msg_id, item, created_ms FROM conn_queue
		WHERE lane_id = ? ORDER BY id LIMIT ?`, l.id, s.pol.Batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var b *batch
	var keys map[msgKey]bool
	for rows.Next() {
		var id, created int64
		var cmd, conn string
		var k msgKey
		var blob []byte
		if err := rows.Scan(&id, &cmd, &conn, &k.chat, &k.msg, &blob, &created); err != nil {
			return nil, err
		}
		if b == nil {
			b = &batch{lane: l, command: cmd, connector: conn, first: id}
			keys = map[msgKey]bool{}
		} else if cmd != b.command || conn != b.connector || shapeOf(cmd) != shapeList || (k.msg != "" && keys[k]) {
			break
		}
		keys[k] = true
		b.ids = append(b.ids, id)
		b.created = append(b.created, created)
		b.blobs = append(b.blobs, blob)
		b.last = id
	}
	return b, rows.Err()
}

// nextDue returns the earliest time a lane becomes ready (a block or confirmation deadline ending, or, with
// withLeases, another process's lease expiring). A lane that is ready already, because its deadline passed
// after the caller last looked for one, gives a time not after now, so that the caller's timer fires at once:
// leaving it out, as only future deadlines were once counted, left a worker asleep beside a ready lane when
// the clock passed the deadline between its two looks. A leased lane whose deadline has passed is not ready
// (its holder settles it), so it is left out, and the caller does not spin.
func (s *Store) nextDue(ctx context.Context, withLeases bool) (time.Time, bool, error) {
	now := s.nowMS()
	var due sql.NullInt64
	err := s.rdb().QueryRowContext(ctx, `SELECT MIN(next_at_ms) FROM conn_lane WHERE idle = 0 AND (next_at_ms > ? OR lease_until_ms <= ?)`, now, now).Scan(&due)
	if err != nil {
		return time.Time{}, false, err
	}
	if withLeases {
		var lease sql.NullInt64
		if err := s.rdb().QueryRowContext(ctx, `SELECT MIN(lease_until_ms) FROM conn_lane WHERE idle = 0 AND lease_until_ms > ?`, now).Scan(&lease); err != nil {
			return time.Time{}, false, err
		}
		if lease.Valid && (!due.Valid || lease.Int64 < due.Int64) {
			due = lease
		}
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(due.Int64), true, nil
}

// releaseLeases frees the leases of instance's lease owners (see Server.leaseOwner): at start, those of the
// process's previous incarnation, which is gone (the kernel gives a listen address to one live process), and
// at Close its own.
func (s *Store) releaseLeases(ctx context.Context, instance string) error {
	return s.write(ctx, func(tx *stx) error {
		_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_owner = '', lease_until_ms = 0 WHERE lease_owner LIKE ?`, instance+".%")
		return err
	})
}

// releaseAllLeases frees every lease (SQLite: the one process that owns the queue is starting).
func (s *Store) releaseAllLeases(ctx context.Context) error {
	return s.write(ctx, func(tx *stx) error {
		_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_owner = '', lease_until_ms = 0 WHERE lease_owner <> ''`)
		return err
	})
}

// renewLease extends the lease of a lane that owner still holds to a full Policy.LeaseTTL from now. It
// reports false, changing nothing, when the lease has passed to another holder or been settled.
func (s *Store) renewLease(ctx context.Context, laneID int64, owner string) (bool, error) {
	var held bool
	err := s.write(ctx, func(tx *stx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT lease_owner FROM conn_lane WHERE id = ?`+s.forUpdate(false), laneID).Scan(&cur); err != nil {
			return err
		}
		if held = cur == owner; !held {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_until_ms = ? WHERE id = ?`, s.nowMS()+s.pol.LeaseTTL.Milliseconds(), laneID)
		return err
	})
	return held, err
}
