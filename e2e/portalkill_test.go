package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// The portal SIGKILL run: a portal process (this test binary run again) takes a stream of messages from a
// connector server in this process and is killed with SIGKILL again and again mid-stream, then started
// again on the same database. Its subscriber is a backend that acts through the portal's event transaction
// (portal.Tx): it adds a row per event to a table of the portal's database with no unique key, so a delivery
// whose row committed twice would show as a second row. The run counts the rows per message (every message
// exactly once: 0 lost, 0 duplicated) and, apart, how often the portal delivered an event again after a kill
// (an item whose transaction had not committed when the process died: its row was rolled back with it).
const (
	portalKillEnv       = "OLCTL_E2E_PORTAL_KILL_CHILD" // the child's database DSN
	portalKillAddrEnv   = "OLCTL_E2E_PORTAL_KILL_ADDR"
	portalKillServerEnv = "OLCTL_E2E_PORTAL_KILL_SERVER"
	// portalKillProfileEnv is the generation of the portal process: current or legacy.
	portalKillProfileEnv = "OLCTL_E2E_PORTAL_KILL_PROFILE"
	// portalKillFullEnv makes the run the full one: 20 000 messages and 50 kills per database.
	portalKillFullEnv = "OLCTL_E2E_PORTAL_KILL_FULL"
)

// The child starts from init, before the package's TestMain, so that this file needs nothing of the
// package's other children.
func init() {
	if dsn := os.Getenv(portalKillEnv); dsn != "" {
		os.Exit(runPortalKillChild(dsn))
	}
}

// firedTable is the backend's table of events: no key on the item, a row per committed action.
const firedTable = `CREATE TABLE IF NOT EXISTS e2e_fired (item_id BIGINT NOT NULL, message_id VARCHAR(64) NOT NULL,
	attempt INTEGER NOT NULL)`

// runPortalKillChild is the portal process: the echo connector's line open, every message recorded through
// the event transaction, each delivery printed as "DELIVERY <message id> <attempt> <item id>", the portal's
// warnings on standard error.
func runPortalKillChild(dsn string) int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, firedTable); err != nil {
		return fail(err)
	}
	addr := os.Getenv(portalKillAddrEnv)
	dir, err := os.MkdirTemp("", "olctl-portal-kill-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	profile, err := wire.ParseProfile(os.Getenv(portalKillProfileEnv))
	if err != nil {
		return fail(err)
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
		ServerURL:   os.Getenv(portalKillServerEnv), Domain: "http://" + addr, DB: db, DataDir: dir, Profile: profile,
		// An attempt that a killed process held is taken over 3 s later; the store is looked at often.
		Retry:  portal.RetryPolicy{Lease: 3 * time.Second, Poll: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	if err := p.SetLineStatus(ctx, connector.EchoID, lineID, openlines.LineStatus{Active: true, Connection: true, Register: true}); err != nil {
		return fail(err)
	}
	var out sync.Mutex
	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
		out.Lock()
		fmt.Printf("DELIVERY %s %d %d\n", m.MessageID, m.Attempt, m.ItemID)
		out.Unlock()
		return record(ctx, m)
	})
	srv := &http.Server{Addr: addr, Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := listenRetry(addr)
	if err != nil {
		return fail(err)
	}
	go func() { _ = srv.Serve(ln) }()
	proctest.Ready("http://" + addr)()
	return 0
}

// record is the backend's action: a row in the event transaction, which commits with the item's result.
func record(ctx context.Context, m portal.Message) error {
	tx, err := portal.Tx(ctx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO e2e_fired (item_id, message_id, attempt) VALUES (?, ?, ?)`,
		m.ItemID, m.MessageID, m.Attempt)
	return err
}

// TestPortalKilledMidStream: the portal is killed with SIGKILL while messages stream to it, on SQLite,
// MariaDB and PostgreSQL, for a current and a legacy portal: every message is recorded by the backend
// exactly once (one row, with no unique key to hide a second), and the connector's queue empties (a current portal acknowledging by its answers alone, a
// legacy one confirming every message). By default 2 000 messages and 5 kills per database and generation;
// with OLCTL_E2E_PORTAL_KILL_FULL=1, 20 000 messages and 50 kills.
func TestPortalKilledMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	total, kills := 2000, 5
	if os.Getenv(portalKillFullEnv) != "" {
		total, kills = 20000, 50
	}
	eachCrashRun(t, func(t *testing.T) string { return testdb.SQLiteDSN(t) }, func(t *testing.T, dsn string, p wire.Profile) {
		testPortalKilled(t, dsn, p, total, kills)
	})
}

// killRun is what the parent saw of the children's deliveries.
type killRun struct {
	mu         sync.Mutex
	deliveries map[string]int      // message id → deliveries
	trail      map[string][]string // message id → "item <id> attempt <n>" of each delivery
	later      int                 // deliveries with Attempt > 1
	count      int                 // deliveries in all
	changed    chan struct{}
}

func (k *killRun) line(l string) {
	rest, ok := strings.CutPrefix(l, "DELIVERY ")
	if !ok {
		return
	}
	id, rest, _ := strings.Cut(rest, " ")
	attempt, item, _ := strings.Cut(rest, " ")
	k.mu.Lock()
	k.deliveries[id]++
	k.trail[id] = append(k.trail[id], "item "+item+" attempt "+attempt)
	k.count++
	if attempt != "1" {
		k.later++
	}
	k.mu.Unlock()
	select {
	case k.changed <- struct{}{}:
	default:
	}
}

// explainLost names the messages the backend did not record, with their deliveries and what the portal
// processes logged of their items.
func (k *killRun) explainLost(ctx context.Context, db *sqldb.DB, total int, children []*proctest.Process) string {
	got := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT message_id FROM e2e_fired`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err.Error()
		}
		got[id] = true
	}
	var b strings.Builder
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 0; i < total && b.Len() < 20000; i++ {
		id := "k" + strconv.Itoa(i)
		if got[id] {
			continue
		}
		fmt.Fprintf(&b, "lost %s, delivered as %v\n", id, k.trail[id])
		for _, tr := range k.trail[id] {
			item := strings.Fields(tr)[1]
			for n, c := range children {
				for _, l := range strings.Split(c.Stderr(), "\n") {
					if strings.Contains(l, "item="+item+" ") {
						fmt.Fprintf(&b, "  child %d: %s\n", n, l)
					}
				}
			}
		}
	}
	return b.String()
}

