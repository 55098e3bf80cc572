package client

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/wire"
)

// cachedServer answers listConnector, infoConnect and infoConnectLink with data that names the request number.
func cachedServer(t *testing.T, gate <-chan struct{}) *fakeServer {
	return cachedServerSigned(t, signings()[1], gate)
}

func cachedServerSigned(t *testing.T, s signing, gate <-chan struct{}) *fakeServer {
	return newFakeServer(t, s, func(n int, p received, w http.ResponseWriter) {
		if gate != nil {
			<-gate
		}
		switch p.Packet.Command {
		case "listConnector":
			answer(w, map[string]any{"c": n})
		case "infoConnect":
			answer(w, map[string]any{"ID": n})
		case "infoConnectLink":
			answer(w, map[string]any{"link": n})
		default:
			answer(w, true)
		}
	})
}

func listed(t *testing.T, c *Client, opts ...CallOption) string {
	t.Helper()
	l, err := c.ListConnector(ctxT(t), opts...)
	if err != nil {
		t.Fatalf("ListConnector: %v", err)
	}
	if len(l) != 1 {
		t.Fatalf("ListConnector = %v", l)
	}
	return l[0].Name // the request number that produced it
}

func TestCacheHitMissTTL(t *testing.T) {
	fs := cachedServer(t, nil)
	c := fs.client(t)
	if a, b := listed(t, c), listed(t, c); a != "1" || b != "1" || fs.count() != 1 {
		t.Fatalf("got %s, %s after %d requests; want one request", a, b, fs.count())
	}
	if st := c.CacheStats(); st.Hits != 1 || st.Misses != 1 || st.Entries != 1 {
		t.Errorf("stats %+v", st)
	}
	// Another connector or line is another entry.
	if got := listed(t, c, Connector("telegrambot")); got != "2" {
		t.Errorf("other connector served %s", got)
	}
	if got := listed(t, c, Line("9")); got != "3" {
		t.Errorf("other line served %s", got)
	}
	// Fresh asks the server and refreshes the entry.
	if got := listed(t, c, Fresh()); got != "4" {
		t.Errorf("Fresh served %s", got)
	}
	if got := listed(t, c); got != "4" {
		t.Errorf("after Fresh the cache has %s", got)
	}
	// The entry lives 24 h by default.
	fs.clock.Advance(DefaultCacheTTL - time.Second)
	if got := listed(t, c); got != "4" {
		t.Errorf("expired early: %s", got)
	}
	fs.clock.Advance(time.Second)
	if got := listed(t, c); got != "5" {
		t.Errorf("not expired after the TTL: %s", got)
	}
	// A configured TTL.
	short := fs.client(t, WithCacheTTL(time.Hour))
	first := listed(t, short)
	fs.clock.Advance(time.Hour)
	if again := listed(t, short); again == first {
		t.Errorf("WithCacheTTL(1h) kept the entry past an hour")
	}
	// TTL 0: every call asks.
	none := fs.client(t, WithCacheTTL(0))
	before := fs.count()
	listed(t, none)
	listed(t, none)
	if fs.count()-before != 2 {
		t.Errorf("WithCacheTTL(0) cached: %d requests", fs.count()-before)
	}
}

func TestCacheCoversInfoMethodsAndReturnsCopies(t *testing.T) {
	fs := cachedServer(t, nil)
	c := fs.client(t)
	ctx := ctxT(t)
	info, err := c.InfoConnect(ctx)
	if err != nil || info.ID != "1" {
		t.Fatalf("InfoConnect %+v %v", info, err)
	}
	info.ID = "changed"
	info.Data["ID"] = "changed"
	again, _ := c.InfoConnect(ctx)
	if again.ID != "1" || again.Data.String("ID") != "1" {
		t.Errorf("the caller changed the cache: %+v", again)
	}
	links, err := c.InfoConnectLink(ctx)
	if err != nil || links.String("link") != "2" {
		t.Fatalf("InfoConnectLink %v %v", links, err)
	}
	links["link"] = "x"
	if again, _ := c.InfoConnectLink(ctx); again.String("link") != "2" {
		t.Errorf("the caller changed the cache: %v", again)
	}
	l, _ := c.ListConnector(ctx)
	l[0].Name = "x"
	if got := listed(t, c); got != "3" {
		t.Errorf("the caller changed the cache: %s", got)
	}
	if fs.count() != 3 {
		t.Errorf("%d requests, want 3", fs.count())
	}
}

