package portal_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// actsTable is a backend's table of actions, with no unique key: a row per action taken.
const actsTable = `CREATE TABLE tx_acts (item_id BIGINT NOT NULL, message_id VARCHAR(64) NOT NULL, attempt INTEGER NOT NULL)`

// actInTx is a subscriber that records its action through the event transaction.
func actInTx(ctx context.Context, m portal.Message) error {
	tx, err := portal.Tx(ctx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tx_acts (item_id, message_id, attempt) VALUES (?, ?, ?)`, m.ItemID, m.MessageID, m.Attempt)
	return err
}

func newTxRig(t *testing.T, db *sqldb.DB, opts ...rigOption) *rig {
	t.Helper()
	r := newRig(t, md5Creds, db, opts...).manualRetries()
	if _, err := db.Exec(actsTable); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestTxCommitsWithTheResult: what a subscriber writes through Tx commits with the item's done record, once
// per item; the subscribers of one delivery (a command_start that is also a message) share the transaction.
func TestTxCommitsWithTheResult(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newTxRig(t, db)
		var shared atomic.Bool
		var first *sqldb.Tx
		r.p.OnReceivedCommandStart(func(ctx context.Context, m portal.Message) error {
			tx, err := portal.Tx(ctx)
			first = tx
			return err
		})
		r.p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
			tx, err := portal.Tx(ctx)
			if m.MessageID == "m3" { // the same delivery as its command_start, in the same goroutine
				shared.Store(tx == first)
			}
			if err != nil {
				return err
			}
			return actInTx(ctx, m)
		})
		items := []any{msgItem("ext-1", "c1", "m1", "one"), msgItem("ext-1", "c2", "m2", "two"),
			msgItem("ext-1", "c1", "m3", "/start", "message", wire.NewMap("id", "m3", "text", "/start"),
				"ref", wire.NewMap("source", "ad"), "type_message", "command_start")}
		r.postOK(t, openlines.CommandReceivingMessage, items)
		r.postOK(t, openlines.CommandReceivingMessage, items) // duplicates: skipped
		if n := countRows(t, db, "tx_acts"); n != 3 {
			t.Fatalf("%d actions, want 3", n)
		}
		if !shared.Load() {
			t.Error("the command_start's two subscribers did not share the transaction")
		}
		if states := r.itemStates(t); states != [4]int{0, 3, 0, 0} {
			t.Fatalf("items pending, done, rejected, dead: %v", states)
		}
	})
}

// TestTxRolledBackOnError: a subscriber's error rolls back what an earlier subscriber wrote through Tx; the
// item is kept and retried, and its action committed once, by the retry.
func TestTxRolledBackOnError(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newTxRig(t, db)
		r.p.OnReceivedMessage(actInTx)
		var fail atomic.Int32
		fail.Store(1)
		r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
			if fail.Add(-1) >= 0 {
				return errors.New("backend down")
			}
			return nil
		})
		var panics atomic.Int32
		panics.Store(1)
		r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
			if m.Attempt == 2 && panics.Add(-1) >= 0 {
				panic("bug")
			}
			return nil
		})
		r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
		if n := countRows(t, db, "tx_acts"); n != 0 {
			t.Fatalf("%d actions kept after the subscriber's error", n)
		}
		if states := r.itemStates(t); states != [4]int{1, 0, 0, 0} {
			t.Fatalf("items pending, done, rejected, dead: %v", states)
		}
		r.retryAt(t, time.Minute) // attempt 2 panics
		if n := countRows(t, db, "tx_acts"); n != 0 {
			t.Fatalf("%d actions kept after the subscriber's panic", n)
		}
		r.retryAt(t, 4*time.Minute) // attempt 3 succeeds
		r.retryAt(t, 48*time.Hour)
		var attempt int
		if err := db.QueryRow(`SELECT attempt FROM tx_acts WHERE message_id = 'm1'`).Scan(&attempt); err != nil || attempt != 3 {
			t.Fatalf("action of attempt %d (%v), want 3", attempt, err)
		}
		if n := countRows(t, db, "tx_acts"); n != 1 {
			t.Fatalf("%d actions, want 1", n)
		}
		if states := r.itemStates(t); states != [4]int{0, 1, 0, 0} {
			t.Fatalf("items pending, done, rejected, dead: %v", states)
		}
	})
}

// TestTxStaleAttemptRolledBack: an attempt that outlived its lease while a later attempt fired and committed
// the item keeps nothing of what it wrote.
func TestTxStaleAttemptRolledBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newTxRig(t, db, func(c *portal.Config) { c.Retry.Lease = time.Minute })
		entered, release := make(chan struct{}), make(chan struct{})
		r.p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
			if m.Attempt == 1 {
				close(entered)
				<-release // held past its lease, before it opens the transaction
			}
			return actInTx(ctx, m)
		})
		posted := make(chan struct{})
		go func() {
			defer close(posted)
			r.post(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
		}()
		<-entered
		r.retryAt(t, 2*time.Minute) // attempt 2 claims the item and commits its action
		close(release)
		<-posted
		var attempt int
		if err := db.QueryRow(`SELECT attempt FROM tx_acts`).Scan(&attempt); err != nil || attempt != 2 {
			t.Fatalf("action of attempt %d (%v), want 2 alone", attempt, err)
		}
		if n := countRows(t, db, "tx_acts"); n != 1 {
			t.Fatalf("%d actions, want 1", n)
		}
	})
}

// TestTxOutsideAnEvent: Tx refuses a context of no stored item: a typing notice, a status event, none.
func TestTxOutsideAnEvent(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	errs := make(chan error, 2)
	r.p.OnReceivedStatusWrites(func(ctx context.Context, _ portal.Message) error { _, err := portal.Tx(ctx); errs <- err; return nil })
	r.p.OnReceivedStatusReading(func(ctx context.Context, _ portal.StatusReading) error {
		_, err := portal.Tx(ctx)
		errs <- err
		return nil
	})
	r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "", "", "type_message", "typing_start")})
	r.postOK(t, openlines.CommandReceivingStatusReading, []any{wire.NewMap("chat", wire.NewMap("id", "c1"),
		"message", wire.NewMap("id", "m1"))})
	for _, what := range []string{"typing notice", "status event"} {
		if err := wait(t, errs, what); !errors.Is(err, portal.ErrNoTx) {
			t.Errorf("%s: Tx error %v, want ErrNoTx", what, err)
		}
	}
	if _, err := portal.Tx(context.Background()); !errors.Is(err, portal.ErrNoTx) {
		t.Errorf("no event: Tx error %v, want ErrNoTx", err)
	}
}
