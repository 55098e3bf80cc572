package portal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/sqldb"
)

// ItemKey identifies a processed receivingMessage item (PROTOCOL.md §5.1 step 6): connector, line, chat id
// and message id, plus a variant so that an edit or a deletion of a message is not taken for a redelivery
// of the message itself (see itemKey), and the message's date.
//
// The date orders the stored keys: messages arrive roughly in date order, so new keys land on the last
// pages of the index instead of one random page each, which is most of the cost of recording them. It is
// part of the identity, which is safe because the connector server delivers an item again exactly as it
// stored it.
type ItemKey struct {
	Connector, Line, ChatID, MessageID, Variant string
	Date                                        int64 // message.date in unix seconds, 0 when absent
}

// KeySize is the size of a stored key: 8 bytes of date, 16 of digest.
const KeySize = 24

// Sum returns the key's storage id: the date (big-endian, so that keys sort by date) followed by the first
// 16 bytes of the SHA-256 of the length-prefixed text parts (so that no two keys collide by concatenation).
func (k ItemKey) Sum() [KeySize]byte {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{k.Connector, k.Line, k.ChatID, k.MessageID, k.Variant} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var out [KeySize]byte
	binary.BigEndian.PutUint64(out[:8], uint64(max(k.Date, 0)))
	copy(out[8:], sum[:16])
	return out
}

// Hash returns Sum in hex.
func (k ItemKey) Hash() string {
	s := k.Sum()
	return hex.EncodeToString(s[:])
}

// ProcessedStore records the items the portal processed, so that a redelivered item is confirmed again
// without firing its event twice. The record must survive restarts.
type ProcessedStore interface {
	// Seen reports, for each key, whether it is recorded.
	Seen(ctx context.Context, keys []ItemKey) ([]bool, error)
	// Mark records keys as processed at the given time, atomically; keys already recorded are kept. When it
	// returns nil the record is durable.
	Mark(ctx context.Context, keys []ItemKey, at time.Time) error
	// Prune forgets the keys recorded before t and returns how many. The connector server gives up an item
	// 24 h after its first attempt (PROTOCOL.md §7), so records older than a few days are no longer needed.
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// SQLProcessedStore is a ProcessedStore in the table olctl_portal_processed (SQLite or MySQL), keyed by
// ItemKey.Sum. Marks made at the same time are written together (group commit: while one write is in
// progress the next ones gather and go in one transaction), which on SQLite replaces a stampede on the
// database lock with one writer. Statements are kept prepared. Safe for concurrent use.
type SQLProcessedStore struct {
	db *sqldb.DB

	mu    sync.Mutex // guards the prepared statements
	seen  map[int]*sql.Stmt
	marks map[int]*sql.Stmt

	gmu      sync.Mutex // guards the group commit
	cond     *sync.Cond
	pending  *markBatch
	flushing bool
}

// markBatch is the rows of the Marks that gathered while another write was in progress.
type markBatch struct {
	rows     []markRow
	finished bool
	err      error
}

type markRow struct {
	sum [KeySize]byte
	at  int64
}

// maxPrepared is the largest number of keys whose statements are kept prepared; larger writes go in chunks
// of this size.
const maxPrepared = 64

// NewSQLProcessedStore returns a ProcessedStore on db, creating the portal's tables when needed.
func NewSQLProcessedStore(ctx context.Context, db *sqldb.DB) (*SQLProcessedStore, error) {
	if err := db.Migrate(ctx, "portal", migrations); err != nil {
		return nil, err
	}
	s := &SQLProcessedStore{db: db, seen: map[int]*sql.Stmt{}, marks: map[int]*sql.Stmt{}}
	s.cond = sync.NewCond(&s.gmu)
	return s, nil
}

// Close releases the prepared statements (the database stays open).
func (s *SQLProcessedStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, m := range []map[int]*sql.Stmt{s.seen, s.marks} {
		for n, st := range m {
			errs = append(errs, st.Close())
			delete(m, n)
		}
	}
	return errors.Join(errs...)
}

// stmt returns the prepared statement for n keys, preparing it with query(n) the first time.
func (s *SQLProcessedStore) stmt(ctx context.Context, cache map[int]*sql.Stmt, n int, query func(int) string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := cache[n]; st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query(n))
	if err != nil {
		return nil, err
	}
	cache[n] = st
	return st, nil
}

