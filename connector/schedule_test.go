package connector

import (
	"context"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
)

var t0 = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

// receivingAttempts returns the times of the receivingMessage packets the portal got (or refused).
func (p *fakePortal) attemptTimes() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, pk := range p.attempts {
		out = append(out, pk.Sub(t0))
	}
	return out
}

func TestScheduleDeadLetterAfter24h(t *testing.T) { eachDB(t, testScheduleDeadLetterAfter24h) }

func testScheduleDeadLetterAfter24h(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-schedule", clk)
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 2})
	hook := p.connect("echo", "1", nil)
	p.down.Store(true)
	if code, body := postWebhook(t, hook, echoItems("c", 1, 3)); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	// The attempts, as offsets from the first: each failure blocks the line for the next period.
	want := []time.Duration{0, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 4 * time.Hour, 7 * time.Hour, 12 * time.Hour}
	eventually.True(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	for i, at := range want[1:] {
		// Nothing happens one millisecond before the block ends.
		clk.Set(t0.Add(at - time.Millisecond))
		settle(t, s)
		if n := len(p.attemptTimes()); n != i+1 {
			t.Fatalf("at %v: %d attempts, want %d", at-time.Millisecond, n, i+1)
		}
		clk.Set(t0.Add(at))
		eventually.True(t, 5*time.Second, "attempt at "+at.String(), func() bool { return len(p.attemptTimes()) == i+2 })
		settle(t, s)
	}
	if got := p.attemptTimes(); !equalDurations(got, want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	ctx := context.Background()
	// Until the last block ends (24 h after the first failure) nothing is deleted or dead-lettered.
	clk.Set(t0.Add(24*time.Hour - time.Millisecond))
	settle(t, s)
	if dead, _ := s.DeadLetters(ctx, QueueFilter{}); len(dead) != 0 {
		t.Fatalf("dead letters before 24 h: %d", len(dead))
	}
	if items, _ := s.QueueList(ctx, QueueFilter{}); len(items) != 3 {
		t.Fatalf("queued before 24 h: %d, want 3", len(items))
	}
	st, _ := s.QueueStats(ctx)
	if len(st.Lines) != 1 || st.Lines[0].State != "blocked" || st.Lines[0].Attempts != 10 || !st.Lines[0].NextAt.Equal(t0.Add(24*time.Hour)) ||
		!st.Lines[0].FirstFailure.Equal(t0) {
		t.Fatalf("stats before 24 h: %+v", st)
	}
	clk.Set(t0.Add(24 * time.Hour))
	eventually.True(t, 5*time.Second, "dead letters", func() bool {
		dead, _ := s.DeadLetters(ctx, QueueFilter{})
		return len(dead) == 3
	})
	settle(t, s)
	dead, _ := s.DeadLetters(ctx, QueueFilter{})
	for i, d := range dead {
		if d.MessageID != itoa(i+1) || !d.DeadAt.Equal(t0.Add(24*time.Hour)) || d.Attempts != 10 || !d.FirstFailure.Equal(t0) || d.Line != "1" {
			t.Errorf("dead letter %d: %+v", i, d)
		}
	}
	if n := queueLen(t, s); n != 0 {
		t.Errorf("queue after dead-lettering: %d", n)
	}
	if len(p.attemptTimes()) != 10 {
		t.Errorf("an attempt after the schedule ended: %v", p.attemptTimes())
	}
	// The block is lifted: new items go out at once.
	p.down.Store(false)
	postWebhook(t, hook, echoItems("c", 100, 1))
	eventually.True(t, 5*time.Second, "delivery after the block", func() bool { return len(p.Events()) == 1 })
	st, _ = s.QueueStats(ctx)
	if st.Dead != 3 || st.Blocked != 0 {
		t.Errorf("stats after: %+v", st)
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecoveryMidSchedule(t *testing.T) { eachDB(t, testRecoveryMidSchedule) }

func testRecoveryMidSchedule(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-recovery", clk)
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 3, Queue: Policy{Batch: 50}})
	hook := p.connect("echo", "1", nil)
	p.down.Store(true)
	for i := 0; i < 4; i++ {
		postWebhook(t, hook, echoItems("c", i*30, 30))
	}
	eventually.True(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	clk.Set(t0.Add(time.Minute))
	eventually.True(t, 5*time.Second, "the second attempt", func() bool { return len(p.attemptTimes()) == 2 })
	settle(t, s)
	// The portal comes back; the next attempt is at 5 min and then the backlog drains without waiting.
	p.down.Store(false)
	clk.Set(t0.Add(5*time.Minute - time.Millisecond))
	settle(t, s)
	if len(p.Events()) != 0 {
		t.Fatal("delivered before the block ended")
	}
	clk.Set(t0.Add(5 * time.Minute))
	eventually.True(t, 5*time.Second, "the backlog", func() bool { return len(p.Events()) == 120 })
	settle(t, s)
	for i, e := range p.Events() {
		if e.Msg != itoa(i) {
			t.Fatalf("event %d is message %s: order broken", i, e.Msg)
		}
	}
	times := p.attemptTimes()
	if len(times) != 2+3 {
		t.Errorf("attempts %v: want 2 failures then 3 batches (50+50+20)", times)
	}
	for _, at := range times[2:] {
		if at != 5*time.Minute {
			t.Errorf("a batch went at %v, want all at 5m (unblocked at once)", at)
		}
	}
	st, _ := s.QueueStats(context.Background())
	if st.Pending != 0 || st.Blocked != 0 || st.Lines[0].Attempts != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestConfirmTimeoutAndPartialConfirm(t *testing.T) {
	eachDB(t, testConfirmTimeoutAndPartialConfirm)
}

func testConfirmTimeoutAndPartialConfirm(t *testing.T, dsn string) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-confirm", clk)
	s := newTestServer(t, p, Config{DSN: dsn, Clock: clk, Workers: 1, Queue: Policy{Batch: 10, ConfirmTimeout: 30 * time.Second}})
	hook := p.connect("echo", "1", nil)
	p.halfConf.Store(true)
	postWebhook(t, hook, echoItems("c", 0, 10))
	eventually.True(t, 5*time.Second, "the first batch", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	if n := queueLen(t, s); n != 5 {
		t.Fatalf("after half a confirmation %d items remain, want 5", n)
	}
	// No confirmation for the rest: at the deadline the line is blocked for 1 min, then the 5 go again.
	clk.Set(t0.Add(30 * time.Second))
	settle(t, s)
	st, _ := s.QueueStats(context.Background())
	if st.Lines[0].State != "blocked" || !st.Lines[0].NextAt.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("after the confirm timeout: %+v", st.Lines[0])
	}
	p.halfConf.Store(false)
	clk.Set(t0.Add(90 * time.Second))
	eventually.True(t, 5*time.Second, "the resend", func() bool { return queueLen(t, s) == 0 })
	pk := p.Packets()
	last := pk[len(pk)-1]
	if len(last.Items) != 5 || scalarString(path(last.Items[0], "message", "id")) != "5" {
		t.Errorf("resent %d items starting at %v, want the 5 unconfirmed", len(last.Items), path(last.Items[0], "message", "id"))
	}
	if _, events, dups, _ := p.counts(); events != 10 || dups != 5 { // the 5 unconfirmed came twice; the portal ignored them
		t.Errorf("events %d dups %d", events, dups)
	}
}
