package routertest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/proctest"
)

// Load posts b.N packets to url from parallel clients (4 per GOMAXPROCS), each body from body, and reports
// packets/s and cpu-µs/op (the process's CPU time per packet, which says more than wall time on a shared
// machine). It returns the wall time the packets took. A transport error or a status other than 200 fails b.
func Load(b *testing.B, url string, body func() string) time.Duration {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), proctest.CPUTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "packets/s")
	b.ReportMetric(float64((proctest.CPUTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	return elapsed
}
