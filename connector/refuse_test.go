package connector

import (
	"context"
	"fmt"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestRefusedItemAloneIsDeadLettered: a portal refuses every packet that holds a poisoned item (an HTTP
// 500, or OK:false). The server splits the refused packets down to the item, dead-letters it alone (after
// its retries on the fake clock when the answer is transient) and delivers every other item of its line
// once and in order, at a cost of O(log n) packets per poisoned item; another line of the portal is not
// held up. Both generations, the item at the head, inside or at the end of a batch, two in one line.
func TestRefusedItemAloneIsDeadLettered(t *testing.T) {
	for _, version := range []string{wire.CurrentVersion, wire.LegacyVersion} {
		for _, tc := range []struct {
			name   string
			batch  int
			items  int
			poison []int
			status int
			code   wire.Code
		}{
			{"HTTP 500 inside", 50, 120, []int{37}, http.StatusInternalServerError, ""},
			{"INTERNAL_ERROR at the head", 50, 120, []int{0}, 0, wire.CodeInternal},
			{"BAD_PACKET last of a batch", 50, 120, []int{49}, 0, wire.CodeBadPacket},
			{"HTTP 400, two in a line", 50, 120, []int{3, 80}, http.StatusBadRequest, ""},
			{"INTERNAL_ERROR, batch 256", 256, 256, []int{200}, 0, wire.CodeInternal},
		} {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				testRefusedItem(t, version, tc.batch, tc.items, tc.poison, tc.status, tc.code)
			})
		}
	}
}

func testRefusedItem(t *testing.T, version string, batch, items int, poison []int, status int, code wire.Code) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-poison", clk)
	p.version.Store(version)
	rule := &poisonRule{msgs: map[string]bool{}, status: status, code: code}
	for _, i := range poison {
		rule.msgs[itoa(i)] = true
	}
	p.poison.Store(rule)
	s := newTestServer(t, p, Config{Clock: clk, Queue: Policy{Batch: batch}})
	bad := p.connect("echo", "1", nil)
	good := p.connect("echo", "2", nil)
	if code, body := postWebhook(t, bad, echoItems("c", 0, items)); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	if code, body := postWebhook(t, good, echoItems("d", 1000, 30)); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	want := items - len(poison) + 30
	runClock(t, s, clk, "every item but the poisoned", func() bool { return len(p.Events()) == want && queueLen(t, s) == 0 })
	ctx := context.Background()
	dead, err := s.DeadLetters(ctx, QueueFilter{})
	if err != nil || len(dead) != len(poison) {
		t.Fatalf("dead letters %+v %v, want messages %v", dead, err, poison)
	}
	for i, d := range dead {
		if d.MessageID != itoa(poison[i]) || d.Line != "1" {
			t.Errorf("dead letter %d: %+v", i, d)
		}
	}
	next := map[string]int{"1": 0, "2": 1000}
	skip := map[int]bool{}
	for _, i := range poison {
		skip[i] = true
	}
	for _, e := range p.Events() {
		for skip[next[e.Line]] && e.Line == "1" {
			next[e.Line]++
		}
		if e.Msg != itoa(next[e.Line]) {
			t.Fatalf("line %s: message %s arrived where %d was due", e.Line, e.Msg, next[e.Line])
		}
		next[e.Line]++
	}
	if _, _, dups, _ := p.counts(); dups != 0 {
		t.Errorf("%d items arrived twice", dups)
	}
	sent := 0
	for _, pk := range p.Packets() {
		if pk.Command == openlines.CommandReceivingMessage && pk.Line == "1" {
			sent++
		}
	}
	// Without the poison the line takes ceil(items/batch) packets; each poisoned item may cost its refused
	// packet, one packet per halving of the batch (two while the halves alternate), its retries alone after
	// a transient answer, and the probe behind it.
	plain := (items + batch - 1) / batch
	bound := plain + len(poison)*(2*bits.Len(uint(batch))+2+len(DefaultRetryAlone))
	if sent > bound {
		t.Errorf("%d packets for line 1, over %d (%d without the poison)", sent, bound, plain)
	}
	t.Logf("%s: %d packets for %d items with %d poisoned (%d without)", version, sent, items, len(poison), plain)
	if st, _ := s.QueueStats(ctx); st.Blocked != 0 || st.Dead != len(poison) {
		t.Errorf("queue %+v", st)
	}
}

