package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// faultyPortal sits in front of the portal's handler: it records when receivingMessage packets arrive (on the
// test's clock) and can answer them badly instead of the portal.
type faultyPortal struct {
	clk clock.Clock
	// fault: "" (pass), "down" (503), "500", "okfalse" (200 with OK:false), "hang" (no answer until the
	// sender gives up).
	fault    atomic.Value
	mu       sync.Mutex
	attempts []time.Time
}

func (f *faultyPortal) set(fault string) { f.fault.Store(fault) }

func (f *faultyPortal) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.attempts...)
}

func (f *faultyPortal) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		vals, _ := url.ParseQuery(string(body))
		if vals.Get("BX_COMMAND") == "receivingMessage" {
			f.mu.Lock()
			f.attempts = append(f.attempts, f.clk.Now())
			f.mu.Unlock()
			fault, _ := f.fault.Load().(string)
			switch fault {
			case "down":
				http.Error(w, "portal is down", http.StatusServiceUnavailable)
				return
			case "500":
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			case "hang":
				<-r.Context().Done()
				return
			case "okfalse":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"OK":false,"ERROR":[{"CODE":"CONNECTOR_PROXY_NO_ADD_USER","MESSAGE":"database is read-only"}]}`))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// confirmFault withholds confirmations: "none" confirms nothing, "half" only the first half of each packet.
type confirmFault struct {
	next  portal.Confirmer
	mode  atomic.Value
	calls atomic.Int64
}

func (c *confirmFault) ConfirmDelivered(ctx context.Context, connector, line string, items []openlines.StatusItem) error {
	c.calls.Add(1)
	mode, _ := c.mode.Load().(string)
	switch mode {
	case "none":
		return nil
	case "half":
		items = items[:len(items)/2]
	}
	return c.next.ConfirmDelivered(ctx, connector, line, items)
}

// waitLane waits until the only line of the server's queue is in state with next at (zero: any).
func waitLane(ctx context.Context, t *testing.T, s *connector.Server, state string, next time.Time) connector.LaneStats {
	t.Helper()
	var lane connector.LaneStats
	eventually.True(t, left(ctx), fmt.Sprintf("the line to reach %s (next %v)", state, next), func() bool {
		st, err := s.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Lines {
			if l.State == state && (next.IsZero() || l.NextAt.Equal(next)) {
				lane = l
				return true
			}
		}
		return false
	})
	return lane
}

func (s *system) messageCount() int {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return len(s.events.messages)
}

// TestPortalDown24h: the portal is down for a simulated day. The server tries on the exact schedule, moves the
// item to the dead-letter table 24 h after the first failure, deletes nothing before, and then lifts the block.
func TestPortalDown24h(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now().Truncate(time.Second)
	clk := clock.NewFake(t0)
	fp := &faultyPortal{clk: clk}
	s := startSystem(t, systemConfig{mode: modes()[0], serverDB: testdb.SQLite(t), portalDB: testdb.SQLite(t), clock: clk, portalWrap: fp.wrap, bfOptions: []bftest.Option{bftest.WithClock(clk)}})
	s.connect(ctx, t, lineID)
	fp.set("down")
	if _, err := s.bf.SendUserMessage(ctx, s.webhook, "conv-down", "29:u", "are you there?"); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 4 * time.Hour, 7 * time.Hour, 12 * time.Hour}
	ends := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 4 * time.Hour, 7 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	for i := range want {
		if i > 0 {
			clk.Set(t0.Add(want[i] - time.Millisecond))
			waitLane(ctx, t, s.server, "blocked", t0.Add(want[i]))
			if n := len(fp.times()); n != i {
				t.Fatalf("%d attempts before %v, want %d", n, want[i], i)
			}
			clk.Set(t0.Add(want[i]))
		}
		waitLane(ctx, t, s.server, "blocked", t0.Add(ends[i]))
		if got := fp.times(); len(got) != i+1 || !got[i].Equal(t0.Add(want[i])) {
			t.Fatalf("attempt %d at %v, want %v (all: %v)", i+1, got, t0.Add(want[i]), got)
		}
	}
	clk.Set(t0.Add(24*time.Hour - time.Millisecond))
	st, _ := s.server.QueueStats(ctx)
	if st.Pending != 1 || st.Dead != 0 {
		t.Fatalf("before 24 h: %+v", st)
	}
	clk.Set(t0.Add(24 * time.Hour))
	eventually.True(t, left(ctx), "a dead letter after 24 h", func() bool {
		st, _ = s.server.QueueStats(ctx)
		return st.Dead == 1 && st.Pending == 0
	})
	dead, err := s.server.DeadLetters(ctx, connector.QueueFilter{})
	if err != nil || len(dead) != 1 || !dead[0].DeadAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("dead letters: %+v %v", dead, err)
	}
	if s.messageCount() != 0 {
		t.Fatal("the portal fired an event while it was down")
	}
	// The block is lifted: the portal is back and the next message goes through at once.
	fp.set("")
	if _, err := s.bf.SendUserMessage(ctx, s.webhook, "conv-down", "29:u", "hello again"); err != nil {
		t.Fatal(err)
	}
	s.events.wait(ctx, t, "the message after the dead letter", func() bool { return len(s.events.messages) == 1 })
	s.queueEmpty(ctx, t)
}

// TestPortalFaults: a portal answering 500, OK:false or hanging without an answer, and a legacy portal
// accepting without confirming (past confirmTimeout) or confirming half a batch, blocks the line for the
// first period; when it recovers every message arrives and fires its event exactly once. A current portal
// has no confirmations to withhold: its faults are those of its answer, and it never calls setStatusDelivered.
func TestPortalFaults(t *testing.T) {
	for _, tc := range []struct {
		fault   string
		profile wire.Profile
	}{
		{"500", wire.Legacy}, {"okfalse", wire.Legacy}, {"hang", wire.Legacy}, {"noconfirm", wire.Legacy}, {"half", wire.Legacy},
		{"500", wire.Current}, {"okfalse", wire.Current}, {"hang", wire.Current},
	} {
		fault := tc.fault
		t.Run(tc.profile.String()+"/"+fault, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			t0 := time.Now().Truncate(time.Second)
			clk := clock.NewFake(t0)
			fp := &faultyPortal{clk: clk}
			cf := &confirmFault{}
			cfg := systemConfig{mode: modes()[1], profile: tc.profile, serverDB: testdb.SQLite(t), portalDB: testdb.SQLite(t),
				clock: clk, bfOptions: []bftest.Option{bftest.WithClock(clk)}, batch: 10, confirm: 30 * time.Second,
				sendTO: 500 * time.Millisecond, portalWrap: fp.wrap}
			if tc.profile == wire.Legacy {
				cfg.confirmWrap = func(c portal.Confirmer) portal.Confirmer { cf.next = c; return cf }
			}
			s := startSystem(t, cfg)
			s.connect(ctx, t, lineID)
			switch fault {
			case "noconfirm":
				cf.mode.Store("none")
			case "half":
				cf.mode.Store("half")
			default:
				fp.set(fault)
			}
			// The dispatcher sends as soon as the first item is queued; hold it back with the fault, then queue more.
			const n = 10
			for i := 0; i < n; i++ {
				if _, err := s.bf.SendUserMessage(ctx, s.webhook, "conv-fault", "29:u", fmt.Sprintf("message %d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if fault == "noconfirm" || fault == "half" {
				// Accepted but not (fully) confirmed: the line waits for the confirmation until confirmTimeout.
				lane := waitLane(ctx, t, s.server, "awaiting", time.Time{})
				clk.Set(lane.NextAt)
			}
			lane := waitLane(ctx, t, s.server, "blocked", time.Time{})
			if lane.Attempts < 1 || lane.Pending == 0 {
				t.Fatalf("blocked lane: %+v", lane)
			}
			// Recover and let the block end.
			fp.set("")
			cf.mode.Store("")
			clk.Set(lane.NextAt)
			s.events.wait(ctx, t, "all messages", func() bool { return len(s.events.messages) >= n })
			s.queueEmpty(ctx, t)
			seen := map[string]int{}
			s.events.mu.Lock()
			for _, m := range s.events.messages {
				seen[m.MessageID]++
			}
			total := len(s.events.messages)
			s.events.mu.Unlock()
			if total != n || len(seen) != n {
				t.Fatalf("%d events for %d distinct messages, want %d exactly once", total, len(seen), n)
			}
			s.drained(ctx, t)
			s.checkAcknowledgement(ctx, t)
		})
	}
}

// TestBotFrameworkFailures: the Bot Framework service answers 429 (with Retry-After) and 503 before it accepts:
// the operator's reply arrives once and its delivery status reaches the portal. A 500 is not retried: the portal
// gets a receivingError for that message instead.
func TestBotFrameworkFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSystem(t, systemConfig{mode: modes()[0], serverDB: testdb.SQLite(t), portalDB: testdb.SQLite(t)})
	s.connect(ctx, t, lineID)
	if _, err := s.bf.SendUserMessage(ctx, s.webhook, "conv-bf", "29:u", "hi"); err != nil {
		t.Fatal(err)
	}
	s.events.wait(ctx, t, "the customer's message", func() bool { return len(s.events.messages) == 1 })
	s.events.mu.Lock()
	virtual := s.events.messages[0].Connector
	s.events.mu.Unlock()
	reply := func(id, text string) {
		t.Helper()
		err := s.client.SendMessage(ctx, []openlines.OutgoingMessage{{
			IM: openlines.IMRef{ChatID: "5", MessageID: id}, Message: openlines.OutgoingContent{UserID: "1", Text: text},
			Chat: openlines.ChatRef{ID: "conv-bf"},
		}}, client.Connector(virtual), client.Line(lineID))
		if err != nil {
			t.Fatal(err)
		}
	}
	sends := func() (accepted, refused int) {
		// A refused call is recorded before its path is read, so it has no Op.
		for _, r := range s.bf.Records() {
			switch {
			case !r.Accepted():
				refused++
			case r.Op == bftest.OpSend:
				accepted++
			}
		}
		return
	}

	s.bf.Fail(bftest.Failure{Status: http.StatusTooManyRequests, RetryAfter: "0", Times: 1})
	s.bf.Fail(bftest.Failure{Status: http.StatusServiceUnavailable, Times: 1})
	reply("900", "we are here")
	s.events.wait(ctx, t, "the delivery status", func() bool { return len(s.events.deliveries) == 1 })
	if a, r := sends(); a != 1 || r != 2 {
		t.Fatalf("sends at the fake: %d accepted, %d refused; want 1 and 2", a, r)
	}

	s.bf.Fail(bftest.Failure{Status: http.StatusInternalServerError, Times: 1})
	reply("901", "this one fails")
	s.events.wait(ctx, t, "the receivingError", func() bool { return len(s.events.errors) == 1 })
	s.events.mu.Lock()
	e := s.events.errors[0]
	s.events.mu.Unlock()
	if e.ChatID != "5" || e.MessageID != "901" { // the portal's own ids (docs/protocol.md §7)
		t.Errorf("error event: %+v", e)
	}
	if a, r := sends(); a != 1 || r != 3 {
		t.Fatalf("sends at the fake: %d accepted, %d refused; want 1 and 3", a, r)
	}
	s.queueEmpty(ctx, t)
}

// TestReRegisterMovesBot: the same bot registered on another line moves there; the old line gets
// deactivateConnector (DATA an empty list, stubbed as the portal's generation stubs it) and its status is
// ERROR at the portal. In both generations.
func TestReRegisterMovesBot(t *testing.T) {
	for _, p := range profiles() {
		t.Run(p.String(), func(t *testing.T) { testReRegisterMovesBot(t, p) })
	}
}

func testReRegisterMovesBot(t *testing.T, profile wire.Profile) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := startSystem(t, systemConfig{mode: modes()[0], profile: profile, serverDB: testdb.SQLite(t), portalDB: testdb.SQLite(t)})
	s.connect(ctx, t, "1")
	s.connect(ctx, t, "2")
	s.events.wait(ctx, t, "deactivateConnector at line 1", func() bool {
		for _, st := range s.events.statuses {
			if st.Line == "1" && st.Status.Error {
				return true
			}
		}
		return false
	})
	st, _, err := s.portal.LineStatus(ctx, botframework.ID, "1")
	if err != nil || !st.Error {
		t.Fatalf("status of line 1: %+v %v", st, err)
	}
	deact := s.pushes.wait(ctx, t, "the deactivateConnector push", openlines.CommandDeactivateConnector, func(l []packet) bool { return len(l) > 0 })
	if len(deact) != 1 || deact[0].line != "1" || deact[0].connector != botframework.ID || !deact[0].ok() {
		t.Errorf("deactivateConnector pushes: %+v", deact)
	}
	s.checkStubs(t)
	// The bot now talks to line 2.
	if _, err := s.bf.SendUserMessage(ctx, s.webhook, "conv-moved", "29:u", "which line?"); err != nil {
		t.Fatal(err)
	}
	s.events.wait(ctx, t, "a message on line 2", func() bool { return len(s.events.messages) == 1 })
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	if got := s.events.messages[0].Line; got != "2" {
		t.Fatalf("message on line %q, want 2", got)
	}
}
