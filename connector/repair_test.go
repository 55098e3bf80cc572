package connector

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
)

func init() { storeOpeners["OpenExisting"] = OpenExisting }

// killLine makes n items of line dead letters: the portal is down for the one attempt of the schedule.
func killLine(t *testing.T, p *fakePortal, s *Server, clk *clock.Fake, line, chat string, n int) {
	t.Helper()
	ctx := context.Background()
	before, _ := s.DeadLetters(ctx, QueueFilter{Limit: 1000})
	p.down.Store(false)
	hook := p.connect("echo", line, nil)
	p.down.Store(true)
	if code, body := postWebhook(t, hook, echoItems(chat, 1, n)); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	eventually.True(t, 5*time.Second, "the line blocked", func() bool {
		st, _ := s.QueueStats(ctx)
		return st.Blocked > 0
	})
	settle(t, s)
	clk.Advance(time.Minute) // the one block ends: the items are dead letters
	eventually.True(t, 5*time.Second, "dead letters of line "+line, func() bool {
		dead, _ := s.DeadLetters(ctx, QueueFilter{Limit: 1000})
		return len(dead) == len(before)+n
	})
	settle(t, s)
}

// wantDelivered checks that the portal got exactly msgs of chat, once each and in order.
func wantDelivered(t *testing.T, p *fakePortal, chat string, msgs ...string) {
	t.Helper()
	var got []string
	for _, ev := range p.Events() {
		if ev.Chat == chat {
			got = append(got, ev.Msg)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(msgs) {
		t.Fatalf("chat %s: delivered %v, want %v once each, in order", chat, got, msgs)
	}
}

// TestRedriveDeadRoundTrip: portal down → dead letters → RedriveDead of one line, then of every line →
// every message delivered once, in order; a second redrive finds nothing.
func TestRedriveDeadRoundTrip(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		p := newFakePortal(t, "key-redrive-dead", clk)
		s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 2, Queue: Policy{Schedule: []time.Duration{time.Minute}}})
		killLine(t, p, s, clk, "1", "a", 4)
		killLine(t, p, s, clk, "2", "b", 2)
		p.down.Store(false)
		if n, err := s.RedriveDead(ctx, QueueFilter{Line: "1"}); err != nil || n != 4 {
			t.Fatalf("RedriveDead(line 1) = %d, %v; want 4", n, err)
		}
		eventually.True(t, 5*time.Second, "line 1 delivered", func() bool { return len(p.Events()) == 4 })
		settle(t, s)
		wantDelivered(t, p, "a", "1", "2", "3", "4")
		wantDelivered(t, p, "b")
		if n, err := s.RedriveDead(ctx, QueueFilter{Site: "nosuch.example"}); err != nil || n != 0 {
			t.Fatalf("RedriveDead(another site) = %d, %v; want 0", n, err)
		}
		if n, err := s.RedriveDead(ctx, QueueFilter{}); err != nil || n != 2 {
			t.Fatalf("RedriveDead(all) = %d, %v; want 2", n, err)
		}
		eventually.True(t, 5*time.Second, "line 2 delivered", func() bool { return len(p.Events()) == 6 })
		settle(t, s)
		wantDelivered(t, p, "a", "1", "2", "3", "4")
		wantDelivered(t, p, "b", "1", "2")
		if n, err := s.RedriveDead(ctx, QueueFilter{}); err != nil || n != 0 {
			t.Fatalf("RedriveDead again = %d, %v; want 0", n, err)
		}
		if st, _ := s.QueueStats(ctx); st.Pending != 0 || st.Dead != 0 || st.Blocked != 0 {
			t.Fatalf("queue after: %+v", st)
		}
	})
}

// TestRetryLiftsBlock: Retry sends a blocked line at once, without waiting for its block to end; a line
// that is not blocked is not counted.
func TestRetryLiftsBlock(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		p := newFakePortal(t, "key-retry", clk)
		s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 2, Queue: Policy{Schedule: []time.Duration{time.Hour}}})
		hook := p.connect("echo", "7", nil)
		p.down.Store(true)
		if code, body := postWebhook(t, hook, echoItems("c", 1, 3)); code != 200 {
			t.Fatalf("webhook: %d %s", code, body)
		}
		eventually.True(t, 5*time.Second, "the line blocked", func() bool {
			st, _ := s.QueueStats(ctx)
			return st.Blocked == 1
		})
		settle(t, s)
		p.down.Store(false)
		if n, err := s.Retry(ctx, QueueFilter{Line: "8"}); err != nil || n != 0 {
			t.Fatalf("Retry(another line) = %d, %v; want 0", n, err)
		}
		if n, err := s.Retry(ctx, QueueFilter{Line: "7"}); err != nil || n != 1 {
			t.Fatalf("Retry(7) = %d, %v; want 1", n, err)
		}
		eventually.True(t, 5*time.Second, "the line delivered", func() bool { return len(p.Events()) == 3 })
		settle(t, s)
		wantDelivered(t, p, "c", "1", "2", "3")
		if n, err := s.Retry(ctx, QueueFilter{Line: "7"}); err != nil || n != 0 {
			t.Fatalf("Retry of a line that is not blocked = %d, %v; want 0", n, err)
		}
	})
}

// TestOpenExistingRepairsStoppedServer: the dead letters of a stopped server redriven through OpenExisting
// are delivered, once and in order, by the next server on the database. While a server serves a SQLite
// file, OpenExisting refuses it.
func TestOpenExistingRepairsStoppedServer(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clk := clock.NewFake(t0)
		p := newFakePortal(t, "key-open-existing", clk)
		cfg := Config{DSN: dsn, Clock: clk, Workers: 2, Queue: Policy{Schedule: []time.Duration{time.Minute}}}
		s := newTestServer(t, p, cfg)
		killLine(t, p, s, clk, "1", "a", 3)
		if st, err := OpenExisting(ctx, dsn); filepath.Ext(dsn) == ".db" && !errors.Is(err, ErrQueueInUse) {
			if st != nil {
				st.Close()
			}
			t.Fatalf("OpenExisting of a served SQLite file: %v, want ErrQueueInUse", err)
		} else if err == nil {
			st.Close()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := OpenExisting(ctx, dsn)
		if err != nil {
			t.Fatalf("OpenExisting: %v", err)
		}
		dead, err := st.DeadLetters(ctx, QueueFilter{})
		if err != nil || len(dead) != 3 {
			t.Fatalf("dead letters: %d, %v", len(dead), err)
		}
		if n, err := st.RedriveDead(ctx, QueueFilter{Site: dead[0].Site}); err != nil || n != 3 {
			t.Fatalf("Store.RedriveDead = %d, %v; want 3", n, err)
		}
		st.Close()
		p.down.Store(false)
		s2 := newTestServer(t, p, cfg)
		eventually.True(t, 5*time.Second, "the redriven items delivered", func() bool { return len(p.Events()) == 3 })
		settle(t, s2)
		wantDelivered(t, p, "a", "1", "2", "3")
	})
}
