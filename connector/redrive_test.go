package connector

import (
	"context"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
)

// TestRedrive: dead letters queued again go to the portal in their order, once; ids that are not dead
// letters are ignored.
func TestRedrive(t *testing.T) { eachDB(t, testRedrive) }

func testRedrive(t *testing.T, dsn string) {
	ctx := context.Background()
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-redrive", clk)
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 2, Queue: Policy{Schedule: []time.Duration{time.Minute}}})
	hook := p.connect("echo", "1", nil)
	p.down.Store(true)
	if code, body := postWebhook(t, hook, echoItems("c", 1, 3)); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	eventually.True(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	clk.Set(t0.Add(time.Minute)) // the one block ends: the items are dead letters
	eventually.True(t, 5*time.Second, "dead letters", func() bool {
		dead, _ := s.DeadLetters(ctx, QueueFilter{})
		return len(dead) == 3
	})
	settle(t, s)
	dead, _ := s.DeadLetters(ctx, QueueFilter{})
	p.down.Store(false)
	if n, err := s.Redrive(ctx, dead[2].ID, dead[0].ID, 999999); err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v; want 2", n, err)
	}
	eventually.True(t, 5*time.Second, "the redriven items at the portal", func() bool { return len(p.Events()) == 2 })
	settle(t, s)
	ev := p.Events()
	if ev[0].Msg != "1" || ev[1].Msg != "3" {
		t.Fatalf("delivered %+v, want messages 1 then 3", ev)
	}
	left, _ := s.DeadLetters(ctx, QueueFilter{})
	if len(left) != 1 || left[0].ID != dead[1].ID {
		t.Fatalf("dead letters left %+v, want only %d", left, dead[1].ID)
	}
	if n, err := s.Redrive(ctx, dead[0].ID); err != nil || n != 0 {
		t.Fatalf("a redriven item redriven again: %d, %v", n, err)
	}
	if n, err := s.Redrive(ctx); err != nil || n != 0 {
		t.Fatalf("Redrive() = %d, %v", n, err)
	}
	if st, _ := s.QueueStats(ctx); st.Pending != 0 || st.Dead != 1 || st.Blocked != 0 {
		t.Fatalf("queue after: %+v", st)
	}
}
