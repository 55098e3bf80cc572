package portal

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
)

// Defaults of the record of processed items.
const (
	// DefaultRecordDelay is how long records of processed items gather before they are written together.
	DefaultRecordDelay = 5 * time.Millisecond
	// MaxPendingRecords is the most records that may wait in memory; a packet that finds this many waiting
	// writes them itself before it is answered (back-pressure on a slow database).
	MaxPendingRecords = 8192
)

// recorder is the portal's front of its ProcessedStore. It writes the record behind the pipeline: the keys
// of a packet's processed items wait in memory, where Seen finds them at once, and every delay the keys
// gathered meanwhile go to the store in one Mark (one transaction), instead of one transaction per packet.
// Their items are confirmed before their record is durable. That is safe: the record only matters when
// the connector server delivers an item again, which it does only for an item whose confirmation it did
// not get, long after the delay. A crash within the delay, after the events and before the confirmation
// reached the server, fires those items again after the restart, as a crash between an event and its
// record always could. Close writes what is waiting.
//
// With a negative delay every Mark is written before it returns (the record is durable before the items
// are confirmed).
type recorder struct {
	store  ProcessedStore
	clock  clock.Clock
	delay  time.Duration
	logger *slog.Logger
	filter *keyFilter // nil: every key not waiting is looked up in the store

	mu      sync.Mutex
	pending map[[KeySize]byte]struct{} // waiting or being written: Seen answers true
	queue   []recordKey                // waiting, in arrival order
	spare   []recordKey                // the last written queue, emptied, for the next one
	at      time.Time                  // the processing time of the first waiting key
	closed  bool

	wmu  sync.Mutex    // one write at a time, so that the record is written in arrival order
	kick chan struct{} // wakes the writer: the first key is waiting
	stop chan struct{}
	done chan struct{}
}

// recordKey is a key and its sum (ItemKey.Sum), computed once.
type recordKey struct {
	key ItemKey
	sum [KeySize]byte
}

// summedStore is implemented by SQLProcessedStore: Seen and Mark for keys whose sums are known.
type summedStore interface {
	seenSums(ctx context.Context, sums [][KeySize]byte) ([]bool, error)
	markRows(ctx context.Context, rows []markRow) error
}

func newRecorder(store ProcessedStore, clk clock.Clock, delay time.Duration, logger *slog.Logger) *recorder {
	r := &recorder{store: store, clock: clock.Or(clk), delay: delay, logger: logger,
		pending: map[[KeySize]byte]struct{}{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if delay < 0 {
		close(r.done)
		return r
	}
	go r.run()
	return r
}

// seen reports, for each key, whether it is recorded or waiting to be.
func (r *recorder) seen(ctx context.Context, keys []recordKey) ([]bool, error) {
	out := make([]bool, len(keys))
	ask := make([]recordKey, 0, len(keys))
	idx := make([]int, 0, len(keys))
	r.mu.Lock()
	for i := range keys {
		if _, ok := r.pending[keys[i].sum]; ok {
			out[i] = true
			continue
		}
		ask = append(ask, keys[i])
		idx = append(idx, i)
	}
	r.mu.Unlock()
	if len(ask) > 0 && r.filter != nil {
		if absent := r.filter.absent(ask); absent != nil {
			n := 0
			for j := range ask {
				if !absent[j] { // maybe recorded: ask the store
					ask[n], idx[n] = ask[j], idx[j]
					n++
				}
			}
			ask, idx = ask[:n], idx[:n]
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	var got []bool
	var err error
	if ss, ok := r.store.(summedStore); ok {
		sums := make([][KeySize]byte, len(ask))
		for i := range ask {
			sums[i] = ask[i].sum
		}
		got, err = ss.seenSums(ctx, sums)
	} else {
		got, err = r.store.Seen(ctx, itemKeys(ask))
	}
	if err != nil {
		return nil, err
	}
	for j, i := range idx {
		out[i] = got[j]
	}
	return out, nil
}

// mark records keys processed at. With a delay it returns at once (or, when MaxPendingRecords are waiting,
// after writing them); the error is then that of the write it made, if any.
func (r *recorder) mark(ctx context.Context, keys []recordKey, at time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	r.mu.Lock()
	grow := false
	if r.filter != nil {
		grow = r.filter.add(keys)
	}
	for i := range keys {
		r.pending[keys[i].sum] = struct{}{}
	}
	if r.delay < 0 || r.closed {
		r.mu.Unlock()
		if grow {
			r.rebuildFilter()
		}
		err := r.write(ctx, keys, at)
		r.forget(keys)
		return err
	}
	first := len(r.queue) == 0
	if first {
		r.at = at
	}
	r.queue = append(r.queue, keys...)
	full := len(r.queue) >= MaxPendingRecords
	r.mu.Unlock()
	if grow {
		r.rebuildFilter()
	}
	if full {
		return r.flush(ctx)
	}
	if first {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// write gives keys to the store.
func (r *recorder) write(ctx context.Context, keys []recordKey, at time.Time) error {
	if ss, ok := r.store.(summedStore); ok {
		rows := make([]markRow, len(keys))
		for i := range keys {
			rows[i] = markRow{sum: keys[i].sum, at: at.Unix()}
		}
		return ss.markRows(ctx, rows)
	}
	return r.store.Mark(ctx, itemKeys(keys), at)
}

func itemKeys(keys []recordKey) []ItemKey {
	out := make([]ItemKey, len(keys))
	for i := range keys {
		out[i] = keys[i].key
	}
	return out
}

// run is the writer: after the first key waits, it lets keys gather for the delay, then writes them.
func (r *recorder) run() {
	defer close(r.done)
	for {
		select {
		case <-r.kick:
		case <-r.stop:
			return
		}
		if r.delay > 0 {
			select {
			case <-r.clock.After(r.delay):
			case <-r.stop:
				return
			}
		}
		if err := r.flush(context.Background()); err != nil {
			r.logger.Error("portal: recording processed items failed; they were confirmed, and a redelivery after a restart fires them again",
				"error", err)
		}
	}
}

// flush writes every waiting key in one Mark and forgets them once they are in the store (or the write
// failed: the record then misses them, as a failed Mark always did; they were confirmed).
func (r *recorder) flush(ctx context.Context) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	r.mu.Lock()
	keys, at := r.queue, r.at
	r.queue, r.spare = r.spare, nil
	r.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	err := r.write(context.WithoutCancel(ctx), keys, at)
	r.forget(keys)
	if cap(keys) <= MaxPendingRecords {
		clear(keys)
		r.mu.Lock()
		r.spare = keys[:0]
		r.mu.Unlock()
	}
	return err
}

// forget drops written keys (or keys whose write failed) from memory.
func (r *recorder) forget(keys []recordKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range keys {
		delete(r.pending, keys[i].sum)
	}
}

// rebuildFilter starts building the filter again from the table (see keyFilter.rebuild).
func (r *recorder) rebuildFilter() {
	if r.filter == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pending := make([][KeySize]byte, 0, len(r.pending))
	for sum := range r.pending {
		pending = append(pending, sum)
	}
	r.filter.rebuild(pending)
}

// close stops the writer, writes what is waiting and closes the filter. Later marks are written at once.
func (r *recorder) close(ctx context.Context) error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.mu.Unlock()
	var errs []error
	if !already && r.delay >= 0 {
		close(r.stop)
		<-r.done
		if err := r.flush(ctx); err != nil {
			errs = append(errs, errors.Join(errors.New("portal: writing the record of processed items"), err))
		}
	}
	if r.filter != nil {
		errs = append(errs, r.filter.close()) // closes once
	}
	return errors.Join(errs...)
}
