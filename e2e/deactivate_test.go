package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestDeactivatedLineRefusedUntilReconnected: the bot is registered on line 2, so line 1 gets
// deactivateConnector and its gate shuts (docs/protocol.md §7). Line 1's old webhook is gone; while line 1 is
// being connected again (its settings saved at the server, a new webhook, the portal's line still
// deactivated) its messages are answered NOT_ACTIVE_LINE, fire nothing and are not confirmed, and the
// server keeps them and blocks the line for its first period. Once line 1 is connected again (the bot moves
// back, line 2 is deactivated in turn) the block ends and they are delivered, each once. On each database, in
// both generations.
func TestDeactivatedLineRefusedUntilReconnected(t *testing.T) {
	for _, db := range dbKinds() {
		for _, p := range profiles() {
			t.Run(db.name+"/"+p.String(), func(t *testing.T) {
				testDeactivatedLine(t, systemConfig{mode: modes()[0], profile: p, serverDB: db.open(t), portalDB: db.open(t)})
			})
		}
	}
}

func testDeactivatedLine(t *testing.T, cfg systemConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	cfg.clock, cfg.bfOptions = clk, []bftest.Option{bftest.WithClock(clk)}
	s := startSystem(t, cfg)
	const conv = "conv-deactivated"
	send := func(webhook, text string) string {
		t.Helper()
		id, err := s.bf.SendUserMessage(ctx, webhook, conv, "29:line-user", text)
		if err != nil {
			t.Fatalf("SendUserMessage(%q): %v", text, err)
		}
		return id
	}
	deactivated := func(line string) {
		t.Helper()
		s.events.wait(ctx, t, "deactivateConnector at line "+line, func() bool {
			for _, st := range s.events.statuses {
				if st.Line == line && st.Status.Error {
					return true
				}
			}
			return false
		})
	}

	old := s.connect(ctx, t, "1")
	a1 := send(old, "on line 1")
	s.events.wait(ctx, t, "the first message", func() bool { return len(s.events.messages) == 1 })
	s.connect(ctx, t, "2")
	deactivated("1")
	var werr *bftest.WebhookError
	if _, err := s.bf.SendUserMessage(ctx, old, conv, "29:line-user", "lost?"); !errors.As(err, &werr) || werr.StatusCode != http.StatusNotFound {
		t.Fatalf("the old webhook of line 1 answered %v, want 404", err)
	}

	// Line 1 is being connected again: its settings are saved, the portal's line is still deactivated.
	bf := []client.CallOption{client.Connector(botframework.ID), client.Line("1")}
	if err := s.client.SaveSettings(ctx, s.botSettings(), bf...); err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	info, err := s.client.InfoConnect(ctx, bf...)
	if err != nil {
		t.Fatalf("InfoConnect: %v", err)
	}
	hook, _ := info["URL_WEBHOOK"].(string)
	if st, _, err := s.portal.LineStatus(ctx, botframework.ID, "1"); err != nil || st.Open() {
		t.Fatalf("line 1 at the portal: %+v %v, want it shut", st, err)
	}
	b1 := send(hook, "refused 1")
	b2 := send(hook, "refused 2")
	s.pushes.wait(ctx, t, "NOT_ACTIVE_LINE", openlines.CommandReceivingMessage, func(l []packet) bool {
		for _, p := range l {
			if p.line == "1" && p.code() == string(wire.CodeNotActiveLine) {
				return true
			}
		}
		return false
	})
	lane := waitLaneOf(ctx, t, s.server, "1", "blocked")
	if lane.Pending != 2 || lane.Dead != 0 {
		t.Fatalf("line 1 at the server: %+v, want its two messages kept", lane)
	}
	for _, id := range []string{b1, b2} {
		if _, ok := s.events.message(id); ok {
			t.Fatalf("message %q fired on a deactivated line", id)
		}
	}
	if s.profile == wire.Legacy {
		got := confirmed(t, s.calls.list(openlines.MethodSetStatusDelivered))
		if got[conv+" "+b1] != 0 || got[conv+" "+b2] != 0 {
			t.Fatalf("the portal confirmed refused messages: %v", got)
		}
	}

	// Connected again: the bot moves back to line 1, whose block then ends.
	s.connect(ctx, t, "1")
	deactivated("2")
	if st, _, err := s.portal.LineStatus(ctx, botframework.ID, "1"); err != nil || !st.Open() {
		t.Fatalf("line 1 after the reconnection: %+v %v", st, err)
	}
	clk.Set(lane.NextAt)
	s.events.wait(ctx, t, "the kept messages", func() bool {
		n := 0
		for _, m := range s.events.messages {
			if (m.MessageID == b1 || m.MessageID == b2) && m.Line == "1" {
				n++
			}
		}
		return n == 2
	})
	s.drained(ctx, t)
	fired := s.events.fired()
	if len(fired) != 3 || fired[a1] != 1 || fired[b1] != 1 || fired[b2] != 1 {
		t.Errorf("fired %v, want %q, %q and %q once each", fired, a1, b1, b2)
	}
	s.checkAcknowledgement(ctx, t, conv+" "+a1, conv+" "+b1, conv+" "+b2)
	s.checkStubs(t)
}

// waitLaneOf waits until the queue of line is in state, and returns it.
func waitLaneOf(ctx context.Context, t *testing.T, s *connector.Server, line, state string) connector.LaneStats {
	t.Helper()
	var lane connector.LaneStats
	eventually.True(t, left(ctx), fmt.Sprintf("line %s to reach %s", line, state), func() bool {
		st, err := s.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range st.Lines {
			if l.Line == line && l.State == state {
				lane = l
				return true
			}
		}
		return false
	})
	return lane
}
