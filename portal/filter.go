package portal

import (
	"context"
	"log/slog"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// keyFilter lets a portal that is the only one writing its SQLite database answer "not processed before"
// for a new item without a query. It holds a Bloom filter of every recorded key: the keys in the table when
// the portal started (read once, in the background) and every key the portal records since. A key the
// filter has never seen is certainly not recorded; any other key (or any key while the filter is being
// built) is looked up in the database as before.
//
// The filter is right only while no other process records keys. Every portal holds a soleLock beside the
// database, and the filter answers only while no other portal holds one (one system call per packet,
// against a database read transaction). Once another portal has appeared, its records are not in the
// filter, so it is dropped for good (until a restart); the database answers again.
type keyFilter struct {
	lock   *soleLock
	store  *SQLProcessedStore
	logger *slog.Logger

	mu       sync.Mutex
	cur      *bloom.BloomFilter // answers once built; nil before, and for good once off
	off      bool
	added    uint            // keys in cur
	limit    uint            // keys cur was sized for
	building bool            // a new filter is being built from the table
	extra    [][KeySize]byte // keys recorded while it is built
	stop     context.CancelFunc
	ctx      context.Context
	builds   sync.WaitGroup
	closed   bool
	minKeys  uint        // the smallest capacity (minFilterKeys; tests make it small)
	onBuilt  func(error) // tests: called after each build
}

// filterFalsePositives is the filter's false-positive rate when full: the share of new keys still looked up.
const filterFalsePositives = 0.001

// minFilterKeys is the smallest capacity of a filter (about 1.8 MB).
const minFilterKeys = 1 << 20

func newKeyFilter(store *SQLProcessedStore, lock *soleLock, logger *slog.Logger) *keyFilter {
	ctx, cancel := context.WithCancel(context.Background())
	return &keyFilter{lock: lock, store: store, logger: logger, ctx: ctx, stop: cancel, minKeys: minFilterKeys}
}

// rebuild starts building a new filter from the table, sized for twice its rows; until it is ready the
// current one (if any) keeps answering. pending are the keys recorded (added) but maybe not yet in the
// table; the caller holds the lock under which keys are added, so that every key is in the table before the
// scan starts, in pending, or added after this call (and so kept in extra).
func (f *keyFilter) rebuild(pending [][KeySize]byte) {
	f.mu.Lock()
	if f.building || f.off || f.ctx.Err() != nil {
		f.mu.Unlock()
		return
	}
	f.building = true
	f.extra = append([][KeySize]byte(nil), pending...)
	f.builds.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.builds.Done()
		err := f.build(f.ctx)
		if err != nil && f.ctx.Err() == nil {
			f.logger.Warn("portal: reading the record of processed items for the filter failed; every item is looked up", "error", err)
		}
		f.mu.Lock()
		done := f.onBuilt
		f.mu.Unlock()
		if done != nil {
			done(err)
		}
	}()
}

func (f *keyFilter) build(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			f.mu.Lock()
			f.building, f.extra = false, nil
			f.mu.Unlock()
		}
	}()
	n, err := f.store.count(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	prev := f.added // keys this portal recorded, some of them maybe not (yet) in the table
	f.mu.Unlock()
	limit := max(2*uint(n), 2*prev, f.minKeys)
	next := bloom.NewWithEstimates(limit, filterFalsePositives)
	var added uint
	err = f.store.scanSums(ctx, func(sum [KeySize]byte) {
		next.Add(sum[:])
		added++
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	for i := range f.extra {
		next.Add(f.extra[i][:])
	}
	added += uint(len(f.extra))
	if !f.off {
		f.cur, f.added, f.limit = next, added, limit
	}
	f.building, f.extra = false, nil
	f.mu.Unlock()
	return nil
}

// add puts keys about to be recorded in the filter. It reports whether the filter has taken more keys
// than it was sized for: the caller then rebuilds it bigger.
func (f *keyFilter) add(keys []recordKey) (grow bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range keys {
		if f.cur != nil {
			f.cur.Add(keys[i].sum[:])
		}
		if f.building {
			f.extra = append(f.extra, keys[i].sum)
		}
	}
	f.added += uint(len(keys))
	return f.cur != nil && f.added > f.limit && !f.building
}

// absent returns, for each key, whether it is certainly not recorded; nil when the filter cannot tell.
func (f *keyFilter) absent(keys []recordKey) []bool {
	f.mu.Lock()
	usable := f.cur != nil
	f.mu.Unlock()
	if !usable {
		return nil
	}
	if !f.lock.alone() {
		f.mu.Lock()
		first := !f.off
		f.off, f.cur = true, nil
		f.mu.Unlock()
		if first {
			f.logger.Info("portal: another portal process shares the database; every item is looked up there from now on")
		}
		return nil
	}
	out := make([]bool, len(keys))
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return nil
	}
	for i := range keys {
		out[i] = !f.cur.Test(keys[i].sum[:])
	}
	return out
}

// close stops a build in progress and releases the lock; later calls do nothing. The filter stops
// answering: a closed portal no longer holds the lock that makes it right.
func (f *keyFilter) close() error {
	f.stop()
	f.builds.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed, f.off, f.cur = true, true, nil
	return f.lock.close()
}
