package connector

import (
	"context"
	"database/sql"
	"errors"
)

func (s *Store) countUpto(ctx context.Context, tx *stx, laneID, upto int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM conn_queue WHERE lane_id = ? AND id <= ?`, laneID, upto).Scan(&n)
	return n, err
}

// succeedTx resets a lane's failures; it is ready again (after the lanes served less recently).
func (s *Store) succeedTx(ctx context.Context, tx *stx, laneID, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, attempts = 0, first_fail_ms = 0, next_at_ms = ?,
		lease_owner = '', lease_until_ms = 0 WHERE id = ?`, stateReady, now, laneID)
	return err
}

// laneFailure is a failed attempt of a lane, for the logs: its number, and when the lane's block ends, with
// the next attempt or, after the schedule's last, with its items moving to the dead letters.
type laneFailure struct {
	attempt int
	nextAt  int64 // unix ms
	last    bool  // the schedule's last attempt: the block ends with the dead letters
}

// recovery is a line that had failed and is served again: its failed attempts and the first one's time.
type recovery struct {
	attempts int
	since    int64 // unix ms
}

// recoveryOf is the recovery of a lane settled successfully, nil when it had not failed (a lane lifted by
// Retry, or whose items went to the dead letters, has no attempts but still its first failure's time).
func recoveryOf(l *lane) *recovery {
	if l.attempts == 0 && l.firstFail == 0 {
		return nil
	}
	return &recovery{attempts: l.attempts, since: l.firstFail}
}

