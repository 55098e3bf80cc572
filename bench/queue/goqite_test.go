package queue

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"maragu.dev/goqite"

	"github.com/olctl/olctl/sqldb"
)

//go:embed goqite_schema_sqlite.sql
var goqiteSchema string

// The parameters of the connector's BenchmarkQueue: 8 lines (chats), 8 producers; goqite adds 4 consumers,
// as the connector server's default 4 dispatch workers.
const (
	benchLines     = 8
	benchProducers = 8
	benchConsumers = 4
)

// BenchmarkQueue/goqite-sqlite is the baseline of the connector's BenchmarkQueue/olctl-sqlite rows.
func BenchmarkQueue(b *testing.B) {
	b.Run("goqite-sqlite", func(b *testing.B) { benchGoqite(b, openSQLite(b)) })
}

// TestGoqiteRoundTrip checks the baseline does the work it is timed on: every sent body comes back once.
func TestGoqiteRoundTrip(t *testing.T) {
	ctx := context.Background()
	q := newQueue(t, openSQLite(t))
	for i := range 3 {
		if err := q.Send(ctx, goqite.Message{Body: echoItems("c1", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range 3 {
		m, err := q.Receive(ctx)
		if err != nil || m == nil {
			t.Fatalf("receive: %v, %v", m, err)
		}
		seen[string(m.Body)] = true
		if err := q.Delete(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := q.Receive(ctx); err != nil || m != nil || len(seen) != 3 {
		t.Fatalf("after 3 receives: %v, %v, %d distinct bodies", m, err, len(seen))
	}
}

// openSQLite opens a new SQLite file as the connector's benchmark does (sqldb.Open: WAL, busy timeout,
// immediate write transactions).
func openSQLite(tb testing.TB) *sqldb.DB {
	tb.Helper()
	db, err := sqldb.Open(context.Background(), "sqlite:"+filepath.Join(tb.TempDir(), "goqite.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func newQueue(tb testing.TB, db *sqldb.DB) *goqite.Queue {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), goqiteSchema); err != nil {
		tb.Fatal(err)
	}
	return goqite.New(goqite.NewOpts{DB: db.DB, Name: "bench", Timeout: time.Minute})
}

func benchGoqite(b *testing.B, db *sqldb.DB) {
	ctx := context.Background()
	q := newQueue(b, db)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = echoItems("c"+fmt.Sprint(i%benchLines), i)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range benchProducers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := q.Send(ctx, goqite.Message{Body: bodies[i]}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range benchConsumers {
		wg.Go(func() {
			for done.Load() < int64(b.N) {
				m, err := q.Receive(ctx)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						b.Error(err)
					}
					return
				}
				if m == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				if err := q.Delete(ctx, m.ID); err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "items/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/item")
}

// echoItems is the webhook body of one item of the connector's benchmark, byte for byte.
func echoItems(chat string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"items":[{"user":{"id":"u-%s","name":"Ann Lee"},"message":{"id":"%d","date":1700000000,"text":"hello %d :smile:"},"chat":{"id":"%s"}}]}`,
		chat, n, n, chat)
	return []byte(b.String())
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
