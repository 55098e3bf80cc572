package files_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
)

// BenchmarkImport imports 1 000 small files (1 KiB each, distinct in every round) from a local server.
// One op is the whole batch; files/s is the figure. The baselines fetch the same files with plain http.Get
// and io.Copy to io.Discard: sequentially, and with as many workers as the importer's default concurrency.
func BenchmarkImport(b *testing.B) {
	const n, size = 1000, 1024
	payload := make([]byte, size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		p := make([]byte, size)
		copy(p, payload)
		copy(p, r.URL.Path+"?"+r.URL.RawQuery) // distinct bytes per file and round
		_, _ = w.Write(p)
	}))
	defer srv.Close()
	round := 0
	attachments := func() []openlines.File {
		round++
		atts := make([]openlines.File, n)
		for i := range atts {
			atts[i] = openlines.File{URL: fmt.Sprintf("%s/f/%d.bin?round=%d", srv.URL, i, round)}
		}
		return atts
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	}
	importInto := func(b *testing.B, store files.Store) {
		imp := files.NewImporter(store, files.WithAllowPrivateNetworks(true))
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			atts := attachments()
			b.StartTimer()
			ids, fails := imp.Import(context.Background(), atts)
			if len(ids) != n || len(fails) != 0 {
				b.Fatalf("%d ids, failures %v", len(ids), fails)
			}
		}
		report(b)
	}
	b.Run("1000-small-files", func(b *testing.B) {
		store, err := files.NewDiskStore(context.Background(), b.TempDir(), testdb.SQLite(b))
		if err != nil {
			b.Fatal(err)
		}
		importInto(b, store)
	})
	b.Run("1000-small-files-memory", func(b *testing.B) {
		importInto(b, files.NewMemoryStore())
	})
	get := func(u string) {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	b.Run("baseline-http-get", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			atts := attachments()
			b.StartTimer()
			for _, a := range atts {
				get(a.URL)
			}
		}
		report(b)
	})
	b.Run("baseline-http-get-concurrent", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			atts := attachments()
			b.StartTimer()
			work := make(chan string)
			var wg sync.WaitGroup
			for range files.DefaultMaxConcurrent {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for u := range work {
						get(u)
					}
				}()
			}
			for _, a := range atts {
				work <- a.URL
			}
			close(work)
			wg.Wait()
		}
		report(b)
	})
}
