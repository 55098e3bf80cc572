package portal_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// flakyItem is a message whose one file fails to download while the rig's files are down.
func flakyItem(id string) *wire.Map {
	return msgItem("ext-1", "c1", id, "with a file", "message",
		wire.NewMap("id", id, "text", "with a file", "files", []any{wire.NewMap("url", "http://files/flaky.png")}))
}

// TestFailedDownloadIsRetried: a packet whose one item's download fails for now is answered OK, the other
// items fire at once, and the failed one fires exactly once when its retry (on the portal's own retrier,
// after the schedule's first delay on the fake clock) succeeds.
func TestFailedDownloadIsRetried(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newRig(t, md5Creds, db)
		events := make(chan portal.Message, 10)
		r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { events <- m; return nil })
		r.files.setDown(true)
		r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one"), flakyItem("m2"), msgItem("ext-1", "c1", "m3", "three")})
		if a, b := wait(t, events, "m1"), wait(t, events, "m3"); a.MessageID != "m1" || b.MessageID != "m3" || a.Attempt != 1 {
			t.Fatalf("events %s %s", a.MessageID, b.MessageID)
		}
		select {
		case m := <-events:
			t.Fatalf("%s fired before its retry", m.MessageID)
		default:
		}
		r.files.setDown(false)
		r.clock.Advance(59 * time.Second) // not yet due
		r.clock.Advance(time.Second)
		m := wait(t, events, "the retry of m2")
		if m.MessageID != "m2" || m.Attempt != 2 || len(m.Files) != 1 || len(m.FileFailures) != 0 {
			t.Fatalf("retry %+v", m)
		}
		r.manualRetries() // wait for the retrier to finish, then run whatever else were due
		r.retryAt(t, 48*time.Hour)
		if states := r.itemStates(t); states != [4]int{0, 3, 0, 0} {
			t.Fatalf("items pending, done, rejected, dead: %v", states)
		}
		select {
		case m := <-events:
			t.Fatalf("%s fired again", m.MessageID)
		default:
		}
	})
}

// TestSubscriberErrorIsRetried: an item whose subscriber fails is retried with back-off; every delivery has
// the same ItemID and the next Attempt; once the subscriber succeeds, it is not delivered again.
func TestSubscriberErrorIsRetried(t *testing.T) {
	r := newRig(t, md5Creds, nil, retrySchedule(time.Minute, 4*time.Minute)).manualRetries()
	var got []string
	fail := 2
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		got = append(got, fmt.Sprintf("%s#%d attempt %d", m.MessageID, m.ItemID, m.Attempt))
		if fail > 0 {
			fail--
			return errors.New("backend down")
		}
		return nil
	})
	r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
	r.retryAt(t, 59*time.Second) // not yet due
	r.retryAt(t, time.Second)
	r.retryAt(t, 3*time.Minute) // the second retry is 4 minutes after the first
	r.retryAt(t, time.Minute)
	r.retryAt(t, 24*time.Hour)
	want := []string{"m1#1 attempt 1", "m1#1 attempt 2", "m1#1 attempt 3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries %v", got)
	}
	st, err := r.p.ItemStats(context.Background())
	if err != nil || st.Pending != 0 || st.Fired != 1 || st.Failures != 2 || st.Retries != 2 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// TestDeadLetters: an item that fails its last retry is a dead letter — logged, counted, listed with the item