func seenQuery(n int) string {
	return `SELECT key_sum FROM olctl_portal_processed WHERE key_sum IN (` + placeholders(n) + `)`
}

func (s *SQLProcessedStore) markQuery(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO olctl_portal_processed (key_sum, processed_at) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?)")
	}
	if s.db.Dialect == sqldb.MySQL {
		b.WriteString(` ON DUPLICATE KEY UPDATE key_sum = key_sum`)
	} else {
		b.WriteString(` ON CONFLICT (key_sum) DO NOTHING`)
	}
	return b.String()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Seen implements ProcessedStore with one query per maxPrepared keys.
func (s *SQLProcessedStore) Seen(ctx context.Context, keys []ItemKey) ([]bool, error) {
	sums := make([][KeySize]byte, len(keys))
	for i, k := range keys {
		sums[i] = k.Sum()
	}
	return s.seenSums(ctx, sums)
}

// seenSums is Seen for keys whose sums are known.
func (s *SQLProcessedStore) seenSums(ctx context.Context, sums [][KeySize]byte) ([]bool, error) {
	out := make([]bool, len(sums))
	found := make(map[[KeySize]byte]bool, len(sums))
	for start := 0; start < len(sums); start += maxPrepared {
		chunk := sums[start:min(start+maxPrepared, len(sums))]
		if err := s.seenChunk(ctx, chunk, found); err != nil {
			return nil, fmt.Errorf("portal: reading processed items: %w", err)
		}
	}
	for i, sum := range sums {
		out[i] = found[sum]
	}
	return out, nil
}

func (s *SQLProcessedStore) seenChunk(ctx context.Context, sums [][KeySize]byte, found map[[KeySize]byte]bool) error {
	st, err := s.stmt(ctx, s.seen, len(sums), seenQuery)
	if err != nil {
		return err
	}
	args := make([]any, len(sums))
	for i := range sums {
		args[i] = sums[i][:]
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if len(b) == KeySize {
			found[[KeySize]byte(b)] = true
		}
	}
	return rows.Err()
}

// Mark implements ProcessedStore. Concurrent calls are written together; each returns once its keys are
// committed (or the write failed).
func (s *SQLProcessedStore) Mark(ctx context.Context, keys []ItemKey, at time.Time) error {
	rows := make([]markRow, len(keys))
	for i, k := range keys {
		rows[i] = markRow{sum: k.Sum(), at: at.Unix()}
	}
	return s.markRows(ctx, rows)
}

// markRows is Mark for keys whose sums are known.
func (s *SQLProcessedStore) markRows(ctx context.Context, rows []markRow) error {
	if len(rows) == 0 {
		return nil
	}
	s.gmu.Lock()
	if s.pending == nil {
		s.pending = &markBatch{}
	}
	b := s.pending
	b.rows = append(b.rows, rows...)
	for s.flushing && !b.finished {
		s.cond.Wait()
	}
	if b.finished {
		s.gmu.Unlock()
		return b.err
	}
	// Lead: write the batch b (everything gathered so far) while the next one gathers.
	s.flushing = true
	s.pending = nil
	s.gmu.Unlock()

	err := s.write(context.WithoutCancel(ctx), b.rows)

	s.gmu.Lock()
	b.err, b.finished = err, true
	s.flushing = false
	s.cond.Broadcast()
	s.gmu.Unlock()
	return err
}