// TestPassingRefusal: a portal that refuses one packet and then takes everything (INTERNAL_ERROR for a
// moment): the search sends the halves, they are taken, and nothing is dead-lettered or sent twice.
func TestPassingRefusal(t *testing.T) {
	for _, version := range []string{wire.CurrentVersion, wire.LegacyVersion} {
		t.Run(version, func(t *testing.T) {
			p := newFakePortal(t, "key-flaky", nil)
			p.version.Store(version)
			s := newTestServer(t, p, Config{})
			hook := p.connect("echo", "1", nil)
			p.flaky.Store(1)
			postWebhook(t, hook, echoItems("c", 0, 120))
			eventually.True(t, 10*time.Second, "every item", func() bool { return len(p.Events()) == 120 && queueLen(t, s) == 0 })
			for i, e := range p.Events() {
				if e.Msg != itoa(i) {
					t.Fatalf("event %d is message %s", i, e.Msg)
				}
			}
			if st, _ := s.QueueStats(context.Background()); st.Dead != 0 || st.Blocked != 0 {
				t.Errorf("queue %+v", st)
			}
			if n := len(p.attemptTimes()); n > 3+2*bits.Len(50) {
				t.Errorf("%d packets for 120 items", n)
			}
		})
	}
}

// TestRefusedByEveryPacketBlocksTheLine: a portal that refuses every packet, whatever its items, is failing
// as a whole: the search ends with the head refused alone and the items behind it refused too, the line is
// blocked on the schedule, and when the schedule ends the line's items go to the dead letters together as
// for any failing portal. Nothing is dead-lettered before.
func TestRefusedByEveryPacketBlocksTheLine(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-refuse-all", clk)
	p.version.Store(wire.CurrentVersion)
	s := newTestServer(t, p, Config{Clock: clk, Queue: Policy{Schedule: []time.Duration{time.Minute, time.Minute}}})
	hook := p.connect("echo", "1", nil)
	p.refuse.Store(true) // CONNECTOR_PROXY_NO_ADD_USER to every packet
	postWebhook(t, hook, echoItems("c", 0, 20))
	eventually.True(t, 5*time.Second, "the line blocked", func() bool {
		st, _ := s.QueueStats(context.Background())
		return st.Blocked == 1
	})
	settle(t, s)
	ctx := context.Background()
	if dead, _ := s.DeadLetters(ctx, QueueFilter{}); len(dead) != 0 {
		t.Fatalf("%d dead letters after the first attempt", len(dead))
	}
	first := len(p.attemptTimes())
	if first > 2*bits.Len(20)+2 {
		t.Errorf("%d packets in the first attempt", first)
	}
	clk.Set(t0.Add(time.Minute))
	eventually.True(t, 5*time.Second, "the second attempt", func() bool { return len(p.attemptTimes()) > first })
	settle(t, s)
	if dead, _ := s.DeadLetters(ctx, QueueFilter{}); len(dead) != 0 {
		t.Fatalf("%d dead letters after the second attempt", len(dead))
	}
	clk.Set(t0.Add(2 * time.Minute))
	eventually.True(t, 5*time.Second, "the dead letters", func() bool {
		dead, _ := s.DeadLetters(ctx, QueueFilter{})
		return len(dead) == 20
	})
}

