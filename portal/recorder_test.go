package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// memStore is a ProcessedStore in memory that counts what it is asked.
type memStore struct {
	mu       sync.Mutex
	rec      map[[KeySize]byte]bool
	asked    []ItemKey // keys Seen was asked about
	marks    int       // Mark calls
	failMark error
}

func newMemStore() *memStore { return &memStore{rec: map[[KeySize]byte]bool{}} }

func (s *memStore) Seen(_ context.Context, keys []ItemKey) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, keys...)
	out := make([]bool, len(keys))
	for i, k := range keys {
		out[i] = s.rec[k.Sum()]
	}
	return out, nil
}

func (s *memStore) Mark(_ context.Context, keys []ItemKey, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks++
	if s.failMark != nil {
		return s.failMark
	}
	for _, k := range keys {
		s.rec[k.Sum()] = true
	}
	return nil
}

func (s *memStore) Prune(context.Context, time.Time) (int64, error) { return 0, nil }

func (s *memStore) recorded() (n, marks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rec), s.marks
}

func (s *memStore) takeAsked() []ItemKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.asked
	s.asked = nil
	return a
}

func rkeys(prefix string, n int) []recordKey {
	out := make([]recordKey, n)
	for i := range out {
		k := ItemKey{Connector: "botframework.skype", Line: "3", ChatID: "c", MessageID: fmt.Sprintf("%s%d", prefix, i), Variant: "message", Date: 1700000000}
		out[i] = recordKey{key: k, sum: k.Sum()}
	}
	return out
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var discard = slog.New(slog.DiscardHandler)

func mustSeen(t *testing.T, r *recorder, keys []recordKey) []bool {
	t.Helper()
	got, err := r.seen(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRecorder(t *testing.T) {
	ctx := context.Background()
	t.Run("writes behind, after the delay on the clock", func(t *testing.T) {
		store, clk := newMemStore(), clock.NewFake(time.Unix(1700000000, 0))
		r := newRecorder(store, clk, 5*time.Millisecond, discard)
		defer func() { _ = r.close(ctx) }()
		k := rkeys("m", 3)
		if err := r.mark(ctx, k[:2], clk.Now()); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.recorded(); n != 0 {
			t.Fatalf("%d keys written before the delay", n)
		}
		// Waiting keys are known without asking the store; the others are asked.
		if got := mustSeen(t, r, k); !reflect.DeepEqual(got, []bool{true, true, false}) {
			t.Fatalf("seen %v", got)
		}
		if asked := store.takeAsked(); len(asked) != 1 || asked[0] != k[2].key {
			t.Fatalf("the store was asked about %v", asked)
		}
		if err := r.mark(ctx, k[2:], clk.Now()); err != nil { // joins the same write
			t.Fatal(err)
		}
		waitFor(t, "the writer to wait on the clock", func() bool { return clk.Waiters() == 1 })
		clk.Advance(5 * time.Millisecond)
		waitFor(t, "the write", func() bool { n, _ := store.recorded(); return n == 3 })
		if _, marks := store.recorded(); marks != 1 {
			t.Fatalf("%d writes for one delay", marks)
		}
		waitFor(t, "the keys to leave memory", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.pending) == 0
		})
		if got := mustSeen(t, r, k); !reflect.DeepEqual(got, []bool{true, true, true}) {
			t.Fatalf("seen %v", got)
		}
		if asked := store.takeAsked(); len(asked) != 3 {
			t.Fatalf("the store was asked about %d keys", len(asked))
		}
	})
	t.Run("a negative delay writes before mark returns", func(t *testing.T) {
		store := newMemStore()
		r := newRecorder(store, clock.NewFake(time.Unix(0, 0)), -1, discard)
		if err := r.mark(ctx, rkeys("m", 2), time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.recorded(); n != 2 {
			t.Fatalf("%d keys written", n)
		}
		if err := r.close(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("back-pressure: a full queue is written by the packet that fills it", func(t *testing.T) {
		store, clk := newMemStore(), clock.NewFake(time.Unix(0, 0)) // the clock never moves
		r := newRecorder(store, clk, time.Second, discard)
		defer func() { _ = r.close(ctx) }()
		keys := rkeys("m", MaxPendingRecords)
		for i := 0; i < len(keys); i += 100 {
			if err := r.mark(ctx, keys[i:min(i+100, len(keys))], clk.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := store.recorded(); n != MaxPendingRecords {
			t.Fatalf("%d of %d keys written", n, MaxPendingRecords)
		}
	})
	t.Run("close writes what waits; later marks are written at once", func(t *testing.T) {
		store, clk := newMemStore(), clock.NewFake(time.Unix(0, 0))
		r := newRecorder(store, clk, time.Hour, discard)
		if err := r.mark(ctx, rkeys("a", 2), clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := r.close(ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.recorded(); n != 2 {
			t.Fatalf("%d keys written by close", n)
		}
		if err := r.mark(ctx, rkeys("b", 1), clk.Now()); err != nil {
			t.Fatal(err)
		}
		if n, _ := store.recorded(); n != 3 {
			t.Fatalf("%d keys written", n)
		}
		if err := r.close(ctx); err != nil { // twice is harmless
			t.Fatal(err)
		}
	})
	t.Run("a failed write is reported and its keys leave memory", func(t *testing.T) {
		store, clk := newMemStore(), clock.NewFake(time.Unix(0, 0))
		store.failMark = errors.New("disk full")
		r := newRecorder(store, clk, time.Hour, discard)
		k := rkeys("m", 1)
		if err := r.mark(ctx, k, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if err := r.flush(ctx); !errors.Is(err, store.failMark) {
			t.Fatalf("flush: %v", err)
		}
		if got := mustSeen(t, r, k); got[0] {
			t.Fatal("a key whose write failed is taken for recorded")
		}
		if err := r.close(ctx); err != nil { // nothing waits any more
			t.Fatal(err)
		}
	})
}

// newTestFilter builds a filter over store's SQLite file and waits for it.
func newTestFilter(t *testing.T, store *SQLProcessedStore, minKeys uint) (*keyFilter, chan error) {
	t.Helper()
	path, err := store.sqlitePath(context.Background())
	if err != nil || path == "" {
		t.Fatalf("path %q: %v", path, err)
	}
	lock, err := openSoleLock(path + "-portal-lock")
	if err != nil {
		noSoleLock(t, err)
	}
	f := newKeyFilter(store, lock, discard)
	f.minKeys = minKeys
	built := make(chan error, 4)
	f.onBuilt = func(err error) { built <- err }
	t.Cleanup(func() { _ = f.close() })
	f.rebuild(nil)
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	return f, built
}

func TestKeyFilter(t *testing.T) {
	ctx := context.Background()
	store, err := NewSQLProcessedStore(ctx, testdb.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	old := rkeys("old", 2*scanChunk+5) // read in three chunks
	if err := store.Mark(ctx, itemKeys(old), time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	f, built := newTestFilter(t, store, 64)
	if absent := f.absent(old); absent == nil {
		t.Fatal("the filter does not answer")
	} else {
		for i := range absent {
			if absent[i] {
				t.Fatalf("recorded key %d taken for new", i)
			}
		}
	}
	fresh := rkeys("new", 1000)
	absent := f.absent(fresh)
	n := 0
	for _, a := range absent {
		if a {
			n++
		}
	}
	if n < 990 {
		t.Fatalf("only %d of 1000 new keys answered without the database", n)
	}
	// Keys recorded through the recorder are in the filter at once.
	clk := clock.NewFake(time.Unix(1700000000, 0)) // never moves: keys wait in memory
	r := newRecorder(store, clk, time.Hour, discard)
	r.filter = f
	defer func() { _ = r.close(ctx) }()
	if err := r.mark(ctx, fresh[:10], clk.Now()); err != nil {
		t.Fatal(err)
	}
	for i, a := range f.absent(fresh[:10]) {
		if a {
			t.Fatalf("recorded key %d taken for new", i)
		}
	}

	// More keys than the filter was sized for: a bigger one is built from the table and the keys not yet
	// written, keeping every key.
	limit := f.limit
	more := rkeys("more", int(limit))
	if err := r.mark(ctx, more, clk.Now()); err != nil { // over MaxPendingRecords: written at once
		t.Fatal(err)
	}
	if err := r.mark(ctx, fresh[10:20], clk.Now()); err != nil { // waits in memory
		t.Fatal(err)
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	if f.limit <= limit {
		t.Fatalf("limit %d after growing from %d", f.limit, limit)
	}
	for _, set := range [][]recordKey{old, fresh[:20], more} {
		for i, a := range f.absent(set) {
			if a {
				t.Fatalf("key %d lost by growing", i)
			}
		}
	}
}

// TestKeyFilterOffWhenShared: when a second portal opens the same database, the first stops trusting its
// filter (the second's records are not in it) and asks the database, for good.
func TestKeyFilterOffWhenShared(t *testing.T) {
	ctx := context.Background()
	db := testdb.SQLite(t)
	store, err := NewSQLProcessedStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := newTestFilter(t, store, 64)
	k := rkeys("m", 1)
	if a := f.absent(k); a == nil || !a[0] {
		t.Fatal("the lone portal's filter does not answer")
	}
	path, _ := store.sqlitePath(ctx)
	second, err := openSoleLock(path + "-portal-lock")
	if err != nil {
		t.Fatal(err)
	}
	if a := f.absent(k); a != nil {
		t.Fatal("the filter answers while another portal shares the database")
	}
	if err := second.close(); err != nil {
		t.Fatal(err)
	}
	if a := f.absent(k); a != nil {
		t.Fatal("the filter answers again after another portal wrote")
	}
}

// TestPruneRebuildsTheFilter: pruned keys leave the filter, so their redelivery costs no lookup either.
func TestPruneRebuildsTheFilter(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Unix(1700000000, 0))
	p, err := New(ctx, Config{
		Credentials: md5TestCreds, DB: testdb.SQLite(t), Clock: clk, Files: nopFiles{},
		ServerURL: "http://127.0.0.1:9", Domain: "https://portal.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	f := p.record.filter
	if f == nil {
		noSoleLock(t, nil)
	}
	waitFor(t, "the filter", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.cur != nil })
	k := rkeys("m", 3)
	if err := p.record.mark(ctx, k, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	built := make(chan error, 1)
	f.mu.Lock()
	f.onBuilt = func(err error) { built <- err }
	f.mu.Unlock()
	clk.Advance(100 * time.Hour)
	if n, err := p.PruneProcessed(ctx, 72*time.Hour); err != nil || n != 3 {
		t.Fatalf("pruned %d: %v", n, err)
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	for i, a := range f.absent(k) {
		if !a {
			t.Fatalf("pruned key %d still in the filter", i)
		}
	}
}

var md5TestCreds = wire.Credentials{Mode: wire.MD5, LicenceKey: "test-licence-key"}

// noSoleLock skips a test of the filter on a system without Linux's open file description locks, where
// the portal always asks the database; on Linux the lock must work, and its absence fails the test.
func noSoleLock(t *testing.T, err error) {
	t.Helper()
	if runtime.GOOS == "linux" {
		t.Fatalf("no sole-writer lock on Linux: %v", err)
	}
	t.Skipf("SKIPPED on %s: the filter needs Linux's open file description locks (%v)", runtime.GOOS, err)
}

type nopFiles struct{}

func (nopFiles) Import(context.Context, []openlines.File) ([]FileID, []FileFailure) { return nil, nil }
