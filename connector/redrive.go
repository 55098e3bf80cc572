package connector

import (
	"context"
	"strings"
)

// Redrive queues the dead letters ids again (QueuedItem.ID of DeadLetters), each at the end of its line's
// queue as a new item, in id order, and returns how many were dead letters; unknown ids are ignored. The
// dispatcher sends them as soon as their line is ready: at once, unless the line is blocked again.
func (s *Server) Redrive(ctx context.Context, ids ...int64) (int, error) {
	n, err := s.store.redrive(ctx, ids)
	if n > 0 {
		s.log.Info("connector: dead letters queued again", "items", n)
		s.wake()
	}
	return n, err
}

// redrive moves dead letters back into their lanes' queues (see Server.Redrive).
func (s *Store) redrive(ctx context.Context, ids []int64) (int, error) {
	var moved int
	err := s.write(ctx, func(tx *stx) error {
		moved = 0
		now := s.nowMS()
		for start := 0; start < len(ids); start += 200 {
			chunk := ids[start:min(start+200, len(ids))]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			in := `(?` + strings.Repeat(", ?", len(chunk)-1) + `)`
			rows, err := tx.QueryContext(ctx, `SELECT id, lane_id, command, connector, chat_id, msg_id, item FROM conn_dead
				WHERE id IN `+in+` ORDER BY id`, args...)
			if err != nil {
				return err
			}
			var dead []deadRow
			for rows.Next() {
				var d deadRow
				if err := rows.Scan(&d.id, &d.lane, &d.command, &d.connector, &d.chat, &d.msg, &d.item); err != nil {
					rows.Close()
					return err
				}
				dead = append(dead, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, d := range dead {
				// The lane's row lock orders this with the line's enqueues (as enqueuePrepared takes it).
				if _, err := tx.ExecContext(ctx, `UPDATE conn_lane SET idle = 0 WHERE id = ?`, d.lane); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO conn_queue (lane_id, command, connector, chat_id, msg_id, item, created_ms)
					VALUES (?, ?, ?, ?, ?, ?, ?)`, d.lane, d.command, d.connector, d.chat, d.msg, d.item, now); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM conn_dead WHERE id = ?`, d.id); err != nil {
					return err
				}
				moved++
			}
		}
		return nil
	})
	return moved, err
}

type deadRow struct {
	id, lane                      int64
	command, connector, chat, msg string
	item                          []byte
}
