package portal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// The crash test runs the portal as a separate process (this test binary run again) so that it can be
// killed for real with SIGKILL. The child's clock is a fake the parent moves through the child's /advance.
const (
	childEnv    = "OLCTL_PORTAL_CHILD"
	childDSNEnv = "OLCTL_PORTAL_CHILD_DSN"
	childDirEnv = "OLCTL_PORTAL_CHILD_DIR"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild is the body of the child: a portal on the database the parent names, line 3 of botframework
// connected, printing "EVENT <message id> <attempt>" for every message, until it is killed.
func runChild() int {
	ctx := context.Background()
	clk := clock.NewFake(epoch)
	p, err := portal.New(ctx, portal.Config{
		Credentials: md5Creds, DSN: os.Getenv(childDSNEnv), DataDir: os.Getenv(childDirEnv),
		Clock: clk, Confirmer: &fakeConfirmer{},
		FileOptions: []files.Option{files.WithAllowPrivateNetworks(true)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer p.Close()
	if err := p.SetLineStatus(ctx, "botframework", "3", openLine); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	var out sync.Mutex
	p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		out.Lock()
		defer out.Unlock()
		fmt.Printf("EVENT %s %d\n", m.MessageID, m.Attempt)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/pub/imconnector/", p.Handler())
	mux.HandleFunc("/advance", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		clk.Advance(d)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		s, err := p.ItemStats(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(s)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	proctest.Ready(srv.URL)()
	return 0
}

// child is a running portal process and the events it printed.
type child struct {
	proc   *proctest.Process
	events chan string
}

func startPortal(t *testing.T, dsn string, events chan string) *child {
	t.Helper()
	c := &child{events: events}
	c.proc = proctest.Start(t, []string{childEnv + "=1", childDSNEnv + "=" + dsn, childDirEnv + "=" + t.TempDir()}, func(line string) {
		if ev, ok := strings.CutPrefix(line, "EVENT "); ok {
			events <- ev
		}
	})
	return c
}

func (c *child) get(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := http.Get(c.proc.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, b.String())
	}
	return []byte(b.String())
}

// TestKilledBetweenAnswerAndRetry: a packet whose one item's download fails for now is answered OK, the
// other items fire at once; the portal is killed with SIGKILL before the retry; a new process on the same
// database retries the item when its time comes, and every item has fired exactly once.
func TestKilledBetweenAnswerAndRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, db := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{{"sqlite", func(t *testing.T) string { return testdb.SQLiteDSN(t) }}, {"mysql", func(t *testing.T) string { return testdb.MySQLDSN(t) }},
		{"postgres", func(t *testing.T) string { return testdb.PostgresDSN(t) }}} {
		t.Run(db.name, func(t *testing.T) { testKilledBetweenAnswerAndRetry(t, db.dsn(t)) })
	}
}

func testKilledBetweenAnswerAndRetry(t *testing.T, dsn string) {
	var down atomic.Bool
	down.Store(true)
	fileSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pngHeader)
	}))
	defer fileSrv.Close()
	events := make(chan string, 16)
	send := routertest.NewSender(t, md5Creds, clock.NewFake(epoch), "botframework.skype", "3")
	body := send.Body(t, openlines.CommandReceivingMessage, []any{
		msgItem("ext-1", "c1", "m1", "one"),
		msgItem("ext-1", "c1", "m2", "two", "message", wire.NewMap("id", "m2", "text", "two", "files", []any{wire.NewMap("url", fileSrv.URL+"/photo")})),
		msgItem("ext-1", "c1", "m3", "three"),
	})

	a := startPortal(t, dsn, events)
	if ans := routertest.Post(t, nil, a.proc.URL+"/pub/imconnector/", body); ans.Err != nil || string(ans.Body) != `{"OK":true,"DATA":[]}` {
		t.Fatalf("answer %s", ans.Body)
	}
	got := []string{wait(t, events, "event of m1"), wait(t, events, "event of m3")}
	if !reflect.DeepEqual(got, []string{"m1 1", "m3 1"}) {
		t.Fatalf("events %v", got)
	}
	a.proc.Kill()

	down.Store(false)
	b := startPortal(t, dsn, events)
	// The server, not knowing, sends the packet again: every item is a duplicate.
	if ans := routertest.Post(t, nil, b.proc.URL+"/pub/imconnector/", body); ans.Err != nil {
		t.Fatalf("answer %s", ans.Body)
	}
	b.get(t, "/advance?d=61s") // the retry of m2 is due a minute after its first attempt
	if ev := wait(t, events, "event of m2"); ev != "m2 2" {
		t.Fatalf("event %q, want m2 on its second attempt", ev)
	}
	b.get(t, "/advance?d=25h")
	// The event is printed before its result is recorded: wait for the child's store to have nothing
	// pending (another process: it can only be polled).
	var stats portal.ItemStats
	eventually.True(t, 30*time.Second, "the child's store to have nothing pending", func() bool {
		if err := json.Unmarshal(b.get(t, "/stats"), &stats); err != nil {
			t.Fatal(err)
		}
		return stats.Pending == 0
	})
	if stats.Pending != 0 || stats.Dead != 0 || stats.Duplicates != 3 || stats.Fired != 1 {
		t.Fatalf("stats %+v", stats)
	}
	b.proc.Stop()
	select {
	case ev := <-events:
		t.Fatalf("an event fired again: %s", ev)
	default:
	}
}

