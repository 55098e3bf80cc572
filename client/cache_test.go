package client

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/client/clienttest"
	"github.com/olctl/olctl/wire"
)

// countingHandler answers every packet with its number, so that a cached answer is told from a fresh one.
func countingHandler(w http.ResponseWriter, call *clienttest.Call) {
	answer := map[string]any{"N": call.N, "METHOD": call.Method}
	if call.Method == "infoConnectorsLine" {
		clienttest.OK(w, map[string]any{"botframework.skype": answer})
		return
	}
	clienttest.OK(w, answer)
}

func TestCacheTTLAndFresh(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(countingHandler)
	c := f.client(t)
	ctx := ctxT(t)
	for i := range 3 {
		if _, err := c.ListConnector(ctx); err != nil {
			t.Fatal(err)
		}
		if f.Count() != 1 {
			t.Fatalf("call %d: %d packets, want 1 (cached)", i+1, f.Count())
		}
	}
	f.clock.Advance(DefaultCacheTTL - time.Second)
	_, _ = c.ListConnector(ctx)
	if f.Count() != 1 {
		t.Fatal("expired before 24 h")
	}
	f.clock.Advance(time.Second)
	_, _ = c.ListConnector(ctx)
	if f.Count() != 2 {
		t.Fatal("still cached after 24 h")
	}
	_, _ = c.ListConnector(ctx, Fresh())
	if f.Count() != 3 {
		t.Fatal("Fresh went to the cache")
	}
	_, _ = c.ListConnector(ctx) // Fresh refreshed it
	if f.Count() != 3 {
		t.Fatal("Fresh did not refresh the cache")
	}

	// testConnect and readSettings are not cached; WithCacheTTL(0) disables the cache.
	n := f.Count()
	for range 2 {
		_ = c.TestConnect(ctx)
		_, _ = c.ReadSettings(ctx)
	}
	if f.Count() != n+4 {
		t.Fatalf("testConnect or readSettings was cached: %d packets", f.Count()-n)
	}
	off := f.client(t, WithCacheTTL(0))
	_, _ = off.InfoConnect(ctx)
	_, _ = off.InfoConnect(ctx)
	if f.Count() != n+6 {
		t.Fatal("WithCacheTTL(0) cached")
	}
}

// Entries are per (method, connector, line, arguments); callers get copies; errors are not kept.
func TestCacheKeys(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(countingHandler)
	c := f.client(t)
	ctx := ctxT(t)
	calls := []func(){
		func() { _, _ = c.InfoConnect(ctx) },
		func() { _, _ = c.InfoConnect(ctx, Line("4")) },
		func() { _, _ = c.InfoConnect(ctx, Connector("vkgroup")) },
		func() { _, _ = c.InfoConnectLink(ctx) },
		func() { _, _ = c.InfoConnectorsLine(ctx, "3") },
		func() { _, _ = c.InfoConnectorsLine(ctx, "4") },
		func() { _, _ = c.Call(ctx, "INFOCONNECT", nil) }, // the same method in another case
	}
	for _, call := range calls {
		call()
	}
	if f.Count() != 6 {
		t.Fatalf("%d packets, want 6 distinct entries", f.Count())
	}
	for _, call := range calls {
		call()
	}
	if f.Count() != 6 {
		t.Fatalf("%d packets after repeating, want 6", f.Count())
	}

	d, _ := c.InfoConnect(ctx)
	d["N"] = "changed"
	if again, _ := c.InfoConnect(ctx); again.String("N") != "1" {
		t.Fatalf("the cache shares its values: %v", again)
	}
	res, _ := c.Call(ctx, "infoConnect", nil)
	res.Raw[2] = 'X'
	if again, _ := c.Call(ctx, "infoConnect", nil); again.Raw[2] == 'X' {
		t.Fatal("the cache shares Raw")
	}

	f.Handle(func(w http.ResponseWriter, _ *clienttest.Call) { clienttest.Fail(w, wire.CodeInternal) })
	n := f.Count()
	_, _ = c.InfoConnect(ctx, Line("9"))
	_, _ = c.InfoConnect(ctx, Line("9"))
	if f.Count() != n+2 {
		t.Fatal("an error was cached")
	}
}

