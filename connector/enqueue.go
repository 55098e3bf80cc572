package connector

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// shape is how the queued items of a command make the DATA of a packet (docs/protocol.md §3.2).
type shape uint8

const (
	shapeList  shape = iota // the list of the items, up to Policy.Batch per packet
	shapeEmpty              // no items: one packet per queued entry, DATA an empty array (testConnect, deactivateConnector)
	shapeOne                // one map: one packet per item, DATA the item itself (setChatName)
)

func shapeOf(command string) shape {
	switch strings.ToLower(command) {
	case "testconnect", "deactivateconnector":
		return shapeEmpty
	case "setchatname":
		return shapeOne
	}
	return shapeList
}

// confirmable reports whether a legacy portal confirms the items of a command with setStatusDelivered.
func confirmable(command string) bool { return command == openlines.CommandReceivingMessage }

// prepared is an item ready to be stored.
type prepared struct {
	command, connector, chatID, msgID string
	blob                              []byte
	dkey                              string
}

// prepare serializes and checks items before any write.
func prepare(items []Incoming, defConnector string) ([]prepared, error) {
	out := make([]prepared, 0, len(items))
	for i, in := range items {
		p := prepared{command: in.Command, connector: strings.ToLower(in.Connector)}
		if p.command == "" {
			p.command = openlines.CommandReceivingMessage
		}
		if p.connector == "" {
			p.connector = strings.ToLower(defConnector)
		}
		if len(p.command) > 64 || len(p.connector) > maxConnectorLen || p.connector == "" {
			return nil, wire.Errorf(wire.CodeBadPacket, "item %d: command or connector missing or too long", i)
		}
		var err error
		if p.blob, err = wire.Serialize(in.Item); err != nil {
			return nil, wire.Errorf(wire.CodeBadPacket, "item %d: %v", i, err)
		}
		if shapeOf(p.command) != shapeEmpty && in.Item != nil {
			v := in.Item
			if _, ok := v.(*wire.Map); !ok { // other shapes (structs, Go maps) are read back in PHP terms
				if v, err = wire.Unserialize(p.blob); err != nil {
					return nil, wire.Errorf(wire.CodeBadPacket, "item %d: %v", i, err)
				}
			}
			if shapeOf(p.command) == shapeOne {
				p.chatID = scalarString(path(v, "chat_id"))
			} else {
				p.chatID = scalarString(path(v, "chat", "id"))
				p.msgID = scalarString(path(v, "message", "id"))
			}
			if confirmable(p.command) && p.msgID == "" {
				// A legacy portal confirms an item by (chat.id, message.id): an item without an id gets one
				// of its own, unique in its chat.
				if p.blob, p.msgID, err = withMessageID(v); err != nil {
					return nil, wire.Errorf(wire.CodeBadPacket, "item %d: %v", i, err)
				}
			}
		}
		if len(p.chatID) > maxKeyLen || len(p.msgID) > maxKeyLen {
			return nil, wire.Errorf(wire.CodeBadPacket, "item %d: chat.id or message.id longer than %d bytes", i, maxKeyLen)
		}
		if in.DedupKey != "" {
			h := sha256.Sum256([]byte(p.connector + "\x00" + in.DedupKey))
			p.dkey = hex.EncodeToString(h[:])
		}
		out = append(out, p)
	}
	return out, nil
}

// withMessageID gives an item (a *wire.Map; a copy is changed) a generated message.id and returns it
// serialized.
func withMessageID(v any) ([]byte, string, error) {
	item, ok := v.(*wire.Map)
	if !ok {
		return nil, "", errors.New("the item is not an array")
	}
	item = &wire.Map{Entries: slices.Clone(item.Entries)}
	m := &wire.Map{}
	if msg, ok := item.Get("message"); ok {
		if old, ok := msg.(*wire.Map); ok {
			m.Entries = slices.Clone(old.Entries)
		}
	}
	id := "olctl-" + randomHex(8)
	m.Set("id", id)
	item.Set("message", m)
	blob, err := wire.Serialize(item)
	return blob, id, err
}

// enqueueTx stores items for (site, line) in order inside tx; items whose DedupKey was seen are dropped.
func (s *Store) enqueueTx(ctx context.Context, tx *stx, siteID int64, line string, items []Incoming, now int64) error {
	ps, err := prepare(items, "")
	if err != nil {
		return err
	}
	_, _, err = s.enqueuePrepared(ctx, tx, &s.lanes, siteID, line, ps, now)
	return err
}

// enqueuePrepared stores prepared items and returns their lane and the items kept.
func (s *Store) enqueuePrepared(ctx context.Context, tx *stx, lanes *laneCache, siteID int64, line string, ps []prepared, now int64) (int64, []prepared, error) {
	lane, err := s.laneID(ctx, tx, lanes, siteID, line)
	if err != nil {
		return 0, nil, err
	}
	// Locks the lane (MySQL, PostgreSQL) so that enqueues of one line commit in id order and its dedup keys
	// are checked and inserted by one transaction at a time, and marks it busy. SQLite's write transactions
	// are exclusive already, and a lane that is busy is not rewritten (one page less to log per commit).
	q := `UPDATE conn_lane SET idle = 0 WHERE id = ?`
	if s.sqlite() {
		q += ` AND idle <> 0`
	}
	if _, err := tx.ExecContext(ctx, q, lane); err != nil {
		return 0, nil, err
	}
	keep, err := s.dropDuplicates(ctx, tx, lane, ps, now)
	if err != nil {
		return 0, nil, err
	}
	for start := 0; start < len(keep); start += 100 {
		chunk := keep[start:min(start+100, len(keep))]
		args := make([]any, 0, 7*len(chunk))
		for _, p := range chunk {
			args = append(args, lane, p.command, p.connector, p.chatID, p.msgID, p.blob, now)
		}
		q := `INSERT INTO conn_queue (lane_id, command, connector, chat_id, msg_id, item, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)` +
			strings.Repeat(", (?, ?, ?, ?, ?, ?, ?)", len(chunk)-1)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, nil, err
		}
	}
	return lane, keep, nil
}

