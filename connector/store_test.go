package connector

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/testdb"
)

// TestCombinedWrite checks SQLite's flat combining: writes that queue up while another holds the writer's
// turn share one transaction, and a failing one fails alone.
func TestCombinedWrite(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name     string
		fail     int  // this writer returns errBoom after its insert (-1: none)
		cancel   int  // this writer's context is canceled (-1: none)
		combined bool // the writes shared one transaction
	}{
		{name: "all in one transaction", fail: -1, cancel: -1, combined: true},
		{name: "a failing write fails alone", fail: 1, cancel: -1},
		{name: "a canceled write fails alone", fail: -1, cancel: 2},
	}
	const writers = 4
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := testdb.SQLite(t)
			st, err := newStore(ctx, db, clock.System())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (v INTEGER NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			txs := map[any]bool{}
			var committed []int
			errs := make([]error, writers)
			st.wmu.Lock() // another write's turn: the writers below queue up
			var wg sync.WaitGroup
			for i := 0; i < writers; i++ {
				wctx, cancel := context.WithCancel(ctx)
				if i == tc.cancel {
					cancel()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer cancel()
					errs[i] = st.write(wctx, func(tx *stx) error {
						mu.Lock()
						txs[tx.tx] = true
						mu.Unlock()
						if _, err := tx.ExecContext(wctx, `INSERT INTO t (v) VALUES (?)`, i); err != nil {
							return err
						}
						tx.afterCommit(func() {
							mu.Lock()
							committed = append(committed, i)
							mu.Unlock()
						})
						if i == tc.fail {
							return errBoom
						}
						return nil
					})
				}()
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				st.wqmu.Lock()
				n := len(st.wq)
				st.wqmu.Unlock()
				if n == writers {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d writers queued, want %d", n, writers)
				}
			}
			st.wmu.Unlock()
			wg.Wait()
			var want []int
			for i, err := range errs {
				switch {
				case i == tc.fail && !errors.Is(err, errBoom), i == tc.cancel && !errors.Is(err, context.Canceled):
					t.Errorf("writer %d: %v", i, err)
				case i != tc.fail && i != tc.cancel && err != nil:
					t.Errorf("writer %d: %v", i, err)
				case err == nil:
					want = append(want, i)
				}
			}
			var got []int
			rows, err := db.QueryContext(ctx, `SELECT v FROM t ORDER BY v`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v int
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			rows.Close()
			if !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
			slices.Sort(committed)
			if !slices.Equal(committed, want) {
				t.Errorf("afterCommit ran for %v, want %v", committed, want)
			}
			if tc.combined && len(txs) != 1 {
				t.Errorf("%d transactions, want 1", len(txs))
			}
		})
	}
}