func (k *killRun) delivered() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.deliveries)
}

func testPortalKilled(t *testing.T, dsn string, profile wire.Profile, total, kills int) {
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	start := time.Now()
	portalAddr := freeAddr(t)
	portalURL := "http://" + portalAddr
	srv, err := connector.NewServer(connector.Config{
		Sites: []connector.Site{{LicenceKey: licenceKey, Domain: portalURL, Profile: siteProfile(profile)}},
		// A portal that is down is tried again soon; a legacy portal killed between its answer and its
		// confirmation is waited for 2 s.
		Queue: connector.Policy{Schedule: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
			500 * time.Millisecond, time.Second, time.Second, time.Second, time.Second, time.Second, time.Second},
			ConfirmTimeout: 2 * time.Second},
		SendTimeout:          10 * time.Second,
		AllowPrivateNetworks: true, // the portal listens on 127.0.0.1
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	// The portal's calls reach the server through a tap.
	calls := newTap()
	serverURL := httpServer(t, calls.wrap(srv.Handler()).ServeHTTP)

	run := &killRun{deliveries: map[string]int{}, trail: map[string][]string{}, changed: make(chan struct{}, 1)}
	env := []string{portalKillEnv + "=" + dsn, portalKillAddrEnv + "=" + portalAddr, portalKillServerEnv + "=" + serverURL,
		portalKillProfileEnv + "=" + profile.String()}
	child := proctest.Start(t, env, run.line)
	children := []*proctest.Process{child}
	defer func() { child.Kill() }()

	webhook := connectEcho(ctx, t, serverURL, portalURL, "kill-bot", profile)

	// The messenger queues every message at once; the connector's queue holds them durably.
	const batch = 50
	for from := 0; from < total; from += batch {
		body := echoBatch(from, min(batch, total-from), "k", "kill-user-", killChat)
		resp, err := http.Post(webhook, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook: %d", resp.StatusCode)
		}
	}

	// A kill after every total/(kills+1) deliveries, the process started again at once on the same database.
	for k := 1; k <= kills; k++ {
		at := k * total / (kills + 1)
		for run.delivered() < at {
			select {
			case <-run.changed:
			case <-ctx.Done():
				t.Fatalf("kill %d: only %d of %d messages delivered", k, run.delivered(), total)
			}
		}
		child.Kill()
		child = proctest.Start(t, env, run.line)
		children = append(children, child)
	}

	// Done when the backend recorded every message and the connector's queue is empty.
	pdb, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	var recorded, distinct int
	var st connector.QueueStats
	drained := false
	defer func() { // eventually.True ends the test's goroutine on a time-out: explain what is missing
		if !drained {
			ectx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			t.Logf("recorded %d of %d messages; queue %+v\n%s", distinct, total, st, run.explainLost(ectx, pdb, total, children))
		}
	}()
	eventually.True(t, left(ctx), "the backend to record every message and the queue to empty", func() bool {
		if err := pdb.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT message_id) FROM e2e_fired`).Scan(&recorded, &distinct); err != nil {
			t.Fatal(err)
		}
		var err error
		if st, err = srv.QueueStats(ctx); err != nil {
			t.Fatal(err)
		}
		return distinct == total && st.Pending == 0
	})
	drained = true
	var pending int
	if err := pdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM olctl_portal_items WHERE state <> 1`).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	child.Stop()
	lost, duplicated := total-distinct, recorded-distinct
	if lost != 0 || duplicated != 0 || pending != 0 {
		t.Errorf("%d lost, %d duplicated events; %d items not done", lost, duplicated, pending)
	}
	if st, err := srv.QueueStats(ctx); err != nil || st.Dead != 0 {
		t.Errorf("dead letters: %+v %v", st, err)
	}
	acknowledged(ctx, t, calls, profile, total, func(i int) string { return killChat(i) + " k" + strconv.Itoa(i) })
	run.mu.Lock()
	again := 0
	for _, n := range run.deliveries {
		again += n - 1
	}
	t.Logf("%s portal: %d messages, %d SIGKILLs of the portal: %d lost, %d duplicated events; %d deliveries in all, %d repeated after a kill (Attempt > 1: %d), rolled back with their kill; %v",
		profile, total, kills, lost, duplicated, run.count, again, run.later, time.Since(start).Round(time.Second))
	run.mu.Unlock()
}

// killChat is the chat of message i of the kill run: three chats, so that three run at once.
func killChat(i int) string { return "kill-chat-" + strconv.Itoa(i%3) }

// listenRetry listens on addr, trying again for a few seconds while the port is still held (a killed
// process's listener is closed by the kernel, but a restart can race it). It runs in the child, which has
// no testing.TB for eventually.True, so it keeps its own retry loop.
func listenRetry(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
