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
	l := &laneItems{siteID: siteID, line: line, ps: ps}
	if err := s.enqueueLanes(ctx, tx, lanes, []*laneItems{l}, now); err != nil {
		return 0, nil, err
	}
	return l.lane, l.kept, nil
}

// laneItems is one line's items to store, in order, and what storing them found.
type laneItems struct {
	siteID int64
	line   string
	ps     []prepared
	lane   int64      // the line's lane
	kept   []prepared // the items stored: those without a dedup key, and the first of each new key
}

// Statements' rows at most: queue rows (7 values each) and dedup keys (3 values each) per statement.
const (
	queueRowsPerStmt = 100
	dedupRowsPerStmt = 200
)

// enqueueLanes stores the items of several lines in a few statements whatever their number (each
// statement is a round trip on MySQL and PostgreSQL, inside a transaction that holds the lanes' locks):
// it locks and marks busy their lanes, records the new dedup keys, and inserts the items kept, each line's
// in order. The lines must be distinct.
func (s *Store) enqueueLanes(ctx context.Context, tx *stx, lanes *laneCache, ls []*laneItems, now int64) error {
	if len(ls) == 0 {
		return nil
	}
	ids := make([]any, 0, len(ls))
	for _, l := range ls {
		id, err := s.laneID(ctx, tx, lanes, l.siteID, l.line)
		if err != nil {
			return err
		}
		l.lane = id
		ids = append(ids, id)
	}
	// Locks the lanes (MySQL, PostgreSQL) so that enqueues of one line commit in id order and its dedup keys
	// are checked and inserted by one transaction at a time, and marks them busy. SQLite's write
	// transactions are exclusive already, and a lane that is busy is not rewritten (one page less to log
	// per commit).
	q := `UPDATE conn_lane SET idle = 0 WHERE id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
	if s.sqlite() {
		q += ` AND idle <> 0`
	}
	if _, err := tx.ExecContext(ctx, q, ids...); err != nil {
		return err
	}
	fresh, err := s.newDedupKeys(ctx, tx, ls, now)
	if err != nil {
		return err
	}
	var rows []any
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		q := `INSERT INTO conn_queue (lane_id, command, connector, chat_id, msg_id, item, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)` +
			strings.Repeat(", (?, ?, ?, ?, ?, ?, ?)", n-1)
		_, err := tx.ExecContext(ctx, q, rows...)
		rows, n = rows[:0], 0
		return err
	}
	for _, l := range ls {
		l.kept = keepFresh(l.lane, l.ps, fresh)
		for _, p := range l.kept {
			rows = append(rows, l.lane, p.command, p.connector, p.chatID, p.msgID, p.blob, now)
			if n++; n == queueRowsPerStmt {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// dedupKey is a dedup key of a lane.
type dedupKey struct {
	lane int64
	key  string
}

// keepFresh returns the items of a lane to store: those without a dedup key, and of the items with a key
// in fresh the first (the key is taken out of fresh; a later item with it is a duplicate).
func keepFresh(lane int64, ps []prepared, fresh map[dedupKey]bool) []prepared {
	if len(fresh) == 0 {
		keep := ps[:0:0]
		for _, p := range ps {
			if p.dkey == "" {
				keep = append(keep, p)
			}
		}
		if len(keep) == len(ps) {
			return ps
		}
		return keep
	}
	keep := make([]prepared, 0, len(ps))
	for _, p := range ps {
		if p.dkey != "" {
			k := dedupKey{lane, p.dkey}
			if !fresh[k] {
				continue
			}
			delete(fresh, k)
		}
		keep = append(keep, p)
	}
	return keep
}

// newDedupKeys records the dedup keys of the lanes' items that their lanes have not seen, and returns them.
// The caller holds the lanes' locks. MySQL reads the keys present and inserts the others; SQLite and
// PostgreSQL insert them all unless present, and RETURNING lists those inserted.
func (s *Store) newDedupKeys(ctx context.Context, tx *stx, ls []*laneItems, now int64) (map[dedupKey]bool, error) {
	var keys []dedupKey
	uniq := map[dedupKey]bool{}
	for _, l := range ls {
		for _, p := range l.ps {
			if k := (dedupKey{l.lane, p.dkey}); p.dkey != "" && !uniq[k] {
				uniq[k] = true
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	fresh := make(map[dedupKey]bool, len(keys))
	if len(keys) == 1 && s.db.Dialect != sqldb.MySQL {
		// One key (one item per webhook, the usual case on SQLite): the count of rows inserted tells,
		// without the temporary table that RETURNING fills.
		r, err := tx.ExecContext(ctx, s.insertIgnore(`conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)`), keys[0].lane, keys[0].key, now)
		if err != nil {
			return nil, err
		}
		if n, err := r.RowsAffected(); err != nil || n != 1 {
			return nil, err
		}
		fresh[keys[0]] = true
		return fresh, nil
	}
	for start := 0; start < len(keys); start += dedupRowsPerStmt {
		chunk := keys[start:min(start+dedupRowsPerStmt, len(keys))]
		if s.db.Dialect == sqldb.MySQL {
			if err := s.mysqlNewKeys(ctx, tx, chunk, fresh, now); err != nil {
				return nil, err
			}
			continue
		}
		args := make([]any, 0, 3*len(chunk))
		for _, k := range chunk {
			args = append(args, k.lane, k.key, now)
		}
		q := `INSERT INTO conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(chunk)-1) +
			` ON CONFLICT DO NOTHING RETURNING lane_id, dkey`
		if err := queryKeys(ctx, tx, fresh, q, args...); err != nil {
			return nil, err
		}
	}
	return fresh, nil
}

// mysqlNewKeys adds to fresh the keys (distinct) that their lanes have not seen, and inserts them.
func (s *Store) mysqlNewKeys(ctx context.Context, tx *stx, keys []dedupKey, fresh map[dedupKey]bool, now int64) error {
	args := make([]any, 0, 3*len(keys))
	for _, k := range keys {
		args = append(args, k.lane, k.key)
	}
	seen := map[dedupKey]bool{}
	q := `SELECT lane_id, dkey FROM conn_dedup WHERE (lane_id, dkey) IN ((?, ?)` + strings.Repeat(", (?, ?)", len(keys)-1) + `)`
	if err := queryKeys(ctx, tx, seen, q, args...); err != nil {
		return err
	}
	args = args[:0]
	for _, k := range keys {
		if !seen[k] {
			fresh[k] = true
			args = append(args, k.lane, k.key, now)
		}
	}
	if len(args) == 0 {
		return nil
	}
	q = `INSERT INTO conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)` + strings.Repeat(", (?, ?, ?)", len(args)/3-1)
	_, err := tx.ExecContext(ctx, q, args...)
	return err
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

// queryKeys runs a query whose rows are a lane id and a dedup key and adds every pair to set.
func queryKeys(ctx context.Context, tx *stx, set map[dedupKey]bool, q string, args ...any) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k dedupKey
		if err := rows.Scan(&k.lane, &k.key); err != nil {
			return err
		}
		set[k] = true
	}
	return rows.Err()
}