func TestCacheInvalidation(t *testing.T) {
	tests := []struct {
		name string
		do   func(ctx context.Context, c *Client) error
	}{
		{"SaveSettings", func(ctx context.Context, c *Client) error { return c.SaveSettings(ctx, Settings{"a": "b"}) }},
		{"Register", func(ctx context.Context, c *Client) error { _, err := c.Register(ctx); return err }},
		{"Unregister", func(ctx context.Context, c *Client) error { return c.Unregister(ctx) }},
		{"DeleteConnector", func(ctx context.Context, c *Client) error { return c.DeleteConnector(ctx) }},
		{"DeleteLine", func(ctx context.Context, c *Client) error { return c.DeleteLine(ctx, "3") }},
		{"Connect", func(ctx context.Context, c *Client) error { _, err := c.Connect(ctx, Settings{"a": "b"}); return err }},
		{"Call in another case", func(ctx context.Context, c *Client) error { _, err := c.Call(ctx, "SAVESETTINGS", "x"); return err }},
		{"InvalidateCache", func(ctx context.Context, c *Client) error { c.InvalidateCache(); return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := cachedServer(t, nil)
			c := fs.client(t)
			ctx := ctxT(t)
			first := listed(t, c)
			info, _ := c.InfoConnect(ctx)
			if err := tt.do(ctx, c); err != nil {
				t.Fatal(err)
			}
			if st := c.CacheStats(); st.Entries != 0 {
				t.Errorf("%d entries left", st.Entries)
			}
			if got := listed(t, c); got == first {
				t.Errorf("ListConnector still served request %s", got)
			}
			if got, _ := c.InfoConnect(ctx); got.ID == info.ID {
				t.Errorf("InfoConnect still served request %s", got.ID)
			}
		})
	}
	t.Run("a failed write drops it too", func(t *testing.T) {
		fs := cachedServer(t, nil)
		c := fs.client(t)
		first := listed(t, c)
		fs.setHandle(func(n int, p received, w http.ResponseWriter) {
			if p.Packet.Command == "saveSettings" {
				wire.WriteResponse(w, nil, wire.ErrFailedSaveSettings)
				return
			}
			answer(w, map[string]any{"c": n})
		})
		if err := c.SaveSettings(ctxT(t), Settings{"a": "b"}); !errors.Is(err, ErrFailedSaveSettings) {
			t.Fatalf("err = %v", err)
		}
		if got := listed(t, c); got == first {
			t.Error("the cache survived a failed saveSettings")
		}
	})
	t.Run("reads do not drop it", func(t *testing.T) {
		fs := cachedServer(t, nil)
		c := fs.client(t)
		listed(t, c)
		if err := c.TestConnect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadSettings(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if st := c.CacheStats(); st.Entries != 1 {
			t.Errorf("%d entries", st.Entries)
		}
	})
}

func waitWaiting(t *testing.T, c *Client, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.cache.waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait, want %d", c.cache.waiting.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestCacheSingleFlight(t *testing.T) {
	const callers = 20
	gate := make(chan struct{})
	fs := cachedServer(t, gate)
	c := fs.client(t)
	results := make([][]ConnectorEntry, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { results[i], errs[i] = c.ListConnector(ctxT(t)) })
	}
	waitWaiting(t, c, callers) // every caller has joined the one request
	close(gate)
	wg.Wait()
	if fs.count() != 1 {
		t.Errorf("%d requests for %d concurrent callers, want 1", fs.count(), callers)
	}
	for i := range callers {
		if errs[i] != nil || !reflect.DeepEqual(results[i], []ConnectorEntry{{"c", "1"}}) {
			t.Errorf("caller %d: %v %v", i, results[i], errs[i])
		}
	}
	results[0][0].Name = "mutated" // callers get their own copies
	if results[1][0].Name != "1" {
		t.Error("callers share one slice")
	}
}