// as received — never dropped; Redrive tries it again at once with a fresh schedule.
func TestDeadLetters(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		r := newRig(t, md5Creds, db, retrySchedule(time.Minute, time.Minute)).manualRetries()
		var mu sync.Mutex
		down := true
		var fired []int
		r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if down {
				return errors.New("backend down")
			}
			fired = append(fired, m.Attempt)
			return nil
		})
		r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one"), msgItem("ext-1", "c1", "m2", "two")})
		r.retryAt(t, time.Minute)
		r.retryAt(t, time.Minute) // the third attempt is the last
		r.retryAt(t, time.Hour)
		st, err := r.p.ItemStats(ctx)
		if err != nil || st.Pending != 0 || st.Dead != 2 || st.DeadLetter != 2 {
			t.Fatalf("stats %+v %v", st, err)
		}
		dead, err := r.p.DeadLetters(ctx, 0, 1)
		if err != nil || len(dead) != 1 {
			t.Fatalf("dead letters %+v %v", dead, err)
		}
		d := dead[0]
		item, _ := d.Item.(*wire.Map)
		if item != nil {
			chat, _ := item.Get("chat")
			if c, _ := chat.(*wire.Map); c == nil || c.String("id") != "c1" {
				t.Fatalf("dead letter's item %v", d.Item)
			}
		}
		if d.Command != openlines.CommandReceivingMessage || d.Connector != "botframework.skype" || d.Line != "3" || d.Attempts != 3 ||
			!strings.Contains(d.LastError, "backend down") || item == nil || item.String("type_message") != "" || !d.Received.Equal(epoch) {
			t.Fatalf("dead letter %+v", d)
		}
		next, err := r.p.DeadLetters(ctx, d.ID, 10)
		if err != nil || len(next) != 1 || next[0].ID <= d.ID {
			t.Fatalf("next page %+v %v", next, err)
		}
		// A duplicate of a dead letter is not taken again: it waits for Redrive.
		r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
		mu.Lock()
		down = false
		mu.Unlock()
		if n, err := r.p.Redrive(ctx, d.ID, next[0].ID, 12345); err != nil || n != 2 {
			t.Fatalf("redrive %d %v", n, err)
		}
		portal.RunDue(r.p)
		if !reflect.DeepEqual(fired, []int{1, 1}) {
			t.Fatalf("redriven deliveries: attempts %v", fired)
		}
		if st, _ := r.p.ItemStats(ctx); st.Dead != 0 || st.Pending != 0 {
			t.Fatalf("stats %+v", st)
		}
		if n, _ := r.p.Redrive(ctx, d.ID); n != 0 {
			t.Fatalf("an item that is not dead was redriven")
		}
	})
}

// TestStatusEventsAreRetried: the events of the other commands are kept for a retry too when their subscriber
// fails (and the packet is answered OK).
func TestStatusEventsAreRetried(t *testing.T) {
	r := newRig(t, md5Creds, nil).manualRetries()
	var got []string
	fail := true
	r.p.OnReceivedStatusDelivery(func(_ context.Context, s portal.StatusDelivery) error {
		got = append(got, strings.Join(s.ExternalIDs, ","))
		if fail {
			fail = false
			return errors.New("backend down")
		}
		return nil
	})
	var deactivations int
	r.p.OnUpdateStatusConnector(func(_ context.Context, s portal.StatusConnector) error {
		deactivations++
		if deactivations == 1 {
			return errors.New("pager down")
		}
		if !s.Status.Error || s.Connector != "botframework" {
			t.Errorf("status %+v", s)
		}
		return nil
	})
	r.postOK(t, openlines.CommandReceivingStatusDelivery, []any{
		wire.NewMap("im", wire.NewMap("chat_id", 1, "message_id", 2), "message", wire.NewMap("id", []any{"a", "b"}), "chat", wire.NewMap("id", "c1")),
	})
	r.postOK(t, openlines.CommandDeactivateConnector, nil)
	r.retryAt(t, time.Minute)
	if !reflect.DeepEqual(got, []string{"a,b", "a,b"}) || deactivations != 2 {
		t.Fatalf("deliveries %v, deactivations %d", got, deactivations)
	}
	if states := r.itemStates(t); states != [4]int{0, 2, 0, 0} {
		t.Fatalf("items pending, done, rejected, dead: %v", states)
	}
}

