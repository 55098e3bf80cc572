package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// offeredRate is the fixed rate at which the chain benchmark sends customer messages.
const offeredRate = 200 // messages per second

// runChildPortal is the body of a re-executed portal process: it prints "EVENT <message id>" for every message
// event, as `olctl serve` prints its events.
func runChildPortal() int {
	ctx := context.Background()
	addr := os.Getenv(childAddrEnv)
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	if os.Getenv(childHMACEnv) != "" {
		creds = wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: licenceKey, Secrets: []string{hmacSecret}}
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials: creds,
		ServerURL:   os.Getenv(childServerEnv),
		Domain:      "http://" + addr,
		DataDir:     os.Getenv(childDSNEnv),
		// The parent process connects the line: this portal has no status of it.
		AdmitUnknownLines: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal child:", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "EVENT %s\n", m.MessageID)
		return out.Flush()
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "portal child:", err)
		return 1
	}
	delay, _ := time.ParseDuration(os.Getenv(childPortalDelayEnv))
	srv := &http.Server{Handler: portalDelay(p.Handler(), delay), ReadHeaderTimeout: 10 * time.Second}
	stopProfile := childProfile()
	go func() { _ = srv.Serve(l) }()
	wait := proctest.Ready("http://" + addr)
	wait()
	stopProfile()
	_ = srv.Close()
	_ = p.Close()
	return 0
}

// paced sends n messages at offeredRate, each one a goroutine, and returns the rate achieved (sends per second
// from the first send to the last completion) and the p50 and p99 latencies. send returns when its message is
// complete.
func paced(b *testing.B, n int, send func(i int) error) (rate float64, p50, p99 time.Duration) {
	b.Helper()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	tick := time.NewTicker(time.Second / offeredRate)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n; i++ {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			if err := send(i); err != nil {
				errMu.Lock()
				firstErr = err
				errMu.Unlock()
			}
			lat[i] = time.Since(t0)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(lat)
	return float64(n) / elapsed.Seconds(), lat[n/2], lat[(n*99)/100]
}

// BenchmarkChain measures the whole chain at a fixed offered rate: a customer message from the fake Bot
// Framework through the connector server (its own process, SQLite) to the portal (its own process, SQLite) and
// its event there; b.N is the number of messages. The baseline is the same load of webhook posts answered by a
// bare net/http handler. Reported: msgs/s, p50-ms, p99-ms and the peak RSS of the two server processes.
func BenchmarkChain(b *testing.B) {
	b.Run("olctl", func(b *testing.B) {
		ctx := context.Background()
		bf := bftest.NewServer(b)
		serverAddr, portalAddr := freeAddr(b), freeAddr(b)
		var mu sync.Mutex
		arrived := map[string]chan struct{}{}
		waiter := func(id string) chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			ch, ok := arrived[id]
			if !ok {
				ch = make(chan struct{})
				arrived[id] = ch
			}
			return ch
		}
		pc := proctest.Start(b, []string{childEnv + "=portal", childAddrEnv + "=" + portalAddr, childDSNEnv + "=" + b.TempDir(),
			childServerEnv + "=http://" + serverAddr}, func(line string) {
			if id, ok := strings.CutPrefix(line, "EVENT "); ok {
				close(waiter(id))
			}
		})
		defer pc.Stop()
		sc := startChild(b, b.TempDir()+"/connector.db", serverAddr, pc.URL,
			childBFOpenIDEnv+"="+bf.OpenIDMetadataURL(), childBFTokenEnv+"="+bf.TokenURL())
		defer sc.Stop()
		cl, err := client.New(sc.URL, client.WithDomain(pc.URL), client.WithLicenceKey(licenceKey))
		if err != nil {
			b.Fatal(err)
		}
		data, err := cl.Connect(ctx, client.Settings{"bot_handle": botHandle, "app_id": bf.AppID(), "app_secret": bf.AppSecret()},
			client.Connector(botframework.ID), client.Line(lineID))
		if err != nil {
			b.Fatal(err)
		}
		webhook, _ := data["URL_WEBHOOK"].(string)
		b.ResetTimer()
		rate, p50, p99 := paced(b, b.N, func(i int) error {
			id, err := bf.SendUserMessage(ctx, webhook, "bench-conv-"+strconv.Itoa(i%10), "29:bench-"+strconv.Itoa(i%50), "message "+strconv.Itoa(i)+" :+1:")
			if err != nil {
				return err
			}
			select {
			case <-waiter(id):
				return nil
			case <-time.After(30 * time.Second):
				return fmt.Errorf("message %d (%s) never reached the portal", i, id)
			}
		})
		b.StopTimer()
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(sc.PeakRSS(), "connector-rss-MiB")
		b.ReportMetric(pc.PeakRSS(), "portal-rss-MiB")
	})
	b.Run("bare", func(b *testing.B) {
		url := httpServer(b, func(w http.ResponseWriter, r *http.Request) {
			_, _ = r.Body.Read(make([]byte, 4096))
			w.WriteHeader(http.StatusOK)
		})
		body := strings.Repeat("x", 700) // about the size of the activity the fake posts
		b.ResetTimer()
		rate, p50, p99 := paced(b, b.N, func(i int) error {
			resp, err := http.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				return err
			}
			return resp.Body.Close()
		})
		b.StopTimer()
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	})
}
