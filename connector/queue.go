package connector

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olctl/olctl/wire"
)

// Server → portal commands the server sends itself.
const (
	CmdReceivingMessage       = "receivingMessage"
	CmdReceivingStatusDeliver = "receivingStatusDelivery"
	CmdReceivingError         = "receivingError"
	CmdDeactivateConnector    = "deactivateConnector"
	CmdTestConnect            = "testConnect"
)

// itemless commands carry no items: each queued one is its own packet with an empty DATA.
func itemless(cmd string) bool {
	return strings.EqualFold(cmd, CmdDeactivateConnector) || strings.EqualFold(cmd, CmdTestConnect)
}

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
	if _, err := tx.ExecContext(ctx, s.insertIgnore()+` INTO conn_lane (site_id, line) VALUES (?, ?)`, siteID, line); err != nil {
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
			p.command = CmdReceivingMessage
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
		if !itemless(p.command) && in.Item != nil {
			v := in.Item
			if _, ok := v.(*wire.Map); !ok { // other shapes (structs, Go maps) are read back in PHP terms
				if v, err = wire.Unserialize(p.blob); err != nil {
					return nil, wire.Errorf(wire.CodeBadPacket, "item %d: %v", i, err)
				}
			}
			p.chatID = scalarString(path(v, "chat", "id"))
			p.msgID = scalarString(path(v, "message", "id"))
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
	// Locks the lane (MySQL) so that enqueues of one line commit in id order and its dedup keys are checked
	// and inserted by one transaction at a time, and marks it busy. SQLite's write transactions are
	// exclusive already, and a lane that is busy is not rewritten (one page less to log per commit).
	q := `UPDATE conn_lane SET idle = 0 WHERE id = ?`
	if !s.mysql() {
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
	if !s.mysql() {
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

// insertDedupKeys is dropDuplicates in one statement per 200 keys (SQLite): the keys are inserted unless
// present, and RETURNING lists those inserted, the new ones (a key twice in ps is inserted once).
func (s *Store) insertDedupKeys(ctx context.Context, tx *stx, lane int64, ps []prepared, keys []any, now int64) ([]prepared, error) {
	if len(keys) == 1 {
		// One key (one item per webhook, the usual case): the count of rows inserted tells, without the
		// temporary table that RETURNING fills.
		r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO conn_dedup (lane_id, dkey, created_ms) VALUES (?, ?, ?)`, lane, keys[0], now)
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

// enqueueReq is one caller's items waiting for the group committer.
type enqueueReq struct {
	siteID int64
	line   string
	ps     []prepared
	lane   int64      // set by the commit
	kept   []prepared // the items stored (new dedup keys)
	err    error
	done   chan struct{}
}

// committer writes the enqueue requests of concurrent callers in shared transactions (group commit): one
// transaction per round instead of one per webhook. When a shared transaction fails, its requests are
// retried one by one so that one cannot fail the others.
//
// Like PostgreSQL's commit_delay, the committer waits a little for more requests, but only when other
// enqueuing callers are already on their way (active counts them): a lone webhook is committed at once.
type committer struct {
	st   *Store
	reqs chan *enqueueReq
	stop chan struct{}
	// active counts the callers on their way: between begin and the moment the committer takes their
	// request. A request taken (in the group being built or committed) no longer counts, or the committer
	// would linger for callers who are only waiting for its own commit.
	active atomic.Int32
	// pending counts the callers between begin and the end of their enqueue (or done): while it is zero no
	// webhook is being handled, and a lingering dispatcher need not wait for more.
	pending atomic.Int32

	// What the dispatcher's linger watches (see Server.linger): the items each lane got from this
	// process's commits, and a channel closed (and replaced) whenever that count or quiet may have changed.
	mu      sync.Mutex
	arrived map[int64]int64 // lane id → items committed
	changed chan struct{}
}

func newCommitter(st *Store) *committer {
	return &committer{st: st, reqs: make(chan *enqueueReq, 1024), stop: make(chan struct{}),
		arrived: map[int64]int64{}, changed: make(chan struct{})}
}

// arrivals returns how many items this process committed to a lane so far, and a channel closed at the
// next change of that count or of quiet.
func (c *committer) arrivals(lane int64) (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arrived[lane], c.changed
}

// quiet reports that no enqueuing caller is being handled.
func (c *committer) quiet() bool { return c.pending.Load() <= 0 }

// kick wakes the watchers of arrivals.
func (c *committer) kick() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// leave ends a caller's pending state (see begin); the last one makes the committer quiet.
func (c *committer) leave() {
	if c.pending.Add(-1) <= 0 {
		c.kick()
	}
}

const (
	// maxGroup bounds the items of one group transaction.
	maxGroup = 2000
	// maxLinger bounds the wait for more requests (real time: it only shapes batching, never behaviour).
	maxLinger = time.Millisecond
)

// run commits requests until stop is closed.
func (c *committer) run() {
	for {
		var first *enqueueReq
		select {
		case <-c.stop:
			return
		case first = <-c.reqs:
		}
		c.active.Add(-1)
		group := []*enqueueReq{first}
		items := len(first.ps)
		var linger *time.Timer
	more:
		for items < maxGroup {
			select {
			case r := <-c.reqs:
				group, items = c.took(group, r, items)
				continue
			default:
			}
			if c.active.Load() <= 0 { // nobody else is on the way: do not wait for nothing
				break
			}
			if linger == nil {
				linger = time.NewTimer(maxLinger)
			}
			select {
			case r := <-c.reqs:
				group, items = c.took(group, r, items)
			case <-linger.C:
				break more
			case <-c.stop:
				break more
			}
		}
		if linger != nil {
			linger.Stop()
		}
		c.commit(group, true)
	}
}

// took adds a request taken from the queue to a group of items items: it is no longer on its way.
func (c *committer) took(group []*enqueueReq, r *enqueueReq, items int) ([]*enqueueReq, int) {
	c.active.Add(-1)
	return append(group, r), items + len(r.ps)
}

// commit writes a group of requests. With late (SQLite), the requests that came while the group waited for
// the writer's turn (often behind a dispatcher's write) join it when its transaction starts, instead of
// waiting for the next round and its commit. (On MySQL the group's lanes must be locked in order.)
func (c *committer) commit(group []*enqueueReq, late bool) {
	ctx := context.Background() // a request's own context only bounds its wait: a started round completes
	// Lanes are locked in one order in every process (fewer deadlocks on MySQL); the sort is stable, so
	// the requests of one line keep their arrival order.
	order := append([]*enqueueReq(nil), group...)
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].siteID != order[j].siteID {
			return order[i].siteID < order[j].siteID
		}
		return order[i].line < order[j].line
	})
	late = late && !c.st.mysql()
	err := c.st.write(ctx, func(tx *stx) error {
		if late { // once: a retry runs the same group
			late = false
			items := 0
			for _, r := range group {
				items += len(r.ps)
			}
		more:
			for items < maxGroup {
				select {
				case r := <-c.reqs:
					group, items = c.took(group, r, items)
					order = append(order, r)
				default:
					break more
				}
			}
		}
		now := c.st.nowMS()
		for _, r := range order {
			lane, kept, err := c.st.enqueuePrepared(ctx, tx, &c.st.lanes, r.siteID, r.line, r.ps, now)
			if err != nil {
				return err
			}
			r.lane, r.kept = lane, kept
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, r := range group {
			c.commit([]*enqueueReq{r}, false)
		}
		return
	}
	if err == nil {
		c.mu.Lock()
		for _, r := range group {
			c.arrived[r.lane] += int64(len(r.kept))
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	for _, r := range group {
		r.err = err
		if err != nil {
			r.kept = nil
		}
		close(r.done)
	}
}

// begin announces a caller that will probably enqueue soon; the committer ends the announcement when it
// takes the request (enqueue ends it when the request cannot be handed over), and done must end it when
// the caller does not enqueue.
func (c *committer) begin() {
	c.active.Add(1)
	if c.pending.Add(1) == 1 {
		c.kick() // no longer quiet
	}
}

func (c *committer) done() {
	c.active.Add(-1)
	c.leave()
}

// enqueue queues items through the committer and waits until they are committed (or refused). The caller
// must have called begin.
func (c *committer) enqueue(ctx context.Context, siteID int64, line string, ps []prepared) ([]prepared, error) {
	defer c.leave()
	r := &enqueueReq{siteID: siteID, line: line, ps: ps, done: make(chan struct{})}
	select {
	case c.reqs <- r: // the committer ends the announcement when it takes r
	case <-ctx.Done():
		c.active.Add(-1)
		return nil, ctx.Err()
	case <-c.stop:
		c.active.Add(-1)
		return nil, errors.New("connector: server closed")
	}
	select {
	case <-r.done:
		return r.kept, r.err
	case <-c.stop:
		select {
		case <-r.done: // its round had started
			return r.kept, r.err
		default:
			return nil, errors.New("connector: server closed")
		}
	}
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
	batch       *batch // to send, with the lane leased to the caller
	worked      bool   // something changed (a lane was examined)
	deadLetters int    // items moved to the dead-letter table
	timedOut    bool   // a confirmation deadline passed
	unblocked   bool   // an awaited batch turned out confirmed
}

// claim finds one lane that is ready and either settles it (confirmation deadline, dead letters, nothing
// left) or leases it to owner and returns its next batch.
func (s *Store) claim(ctx context.Context, owner string, batchSize int, schedule []time.Duration, leaseTTL, confirmTimeout time.Duration) (claimResult, error) {
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
		switch l.state {
		case stateAwaiting:
			remaining, err := s.countUpto(ctx, tx, l.id, l.sentUpto)
			if err != nil {
				return err
			}
			if remaining > 0 { // the confirmation did not come in time
				res.timedOut = true
				return s.failTx(ctx, tx, l, now, schedule)
			}
			res.unblocked = true
			if err := s.succeedTx(ctx, tx, l.id, now); err != nil {
				return err
			}
		case stateBlocked:
			if l.attempts >= len(schedule) { // the last block ended
				n, err := s.deadLetterTx(ctx, tx, l, now)
				if err != nil {
					return err
				}
				res.deadLetters = n
				if err := s.succeedTx(ctx, tx, l.id, now); err != nil {
					return err
				}
			}
		}
		b, err := s.headBatch(ctx, tx, l, batchSize)
		if err != nil {
			return err
		}
		if b == nil {
			_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET idle = 1 WHERE id = ?`, l.id)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_owner = ?, lease_until_ms = ?, sent_upto = ? WHERE id = ?`,
			owner, now+leaseTTL.Milliseconds(), b.last, l.id); err != nil {
			return err
		}
		l.sentUpto = b.last
		res.batch = b
		return nil
	})
	return res, err
}

func (s *Store) headBatch(ctx context.Context, tx *stx, l *lane, size int) (*batch, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, command, connector, item, created_ms FROM conn_queue WHERE lane_id = ? ORDER BY id LIMIT ?`, l.id, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var b *batch
	for rows.Next() {
		var id, created int64
		var cmd, conn string
		var blob []byte
		if err := rows.Scan(&id, &cmd, &conn, &blob, &created); err != nil {
			return nil, err
		}
		if b == nil {
			b = &batch{lane: l, command: cmd, connector: conn, first: id}
		} else if cmd != b.command || conn != b.connector || itemless(cmd) {
			break
		}
		b.ids = append(b.ids, id)
		b.created = append(b.created, created)
		b.blobs = append(b.blobs, blob)
		b.last = id
		if itemless(cmd) {
			break
		}
	}
	return b, rows.Err()
}

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

// failTx counts a failure and blocks the lane for the next period of the schedule.
func (s *Store) failTx(ctx context.Context, tx *stx, l *lane, now int64, schedule []time.Duration) error {
	attempts := l.attempts + 1
	first := l.firstFail
	if attempts == 1 || first == 0 {
		first = now
	}
	period := schedule[min(attempts, len(schedule))-1]
	_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, attempts = ?, first_fail_ms = ?, next_at_ms = ?,
		lease_owner = '', lease_until_ms = 0 WHERE id = ?`, stateBlocked, attempts, first, now+period.Milliseconds(), l.id)
	return err
}

// deadLetterTx moves every queued item of a lane to the dead-letter table.
func (s *Store) deadLetterTx(ctx context.Context, tx *stx, l *lane, now int64) (int, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO conn_dead (id, lane_id, site_id, line, command, connector, chat_id, msg_id, item,
		created_ms, dead_ms, attempts, first_fail_ms)
		SELECT id, lane_id, ?, ?, command, connector, chat_id, msg_id, item, created_ms, ?, ?, ? FROM conn_queue WHERE lane_id = ?`,
		l.siteID, l.line, now, l.attempts, l.firstFail, l.id); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE lane_id = ?`, l.id)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// finishResult says how a sent batch settled.
type finishResult struct {
	lost      bool   // the lease had passed to another process: nothing was changed
	confirmed int64  // items deleted by this finish (accepted packets other than receivingMessage)
	awaiting  bool   // the batch waits for setStatusDelivered
	next      *batch // with cont: the lane's next batch, leased to the caller in the same transaction
}

// finish settles a sent batch: a failure blocks the lane; an accepted receivingMessage batch waits for its
// confirmation unless it already came; any other accepted batch is deleted. With cont, a lane that settled
// successfully and has more items stays leased and its next batch is returned (one transaction instead of
// a finish and a claim).
func (s *Store) finish(ctx context.Context, owner string, b *batch, sendErr error, schedule []time.Duration, confirmTimeout, leaseTTL time.Duration, batchSize int, cont bool) (finishResult, error) {
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
		switch {
		case sendErr != nil:
			return s.failTx(ctx, tx, l, now, schedule)
		case strings.EqualFold(b.command, CmdReceivingMessage):
			remaining, err := s.countUpto(ctx, tx, l.id, l.sentUpto)
			if err != nil {
				return err
			}
			if remaining > 0 {
				res.awaiting = true
				_, err = tx.ExecContext(ctx, `UPDATE conn_lane SET state = ?, next_at_ms = ?, lease_owner = '', lease_until_ms = 0 WHERE id = ?`,
					stateAwaiting, now+confirmTimeout.Milliseconds(), l.id)
				return err
			}
			// The portal confirmed (setStatusDelivered, counted there) before it answered.
		default:
			r, err := tx.ExecContext(ctx, `DELETE FROM conn_queue WHERE lane_id = ? AND id >= ? AND id <= ?`, l.id, b.first, b.last)
			if err != nil {
				return err
			}
			res.confirmed, _ = r.RowsAffected()
		}
		if !cont {
			return s.succeedTx(ctx, tx, l.id, now)
		}
		next, err := s.headBatch(ctx, tx, l, batchSize)
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
			lease_until_ms = ?, sent_upto = ? WHERE id = ?`, stateReady, now, now+leaseTTL.Milliseconds(), next.last, l.id); err != nil {
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

// confirm deletes the sent receivingMessage items of (site, line) that the portal confirmed and unblocks
// the lane at once when nothing it sent remains unconfirmed. It returns the number of items deleted.
func (s *Store) confirm(ctx context.Context, siteID int64, line string, keys []msgKey) (int64, bool, error) {
	var total int64
	var unblocked bool
	err := s.write(ctx, func(tx *stx) error {
		total, unblocked = 0, false
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
			if cmd == CmdReceivingMessage && want[k] {
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
		total = int64(len(del))
		if l.leaseOwner != "" || (l.state != stateAwaiting && l.state != stateBlocked) || len(del) < sent {
			return nil
		}
		unblocked = true
		return s.succeedTx(ctx, tx, l.id, s.nowMS())
	})
	return total, unblocked, err
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

// releaseLeases frees every lease (SQLite: the one process that owns the queue is starting).
func (s *Store) releaseLeases(ctx context.Context) error {
	return s.write(ctx, func(tx *stx) error {
		_, err := tx.ExecContext(ctx, `UPDATE conn_lane SET lease_owner = '', lease_until_ms = 0 WHERE lease_owner <> ''`)
		return err
	})
}

// pruneDedup forgets dedup keys older than before.
//
// On SQLite conn_dedup has no index on created_ms: its rows are appended in time order (rowid), so the old
// ones are a prefix, found by reading it up to the first young row (the rows read are those deleted). A
// row made while the clock stood earlier may outlive its retention until a later prune; none goes early.
func (s *Store) pruneDedup(ctx context.Context, before int64) error {
	return s.write(ctx, func(tx *stx) error {
		if s.mysql() {
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

// ---- inspection ----

// LaneStats describes the queue of one (site, line).
type LaneStats struct {
	Site         string    `json:"site"` // the portal's domain
	Licence      string    `json:"licence"`
	Line         string    `json:"line"`
	Pending      int       `json:"pending"`
	State        string    `json:"state"` // idle, ready, sending, awaiting, blocked
	Attempts     int       `json:"attempts"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	NextAt       time.Time `json:"next_at,omitzero"` // end of the block or confirmation deadline
	Dead         int       `json:"dead"`
}

// QueueStats summarises the queue.
type QueueStats struct {
	Lines   []LaneStats `json:"lines"`
	Pending int         `json:"pending"`
	Blocked int         `json:"blocked"`
	Dead    int         `json:"dead"`
}

// QueueStats returns the state of every line that has or had queued items.
func (s *Store) QueueStats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	rows, err := s.db.QueryContext(ctx, `SELECT l.id, s.domain, s.licence, l.line, l.idle, l.state, l.attempts, l.first_fail_ms, l.next_at_ms,
		l.lease_owner, l.lease_until_ms,
		(SELECT COUNT(*) FROM conn_queue q WHERE q.lane_id = l.id),
		(SELECT COUNT(*) FROM conn_dead d WHERE d.lane_id = l.id)
		FROM conn_lane l JOIN conn_site s ON s.id = l.site_id ORDER BY s.domain, l.line`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	now := s.nowMS()
	for rows.Next() {
		var (
			id, firstFail, nextAt, leaseUntil int64
			idle, state                       int
			owner                             string
			ls                                LaneStats
		)
		if err := rows.Scan(&id, &ls.Site, &ls.Licence, &ls.Line, &idle, &state, &ls.Attempts, &firstFail, &nextAt, &owner, &leaseUntil, &ls.Pending, &ls.Dead); err != nil {
			return st, err
		}
		switch {
		case owner != "" && leaseUntil > now:
			ls.State = "sending"
		case state == stateBlocked:
			ls.State = "blocked"
			ls.NextAt = time.UnixMilli(nextAt)
		case state == stateAwaiting:
			ls.State = "awaiting"
			ls.NextAt = time.UnixMilli(nextAt)
		case ls.Pending == 0 || idle == 1:
			ls.State = "idle"
		default:
			ls.State = "ready"
		}
		if firstFail > 0 {
			ls.FirstFailure = time.UnixMilli(firstFail)
		}
		if ls.State == "blocked" {
			st.Blocked++
		}
		st.Pending += ls.Pending
		st.Dead += ls.Dead
		st.Lines = append(st.Lines, ls)
	}
	return st, rows.Err()
}

// QueueFilter selects queued or dead items.
type QueueFilter struct {
	// Site is a portal domain or licence; empty means all.
	Site string
	// Line is a line id; empty means all.
	Line string
	// AfterID lists items with a greater id only (paging).
	AfterID int64
	// Limit caps the items returned; 0 means 100.
	Limit int
}

// QueuedItem is one queued (or dead) item.
type QueuedItem struct {
	ID        int64     `json:"id"`
	Site      string    `json:"site"`
	Line      string    `json:"line"`
	Command   string    `json:"command"`
	Connector string    `json:"connector"`
	ChatID    string    `json:"chat_id,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Item      any       `json:"item"` // as decoded from the stored PHP serialization (*wire.Map, []any, …)
	Created   time.Time `json:"created"`
	// Dead-letter fields.
	DeadAt       time.Time `json:"dead_at,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
}

// QueueList lists queued items in order.
func (s *Store) QueueList(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.list(ctx, f, false)
}

// DeadLetters lists dead-lettered items in order.
func (s *Store) DeadLetters(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.list(ctx, f, true)
}

func (s *Store) list(ctx context.Context, f QueueFilter, dead bool) ([]QueuedItem, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var q string
	if dead {
		q = `SELECT d.id, s.domain, d.line, d.command, d.connector, d.chat_id, d.msg_id, d.item, d.created_ms, d.dead_ms, d.attempts, d.first_fail_ms
			FROM conn_dead d JOIN conn_site s ON s.id = d.site_id WHERE d.id > ?`
	} else {
		q = `SELECT d.id, s.domain, l.line, d.command, d.connector, d.chat_id, d.msg_id, d.item, d.created_ms, 0, 0, 0
			FROM conn_queue d JOIN conn_lane l ON l.id = d.lane_id JOIN conn_site s ON s.id = l.site_id WHERE d.id > ?`
	}
	args := []any{f.AfterID}
	if f.Site != "" {
		q += ` AND (s.domain = ? OR s.licence = ?)`
		args = append(args, f.Site, strings.ToLower(f.Site))
	}
	if f.Line != "" {
		if dead {
			q += ` AND d.line = ?`
		} else {
			q += ` AND l.line = ?`
		}
		args = append(args, f.Line)
	}
	q += ` ORDER BY d.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueuedItem
	for rows.Next() {
		var it QueuedItem
		var blob []byte
		var created, deadAt, firstFail int64
		if err := rows.Scan(&it.ID, &it.Site, &it.Line, &it.Command, &it.Connector, &it.ChatID, &it.MessageID, &blob, &created, &deadAt, &it.Attempts, &firstFail); err != nil {
			return nil, err
		}
		v, err := wire.Unserialize(blob)
		if err != nil {
			return nil, fmt.Errorf("connector: stored item %d: %w", it.ID, err)
		}
		it.Item = v
		it.Created = time.UnixMilli(created)
		if dead {
			it.DeadAt = time.UnixMilli(deadAt)
			if firstFail > 0 {
				it.FirstFailure = time.UnixMilli(firstFail)
			}
		}
		out = append(out, it)
	}
	return out, rows.Err()
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