// write inserts rows, in one statement when they fit, else in chunks inside one transaction.
func (s *SQLProcessedStore) write(ctx context.Context, rows []markRow) error {
	// The same key twice in one statement would conflict with itself on MySQL's VALUES list only in
	// theory (ON DUPLICATE KEY covers it), but dropping repeats keeps the statements small.
	uniq := rows[:0:0]
	seen := make(map[[KeySize]byte]bool, len(rows))
	for _, r := range rows {
		if !seen[r.sum] {
			seen[r.sum] = true
			uniq = append(uniq, r)
		}
	}
	if len(uniq) <= maxPrepared {
		st, err := s.stmt(ctx, s.marks, len(uniq), s.markQuery)
		if err != nil {
			return fmt.Errorf("portal: recording processed items: %w", err)
		}
		if _, err := st.ExecContext(ctx, markArgs(uniq)...); err != nil {
			return fmt.Errorf("portal: recording processed items: %w", err)
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("portal: recording processed items: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for start := 0; start < len(uniq); start += maxPrepared {
		chunk := uniq[start:min(start+maxPrepared, len(uniq))]
		st, err := s.stmt(ctx, s.marks, len(chunk), s.markQuery)
		if err != nil {
			return fmt.Errorf("portal: recording processed items: %w", err)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, markArgs(chunk)...); err != nil {
			return fmt.Errorf("portal: recording processed items: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("portal: recording processed items: %w", err)
	}
	return nil
}

func markArgs(rows []markRow) []any {
	args := make([]any, 0, 2*len(rows))
	for i := range rows {
		args = append(args, rows[i].sum[:], rows[i].at)
	}
	return args
}

// pruneChunk is the most rows Prune deletes in one statement, so that the write lock is held briefly.
const pruneChunk = 1000

// Prune implements ProcessedStore. processed_at has no index (it would cost every Mark a second b-tree
// write), so each chunk is found by scanning the key order; keys start with the message date, so old rows
// come first and a daily prune reads little more than it deletes.
func (s *SQLProcessedStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	q := `DELETE FROM olctl_portal_processed WHERE key_sum IN (
		SELECT key_sum FROM olctl_portal_processed WHERE processed_at < ? LIMIT ` + strconv.Itoa(pruneChunk) + `)`
	if s.db.Dialect == sqldb.MySQL { // MySQL takes no LIMIT in an IN subquery, but a DELETE … LIMIT
		q = `DELETE FROM olctl_portal_processed WHERE processed_at < ? LIMIT ` + strconv.Itoa(pruneChunk)
	}
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, q, before.Unix())
		if err != nil {
			return total, fmt.Errorf("portal: pruning processed items: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("portal: pruning processed items: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// count returns the number of recorded keys.
func (s *SQLProcessedStore) count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM olctl_portal_processed`).Scan(&n)
	return n, err
}

// scanChunk is the most keys scanSums reads in one query (one short read transaction each).
const scanChunk = 10_000

// scanSums calls fn with every recorded key, in key order, reading in chunks.
func (s *SQLProcessedStore) scanSums(ctx context.Context, fn func([KeySize]byte)) error {
	var after []byte
	q := `SELECT key_sum FROM olctl_portal_processed WHERE key_sum > ? ORDER BY key_sum LIMIT ` + strconv.Itoa(scanChunk)
	for {
		rows, err := s.db.QueryContext(ctx, q, append([]byte{}, after...))
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				_ = rows.Close()
				return err
			}
			if len(b) == KeySize {
				fn([KeySize]byte(b))
			}
			after = append(after[:0], b...)
			n++
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n < scanChunk {
			return nil
		}
	}
}

// sqlitePath returns the file of a SQLite database, or "" for MySQL or a database in memory.
func (s *SQLProcessedStore) sqlitePath(ctx context.Context) (string, error) {
	if s.db.Dialect != sqldb.SQLite {
		return "", nil
	}
	var file string
	err := s.db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file)
	return file, err
}