// TestLeaseFencing: an attempt that outlives its lease loses the item to a later attempt, whose result is
// the one recorded; the event is delivered to both (at least once), with their attempt numbers.
func TestLeaseFencing(t *testing.T) {
	r := newRig(t, md5Creds, nil, func(c *portal.Config) { c.Retry.Lease = time.Minute }).manualRetries()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var attempts []int
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		mu.Lock()
		attempts = append(attempts, m.Attempt)
		mu.Unlock()
		if m.Attempt == 1 {
			close(entered)
			<-release // stuck past its lease
			return errors.New("too late anyway")
		}
		return nil
	})
	body := r.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
	answer := make(chan routertest.Answer, 1)
	go func() { answer <- routertest.Post(t, nil, r.srv.URL, body) }()
	<-entered
	r.retryAt(t, 2*time.Minute) // the lease ran out: a second attempt takes the item and succeeds
	close(release)
	if a := <-answer; a.Err != nil {
		t.Fatalf("answer %s", a.Body)
	}
	if !reflect.DeepEqual(attempts, []int{1, 2}) {
		t.Fatalf("attempts %v", attempts)
	}
	// The first attempt's failure came last but does not count: the item is done.
	if states := r.itemStates(t); states != [4]int{0, 1, 0, 0} {
		t.Fatalf("items pending, done, rejected, dead: %v", states)
	}
}

// TestPruneItems forgets finished items after the given age: a message sent again after that is new.
func TestPruneItems(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var n int
	r.p.OnReceivedMessage(func(context.Context, portal.Message) error { n++; return nil })
	items := []any{msgItem("ext-1", "c1", "m1", "one")}
	r.postOK(t, openlines.CommandReceivingMessage, items)
	r.clock.Advance(72 * time.Hour)
	if got, err := r.p.PruneItems(context.Background(), 96*time.Hour); err != nil || got != 0 {
		t.Fatalf("pruned %d %v", got, err)
	}
	r.postOK(t, openlines.CommandReceivingMessage, items)
	if got, err := r.p.PruneItems(context.Background(), 48*time.Hour); err != nil || got != 1 {
		t.Fatalf("pruned %d %v", got, err)
	}
	r.postOK(t, openlines.CommandReceivingMessage, items)
	if n != 2 {
		t.Fatalf("%d events", n)
	}
}

// TestUserSyncFailureIsRetried: an item whose user cannot be synced for now (the users' store is down) is
// kept and fires once, on its retry, when the store is back; nothing fires before.
func TestUserSyncFailureIsRetried(t *testing.T) {
	r := newRig(t, md5Creds, nil).manualRetries()
	var got []string
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		got = append(got, fmt.Sprintf("%s attempt %d", m.MessageID, m.Attempt))
		return nil
	})
	r.users.setFail(errors.New("users database down"))
	r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
	r.retryAt(t, 59*time.Second)
	if len(got) != 0 {
		t.Fatalf("fired while its user could not be synced: %v", got)
	}
	r.users.setFail(nil)
	r.retryAt(t, time.Second)
	r.retryAt(t, 24*time.Hour)
	if want := []string{"m1 attempt 2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
}

// TestFailedConfirmationIsConfirmedAgain: in the legacy profile a setStatusDelivered that fails leaves the
// packet answered OK and its item fired once; when the server sends the item again, the portal confirms it
// again as a duplicate and fires nothing.
func TestFailedConfirmationIsConfirmedAgain(t *testing.T) {
	r := newRig(t, md5Creds, nil, legacy)
	var log eventLog
	subscribeAll(r.p, &log)
	items := []any{msgItem("ext-1", "c1", "m1", "one")}
	r.confirm.setFail(errors.New("connector server unreachable"))
	r.postOK(t, openlines.CommandReceivingMessage, items)
	r.confirm.setFail(nil)
	r.postOK(t, openlines.CommandReceivingMessage, items)
	if n := len(log.messages()); n != 1 {
		t.Fatalf("%d messages, want 1: %v", n, log.all())
	}
	want := []confirmation{{"botframework.skype", "3", []openlines.StatusItem{delivered("c1", "m1")}}}
	if got := r.confirm.all(); !reflect.DeepEqual(got[len(got)-1:], want) {
		t.Fatalf("confirmations %+v, want the last %+v", got, want)
	}
}