// dropDuplicates returns the items whose dedup key is new (or who have none) and records the new keys.
// The caller holds the lane's lock.
func (s *Store) dropDuplicates(ctx context.Context, tx *stx, lane int64, ps []prepared, now int64) ([]prepared, error) {
	var keys []any
	for _, p := range ps {
		if p.dkey != "" {
			keys = append(keys, p.dkey)
		}
	}
	if len(keys) == 0 {
		return ps, nil
	}
	if s.db.Dialect != sqldb.MySQL {
		return s.insertDedupKeys(ctx, tx, lane, ps, keys, now)
	}
	seen := map[string]bool{}
	for start := 0; start < len(keys); start += 200 {
		chunk := keys[start:min(start+200, len(keys))]
		q := `SELECT dkey FROM conn_dedup WHERE lane_id = ? AND dkey IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		if err := queryStrings(ctx, tx, seen, q, append([]any{lane}, chunk...)...); err != nil {
			return nil, err
		}
	}
	keep := make([]prepared, 0, len(ps))
	var fresh []string
	for _, p := range ps {
		if p.dkey != "" {
			if seen[p.dkey] {
				continue
			}
			seen[p.dkey] = true
			fresh = append(fresh, p.dkey)
		}
		keep = append(keep, p)
	}
	for start := 0; start < len(fresh); start += 200 {
		chunk := fresh[start:min(start+200, len(fresh))]
		args := make([]any, 0, 3*len(chunk))
		for _, k := range chunk {
			args = append(args, lane, k, now)
		}
		q := `INSERT INTO conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(chunk)-1)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// insertDedupKeys is dropDuplicates in one statement per 200 keys (SQLite, PostgreSQL): the keys are
// inserted unless present, and RETURNING lists those inserted, the new ones (a key twice in ps is inserted
// once).
func (s *Store) insertDedupKeys(ctx context.Context, tx *stx, lane int64, ps []prepared, keys []any, now int64) ([]prepared, error) {
	if len(keys) == 1 {
		// One key (one item per webhook, the usual case): the count of rows inserted tells, without the
		// temporary table that RETURNING fills.
		r, err := tx.ExecContext(ctx, s.insertIgnore(`conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)`), lane, keys[0], now)
		if err != nil {
			return nil, err
		}
		if n, err := r.RowsAffected(); err != nil || n == 1 {
			return ps, err
		}
		return slices.DeleteFunc(slices.Clone(ps), func(p prepared) bool { return p.dkey != "" }), nil
	}
	fresh := make(map[string]bool, len(keys))
	for start := 0; start < len(keys); start += 200 {
		chunk := keys[start:min(start+200, len(keys))]
		args := make([]any, 0, 3*len(chunk))
		for _, k := range chunk {
			args = append(args, lane, k, now)
		}
		q := `INSERT INTO conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(chunk)-1) +
			` ON CONFLICT DO NOTHING RETURNING dkey`
		if err := queryStrings(ctx, tx, fresh, q, args...); err != nil {
			return nil, err
		}
	}
	if len(fresh) == len(keys) {
		return ps, nil // no duplicate, the common case
	}
	keep := make([]prepared, 0, len(ps))
	for _, p := range ps {
		if p.dkey != "" {
			if !fresh[p.dkey] {
				continue
			}
			delete(fresh, p.dkey) // a later item with the same key is a duplicate
		}
		keep = append(keep, p)
	}
	return keep, nil
}

// pruneDedup forgets dedup keys older than before.
//
// On SQLite conn_dedup has no index on created_ms: its rows are appended in time order (rowid), so the old
// ones are a prefix, found by reading it up to the first young row (the rows read are those deleted). A
// row made while the clock stood earlier may outlive its retention until a later prune; none goes early.
func (s *Store) pruneDedup(ctx context.Context, before int64) error {
	return s.write(ctx, func(tx *stx) error {
		if !s.sqlite() {
			_, err := tx.ExecContext(ctx, `DELETE FROM conn_dedup WHERE created_ms < ?`, before)
			return err
		}
		var young int64
		err := tx.QueryRowContext(ctx, `SELECT rowid FROM conn_dedup WHERE created_ms >= ? ORDER BY rowid LIMIT 1`, before).Scan(&young)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, `DELETE FROM conn_dedup`)
			return err
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM conn_dedup WHERE rowid < ?`, young)
		return err
	})
}

// queryStrings runs a query whose rows are one string column and adds every value to set.
func queryStrings(ctx context.Context, tx *stx, set map[string]bool, q string, args ...any) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return err
		}
		set[k] = true
	}
	return rows.Err()
}
