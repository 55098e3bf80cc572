package portal_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// slowFiles imports every file, those whose URL contains "slow" only once release is closed.
// slowFiles holds every file whose URL has "slow" until release closes; held counts the imports waiting.
type slowFiles struct {
	release chan struct{}
	held    atomic.Int32
}

func (f *slowFiles) Import(ctx context.Context, fs []openlines.File) ([]portal.FileID, []portal.FileFailure) {
	var ids []portal.FileID
	for i, x := range fs {
		if strings.Contains(x.URL, "slow") {
			f.held.Add(1)
			select {
			case <-f.release:
			case <-ctx.Done():
				return nil, []portal.FileFailure{{Index: i, URL: x.URL, Code: "failed_download", Temporary: true, Err: ctx.Err()}}
			}
		}
		ids = append(ids, portal.FileID(100+i))
	}
	return ids, nil
}

// within returns the next value of ch, failing t unless it comes within d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		panic("unreachable")
	}
}

// TestSlowChatLetsOthersFlow: on one line, chat A's message with a slow file does not hold up chat B: B's
// message in the same packet and in the next fires within a second; the packet is answered once
// AnswerWithin passed, A's message finishing after the answer; A's next message fires after it.
func TestSlowChatLetsOthersFlow(t *testing.T) {
	slow := &slowFiles{release: make(chan struct{})}
	r := newRig(t, md5Creds, nil, func(c *portal.Config) { c.Files = slow }).manualRetries()
	events := make(chan portal.Message, 10)
	r.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { events <- m; return nil })
	answers := make(chan routertest.Answer, 2)
	post := func(items ...any) {
		body := r.send.Body(t, openlines.CommandReceivingMessage, items)
		go func() { answers <- routertest.Post(t, r.srv.Client(), r.srv.URL, body) }()
	}
	slowItem := msgItem("ext-1", "A", "a1", "with a file", "message",
		wire.NewMap("id", "a1", "text", "with a file", "files", []any{wire.NewMap("url", "http://files/slow.png")}))
	answered := func(which string) {
		t.Helper()
		r.clock.Advance(portal.DefaultAnswerWithin) // the budget passes on the portal's clock
		if a := wait(t, answers, which); a.Status != 200 || string(a.Body) != `{"OK":true,"DATA":[]}` {
			t.Fatalf("%s: %d %s", which, a.Status, a.Body)
		}
	}

	post(slowItem, msgItem("ext-2", "B", "b1", "first"))
	if m := within(t, events, time.Second, "b1"); m.MessageID != "b1" {
		t.Fatalf("%s fired before b1", m.MessageID)
	}
	answered("the answer to packet 1")
	post(msgItem("ext-1", "A", "a2", "after the file"), msgItem("ext-2", "B", "b2", "second"))
	if m := within(t, events, time.Second, "b2"); m.MessageID != "b2" {
		t.Fatalf("%s fired before b2", m.MessageID)
	}
	answered("the answer to packet 2")
	select {
	case m := <-events:
		t.Fatalf("%s fired while a1's file was downloading", m.MessageID)
	default:
	}
	close(slow.release)
	if a1, a2 := wait(t, events, "a1"), wait(t, events, "a2"); a1.MessageID != "a1" || len(a1.Files) != 1 || a2.MessageID != "a2" {
		t.Fatalf("chat A fired %s (%d files), then %s", a1.MessageID, len(a1.Files), a2.MessageID)
	}
	if err := r.p.Close(); err != nil { // waits for the items finishing after their answers
		t.Fatal(err)
	}
	if states := r.itemStates(t); states != [4]int{0, 4, 0, 0} {
		t.Fatalf("items pending, done, rejected, dead: %v", states)
	}
}

// TestCloseStopsSlowItems: Close cancels an item still running after its packet's answer; the item stays
// in the store for a retry.
func TestCloseStopsSlowItems(t *testing.T) {
	slow := &slowFiles{release: make(chan struct{})}
	r := newRig(t, md5Creds, nil, func(c *portal.Config) { c.Files = slow; c.AnswerWithin = time.Millisecond }).manualRetries()
	r.p.OnReceivedMessage(func(context.Context, portal.Message) error { t.Error("fired"); return nil })
	answers := make(chan routertest.Answer, 1)
	body := r.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "A", "a1", "with a file", "message",
		wire.NewMap("id", "a1", "text", "with a file", "files", []any{wire.NewMap("url", "http://files/slow.png")}))})
	timers := r.clock.Waiters()
	go func() { answers <- routertest.Post(t, r.srv.Client(), r.srv.URL, body) }()
	eventually.True(t, 10*time.Second, "the packet's budget timer", func() bool { return r.clock.Waiters() > timers })
	r.clock.Advance(time.Millisecond)
	wait(t, answers, "the answer")
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if states := r.itemStates(t); states != [4]int{1, 0, 0, 0} {
		t.Fatalf("items pending, done, rejected, dead: %v", states)
	}
}

// TestQueuedItemPastItsLease: an item that waited in its chat's lane past its lease, while another process
// retried it, does not run again when its turn comes.
func TestQueuedItemPastItsLease(t *testing.T) {
	db := testdb.SQLite(t)
	slow := &slowFiles{release: make(chan struct{})}
	lease := func(c *portal.Config) { c.Retry.Lease = time.Minute }
	a := newRig(t, md5Creds, db, lease, func(c *portal.Config) { c.Files = slow }).manualRetries()
	var fired []string
	var mu sync.Mutex
	a.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		mu.Lock()
		fired = append(fired, m.MessageID)
		mu.Unlock()
		return nil
	})
	answers := make(chan routertest.Answer, 1)
	body := a.send.Body(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "A", "a1", "with a file", "message",
		wire.NewMap("id", "a1", "text", "with a file", "files", []any{wire.NewMap("url", "http://files/slow.png")})),
		msgItem("ext-1", "A", "a2", "behind it")})
	timers := a.clock.Waiters()
	go func() { answers <- routertest.Post(t, a.srv.Client(), a.srv.URL, body) }()
	eventually.True(t, 10*time.Second, "the packet's budget timer", func() bool { return a.clock.Waiters() > timers })
	// a1's attempt must be under way before the leases run out: started later, it would renew its lease
	// (nobody has claimed it yet), and the other process would retry a2 alone.
	eventually.True(t, 10*time.Second, "a1's attempt to wait for its file", func() bool { return slow.held.Load() == 1 })
	a.clock.Advance(2 * time.Minute) // the answer goes; both leases run out
	wait(t, answers, "the answer")

	b := newRig(t, md5Creds, db, lease).manualRetries() // another process, which retries both
	bEvents := make(chan portal.Message, 2)
	b.p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { bEvents <- m; return nil })
	b.retryAt(t, 2*time.Minute)
	if m1, m2 := wait(t, bEvents, "a1"), wait(t, bEvents, "a2"); m1.MessageID != "a1" || m2.MessageID != "a2" || m2.Attempt != 2 {
		t.Fatalf("the retries fired %s, %s (attempt %d)", m1.MessageID, m2.MessageID, m2.Attempt)
	}
	close(slow.release)
	if err := a.p.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if slices.Contains(fired, "a2") {
		t.Fatalf("a2 ran again in its lane after its retry: %v", fired)
	}
}