func TestCacheSingleFlightSurvivesOneCallerLeaving(t *testing.T) {
	gate := make(chan struct{})
	fs := cachedServer(t, gate)
	c := fs.client(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	first := make(chan error, 1)
	go func() { _, err := c.ListConnector(ctx); first <- err }()
	waitWaiting(t, c, 1)
	second := make(chan error, 1)
	go func() { _, err := c.ListConnector(ctxT(t)); second <- err }()
	waitWaiting(t, c, 2)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(gate)
	if err := <-second; err != nil {
		t.Fatalf("the other caller got %v", err)
	}
	if fs.count() != 1 || c.CacheStats().Entries != 1 {
		t.Errorf("requests %d, entries %d", fs.count(), c.CacheStats().Entries)
	}
}

func TestCacheInvalidationDuringFlight(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	entered := make(chan struct{})
	fs := cachedServer(t, nil)
	t.Cleanup(release) // before the server's Close, which waits for handlers
	c := fs.client(t)
	fs.setHandle(func(n int, p received, w http.ResponseWriter) {
		if n == 1 {
			close(entered)
			<-gate // the first listConnector hangs until released
		}
		answer(w, map[string]any{"c": n})
	})
	old := make(chan string, 1)
	go func() {
		l, err := c.ListConnector(ctxT(t))
		if err != nil {
			t.Error(err)
			old <- ""
			return
		}
		old <- l[0].Name
	}()
	<-entered
	c.InvalidateCache() // e.g. a saveSettings finished meanwhile
	// A caller arriving now does not join the stale request.
	if got := listed(t, c); got != "2" {
		t.Errorf("a caller after the invalidation got request %s", got)
	}
	release()
	if got := <-old; got != "1" {
		t.Errorf("the first caller got %s", got)
	}
	// The stale answer was not stored over the new one.
	if got := listed(t, c); got != "2" {
		t.Errorf("cache holds request %s, want 2", got)
	}
}

func TestCacheErrorsAreNotCached(t *testing.T) {
	fs := cachedServer(t, nil)
	c := fs.client(t, WithRetry(Retry{}))
	fs.setHandle(func(n int, p received, w http.ResponseWriter) {
		if n == 1 {
			wire.WriteResponse(w, nil, wire.ErrNotActiveLine)
			return
		}
		answer(w, map[string]any{"c": n})
	})
	if _, err := c.ListConnector(ctxT(t)); !errors.Is(err, ErrNotActiveLine) {
		t.Fatalf("err = %v", err)
	}
	if got := listed(t, c); got != "2" {
		t.Errorf("got %s", got)
	}
}

func TestCacheConcurrentMixedUse(t *testing.T) {
	// Readers, invalidations and time moving at once: a -race exercise that must end with consistent answers.
	// md5 signing: hours of fake time pass between signing and verifying, beyond any replay window.
	fs := cachedServerSigned(t, signings()[0], nil)
	c := fs.client(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 25 {
				switch (i + j) % 5 {
				case 0:
					c.InvalidateCache()
				case 1:
					fs.clock.Advance(time.Hour)
				case 2:
					if _, err := c.InfoConnect(ctxT(t)); err != nil {
						t.Error(err)
					}
				default:
					if _, err := c.ListConnector(ctxT(t)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	lookups := uint64(0)
	for i := range 8 {
		for j := range 25 {
			if (i+j)%5 >= 2 {
				lookups++
			}
		}
	}
	st := c.CacheStats()
	if st.Misses == 0 || st.Hits == 0 || st.Hits+st.Misses != lookups {
		t.Errorf("stats %+v, want %d lookups with hits and misses", st, lookups)
	}
	if int(st.Misses) < fs.count() {
		t.Errorf("%d requests for %d misses", fs.count(), st.Misses)
	}
}
