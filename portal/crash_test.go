package portal_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// withDSN makes the rig's portal open (and close) its own database, as a restarted process would.
func withDSN(dsn string) rigOption {
	return func(c *portal.Config) { c.DB, c.DSN = nil, dsn }
}

// TestCrashSafety: an item whose event handler fails is not confirmed, and an item whose confirmation was
// lost is delivered again; after a restart on the same database every item has fired exactly once.
func TestCrashSafety(t *testing.T) {
	for _, dialect := range []string{"sqlite", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			var dsn string
			if dialect == "sqlite" {
				dsn = testdb.SQLiteDSN(t)
			} else {
				dsn = testdb.MySQLDSN(t)
			}
			var mu sync.Mutex
			fired := map[string]int{} // successful events per message id, over both runs
			subscriber := func(failOn string) func(context.Context, portal.Message) error {
				return func(_ context.Context, m portal.Message) error {
					if m.MessageID == failOn {
						return errors.New("backend down")
					}
					mu.Lock()
					fired[m.MessageID]++
					mu.Unlock()
					return nil
				}
			}
			msgs := map[string]*wire.Map{}
			for _, id := range []string{"m1", "m2", "m3", "m4"} {
				msgs[id] = msgItem("ext-1", "c1", id, "text of "+id)
			}

			// First run: m2's handler fails; m4's confirmation is lost.
			a := newRig(t, md5Creds, nil, withDSN(dsn))
			a.p.OnReceivedMessage(subscriber("m2"))
			ans := a.post(t, openlines.CommandReceivingMessage, []any{msgs["m1"], msgs["m2"], msgs["m3"]})
			if !reflect.DeepEqual(ans.Codes(), []wire.Code{wire.CodeInternal}) {
				t.Fatalf("answer %s", ans.Body)
			}
			want := []confirmation{{"botframework.skype", "3", []portal.Delivered{{"c1", "m1"}, {"c1", "m3"}}}}
			if got := a.confirm.all(); !reflect.DeepEqual(got, want) {
				t.Fatalf("confirmations %+v", got)
			}
			a.confirm.setFail(errors.New("connector server unreachable"))
			if ans := a.post(t, openlines.CommandReceivingMessage, []any{msgs["m4"]}); !errors.Is(ans.Err, wire.ErrInternal) {
				t.Fatalf("answer %s", ans.Body)
			}
			a.srv.Close()
			if err := a.p.Close(); err != nil {
				t.Fatal(err)
			}

			// Restart on the same database; the server delivers what was not confirmed (m2, m4) and, being
			// cautious, m1 again.
			b := newRig(t, md5Creds, nil, withDSN(dsn))
			b.p.OnReceivedMessage(subscriber(""))
			ans = b.post(t, openlines.CommandReceivingMessage, []any{msgs["m1"], msgs["m2"], msgs["m4"]})
			if ans.Err != nil || string(ans.Response.Data) != `{"RESULT":"OK","CONFIRMED":3,"DUPLICATES":2}` {
				t.Fatalf("answer %s", ans.Body)
			}
			want = []confirmation{{"botframework.skype", "3", []portal.Delivered{{"c1", "m1"}, {"c1", "m2"}, {"c1", "m4"}}}}
			if got := b.confirm.all(); !reflect.DeepEqual(got, want) {
				t.Fatalf("confirmations %+v", got)
			}
			if want := map[string]int{"m1": 1, "m2": 1, "m3": 1, "m4": 1}; !reflect.DeepEqual(fired, want) {
				t.Fatalf("fired %v", fired)
			}
		})
	}
}

// TestTwoPortalsOnOneSQLiteFile: two portal processes (here: two portals, each with its own connections)
// on one SQLite file see each other's records. Each keeps an in-memory filter of recorded keys only while
// it is alone on the file; the first one must stop trusting its filter when the second appears.
func TestTwoPortalsOnOneSQLiteFile(t *testing.T) {
	dsn := testdb.SQLiteDSN(t)
	ctx := context.Background()
	var mu sync.Mutex
	fired := map[string]int{}
	count := func(_ context.Context, m portal.Message) error {
		mu.Lock()
		fired[m.MessageID]++
		mu.Unlock()
		return nil
	}
	m1, m2 := msgItem("ext-1", "c1", "m1", "one"), msgItem("ext-1", "c1", "m2", "two")

	a := newRig(t, md5Creds, nil, withDSN(dsn))
	a.p.OnReceivedMessage(count)
	if ans := a.post(t, openlines.CommandReceivingMessage, []any{m1}); ans.Err != nil {
		t.Fatalf("answer %s", ans.Body)
	}
	if err := a.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	b := newRig(t, md5Creds, nil, withDSN(dsn))
	b.p.OnReceivedMessage(count)
	// b finds a's record of m1; a finds b's record of m2.
	if ans := b.post(t, openlines.CommandReceivingMessage, []any{m1, m2}); ans.Err != nil ||
		string(ans.Response.Data) != `{"RESULT":"OK","CONFIRMED":2,"DUPLICATES":1}` {
		t.Fatalf("answer %s", ans.Body)
	}
	if err := b.p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ans := a.post(t, openlines.CommandReceivingMessage, []any{m2}); ans.Err != nil ||
		string(ans.Response.Data) != `{"RESULT":"OK","CONFIRMED":1,"DUPLICATES":1}` {
		t.Fatalf("answer %s", ans.Body)
	}
	if want := map[string]int{"m1": 1, "m2": 1}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired %v", fired)
	}
}

// TestServeAfterClose: a packet served after Close (the HTTP server not stopped yet) is recorded before it
// is answered, and Close twice is harmless.
func TestServeAfterClose(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if ans := r.post(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")}); ans.Err != nil {
		t.Fatalf("answer %s", ans.Body)
	}
	if n := countRows(t, r.db, "olctl_portal_processed"); n != 1 {
		t.Fatalf("%d processed rows", n)
	}
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}
