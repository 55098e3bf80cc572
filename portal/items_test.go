package portal_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
)

// openDSN opens dsn for a test, closed when it ends.
func openDSN(t *testing.T, dsn string, readOnly bool) *sqldb.DB {
	t.Helper()
	db, err := sqldb.OpenExisting(context.Background(), dsn, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestItemsRedriveForARunningPortal: dead letters listed and redriven through Items on a database handle of
// their own, as olctl portal dead and redrive do while olctl serve runs: the running portal's retrier picks
// the items up at its next look at the store, and delivers them once each, in the order received.
func TestItemsRedriveForARunningPortal(t *testing.T) {
	testdb.EachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })

		// A portal whose backend is down: three messages become dead letters after their one retry.
		down := newRig(t, md5Creds, db, retrySchedule(time.Minute)).manualRetries()
		down.p.OnReceivedMessage(func(context.Context, portal.Message) error { return errors.New("backend down") })
		down.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one"),
			msgItem("ext-1", "c1", "m2", "two"), msgItem("ext-1", "c2", "m3", "three")})
		down.retryAt(t, time.Minute)
		if err := down.p.Close(); err != nil {
			t.Fatal(err)
		}

		// The portal runs again, its backend up, its retrier on.
		up := newRig(t, md5Creds, db)
		fired := make(chan string, 10)
		up.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { fired <- m.MessageID; return nil })

		ro, err := portal.OpenItems(ctx, openDSN(t, dsn, true), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		dead, err := ro.DeadLetters(ctx, 0, 0)
		if err != nil || len(dead) != 3 {
			t.Fatalf("dead letters on a read-only handle: %+v %v", dead, err)
		}
		same, err := up.p.DeadLetters(ctx, 0, 10)
		if err != nil || len(same) != 3 || same[0].ID != dead[0].ID || same[2].ID != dead[2].ID {
			t.Fatalf("the portal's own dead letters %+v %v", same, err)
		}
		for i, d := range dead {
			if d.Attempts != 2 || d.Line != "3" || d.Connector != "botframework.skype" || (i > 0 && d.ID <= dead[i-1].ID) {
				t.Fatalf("dead letter %d: %+v", i, d)
			}
		}
		if page, err := ro.DeadLetters(ctx, dead[0].ID, 1); err != nil || len(page) != 1 || page[0].ID != dead[1].ID {
			t.Fatalf("second page %+v %v", page, err)
		}

		items, err := portal.OpenItems(ctx, openDSN(t, dsn, false), up.clock)
		if err != nil {
			t.Fatal(err)
		}
		defer items.Close()
		if n, err := items.Redrive(ctx, dead[2].ID, dead[0].ID, dead[1].ID, 999999); err != nil || n != 3 {
			t.Fatalf("redrive: %d %v", n, err)
		}
		if pending, deadN, err := items.Counts(ctx); err != nil || pending != 3 || deadN != 0 {
			t.Fatalf("counts after the redrive: pending %d, dead %d, %v", pending, deadN, err)
		}
		// The retrier waits for its next poll; once it is waiting, a poll's time passes.
		eventually.True(t, 10*time.Second, "the retrier to wait for its next poll", func() bool { return up.clock.Waiters() > 0 })
		up.clock.Advance(portal.DefaultPoll)
		var got []string
		for len(got) < 3 {
			select {
			case id := <-fired:
				got = append(got, id)
			case <-time.After(10 * time.Second):
				t.Fatalf("the running portal delivered %v of the redriven items", got)
			}
		}
		if got[0] != "m1" || got[1] != "m2" || got[2] != "m3" {
			t.Fatalf("delivered in the order %v, want m1 m2 m3", got)
		}
		if n, err := items.Redrive(ctx, dead[0].ID); err != nil || n != 0 {
			t.Fatalf("an item no longer dead was redriven: %d %v", n, err)
		}
	})
}

func TestOpenItemsRefusesAnotherDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := portal.OpenItems(ctx, db, nil); !errors.Is(err, portal.ErrNotPortalDB) {
			t.Fatalf("an empty database: %v", err)
		}
		if err := db.Migrate(ctx, "connector", []sqldb.Migration{{Version: 1, SQLite: []string{"CREATE TABLE x (a INTEGER)"},
			MySQL: []string{"CREATE TABLE x (a INTEGER)"}, Postgres: []string{"CREATE TABLE x (a INTEGER)"}}}); err != nil {
			t.Fatal(err)
		}
		_, err := portal.OpenItems(ctx, db, nil)
		if !errors.Is(err, portal.ErrNotPortalDB) || err.Error() != "portal: not a portal database: it holds the tables of connector" {
			t.Fatalf("a connector database: %v", err)
		}
	})
}

func TestLineStatuses(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st, err := portal.NewSQLStatusStore(ctx, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		on := openlines.LineStatus{Active: true, Connection: true, Register: true}
		for _, s := range []struct {
			connector, line string
			status          openlines.LineStatus
		}{{"botframework", "1", on}, {"botframework.skype", "2", openlines.LineStatus{Active: true}}, {"echo", "1", on}} {
			if err := st.SetLineStatus(ctx, s.connector, s.line, s.status); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.SetLineError(ctx, "botframework", "1"); err != nil {
			t.Fatal(err)
		}
		got, err := st.LineStatuses(ctx, "botframework.webchat")
		moved := on
		moved.Error = true
		if err != nil || len(got) != 2 || got["1"] != moved || got["2"] != (openlines.LineStatus{Active: true}) {
			t.Fatalf("statuses %+v %v", got, err)
		}
		if got, err := st.LineStatuses(ctx, "vk"); err != nil || len(got) != 0 {
			t.Fatalf("a connector with none: %+v %v", got, err)
		}
	})
}
