package portal

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/internal/groupcommit"
	"github.com/olctl/olctl/sqldb"
)

// itemState is where an item of the store stands.
type itemState int8

// The states of a stored item. due_at means, per state: pending, when it may be tried (while an attempt runs,
// the end of that attempt's lease); done and rejected, when that happened; dead, when its last attempt
// failed.
const (
	itemPending  itemState = 0 // waiting for an attempt, or being processed
	itemDone     itemState = 1 // its event fired (or it needed none); its body is dropped
	itemRejected itemState = 2 // it can never succeed (invalid); kept for a look until pruned
	itemDead     itemState = 3 // its last attempt failed; kept until redriven
)

// itemStore is the portal's durable store of the items it took (table olctl_portal_items). Every write goes
// through one group committer, so that concurrent packets share transactions. Safe for concurrent use, also
// by several processes on one database: an attempt holds a lease (due_at), and its result is written only
// while no later attempt has claimed the item (attempts is the fencing token).
type itemStore struct {
	db    *sqldb.DB
	group *groupcommit.Committer[*itemOp]

	mu    sync.Mutex // guards stmts
	stmts map[string]*sql.Stmt
}

// opKind is what an itemOp writes.
type opKind uint8

const (
	opInsert opKind = iota // take a new item: a pending row leased to its first attempt
	opClaim                // lease a due item to a new attempt
	opFinish               // write an attempt's result
	opRenew                // extend an attempt's lease
)

// itemOp is one write of the item store; the commit fills its results.
type itemOp struct {
	kind opKind
	id   int64 // claim, finish; set by an insert that took the item

	// insert
	sum                      [keySize]byte
	command, connector, line string
	body                     []byte
	created                  int64 // unix ms

	due      int64     // insert: the first lease's end; claim, renew: the new lease's end; finish: see itemState
	seenDue  int64     // claim: the due_at the claimer read
	attempt  int       // finish, renew: the attempt (it wins only if no later one claimed the item)
	state    itemState // finish
	lastErr  string    // finish
	dropBody bool      // finish: the body is no longer needed

	took bool // result: the insert took the item (else it was a duplicate); the claim or finish applied
}

func newItemStore(ctx context.Context, db *sqldb.DB) (*itemStore, error) {
	if err := db.Migrate(ctx, "portal", migrations); err != nil {
		return nil, err
	}
	s := &itemStore{db: db, stmts: map[string]*sql.Stmt{}}
	s.group = groupcommit.New(s.commit)
	return s, nil
}

// close releases the prepared statements (the database stays open).
func (s *itemStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for q, st := range s.stmts {
		errs = append(errs, st.Close())
		delete(s.stmts, q)
	}
	return errors.Join(errs...)
}

// stmt returns q prepared, preparing it the first time.
func (s *itemStore) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stmts[q]; st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.stmts[q] = st
	return st, nil
}

const itemColumns = `key_sum, command, connector, line_id, body, state, attempts, due_at, last_error, created_at`

func (s *itemStore) insertQuery() string {
	q := `INSERT INTO olctl_portal_items (` + itemColumns + `) VALUES (?, ?, ?, ?, ?, 0, 1, ?, '', ?) `
	switch s.db.Dialect {
	case sqldb.MySQL:
		return q + `ON DUPLICATE KEY UPDATE key_sum = key_sum`
	case sqldb.Postgres:
		return q + `ON CONFLICT (key_sum) DO NOTHING RETURNING id`
	}
	return q + `ON CONFLICT (key_sum) DO NOTHING`
}

const (
	claimQuery = `UPDATE olctl_portal_items SET due_at = ?, attempts = attempts + 1
		WHERE id = ? AND state = 0 AND due_at = ?`
	finishQuery = `UPDATE olctl_portal_items SET state = ?, due_at = ?, last_error = ?
		WHERE id = ? AND attempts = ? AND state = 0`
	finishDropQuery = `UPDATE olctl_portal_items SET state = ?, due_at = ?, last_error = ?, body = NULL
		WHERE id = ? AND attempts = ? AND state = 0`
	renewQuery = `UPDATE olctl_portal_items SET due_at = ? WHERE id = ? AND attempts = ? AND state = 0`
)