// TestUnconfirmedItemAloneIsDeadLettered: a legacy portal takes every packet but never confirms one item.
// The line goes on (the items behind it go out with each attempt and are confirmed), and when the schedule
// ends that item alone moves to the dead letters; the line is served at once afterwards.
func TestUnconfirmedItemAloneIsDeadLettered(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-unconfirmed", clk)
	p.version.Store(wire.LegacyVersion)
	p.poison.Store(&poisonRule{msgs: map[string]bool{"3": true}})
	s := newTestServer(t, p, Config{Clock: clk, Workers: 1,
		Queue: Policy{Batch: 10, ConfirmTimeout: 30 * time.Second, Schedule: []time.Duration{time.Minute, time.Minute}}})
	hook := p.connect("echo", "1", nil)
	ctx := context.Background()
	state := func() LaneStats {
		st, err := s.QueueStats(ctx)
		if err != nil || len(st.Lines) != 1 {
			t.Fatalf("stats %+v %v", st, err)
		}
		return st.Lines[0]
	}
	postWebhook(t, hook, echoItems("c", 0, 10))
	eventually.True(t, 5*time.Second, "9 confirmed", func() bool { return len(p.Events()) == 9 && queueLen(t, s) == 1 })
	settle(t, s)
	postWebhook(t, hook, echoItems("c", 10, 5)) // queued behind the unconfirmed item
	// The confirmation deadline (30 s), a block of 1 min; the attempt at 1m30 carries the 5 new items too.
	for i, at := range []time.Duration{30 * time.Second, 90 * time.Second, 2 * time.Minute} {
		clk.Set(t0.Add(at))
		settle(t, s)
		if l := state(); i < 2 && l.State != "blocked" && l.State != "awaiting" {
			t.Fatalf("at %v: %+v", at, l)
		}
	}
	if n := len(p.Events()); n != 14 {
		t.Fatalf("%d events before the schedule ended, want 14", n)
	}
	if dead, _ := s.DeadLetters(ctx, QueueFilter{}); len(dead) != 0 {
		t.Fatalf("dead letters before the schedule ended: %+v", dead)
	}
	clk.Set(t0.Add(3 * time.Minute)) // the last block ends
	eventually.True(t, 5*time.Second, "the unconfirmed item in the dead letters", func() bool {
		dead, _ := s.DeadLetters(ctx, QueueFilter{})
		return len(dead) == 1 && dead[0].MessageID == "3" && queueLen(t, s) == 0
	})
	postWebhook(t, hook, echoItems("c", 20, 2))
	eventually.True(t, 5*time.Second, "the line served again", func() bool { return len(p.Events()) == 16 && queueLen(t, s) == 0 })
	for i, e := range p.Events() {
		if want := []int{0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20, 21}[i]; e.Msg != itoa(want) {
			t.Fatalf("event %d is message %s, want %d", i, e.Msg, want)
		}
	}
	if st, _ := s.QueueStats(ctx); st.Dead != 1 || st.Blocked != 0 {
		t.Errorf("queue %+v", st)
	}
}

// TestRefusal: which failures are split (the portal answered and may be refusing one item) and which
// block the line as they are (no answer, a busy portal, a refusal of the line or the credentials); and
// which refusals name the item, so that it is not sent alone again (bad), and which may pass.
func TestRefusal(t *testing.T) {
	resp := func(codes ...wire.Code) error {
		re := &wire.ResponseError{}
		for _, c := range codes {
			re.Errors = append(re.Errors, wire.Errorf(c, ""))
		}
		return re
	}
	for _, tc := range []struct {
		err       error
		want, bad bool
	}{
		{&statusError{status: 500}, true, false},
		{&statusError{status: 501}, true, false},
		{&statusError{status: 400}, true, true},
		{&statusError{status: 403}, true, true},
		{&statusError{status: 422}, true, true},
		{&statusError{status: 503}, false, false},
		{&statusError{status: 502}, false, false},
		{&statusError{status: 429}, false, true},
		{&statusError{status: 408}, false, true},
		{resp(wire.CodeInternal), true, false},
		{resp(wire.CodeBadPacket), true, true},
		{resp(wire.CodeNoAddUser), true, true},
		{resp(wire.CodeUnsupportedType, wire.CodeBadPacket), true, true},
		{resp(wire.CodeBadPacket, wire.CodeInternal), true, false},
		{resp(wire.CodeAnswerMalformed), true, false},
		{resp(wire.CodeEmptyServerResponse), true, false},
		{resp(wire.CodeUndefined), true, false},
		{resp(wire.Code("SOMETHING_NEW")), true, false},
		{resp(), true, false},
		{resp(wire.CodeNotActiveLine), false, false},
		{resp(wire.CodeLicence), false, false},
		{resp(wire.CodeInternal, wire.CodeReplay), false, false},
		{fmt.Errorf("post: %w", &BlockedError{Addr: "127.0.0.1:80"}), false, false},
		{context.DeadlineExceeded, false, false},
	} {
		if got := refusal(tc.err); got != tc.want {
			t.Errorf("refusal(%v) = %v, want %v", tc.err, got, tc.want)
		}
		// itemRefused is asked of refusals only; 408 and 429 are 4xx, but never refusals.
		if got := itemRefused(tc.err); got != tc.bad {
			t.Errorf("itemRefused(%v) = %v, want %v", tc.err, got, tc.bad)
		}
	}
}