// saveSettings, register, unregister, deleteConnector and deleteLine drop the entries of their line (failed or
// not), and so does ForgetLine; other lines and, except for deleteLine and ForgetLine("all", …), other
// connectors keep theirs.
func TestCacheDrop(t *testing.T) {
	t.Parallel()
	type entry struct {
		name string
		call func(c *Client) error
	}
	entries := []entry{
		{"infoConnect skype 3", func(c *Client) error { _, err := c.InfoConnect(ctxT(t)); return err }},
		{"infoConnect telegram 3", func(c *Client) error {
			_, err := c.InfoConnect(ctxT(t), Connector("botframework.telegram"))
			return err
		}},
		{"infoConnectLink skype 3", func(c *Client) error { _, err := c.InfoConnectLink(ctxT(t)); return err }},
		{"infoConnectorsLine(3)", func(c *Client) error { _, err := c.InfoConnectorsLine(ctxT(t), "3"); return err }},
		{"infoConnect vkgroup 3", func(c *Client) error { _, err := c.InfoConnect(ctxT(t), Connector("vkgroup")); return err }},
		{"infoConnect skype 4", func(c *Client) error { _, err := c.InfoConnect(ctxT(t), Line("4")); return err }},
		{"infoConnectorsLine(4)", func(c *Client) error { _, err := c.InfoConnectorsLine(ctxT(t), "4"); return err }},
		{"listConnector", func(c *Client) error { _, err := c.ListConnector(ctxT(t)); return err }},
	}
	botframework3 := []string{"infoConnect skype 3", "infoConnect telegram 3", "infoConnectLink skype 3", "infoConnectorsLine(3)"}
	allOf3 := append([]string{"infoConnect vkgroup 3"}, botframework3...)
	tests := []struct {
		name    string
		change  func(c *Client) error
		fail    bool // the server refuses the change
		dropped []string
	}{
		{"saveSettings", func(c *Client) error { return c.SaveSettings(ctxT(t), Settings{"a": "b"}) }, false, botframework3},
		{"saveSettings that fails", func(c *Client) error { return c.SaveSettings(ctxT(t), Settings{"a": "b"}) }, true, botframework3},
		{"register", func(c *Client) error { _, err := c.Register(ctxT(t)); return err }, false, botframework3},
		{"unregister of the real id", func(c *Client) error { return c.Unregister(ctxT(t), Connector("botframework")) }, false, botframework3},
		{"deleteConnector", func(c *Client) error { return c.DeleteConnector(ctxT(t)) }, false, botframework3},
		{"SAVESETTINGS by Call", func(c *Client) error {
			_, err := c.Call(ctxT(t), "SAVESETTINGS", []any{Settings{}})
			return err
		}, false, botframework3},
		{"deleteLine(3)", func(c *Client) error { return c.DeleteLine(ctxT(t), "3") }, false, allOf3},
		{"ForgetLine", func(c *Client) error { c.ForgetLine("botframework.skype", "3"); return nil }, false, botframework3},
		{"ForgetLine all", func(c *Client) error { c.ForgetLine("all", "3"); return nil }, false, allOf3},
		{"ForgetLine of another line", func(c *Client) error { c.ForgetLine("botframework", "5"); return nil }, false, nil},
		{"a read drops nothing", func(c *Client) error { _, err := c.ReadSettings(ctxT(t)); return err }, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := md5Fixture(t)
			f.Handle(countingHandler)
			c := f.client(t)
			for _, e := range entries {
				if err := e.call(c); err != nil {
					t.Fatalf("%s: %v", e.name, err)
				}
			}
			if tt.fail {
				f.Handle(func(w http.ResponseWriter, _ *clienttest.Call) { clienttest.Fail(w, wire.CodeInternal) })
			}
			if err := tt.change(c); (err != nil) != tt.fail {
				t.Fatalf("change: %v", err)
			}
			f.Handle(countingHandler)
			want := map[string]bool{}
			for _, d := range tt.dropped {
				want[d] = true
			}
			for _, e := range entries {
				before := f.Count()
				if err := e.call(c); err != nil {
					t.Fatal(err)
				}
				if dropped := f.Count() > before; dropped != want[e.name] {
					t.Errorf("%s: dropped %v, want %v", e.name, dropped, want[e.name])
				}
			}
		})
	}
}

// An answer fetched while its line was dropped is not kept: it may predate the change.
func TestCacheStaleFlight(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.Handle(func(w http.ResponseWriter, call *clienttest.Call) {
		if call.N == 1 {
			once.Do(func() { close(entered) })
			<-release
		}
		countingHandler(w, call)
	})
	c := f.client(t)
	done := make(chan error, 1)
	go func() { _, err := c.InfoConnect(ctxT(t)); done <- err }()
	<-entered
	c.ForgetLine("botframework", "3")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d, err := c.InfoConnect(ctxT(t))
	if err != nil || d.String("N") != "2" || f.Count() != 2 {
		t.Fatalf("the answer of the stale flight was kept: %v %v, %d packets", d, err, f.Count())
	}
}

// Concurrent use under -race: reads, changes and forgets of several lines at once.
func TestCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	f := md5Fixture(t)
	f.Handle(countingHandler)
	c := f.client(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			line := fmt.Sprint(i % 4)
			for range 10 {
				if _, err := c.InfoConnect(ctxT(t), Line(line)); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					c.ForgetLine("botframework", line)
				}
			}
		})
	}
	wg.Wait()
}
