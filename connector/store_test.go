package connector

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
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
			eventually.True(t, 5*time.Second, "every writer to queue", func() bool {
				st.wqmu.Lock()
				defer st.wqmu.Unlock()
				return len(st.wq) == writers
			})
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

// TestNextDue: the time a worker sleeps until. A lane whose deadline the clock has passed since the worker
// last looked is due at once (a clock step between the worker's two looks once left it asleep beside a ready
// lane); a leased lane is due only when its holder settles it (SQLite) or its lease ends (MySQL, PostgreSQL),
// never at once, so that a worker does not spin while a batch is in flight.
func TestNextDue(t *testing.T) {
	ctx := context.Background()
	now := time.UnixMilli(1_800_000_000_000)
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	cases := []struct {
		name       string
		lanes      [][2]int64 // next_at_ms, lease_until_ms
		withLeases bool
		want       int64 // 0: nothing due
	}{
		{name: "a future deadline", lanes: [][2]int64{{ms(time.Minute), 0}}, want: ms(time.Minute)},
		{name: "a deadline reached meanwhile: at once", lanes: [][2]int64{{ms(0), 0}, {ms(time.Minute), 0}}, want: ms(0)},
		{name: "a deadline passed meanwhile: at once", lanes: [][2]int64{{ms(-time.Second), 0}}, want: ms(-time.Second)},
		{name: "a leased lane past its deadline: not at once", lanes: [][2]int64{{ms(-time.Second), ms(time.Hour)}}},
		{name: "a leased lane past its deadline, with leases: when the lease ends", lanes: [][2]int64{{ms(-time.Second), ms(time.Hour)}}, withLeases: true, want: ms(time.Hour)},
		{name: "a leased lane with a later deadline, with leases: the lease's end, to look again", lanes: [][2]int64{{ms(2 * time.Hour), ms(time.Hour)}}, withLeases: true, want: ms(time.Hour)},
		{name: "nothing queued"},
	}
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st, err := newStore(ctx, db, clock.NewFake(now))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, `DELETE FROM conn_lane`); err != nil {
					t.Fatal(err)
				}
				for i, l := range tc.lanes {
					if _, err := db.ExecContext(ctx, `INSERT INTO conn_lane (site_id, line, idle, next_at_ms, lease_until_ms) VALUES (1, ?, 0, ?, ?)`, itoa(i), l[0], l[1]); err != nil {
						t.Fatal(err)
					}
				}
				at, ok, err := st.nextDue(ctx, tc.withLeases)
				if err != nil || ok != (tc.want != 0) || ok && at.UnixMilli() != tc.want {
					t.Fatalf("nextDue = %v, %v, %v; want %v", at.UnixMilli(), ok, err, tc.want)
				}
			})
		}
	})
}

// TestWaitAfterAFailure: a worker whose look failed retries after PollInterval of real time even when the
// injected clock stands still; one that found nothing due (SQLite) sleeps until woken, without spinning.
func TestWaitAfterAFailure(t *testing.T) {
	clk := clock.NewFake(t0)
	s := newTestServer(t, nil, Config{DSN: testdb.SQLiteDSN(t), Clock: clk, NoDispatch: true, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	s.wait(ctx, nil, true, false)
	if ctx.Err() != nil {
		t.Fatal("a failed look was not retried while the fake clock stood still")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("retried after %v, before PollInterval", d)
	}
	idle, cancelIdle := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelIdle()
	s.wait(idle, nil, false, false)
	if idle.Err() == nil {
		t.Fatal("a worker with nothing due woke before its context ended")
	}
}

// TestSiteGenerationAcrossProcesses: a process that read a site before its first packet learns the
// generation another process sharing the database stored from that packet at its next read, not siteTTL
// later; a site whose generation is known is served from the cache.
func TestSiteGenerationAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		profile SiteProfile
		version string // the BX_VERSION of the first packet, noted by the other process
		want    wire.Profile
	}{
		{name: "auto, a current portal", version: wire.CurrentVersion, want: wire.Current},
		{name: "auto, a legacy portal", version: "20.0.0", want: wire.Legacy},
		{name: "configured legacy", profile: ProfileLegacy, version: wire.CurrentVersion, want: wire.Legacy},
	}
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				clk := clock.NewFake(t0)
				a, err := newStore(ctx, db, clk)
				if err != nil {
					t.Fatal(err)
				}
				b, err := newStore(ctx, db, clk)
				if err != nil {
					t.Fatal(err)
				}
				site := Site{LicenceKey: "key-" + itoa(i), Domain: "https://portal-" + itoa(i) + ".example", Profile: tc.profile}
				ra, err := a.upsertSite(ctx, site) // process a reads the site before any packet
				if err != nil {
					t.Fatal(err)
				}
				if g := ra.generation(); g != wire.Legacy {
					t.Fatalf("before any packet: %v, want legacy", g)
				}
				rb, err := b.siteByID(ctx, ra.id)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.noteSite(ctx, rb, "", tc.version); err != nil { // the packet came to process b
					t.Fatal(err)
				}
				got, err := a.siteByID(ctx, ra.id) // no time passed: within siteTTL
				if err != nil {
					t.Fatal(err)
				}
				if g := got.generation(); g != tc.want {
					t.Fatalf("process a after b's packet: %v, want %v", g, tc.want)
				}
				// Known now: the next read is the cached record.
				if again, err := a.siteByID(ctx, ra.id); err != nil || again != got {
					t.Fatalf("a known site was read again (%v)", err)
				}
			})
		}
	})
}
