package connector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
)

// newTestServer starts a server for portal p with cfg's other fields.
func newTestServer(t testing.TB, p *fakePortal, cfg Config) *Server {
	t.Helper()
	if p != nil {
		cfg.Sites = append(cfg.Sites, p.site())
	}
	cfg.AllowPrivateNetworks = true // the test portals listen on 127.0.0.1
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Close() })
	if p != nil {
		p.setServer(s.PortalEndpoint())
	}
	return s
}

// settle waits until no line is ready, every worker of s waits and no dispatch round ran for quiet (5 ms):
// the polls of eventually.True see no ready line, the same round count and all workers waiting over that
// span. The ready check covers the instant between a timer firing (a fake clock moved past a block's end)
// and its worker waking, when the workers still all look idle.
func settle(t testing.TB, s *Server) {
	t.Helper()
	const quiet = 5 * time.Millisecond
	last, since := int64(-1), time.Now()
	eventually.True(t, 10*time.Second, "the server to settle", func() bool {
		r := s.rounds.Load()
		ready, err := s.store.anyReady(context.Background())
		if err != nil || ready || s.waiting.Load() != int32(s.cfg.Workers) || r != last {
			last, since = r, time.Now()
			return false
		}
		return time.Since(since) >= quiet
	})
}

// eachDB runs fn on SQLite (a temporary file), MariaDB and PostgreSQL (a fresh database each; skipped loudly
// without OLCTL_TEST_MYSQL_DSN or OLCTL_TEST_POSTGRES_DSN) with the DSN to give the server.
func eachDB(t *testing.T, fn func(t *testing.T, dsn string)) { testdb.EachDSN(t, fn) }

func queueLen(t testing.TB, s *Server) int {
	t.Helper()
	st, err := s.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending
}

func TestEndToEndEcho(t *testing.T) {
	eachDB(t, testEndToEndEcho)
}

func testEndToEndEcho(t *testing.T, dsn string) {
	for _, async := range []bool{false, true} {
		name := "confirm-before-answer"
		if async {
			name = "confirm-after-answer"
		}
		t.Run(name, func(t *testing.T) {
			p := newFakePortal(t, "licence-key-1", nil)
			p.async.Store(async)
			s := newTestServer(t, p, Config{Queue: Policy{Batch: 10}, DSN: dsn, PollInterval: 50 * time.Millisecond})
			line := "7"
			if async { // the same database: another line, or its dedup keys would drop the items
				line = "8"
			}
			hook := p.connect("echo.test", line, nil)
			for i := 0; i < 5; i++ {
				if code, body := postWebhook(t, hook, echoItems("c1", i*7, 7)); code != 200 {
					t.Fatalf("webhook: %d %s", code, body)
				}
			}
			eventually.True(t, 10*time.Second, "35 events", func() bool { return len(p.Events()) == 35 })
			eventually.True(t, 10*time.Second, "an empty queue", func() bool { return queueLen(t, s) == 0 })
			for i, e := range p.Events() {
				if e.Msg != itoa(i) || e.Connector != "echo.test" || e.Line != line || e.Chat != "c1" {
					t.Fatalf("event %d = %+v", i, e)
				}
			}
			for _, pk := range p.Packets() {
				if len(pk.Items) > 10 {
					t.Errorf("a packet carried %d items, batch is 10", len(pk.Items))
				}
			}
			// A retried webhook (same ids) is queued once.
			code, body := postWebhook(t, hook, echoItems("c1", 0, 7))
			var r struct{ DATA struct{ QUEUED int } }
			_ = json.Unmarshal(body, &r)
			if code != 200 || r.DATA.QUEUED != 0 {
				t.Errorf("retried webhook: %d %s", code, body)
			}
		})
	}
}

func itoa(i int) string { return jsonNumber(i) }

func jsonNumber(i int) string { b, _ := json.Marshal(i); return string(b) }

var _ = clock.System