// TestRetryAloneChecked: Policy.RetryAlone takes positive waits only.
func TestRetryAloneChecked(t *testing.T) {
	for _, waits := range [][]time.Duration{{0}, {time.Second, -time.Second}} {
		if _, err := NewServer(Config{Queue: Policy{RetryAlone: waits}}); err == nil || !strings.Contains(err.Error(), "RetryAlone") {
			t.Errorf("RetryAlone %v: err = %v", waits, err)
		}
	}
	p, err := Policy{}.withDefaults()
	if err != nil || !slices.Equal(p.RetryAlone, []time.Duration{20 * time.Second, 40 * time.Second}) {
		t.Errorf("default RetryAlone %v %v", p.RetryAlone, err)
	}
}

// runClock settles s and moves clk on by 10 s at a time until cond holds (at most an hour of the clock):
// the waits of the dispatcher (RetryAlone, the schedule) pass on the fake clock, never in real time.
func runClock(t *testing.T, s *Server, clk *clock.Fake, what string, cond func() bool) {
	t.Helper()
	for start := clk.Now(); ; clk.Advance(10 * time.Second) {
		settle(t, s)
		if cond() {
			return
		}
		if clk.Now().Sub(start) >= time.Hour {
			t.Fatalf("no %s after an hour of the clock", what)
		}
	}
}

// TestTransientRefusalRetriesAlone: a portal takes the other packets of a line but refuses the ones holding
// message 37 (or the head, 0). A transient answer (HTTP 500, INTERNAL_ERROR) holds the line and sends the
// item alone again after 20 s and 40 s more (DefaultRetryAlone): one taken meanwhile is delivered in order
// and nothing is dead-lettered; one refused the third time, at 60 s, is dead-lettered when the portal takes
// the items behind it, sent without it then. An answer naming the item (BAD_PACKET, HTTP 400) dead-letters
// it at its first refusal alone. Nothing behind the item reaches the portal before it is delivered or
// dead-lettered. Both generations.
func TestTransientRefusalRetriesAlone(t *testing.T) {
	const forever = time.Duration(0)
	for _, version := range []string{wire.CurrentVersion, wire.LegacyVersion} {
		for _, tc := range []struct {
			name   string
			poison int
			status int
			code   wire.Code
			until  time.Duration // the portal refuses the item until then (0: for ever)
			alone  []time.Duration
			dead   bool
		}{
			{"HTTP 500 for 20 s", 37, http.StatusInternalServerError, "", 20 * time.Second, []time.Duration{0, 20 * time.Second}, false},
			{"INTERNAL_ERROR for 60 s", 37, 0, wire.CodeInternal, time.Minute, []time.Duration{0, 20 * time.Second, time.Minute}, false},
			{"INTERNAL_ERROR for ever", 37, 0, wire.CodeInternal, forever, []time.Duration{0, 20 * time.Second, time.Minute}, true},
			{"HTTP 500 for ever at the head", 0, http.StatusInternalServerError, "", forever, []time.Duration{0, 20 * time.Second, time.Minute}, true},
			{"BAD_PACKET", 37, 0, wire.CodeBadPacket, forever, []time.Duration{0}, true},
			{"HTTP 400", 37, http.StatusBadRequest, "", forever, []time.Duration{0}, true},
			{"BAD_PACKET at the head", 0, 0, wire.CodeBadPacket, forever, []time.Duration{0}, true},
		} {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				testTransientRefusal(t, "", version, tc.poison, tc.status, tc.code, tc.until, tc.alone, tc.dead)
			})
		}
	}
}

// TestTransientRefusalEachDB: the held line and its dead letter on each database.
func TestTransientRefusalEachDB(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		testTransientRefusal(t, dsn, wire.LegacyVersion, 37, 0, wire.CodeInternal, 0, []time.Duration{0, 20 * time.Second, time.Minute}, true)
	})
}

