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
	waitFor(t, 5*time.Second, "the first attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	clk.Set(t0.Add(time.Minute))
	waitFor(t, 5*time.Second, "the second attempt", func() bool { return len(p.attemptTimes()) == 2 })
	settle(t, s)
	p.down.Store(false)
	clk.Set(t0.Add(5 * time.Minute))
	waitFor(t, 5*time.Second, "the delivery", func() bool { return len(p.Events()) == 1 })
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
	if hooks := withMsg(recs, "connector: webhook"); len(hooks) != 1 || hooks[0]["queued"] != 1.0 || hooks[0]["status"] != 200.0 {
		t.Errorf("webhooks logged: %v", hooks)
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
	waitFor(t, 5*time.Second, "the attempt", func() bool { return len(p.attemptTimes()) == 1 })
	settle(t, s)
	clk.Set(t0.Add(time.Minute))
	waitFor(t, 5*time.Second, "the dead letters", func() bool {
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