// commit writes ops in one transaction and fills their results. One op is one statement, a transaction of
// its own.
func (s *itemStore) commit(ctx context.Context, ops []*itemOp) error {
	if len(ops) == 1 {
		return s.apply(ctx, nil, ops[0])
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, op := range ops {
		if err := s.apply(ctx, tx.Tx, op); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// apply runs one op in tx (nil: on its own).
func (s *itemStore) apply(ctx context.Context, tx *sql.Tx, op *itemOp) error {
	op.took = false
	var q string
	var args []any
	switch op.kind {
	case opInsert:
		q = s.insertQuery()
		args = []any{op.sum[:], op.command, op.connector, op.line, op.body, op.due, op.created}
	case opClaim:
		q, args = claimQuery, []any{op.due, op.id, op.seenDue}
	case opFinish:
		q = finishQuery
		if op.dropBody {
			q = finishDropQuery
		}
		args = []any{int(op.state), op.due, op.lastErr, op.id, op.attempt}
	case opRenew:
		q, args = renewQuery, []any{op.due, op.id, op.attempt}
	}
	st, err := s.stmt(ctx, q)
	if err != nil {
		return err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	if op.kind == opInsert && s.db.Dialect == sqldb.Postgres {
		err := st.QueryRowContext(ctx, args...).Scan(&op.id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a duplicate
		}
		op.took = err == nil
		return err
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	op.took = n == 1
	if op.kind == opInsert && op.took {
		if op.id, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

// newItem is an item to take: its key, command, connector, line and body.
type newItem struct {
	sum                      [keySize]byte
	command, connector, line string
	body                     []byte
}

// take stores items as pending, each leased to its first attempt until lease, in one commit (shared with the
// concurrent writes of other packets). For each it returns the new row's id, or 0 for a duplicate of an
// item taken before. When it returns nil the items are durable.
func (s *itemStore) take(ctx context.Context, items []newItem, now time.Time, lease time.Duration) ([]int64, error) {
	ops := make([]*itemOp, len(items))
	for i, it := range items {
		ops[i] = &itemOp{kind: opInsert, sum: it.sum, command: it.command, connector: it.connector, line: it.line,
			body: it.body, created: now.UnixMilli(), due: now.Add(lease).UnixMilli()}
	}
	if err := s.group.Do(ctx, ops...); err != nil {
		return nil, fmt.Errorf("portal: storing received items: %w", err)
	}
	ids := make([]int64, len(items))
	for i, op := range ops {
		if op.took {
			ids[i] = op.id
		}
	}
	return ids, nil
}

// finish writes the result of attempt on item id: state, with due (see itemState) and the error of a failed
// attempt. It reports false when a later attempt claimed the item meanwhile (its lease had run out), whose
// result then counts instead.
func (s *itemStore) finish(ctx context.Context, id int64, attempt int, state itemState, due time.Time, lastErr string) (bool, error) {
	op := &itemOp{kind: opFinish, id: id, attempt: attempt, state: state, due: due.UnixMilli(),
		lastErr: truncate(lastErr, maxErrorText), dropBody: state == itemDone}
	if err := s.group.Do(ctx, op); err != nil {
		return false, fmt.Errorf("portal: recording the result of item %d: %w", id, err)
	}
	return op.took, nil
}

// renew extends the lease of attempt on item id until lease from now. It reports false when a later attempt
// claimed the item meanwhile (the lease had run out), or the item is no longer pending: this attempt must
// not run.
func (s *itemStore) renew(ctx context.Context, id int64, attempt int, now time.Time, lease time.Duration) (bool, error) {
	op := &itemOp{kind: opRenew, id: id, attempt: attempt, due: now.Add(lease).UnixMilli()}
	if err := s.group.Do(ctx, op); err != nil {
		return false, fmt.Errorf("portal: renewing the lease of item %d: %w", id, err)
	}
	return op.took, nil
}

// maxErrorText bounds the error kept with an item.
const maxErrorText = 2000

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}

// storedItem is a row of the store as a retry or a dead letter reads it.
type storedItem struct {
	id                       int64
	command, connector, line string
	body                     []byte
	attempts                 int
	due                      int64
	lastErr                  string
	created                  int64
}

// dueItems returns up to limit pending items due at now, earliest first; items due at the same time (a
// redrive) in id order, the order they were received in.
func (s *itemStore) dueItems(ctx context.Context, now time.Time, limit int) ([]storedItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, connector, line_id, body, attempts, due_at, last_error, created_at
		FROM olctl_portal_items WHERE state = 0 AND due_at <= ? ORDER BY due_at, id LIMIT `+strconv.Itoa(limit), now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("portal: reading due items: %w", err)
	}
	return scanItems(rows)
}

func scanItems(rows *sql.Rows) ([]storedItem, error) {
	defer rows.Close()
	var out []storedItem
	for rows.Next() {
		var it storedItem
		if err := rows.Scan(&it.id, &it.command, &it.connector, &it.line, &it.body, &it.attempts, &it.due, &it.lastErr, &it.created); err != nil {
			return nil, fmt.Errorf("portal: reading items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("portal: reading items: %w", err)
	}
	return out, nil
}

// claim leases a due item to a new attempt until lease; false means another attempt took it first.
func (s *itemStore) claim(ctx context.Context, it storedItem, now time.Time, lease time.Duration) (bool, error) {
	op := &itemOp{kind: opClaim, id: it.id, seenDue: it.due, due: now.Add(lease).UnixMilli()}
	if err := s.group.Do(ctx, op); err != nil {
		return false, fmt.Errorf("portal: claiming item %d: %w", it.id, err)
	}
	return op.took, nil
}

// nextDue returns when the earliest pending item is due, and false when none is pending.
func (s *itemStore) nextDue(ctx context.Context) (time.Time, bool, error) {
	var due sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(due_at) FROM olctl_portal_items WHERE state = 0`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("portal: reading the next due item: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(due.Int64), true, nil
}

// dead returns up to limit dead items with an id above after, in id order.
func (s *itemStore) dead(ctx context.Context, after int64, limit int) ([]storedItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, connector, line_id, body, attempts, due_at, last_error, created_at
		FROM olctl_portal_items WHERE state = 3 AND id > ? ORDER BY id LIMIT `+strconv.Itoa(limit), after)
	if err != nil {
		return nil, fmt.Errorf("portal: reading dead items: %w", err)
	}
	return scanItems(rows)
}

// redrive makes dead items pending again, due at now with no attempts counted, and returns how many were
// dead.
func (s *itemStore) redrive(ctx context.Context, ids []int64, now time.Time) (int, error) {
	n := 0
	for start := 0; start < len(ids); start += maxPlaceholders {
		chunk := ids[start:min(start+maxPlaceholders, len(ids))]
		args := []any{now.UnixMilli()}
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := s.db.ExecContext(ctx, `UPDATE olctl_portal_items SET state = 0, attempts = 0, due_at = ?
			WHERE state = 3 AND id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return n, fmt.Errorf("portal: redriving items: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return n, fmt.Errorf("portal: redriving items: %w", err)
		}
		n += int(k)
	}
	return n, nil
}

// maxPlaceholders bounds the ids of one statement.
const maxPlaceholders = 500

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// counts returns how many items are pending and dead.
func (s *itemStore) counts(ctx context.Context) (pending, dead int64, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM olctl_portal_items WHERE state IN (0, 3) GROUP BY state`)
	if err != nil {
		return 0, 0, fmt.Errorf("portal: counting items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st int
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return 0, 0, fmt.Errorf("portal: counting items: %w", err)
		}
		switch itemState(st) {
		case itemPending:
			pending = n
		case itemDead:
			dead = n
		}
	}
	return pending, dead, rows.Err()
}

// pruneChunk is the most rows prune deletes in one statement, so that the write lock is held briefly.
const pruneChunk = 1000

// prune deletes the done and rejected items finished before t and returns how many.
func (s *itemStore) prune(ctx context.Context, before time.Time) (int64, error) {
	q := `DELETE FROM olctl_portal_items WHERE id IN (
		SELECT id FROM olctl_portal_items WHERE state IN (1, 2) AND due_at < ? LIMIT ` + strconv.Itoa(pruneChunk) + `)`
	if s.db.Dialect == sqldb.MySQL { // MySQL takes no LIMIT in an IN subquery, but a DELETE … LIMIT
		q = `DELETE FROM olctl_portal_items WHERE state IN (1, 2) AND due_at < ? LIMIT ` + strconv.Itoa(pruneChunk)
	}
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, q, before.UnixMilli())
		if err != nil {
			return total, fmt.Errorf("portal: pruning items: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("portal: pruning items: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// uniqueSum returns a key no other item has: now's milliseconds (so that keys sort by time, as the
// duplicate keys of messages do by date) and 16 random bytes. It keys items that are never duplicates of
// another (the events of commands other than receivingMessage, kept for a retry).
func uniqueSum(now time.Time) [keySize]byte {
	var k [keySize]byte
	binary.BigEndian.PutUint64(k[:8], uint64(max(now.UnixMilli(), 0)))
	_, _ = rand.Read(k[8:])
	return k
}
