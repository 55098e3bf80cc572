package connector

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
)

// The crash and multi-process tests run servers as real processes: the test binary re-executes itself with
// OLCTL_CONNECTOR_CHILD=1 and TestMain turns it into a connector server configured by environment variables
// (test code only; the library reads none).
const childEnv = "OLCTL_CONNECTOR_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	atoi := func(k string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
			return n
		}
		return def
	}
	ms := func(k string, def int) time.Duration { return time.Duration(atoi(k, def)) * time.Millisecond }
	var sites []Site
	for _, k := range strings.Split(os.Getenv("CHILD_KEYS"), ",") {
		if k != "" {
			sites = append(sites, Site{LicenceKey: k})
		}
	}
	// CHILD_SCHEDULE_MS: every block of the schedule this long (a missed confirmation of a batch in flight at
	// a SIGKILL is retried soon instead of after the default minute).
	var schedule []time.Duration
	if d := ms("CHILD_SCHEDULE_MS", 0); d > 0 {
		schedule = slices.Repeat([]time.Duration{d}, len(DefaultSchedule))
	}
	s, err := NewServer(Config{
		Queue: Policy{Schedule: schedule, Batch: atoi("CHILD_BATCH", 50), LeaseTTL: ms("CHILD_LEASE_MS", 3000),
			ConfirmTimeout: ms("CHILD_CONFIRM_MS", 5000)},
		DSN: os.Getenv("CHILD_DSN"), Addr: os.Getenv("CHILD_ADDR"), Sites: sites, Workers: atoi("CHILD_WORKERS", 4),
		SendTimeout: ms("CHILD_SEND_MS", 2000), PollInterval: ms("CHILD_POLL_MS", 20),
		NoDispatch: os.Getenv("CHILD_NODISPATCH") == "1", AllowPrivateNetworks: true,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	s.Start()
	wait := proctest.Ready(s.URL())
	wait()
	_ = s.Close()
	return 0
}

// child is a connector server process.
type child struct {
	*proctest.Process
	url string
}

func startChild(t testing.TB, env ...string) *child {
	t.Helper()
	p := proctest.Start(t, append([]string{childEnv + "=1"}, env...), nil)
	c := &child{Process: p, url: p.URL}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CHILD_LOGS") != "" {
			t.Logf("child %s stderr:\n%s", c.url, c.Stderr())
		}
	})
	return c
}

func (c *child) endpoint() string { return c.url + DefaultServerPath }

// kill ends the process with SIGKILL and waits for it.
func (c *child) kill(testing.TB) { c.Kill() }

// checkOrder fails when the first occurrences of a line's messages are not in ascending order.
func checkOrder(t testing.TB, events []event) {
	t.Helper()
	last := map[string]int{}
	for _, e := range events {
		n, _ := strconv.Atoi(e.Msg)
		if prev, ok := last[e.Line]; ok && n <= prev {
			t.Fatalf("line %s: message %d after %d: order broken", e.Line, n, prev)
		}
		last[e.Line] = n
	}
}

// crashItems is the number of items of the crash test: 10 000 as the issue asks, fewer under the race
// detector (which slows the child processes several times) to keep the package test bounded.
func crashItems() int {
	if raceEnabled || testing.Short() {
		return 2000
	}
	return 10000
}

func TestCrashSafetyKill9(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		const lines, perHook, kills = 4, 100, 3
		total := crashItems()
		p := newFakePortal(t, "key-crash", nil)
		env := []string{"CHILD_DSN=" + dsn, "CHILD_KEYS=key-crash", "CHILD_SEND_MS=1000", "CHILD_LEASE_MS=1500",
			"CHILD_SCHEDULE_MS=300"}
		// Queue everything with a server that does not dispatch, one goroutine per line so that the order
		// of each line is defined; then kill it too.
		c := startChild(t, append(env, "CHILD_NODISPATCH=1")...)
		p.setServer(c.endpoint())
		hooks := make([]string, lines)
		for i := range hooks {
			hooks[i] = p.connect("echo", strconv.Itoa(i+1), nil)
		}
		var wg sync.WaitGroup
		for i, hook := range hooks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < total/lines; n += perHook {
					if code, body := postWebhook(t, hook, echoItems("chat-"+strconv.Itoa(i), n, perHook)); code != 200 {
						t.Errorf("webhook: %d %s", code, body)
						return
					}
				}
			}()
		}
		wg.Wait()
		c.kill(t)
		// Dispatch, killing the server with SIGKILL mid-stream each time it made some progress.
		step := total / (kills + 2)
		for k := 1; k <= kills; k++ {
			c = startChild(t, env...)
			p.setServer(c.endpoint())
			from := len(p.Events())
			eventually.True(t, 60*time.Second, fmt.Sprintf("progress before kill %d", k), func() bool { return len(p.Events()) >= from+step })
			c.kill(t)
			t.Logf("kill %d: SIGKILL at %d/%d events", k, len(p.Events()), total)
		}
		c = startChild(t, env...)
		p.setServer(c.endpoint())
		eventually.True(t, 60*time.Second, "every item at the portal", func() bool { return len(p.Events()) == total })
		st, err := Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		eventually.True(t, 30*time.Second, "an empty queue", func() bool {
			qs, err := st.QueueStats(context.Background())
			return err == nil && qs.Pending == 0
		})
		packets, events, dups, overlaps := p.counts()
		t.Logf("%d items, %d packets, %d resent after kills (ignored by the portal), overlaps %d", events, packets, dups, overlaps)
		if events != total {
			t.Fatalf("%d distinct items reached the portal, want %d", events, total)
		}
		if overlaps != 0 {
			t.Errorf("%d packets for a line while another was in flight", overlaps)
		}
		checkOrder(t, p.Events())
		if dead, _ := st.DeadLetters(context.Background(), QueueFilter{}); len(dead) != 0 {
			t.Errorf("%d dead letters", len(dead))
		}
	})
}

