package connector

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/syncbuf"
	"github.com/olctl/olctl/wire"
)

// logRecords parses the JSON log lines of buf.
func logRecords(t *testing.T, buf *syncbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// withMsg returns the records whose message is msg.
func withMsg(recs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func jsonLogger(buf *syncbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestLogsNameTheLine: a failing line's log lines name its site and line, the attempt (of how many) and
// when the next is due; its recovery is logged with the failed attempts and how long it was down; at Debug
// every portal call and webhook is one line.
func TestLogsNameTheLine(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf syncbuf.Buffer
	p := newFakePortal(t, "key-logs", clk)
	s := newTestServer(t, p, Config{Clock: clk, Logger: jsonLogger(&buf),
		Queue: Policy{Schedule: []time.Duration{time.Minute, 4 * time.Minute, 10 * time.Minute}}})
	hook := p.connect("echo", "7", nil)
	p.down.Store(true)
	postWebhook(t, hook, echoItems("c", 0, 1))
	eventually.True(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	clk.Set(t0.Add(time.Minute))
	eventually.True(t, 5*time.Second, "the second attempt", func() bool { return len(p.attemptTimes()) == 2 })
	settle(t, s)
	p.down.Store(false)
	clk.Set(t0.Add(5 * time.Minute))
	eventually.True(t, 5*time.Second, "the delivery", func() bool { return len(p.Events()) == 1 })
	settle(t, s)

	recs := logRecords(t, &buf)
	failed := withMsg(recs, "connector: send failed; line blocked")
	if len(failed) != 2 {
		t.Fatalf("%d send failures logged:\n%s", len(failed), buf.String())
	}
	for i, want := range []struct {
		attempt float64
		next    time.Time
	}{{1, t0.Add(time.Minute)}, {2, t0.Add(5 * time.Minute)}} {
		r := failed[i]
		if r["level"] != "WARN" || r["site"] != p.URL() || r["line"] != "7" || r["connector"] != "echo" || r["attempt"] != want.attempt ||
			r["of"] != 3.0 || r["next_attempt"] != want.next.Format(time.RFC3339) || r["command"] != "receivingMessage" || r["err"] == "" {
			t.Errorf("failure %d: %v", i+1, r)
		}
	}
	rec := withMsg(recs, "connector: line recovered")
	if len(rec) != 1 || rec[0]["level"] != "INFO" || rec[0]["site"] != p.URL() || rec[0]["line"] != "7" ||
		rec[0]["failed_attempts"] != 2.0 || rec[0]["down_for"] != float64(5*time.Minute) {
		t.Fatalf("recovery: %v\n%s", rec, buf.String())
	}
	calls := withMsg(recs, "connector: portal call")
	var methods []string
	for _, r := range calls {
		if r["level"] != "DEBUG" || r["site"] != p.URL() || r["code"] != "OK" {
			t.Errorf("portal call %v", r)
		}
		methods = append(methods, r["command"].(string))
	}
	if got := strings.Join(methods, " "); !strings.HasPrefix(got, "saveSettings testConnect register") || !strings.Contains(got, "setStatusDelivered") {
		t.Errorf("portal calls logged: %s", got)
	}
	if hooks := withMsg(recs, "connector: webhook"); len(hooks) != 1 || hooks[0]["site"] != p.URL() || hooks[0]["line"] != "7" ||
		hooks[0]["connector"] != "echo" || hooks[0]["items"] != 1.0 || hooks[0]["queued"] != 1.0 || hooks[0]["status"] != 200.0 ||
		hooks[0]["path"] != nil {
		t.Errorf("webhooks logged: %v", hooks)
	}
}

// TestLogsLineRecovered: each way a failed line comes back logs its recovery once, naming the site and
// the line and how long it was down since its first failure: the next attempt of the back-off schedule
// (with the attempts that failed), Retry (queue retry LINE) and the redrive of its dead letters (the
// schedule started anew: no failed attempts).
func TestLogsLineRecovered(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		schedule []time.Duration
		// recover brings the portal back, and the line with it, after its first attempt failed at t0.
		recover  func(t *testing.T, s *Server, p *fakePortal, clk *clock.Fake)
		attempts any // failed_attempts logged; nil: not logged
		down     time.Duration
	}{
		{"back-off", []time.Duration{time.Minute, time.Hour}, func(t *testing.T, s *Server, p *fakePortal, clk *clock.Fake) {
			p.down.Store(false)
			clk.Advance(time.Minute)
		}, 1.0, time.Minute},
		{"retry", []time.Duration{time.Hour}, func(t *testing.T, s *Server, p *fakePortal, clk *clock.Fake) {
			p.down.Store(false)
			clk.Advance(10 * time.Minute)
			if n, err := s.Retry(ctx, QueueFilter{Line: "9"}); err != nil || n != 1 {
				t.Fatalf("Retry = %d, %v; want 1", n, err)
			}
		}, nil, 10 * time.Minute},
		{"redrive", []time.Duration{time.Minute}, func(t *testing.T, s *Server, p *fakePortal, clk *clock.Fake) {
			clk.Advance(time.Minute) // the one block ends: the items are dead letters
			eventually.True(t, 5*time.Second, "the dead letters", func() bool {
				dead, _ := s.DeadLetters(ctx, QueueFilter{Limit: 10})
				return len(dead) == 2
			})
			settle(t, s)
			p.down.Store(false)
			clk.Advance(5 * time.Minute)
			if n, err := s.RedriveDead(ctx, QueueFilter{Line: "9"}); err != nil || n != 2 {
				t.Fatalf("RedriveDead = %d, %v; want 2", n, err)
			}
		}, nil, 6 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			var buf syncbuf.Buffer
			p := newFakePortal(t, "key-recovered-"+tc.name, clk)
			s := newTestServer(t, p, Config{Clock: clk, Logger: jsonLogger(&buf), Queue: Policy{Schedule: tc.schedule}})
			hook := p.connect("echo", "9", nil)
			p.down.Store(true)
			postWebhook(t, hook, echoItems("c", 1, 2))
			eventually.True(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
			settle(t, s)
			if rec := withMsg(logRecords(t, &buf), "connector: line recovered"); len(rec) != 0 {
				t.Fatalf("recovered before it did: %v", rec)
			}
			tc.recover(t, s, p, clk)
			eventually.True(t, 5*time.Second, "the delivery", func() bool { return len(p.Events()) == 2 })
			settle(t, s)
			wantDelivered(t, p, "c", "1", "2")
			rec := withMsg(logRecords(t, &buf), "connector: line recovered")
			if len(rec) != 1 || rec[0]["level"] != "INFO" || rec[0]["site"] != p.URL() || rec[0]["line"] != "9" ||
				rec[0]["failed_attempts"] != tc.attempts || rec[0]["down_for"] != float64(tc.down) {
				t.Fatalf("recovery: %v\n%s", rec, buf.String())
			}
			// Delivered, the line has no failure left: the next item does not recover it again.
			postWebhook(t, hook, echoItems("c", 3, 1))
			eventually.True(t, 5*time.Second, "the next delivery", func() bool { return len(p.Events()) == 3 })
			settle(t, s)
			if rec := withMsg(logRecords(t, &buf), "connector: line recovered"); len(rec) != 1 {
				t.Fatalf("%d recoveries logged:\n%s", len(rec), buf.String())
			}
		})
	}
}

// TestLogsNameTheDeadLine: after the schedule's last attempt the log says when the items go to the dead
// letters, and the move names the site, the line and the attempts.
func TestLogsNameTheDeadLine(t *testing.T) {
	clk := clock.NewFake(t0)
	var buf syncbuf.Buffer
	p := newFakePortal(t, "key-dead-logs", clk)
	s := newTestServer(t, p, Config{Clock: clk, Logger: jsonLogger(&buf), Queue: Policy{Schedule: []time.Duration{time.Minute}}})
	hook := p.connect("echo", "8", nil)
	p.refuse.Store(true)
	postWebhook(t, hook, echoItems("c", 0, 2))
	eventually.True(t, 5*time.Second, "the attempt", func() bool { return len(p.attemptTimes()) >= 1 }) // the refused packet, its first item alone, the second alone
	settle(t, s)
	clk.Set(t0.Add(time.Minute))
	eventually.True(t, 5*time.Second, "the dead letters", func() bool {
		return len(withMsg(logRecords(t, &buf), "connector: schedule exhausted; items moved to the dead-letter table")) == 1
	})
	recs := logRecords(t, &buf)
	f := withMsg(recs, "connector: send failed; line blocked")
	if len(f) != 1 || f[0]["attempt"] != 1.0 || f[0]["dead_letters_at"] != t0.Add(time.Minute).Format(time.RFC3339) || f[0]["next_attempt"] != nil ||
		f[0]["err"] == nil || f[0]["err"] == "" {
		t.Fatalf("failure: %v", f)
	}
	d := withMsg(recs, "connector: schedule exhausted; items moved to the dead-letter table")[0]
	if d["level"] != "ERROR" || d["site"] != p.URL() || d["line"] != "8" || d["items"] != 2.0 || d["attempts"] != 1.0 ||
		d["failing_since"] != t0.Format(time.RFC3339) {
		t.Fatalf("dead letters: %v", d)
	}
}

// TestTestConnectNamesTheCause: a testConnect with an empty LINE tests only the portal; when the portal
// cannot be reached or refuses, FAILED_TO_TEST_CONNECTOR's message names the cause's code first.
func TestTestConnectNamesTheCause(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(p *fakePortal)
		cause string
	}{
		{"answers", func(*fakePortal) {}, ""},
		{"HTTP 503", func(p *fakePortal) { p.down.Store(true) }, "does not answer testConnect: NETWORK_ERROR: "},
		{"refuses", func(p *fakePortal) { p.refuse.Store(true) }, "does not answer testConnect: CONNECTOR_PROXY_NO_ADD_USER: refused by the test"},
		{"out of reach", func(p *fakePortal) { p.domain = closedPortalURL(t) }, "does not answer testConnect: NETWORK_ERROR: Post "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakePortal(t, "key-cause", nil)
			newTestServer(t, p, Config{})
			tc.setup(p)
			_, err := p.call(context.Background(), "testConnect", "echo", "")
			var re *wire.ResponseError
			switch {
			case tc.cause == "" && err != nil:
				t.Fatalf("testConnect: %v", err)
			case tc.cause == "":
			case !errors.As(err, &re) || re.Errors[0].Code != wire.CodeFailedTestConnector || !strings.Contains(re.Errors[0].Message, tc.cause):
				t.Fatalf("testConnect: %v, want FAILED_TO_TEST_CONNECTOR naming %q", err, tc.cause)
			}
		})
	}
}

// closedPortalURL is the base URL of a server that has been shut down.
func closedPortalURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
