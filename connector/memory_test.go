package connector

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
)

// BenchmarkQueuedMemory measures the memory of a connector server process (a re-executed test binary, as in
// the crash test) holding 1 000 000 queued items on SQLite, against the same server with an empty queue
// (the baseline). The items arrive through the webhook (bursts of 1 000) for 10 lines of a portal that is
// down, so the dispatcher runs and the lines are blocked while the memory is read. Run with -benchtime=1x;
// goal: under 150 MiB RSS. The measurement runs once whatever b.N is.
func BenchmarkQueuedMemory(b *testing.B) {
	for _, tc := range []struct {
		name  string
		items int
	}{{"empty", 0}, {"1M", 1_000_000}} {
		b.Run(tc.name, func(b *testing.B) {
			rss, peak, heap := queuedMemory(b, tc.items)
			b.ReportMetric(rss, "rss-MiB")
			b.ReportMetric(peak, "peak-rss-MiB")
			b.ReportMetric(heap, "heap-MiB")
		})
	}
}

func queuedMemory(b *testing.B, items int) (rss, peak, heap float64) {
	const lines, perHook = 10, 1000
	dsn := testdb.SQLiteDSN(b)
	p := newFakePortal(b, "key-memory", nil)
	c := startChild(b, "CHILD_DSN="+dsn, "CHILD_KEYS=key-memory")
	p.setServer(c.endpoint())
	hooks := make([]string, lines)
	for i := range hooks {
		hooks[i] = p.connect("echo", strconv.Itoa(i+1), nil)
	}
	p.down.Store(true)
	var wg sync.WaitGroup
	for i, hook := range hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < items/lines; n += perHook {
				if code, body := postWebhook(b, hook, echoItems("chat-"+strconv.Itoa(i), n, perHook)); code != 200 {
					b.Errorf("webhook: %d %s", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	st, err := Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	qs, err := st.QueueStats(context.Background())
	if err != nil || qs.Pending != items {
		b.Fatalf("queued %d, want %d (%v)", qs.Pending, items, err)
	}
	// the dispatcher tries the lines that hold items and blocks them; a scrape reads the queue depths too
	blocked := 0
	if items > 0 {
		blocked = lines
	}
	eventually.True(b, time.Minute, fmt.Sprintf("%d lines to be blocked", blocked), func() bool {
		return scrape(b, c.url, "olctl_connector_blocked_lines") == float64(blocked)
	})
	heap = scrape(b, c.url, "go_memstats_heap_inuse_bytes") / (1 << 20)
	rss, peak = c.RSS(), c.PeakRSS()
	b.Logf("%d queued: RSS %.1f MiB (peak %.1f MiB), Go heap in use %.1f MiB, %d lines blocked", items, rss, peak, heap, qs.Blocked)
	return rss, peak, heap
}