// failTx counts a failure and blocks the lane for the next period of the schedule.
func (s *Store) failTx(ctx context.Context, tx *stx, l *lane, now int64) (laneFailure, error) {
	attempts := l.attempts + 1
	first := l.firstFail
	if attempts == 1 || first == 0 {
		first = now
	}
	period := s.pol.Schedule[min(attempts, len(s.pol.Schedule))-1]
	f := laneFailure{attempt: attempts, nextAt: now + period.Milliseconds(), last: attempts >= len(s.pol.Schedule)}
	_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, attempts = ?, first_fail_ms = ?, next_at_ms = ?,
		lease_owner = '', lease_until_ms = 0 WHERE id = ?`, stateBlocked, attempts, first, f.nextAt, l.id)
	return f, err
}

// deadLetterTx moves the queued items of a lane whose schedule ended to the dead-letter table: every one,
// or only the one item its last packet left unacknowledged when it is alone (the portal took the others of
// that packet, or the search for a refused item came down to it: refuse.go), so that the line goes on.
func (s *Store) deadLetterTx(ctx context.Context, tx *stx, l *lane, now int64) (int, error) {
	sent, err := s.countUpto(ctx, tx, l.id, l.sentUpto)
	if err != nil {
		return 0, err
	}
	where, args := `lane_id = ?`, []any{l.id}
	if sent == 1 {
		where, args = `lane_id = ? AND id <= ?`, []any{l.id, l.sentUpto}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO conn_dead (id, lane_id, site_id, line, command, connector, chat_id, msg_id, item,
		created_ms, dead_ms, attempts, first_fail_ms)
		SELECT id, lane_id, ?, ?, command, connector, chat_id, msg_id, item, created_ms, ?, ?, ? FROM conn_queue WHERE `+where,
		append([]any{l.siteID, l.line, now, l.attempts, l.firstFail}, args...)...); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE `+where, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// finishResult says how a sent batch settled.
type finishResult struct {
	lost      bool        // the lease had passed to another process: nothing was changed
	confirmed int64       // items deleted by this finish (batches acknowledged by the answer)
	awaiting  bool        // the batch waits for setStatusDelivered
	next      *batch      // with cont: the lane's next batch, leased to the caller in the same transaction
	failure   laneFailure // the failed attempt, when the batch failed
	recovered *recovery   // the lane had failed and is served again; nil otherwise
	dropped   bool        // the item to drop was moved to the dead-letter table
}

// finish settles a sent batch (docs/protocol.md §11): a failure blocks the lane; an accepted batch that a
// legacy portal confirms item by item waits for the confirmations that have not come yet; any other
// accepted batch is acknowledged by the answer and deleted. With cont, a lane that settled
// successfully and has more items stays leased and its next batch is returned (one transaction instead of
// a finish and a claim).
func (s *Store) finish(ctx context.Context, owner string, b *batch, sendErr error, cont bool) (finishResult, error) {
	return s.finishDropping(ctx, owner, b, sendErr, cont, 0)
}

// finishDropping is finish that also moves the queued item drop (not 0) to the dead-letter table when the
// batch was accepted: the head the portal refused alone, settled with the items sent behind it (refuse.go).
func (s *Store) finishDropping(ctx context.Context, owner string, b *batch, sendErr error, cont bool, drop int64) (finishResult, error) {
	var res finishResult
	err := s.write(ctx, func(tx *stx) error {
		res = finishResult{}
		now := s.nowMS()
		l, err := scanLane(tx.QueryRowContext(ctx, `SELECT `+laneCols+` FROM conn_lane WHERE id = ?`+s.forUpdate(false), b.lane.id))
		if err != nil {
			return err
		}
		if l.leaseOwner != owner {
			res.lost = true
			return nil
		}
		if drop != 0 && sendErr == nil {
			if err := s.deadLetterItemTx(ctx, tx, l, drop, now); err != nil {
				return err
			}
			res.dropped = true
		}
		switch {
		case sendErr != nil:
			res.failure, err = s.failTx(ctx, tx, l, now)
			return err
		case !b.byAnswer:
			remaining, err := s.countUpto(ctx, tx, l.id, l.sentUpto)
			if err != nil {
				return err
			}
			if remaining > 0 {
				res.awaiting = true
				_, err = tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, next_at_ms = ?, lease_owner = '', lease_until_ms = 0 WHERE id = ?`,
					stateAwaiting, now+s.pol.ConfirmTimeout.Milliseconds(), l.id)
				return err
			}
			// The portal confirmed (setStatusDelivered, counted there) before it answered.
			res.recovered = recoveryOf(l)
		default:
			r, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE lane_id = ? AND id >= ? AND id <= ?`, l.id, b.first, b.last)
			if err != nil {
				return err
			}
			res.confirmed, _ = r.RowsAffected()
			res.recovered = recoveryOf(l)
		}
		if !cont {
			return s.succeedTx(ctx, tx, l.id, now)
		}
		next, err := s.headBatch(ctx, tx, l)
		if err != nil {
			return err
		}
		if next == nil {
			if err := s.succeedTx(ctx, tx, l.id, now); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET idle = 1 WHERE id = ?`, l.id)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, attempts = 0, first_fail_ms = 0, next_at_ms = ?,
			lease_until_ms = ?, sent_upto = ? WHERE id = ?`, stateReady, now, now+s.pol.LeaseTTL.Milliseconds(), next.last, l.id); err != nil {
			return err
		}
		l.sentUpto = next.last
		res.next = next
		return nil
	})
	return res, err
}

// msgKey is the (chat id, message id) of a confirmed item.
type msgKey struct{ chat, msg string }

// confirmResult says what a confirmation did.
type confirmResult struct {
	confirmed int64     // items deleted
	unblocked bool      // the lane is ready again: nothing it sent remains unconfirmed
	recovered *recovery // the lane had failed and is served again; nil otherwise
}

// confirm deletes the sent receivingMessage items of (site, line) that the portal confirmed and unblocks
// the lane at once when nothing it sent remains unconfirmed.
func (s *Store) confirm(ctx context.Context, siteID int64, line string, keys []msgKey) (confirmResult, error) {
	var res confirmResult
	err := s.write(ctx, func(tx *stx) error {
		res = confirmResult{}
		l, err := scanLane(tx.QueryRowContext(ctx, `SELECT `+laneCols+` FROM conn_lane WHERE site_id = ? AND line = ?`+s.forUpdate(false), siteID, line))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		// The sent items (a batch or two) are read and matched here, and deleted by one statement of a
		// fixed shape (prepared once): by their range when the portal confirmed all of them, the usual case.
		want := make(map[msgKey]bool, len(keys))
		for _, k := range keys {
			want[k] = true
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, command, chat_id, msg_id FROM conn_queue WHERE lane_id = ? AND id <= ? ORDER BY id`, l.id, l.sentUpto)
		if err != nil {
			return err
		}
		var del []int64
		sent := 0
		for rows.Next() {
			var id int64
			var cmd string
			var k msgKey
			if err := rows.Scan(&id, &cmd, &k.chat, &k.msg); err != nil {
				rows.Close()
				return err
			}
			sent++
			if confirmable(cmd) && want[k] {
				del = append(del, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		switch {
		case len(del) == 0:
			return nil
		case len(del) == sent:
			if _, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE lane_id = ? AND id <= ?`, l.id, l.sentUpto); err != nil {
				return err
			}
		default:
			for _, id := range del {
				if _, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE id = ?`, id); err != nil {
					return err
				}
			}
		}
		res.confirmed = int64(len(del))
		if l.leaseOwner != "" || (l.state != stateAwaiting && l.state != stateBlocked) || len(del) < sent {
			return nil
		}
		res.unblocked, res.recovered = true, recoveryOf(l)
		return s.succeedTx(ctx, tx, l.id, s.nowMS())
	})
	return res, err
}