// pngHeader is the start of a PNG file: enough for the type to be sniffed.
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// withDSN makes the rig's portal open (and close) its own database, as a restarted process would.
func withDSN(dsn string) rigOption {
	return func(c *portal.Config) { c.DB, c.DSN = nil, dsn }
}

// TestRestartKeepsTheItems: items kept for a retry survive a restart (Close, New on the same database); a
// packet sent again after the restart is all duplicates; each item fires once.
func TestRestartKeepsTheItems(t *testing.T) {
	testdb.EachDSN(t, func(t *testing.T, dsn string) {
		fired := map[string]int{}
		var mu sync.Mutex
		subscriber := func(failOn string) func(context.Context, portal.Message) error {
			return func(_ context.Context, m portal.Message) error {
				if m.MessageID == failOn {
					return fmt.Errorf("backend down")
				}
				mu.Lock()
				fired[m.MessageID]++
				mu.Unlock()
				return nil
			}
		}
		items := []any{msgItem("ext-1", "c1", "m1", "one"), msgItem("ext-1", "c1", "m2", "two"), msgItem("ext-1", "c1", "m3", "three")}
		a := newRig(t, md5Creds, nil, withDSN(dsn)).manualRetries()
		a.p.OnReceivedMessage(subscriber("m2"))
		a.postOK(t, openlines.CommandReceivingMessage, items)
		a.srv.Close()
		if err := a.p.Close(); err != nil {
			t.Fatal(err)
		}

		b := newRig(t, md5Creds, nil, withDSN(dsn)).manualRetries()
		b.p.OnReceivedMessage(subscriber(""))
		b.postOK(t, openlines.CommandReceivingMessage, items)
		b.retryAt(t, time.Minute)
		if want := map[string]int{"m1": 1, "m2": 1, "m3": 1}; !reflect.DeepEqual(fired, want) {
			t.Fatalf("fired %v", fired)
		}
		b.retryAt(t, 48*time.Hour)
		if len(fired) != 3 || fired["m2"] != 1 {
			t.Fatalf("fired %v", fired)
		}
	})
}

// TestTwoPortalsOnOneSQLiteFile: two portal processes (here two portals, each with its own connections) on
// one SQLite file see each other's items.
func TestTwoPortalsOnOneSQLiteFile(t *testing.T) {
	dsn := testdb.SQLiteDSN(t)
	var mu sync.Mutex
	fired := map[string]int{}
	count := func(_ context.Context, m portal.Message) error {
		mu.Lock()
		fired[m.MessageID]++
		mu.Unlock()
		return nil
	}
	m1, m2 := msgItem("ext-1", "c1", "m1", "one"), msgItem("ext-1", "c1", "m2", "two")
	a := newRig(t, md5Creds, nil, withDSN(dsn))
	a.p.OnReceivedMessage(count)
	b := newRig(t, md5Creds, nil, withDSN(dsn))
	b.p.OnReceivedMessage(count)
	a.postOK(t, openlines.CommandReceivingMessage, []any{m1})
	b.postOK(t, openlines.CommandReceivingMessage, []any{m1, m2})
	a.postOK(t, openlines.CommandReceivingMessage, []any{m2})
	if want := map[string]int{"m1": 1, "m2": 1}; !reflect.DeepEqual(fired, want) {
		t.Fatalf("fired %v", fired)
	}
}

// TestServeAfterClose: a packet served after Close (the HTTP server not stopped yet) on a database the caller
// owns is still stored and processed, and Close twice is harmless.
func TestServeAfterClose(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	var n atomic.Int32
	r.p.OnReceivedMessage(func(context.Context, portal.Message) error { n.Add(1); return nil })
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	r.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
	if n.Load() != 1 || countRows(t, r.db, "olctl_portal_items", "state = 1") != 1 {
		t.Fatalf("%d events", n.Load())
	}
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRetriesStartWithHandler: a portal started on a database with an item due (its earlier attempt failed,
// or its process died) retries it only once Handler is called, after the subscribers were added: the item
// fires on them rather than on none.
func TestRetriesStartWithHandler(t *testing.T) {
	db := testdb.SQLite(t)
	a := newRig(t, md5Creds, db, retrySchedule(time.Minute)).manualRetries()
	a.p.OnReceivedMessage(func(context.Context, portal.Message) error { return errors.New("backend down") })
	a.postOK(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "one")})
	a.srv.Close()

	clk := clock.NewFake(epoch.Add(time.Hour)) // the item is due
	b, err := portal.New(context.Background(), portal.Config{Credentials: md5Creds, DB: db, Clock: clk, Users: &fakeUsers{},
		Files: &fakeFiles{}, Confirmer: &fakeConfirmer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := clk.Waiters(); n != 0 {
		t.Fatalf("New started %d timers: the retries run before Handler", n)
	}
	events := make(chan portal.Message, 1)
	b.OnReceivedMessage(func(_ context.Context, m portal.Message) error { events <- m; return nil })
	b.Handler()
	if m := wait(t, events, "the retry of m1"); m.MessageID != "m1" || m.Attempt != 2 {
		t.Fatalf("retry %s attempt %d", m.MessageID, m.Attempt)
	}
}
