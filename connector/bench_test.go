package connector

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
)

// Benchmark parameters, the same in the goqite baseline (the bench module's queue package): the same items,
// posted by the same number of concurrent producers, one item per webhook (a messenger posts one activity
// per request).
const (
	benchLines     = 8
	benchProducers = 8
)

// BenchmarkQueue measures items per second from webhook to confirmed delivery (HTTP webhook → SQL queue →
// signed receivingMessage packet → fake portal → setStatusDelivered → delete). Its baseline, goqite doing
// send → receive → delete of the same item bodies on the same kind of SQLite database, is
// BenchmarkQueue/goqite-sqlite of the bench module's queue package: make bench sets the two side by side.
func BenchmarkQueue(b *testing.B) {
	b.Run("olctl-sqlite", func(b *testing.B) { benchOlctl(b, testdb.SQLiteDSN(b), 1) })
	b.Run("olctl-sqlite-burst50", func(b *testing.B) { benchOlctl(b, testdb.SQLiteDSN(b), 50) })
	b.Run("olctl-mariadb", func(b *testing.B) { benchOlctl(b, testdb.MySQLDSN(b), 1) })
	b.Run("olctl-mariadb-burst50", func(b *testing.B) { benchOlctl(b, testdb.MySQLDSN(b), 50) })
	b.Run("olctl-postgres", func(b *testing.B) { benchOlctl(b, testdb.PostgresDSN(b), 1) })
	b.Run("olctl-postgres-burst50", func(b *testing.B) { benchOlctl(b, testdb.PostgresDSN(b), 50) })
}

// benchOlctl posts b.N items, perHook per webhook request (1: one activity per request, as messengers do;
// 50: bursts), and waits until the portal confirmed them all and the queue is empty.
func benchOlctl(b *testing.B, dsn string, perHook int) {
	p := newFakePortal(b, "key-bench", nil)
	s := newTestServer(b, p, Config{DSN: dsn, Workers: 4, PollInterval: 50 * time.Millisecond})
	hooks := make([]string, benchLines)
	for i := range hooks {
		hooks[i] = p.connect("echo", strconv.Itoa(i+1), nil)
	}
	hooksN := (b.N + perHook - 1) / perHook
	bodies := make([][]byte, hooksN)
	for i := range bodies {
		bodies[i] = echoItems("c"+strconv.Itoa(i%benchLines), i*perHook, min(perHook, b.N-i*perHook))
	}
	b.ResetTimer()
	cpu0 := proctest.CPUTime()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < benchProducers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= hooksN {
					return
				}
				if code, body := postWebhook(b, hooks[i%benchLines], bodies[i]); code != 200 {
					b.Errorf("webhook: %d %s", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	eventually.True(b, 10*time.Minute, "the portal to get every item", func() bool { return len(p.Events()) >= b.N })
	eventually.True(b, time.Minute, "the queue to drain", func() bool { return queueLen(b, s) == 0 })
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "items/s")
	b.ReportMetric(float64((proctest.CPUTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/item")
	packets, _, _, _ := p.counts()
	b.ReportMetric(float64(b.N)/float64(packets), "items/packet")
}