// multiItems is the item count of the multi-process test (30 000 as the issue asks; fewer under -race).
func multiItems() int {
	if raceEnabled || testing.Short() {
		return 6000
	}
	return 30000
}

func TestThreeProcessesOneMariaDB(t *testing.T) { testThreeProcesses(t, testdb.MySQLDSN(t)) }

func TestThreeProcessesOnePostgres(t *testing.T) { testThreeProcesses(t, testdb.PostgresDSN(t)) }

// testThreeProcesses drains a backlog with three server processes on one database: every item reaches the
// portal once, in order per line, no line has two packets in flight, and every process takes part.
func testThreeProcesses(t *testing.T, dsn string) {
	const lines, procs = 20, 3
	total := multiItems()
	p, cs, elapsed := drainWithProcesses(t, dsn, procs, lines, total, 0)
	packets, events, dups, overlaps := p.counts()
	t.Logf("3 processes: %d items over %d lines in %v (%.0f items/s), %d packets", events, lines, elapsed.Round(time.Millisecond),
		float64(events)/elapsed.Seconds(), packets)
	if dups != 0 {
		t.Errorf("%d items were sent more than once", dups)
	}
	if overlaps != 0 {
		t.Errorf("%d packets for a line arrived while another for it was in flight", overlaps)
	}
	checkOrder(t, p.Events())
	// The lines were really shared: every process sent some batches (checked by its send counter).
	for i, c := range cs {
		n := scrape(t, c.url, `olctl_connector_sends_total{command="receivingMessage",result="ok"}`)
		t.Logf("process %d sent %v receivingMessage packets", i, n)
		if n == 0 {
			t.Errorf("process %d sent nothing", i)
		}
	}
}

// drainWithProcesses starts procs server processes on one database, queues total items over lines
// (webhooks of 50 items, each line's in order, rotating over the processes; confirmations rotate too) and
// waits until the portal has every item and the queue is empty. It returns the time from the first
// webhook to the last confirmation.
func drainWithProcesses(t testing.TB, dsn string, procs, lines, total int, latency time.Duration) (*fakePortal, []*child, time.Duration) {
	const perHook = 50
	p := newFakePortal(t, "key-multi", nil)
	p.latency.Store(int64(latency))
	// Sends time out after 10 s, not 2: on a loaded machine (the whole suite under -race) the portal can take
	// longer to answer a packet it has processed, and the retry of a timed-out send is a duplicate by design
	// (at least once). What is checked here is that two processes never hold one line at once.
	env := []string{"CHILD_DSN=" + dsn, "CHILD_KEYS=key-multi", "CHILD_WORKERS=4", "CHILD_POLL_MS=10",
		"CHILD_SEND_MS=10000", "CHILD_LEASE_MS=20000"}
	cs := make([]*child, procs)
	eps := make([]string, procs)
	for i := range cs {
		cs[i] = startChild(t, env...)
		eps[i] = cs[i].endpoint()
	}
	p.setServer(eps[0])
	hooks := make([]string, lines)
	for i := range hooks {
		hooks[i] = p.connect("echo", strconv.Itoa(i+1), nil)
	}
	p.setServer(eps...)
	start := time.Now()
	var wg sync.WaitGroup
	for i, hook := range hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n, k := 0, 0; n < total/lines; n, k = n+perHook, k+1 {
				u := strings.Replace(hook, cs[0].url, cs[(i+k)%procs].url, 1)
				if code, body := postWebhook(t, u, echoItems("chat-"+strconv.Itoa(i), n, min(perHook, total/lines-n))); code != 200 {
					t.Errorf("webhook: %d %s", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	eventually.True(t, 120*time.Second, "every item at the portal", func() bool { return len(p.Events()) == total })
	st, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventually.True(t, 30*time.Second, "an empty queue", func() bool {
		qs, err := st.QueueStats(context.Background())
		return err == nil && qs.Pending == 0
	})
	return p, cs, time.Since(start)
}

// BenchmarkMariaDBProcesses drains items (20 lines, webhooks of 50) with 1 and with 3 server processes (4
// workers each) on one MariaDB database: items per second from the first webhook to the last
// confirmation. The 1-process run is the baseline of the 3-process one. "1" and "3" give every packet
// 50 ms at the portal, like a portal across a network (dispatch is then bound by latency, and processes
// add capacity); "local-1" and "local-3" answer at once (on one machine the processes then only share its
// cores with each other, the portal and MariaDB). Run with -benchtime=30000x.
func BenchmarkMariaDBProcesses(b *testing.B) { benchProcesses(b, testdb.MySQLDSN) }

// BenchmarkPostgresProcesses is BenchmarkMariaDBProcesses on one PostgreSQL database.
func BenchmarkPostgresProcesses(b *testing.B) { benchProcesses(b, testdb.PostgresDSN) }

func benchProcesses(b *testing.B, dsn func(testing.TB) string) {
	for _, lat := range []struct {
		prefix string
		d      time.Duration
	}{{"", 50 * time.Millisecond}, {"local-", 0}} {
		for _, procs := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s%d", lat.prefix, procs), func(b *testing.B) {
				total := max(b.N/20*20, 20)
				_, _, el := drainWithProcesses(b, dsn(b), procs, 20, total, lat.d)
				b.ReportMetric(float64(total)/el.Seconds(), "items/s")
			})
		}
	}
}