func testTransientRefusal(t *testing.T, dsn, version string, poison, status int, code wire.Code, until time.Duration, alone []time.Duration, dead bool) {
	const items = 120
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-transient", clk)
	p.version.Store(version)
	rule := &poisonRule{msgs: map[string]bool{itoa(poison): true}, status: status, code: code}
	if until > 0 {
		rule.until = t0.Add(until)
	}
	p.poison.Store(rule)
	s := newTestServer(t, p, Config{Clock: clk, DSN: dsn})
	hook := p.connect("echo", "1", nil)
	if code, body := postWebhook(t, hook, echoItems("c", 0, items)); code != http.StatusOK {
		t.Fatalf("webhook: %d %s", code, body)
	}
	ctx := context.Background()
	want := items
	if dead {
		want--
	}
	runClock(t, s, clk, "every item delivered", func() bool {
		letters, err := s.DeadLetters(ctx, QueueFilter{})
		if err != nil {
			t.Fatal(err)
		}
		events := p.Events()
		if len(letters) == 0 && !slices.ContainsFunc(events, func(e event) bool { return e.Msg == itoa(poison) }) {
			// The item is neither delivered nor dead: nothing behind it may be.
			for _, e := range events {
				if n, _ := strconv.Atoi(e.Msg); n > poison {
					t.Fatalf("at %v message %s arrived while %d was held", clk.Now().Sub(t0), e.Msg, poison)
				}
			}
		}
		return len(events) == want && queueLen(t, s) == 0
	})
	for i, e := range p.Events() {
		if n := i + btoi(dead && i >= poison); e.Msg != itoa(n) {
			t.Fatalf("event %d is message %s, want %d", i, e.Msg, n)
		}
	}
	letters, err := s.DeadLetters(ctx, QueueFilter{})
	if err != nil || len(letters) != btoi(dead) || (dead && letters[0].MessageID != itoa(poison)) {
		t.Fatalf("dead letters %+v %v", letters, err)
	}
	var got []time.Duration
	sent := 0
	for _, pk := range p.Packets() {
		if pk.Command != openlines.CommandReceivingMessage {
			continue
		}
		sent++
		if len(pk.Items) == 1 && scalarString(path(pk.Items[0], "message", "id")) == itoa(poison) {
			got = append(got, pk.At.Sub(t0))
		}
	}
	if !slices.Equal(got, alone) {
		t.Errorf("the item went alone at %v, want %v", got, alone)
	}
	if _, _, dups, _ := p.counts(); dups != 0 {
		t.Errorf("%d items arrived twice", dups)
	}
	if st, _ := s.QueueStats(ctx); st.Blocked != 0 {
		t.Errorf("queue %+v", st)
	}
	t.Logf("%d packets for %d items; the item alone at %v", sent, items, got)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTransientRefusalOfEveryPacket: a portal that answers HTTP 500 to every packet of a line is failing as
// a whole. The head goes alone at 0, 20 s and 60 s, the items behind it without it at 60 s are refused too,
// and the line is blocked on the schedule (1 min, 1 min): the head goes alone once more at 2 min, and when
// the last block ends, at 3 min, the line's 20 items go to the dead letters together, none before.
func TestTransientRefusalOfEveryPacket(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-transient-all", clk)
	p.version.Store(wire.CurrentVersion)
	rule := &poisonRule{msgs: map[string]bool{}, status: http.StatusInternalServerError}
	for i := range 20 {
		rule.msgs[itoa(i)] = true
	}
	p.poison.Store(rule)
	s := newTestServer(t, p, Config{Clock: clk, Queue: Policy{Schedule: []time.Duration{time.Minute, time.Minute}}})
	hook := p.connect("echo", "1", nil)
	postWebhook(t, hook, echoItems("c", 0, 20))
	ctx := context.Background()
	runClock(t, s, clk, "the dead letters", func() bool {
		dead, err := s.DeadLetters(ctx, QueueFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 0 && (len(dead) != 20 || clk.Now().Before(t0.Add(3*time.Minute))) {
			t.Fatalf("at %v: %d dead letters", clk.Now().Sub(t0), len(dead))
		}
		return len(dead) == 20
	})
	var head []time.Duration
	for _, pk := range p.Packets() {
		if pk.Command == openlines.CommandReceivingMessage && len(pk.Items) == 1 && scalarString(path(pk.Items[0], "message", "id")) == "0" {
			head = append(head, pk.At.Sub(t0))
		}
	}
	if want := []time.Duration{0, 20 * time.Second, time.Minute, 2 * time.Minute}; !slices.Equal(head, want) {
		t.Errorf("the head went alone at %v, want %v", head, want)
	}
	if n := len(p.Events()); n != 0 {
		t.Errorf("%d events", n)
	}
	t.Logf("%d packets", len(p.attemptTimes()))
}
