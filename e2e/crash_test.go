package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// The crash test runs the connector server as a separate process (this test binary re-executed) so that it can
// be killed for real with SIGKILL.
const (
	childEnv       = "OLCTL_E2E_CHILD"
	childDSNEnv    = "OLCTL_E2E_CHILD_DSN"
	childAddrEnv   = "OLCTL_E2E_CHILD_ADDR"
	childPortalEnv = "OLCTL_E2E_CHILD_PORTAL"
	// For the chain benchmark: the fake Bot Framework's endpoints, the server's URL (portal child), hmac mode.
	childBFOpenIDEnv = "OLCTL_E2E_CHILD_BF_OPENID"
	childBFTokenEnv  = "OLCTL_E2E_CHILD_BF_TOKEN"
	childServerEnv   = "OLCTL_E2E_CHILD_SERVER"
	childHMACEnv     = "OLCTL_E2E_CHILD_HMAC"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "connector":
		os.Exit(runChildConnector())
	case "portal":
		os.Exit(runChildPortal())
	}
	os.Exit(m.Run())
}

// runChildConnector is the body of the re-executed process: a connector server until it is killed.
func runChildConnector() int {
	channels := connector.NewChannels()
	if u := os.Getenv(childBFOpenIDEnv); u != "" {
		channels.Register(botframework.ID, botframework.New(botframework.WithOpenIDMetadataURL(u),
			botframework.WithTokenURL(os.Getenv(childBFTokenEnv))))
	}
	mode, secrets := wire.MD5, []string(nil)
	if os.Getenv(childHMACEnv) != "" {
		mode, secrets = wire.HMACSHA256, []string{hmacSecret}
	}
	srv, err := connector.NewServer(connector.Config{
		Channels: channels,
		DSN:      os.Getenv(childDSNEnv),
		Addr:     os.Getenv(childAddrEnv),
		Sites:    []connector.Site{{LicenceKey: licenceKey, Mode: mode, Secrets: secrets, Domain: os.Getenv(childPortalEnv)}},
		Queue: connector.Policy{ConfirmTimeout: 5 * time.Second,
			// A crash mid-send leaves an unconfirmed batch: retry it soon.
			Schedule: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second,
				time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	srv.Start()
	wait := proctest.Ready(srv.URL())
	wait()
	_ = srv.Close()
	return 0
}

// startChild starts a connector server process on addr.
func startChild(t testing.TB, dsn, addr, portalURL string, env ...string) *proctest.Process {
	t.Helper()
	return proctest.Start(t, append([]string{childEnv + "=connector", childDSNEnv + "=" + dsn, childAddrEnv + "=" + addr,
		childPortalEnv + "=" + portalURL}, env...), nil)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// crashMessages is the size of the crash run: 10 000 messages with 10 kills; -short makes it 2 000.
func crashMessages() int {
	if testing.Short() {
		return 2000
	}
	if n, err := strconv.Atoi(os.Getenv("OLCTL_E2E_CRASH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// TestConnectorKilledMidStream kills the connector server with SIGKILL ten times while 10 000 messages go
// through it to a real portal, restarting it on the same database each time: every message arrives and fires
// its event exactly once.
func TestConnectorKilledMidStream(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "connector.db") }},
		{"mariadb", func(t *testing.T) string { return testdb.MySQLDSN(t) }},
		{"postgres", func(t *testing.T) string { return testdb.PostgresDSN(t) }},
	} {
		t.Run(db.name, func(t *testing.T) { testKilledMidStream(t, db.dsn(t)) })
	}
}

func testKilledMidStream(t *testing.T, dsn string) {
	total := crashMessages()
	const kills = 10
	const batch = 50
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	// The portal, in this process.
	var mu sync.Mutex
	fired := map[string]int{}
	var handler http.Handler = http.NotFoundHandler()
	var hmu sync.RWMutex
	portalHTTP := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		h := handler
		hmu.RUnlock()
		h.ServeHTTP(w, r)
	})
	addr := freeAddr(t)
	serverURL := "http://" + addr
	p, err := portal.New(ctx, portal.Config{
		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
		ServerURL:   serverURL,
		Domain:      portalHTTP,
		DB:          testdb.SQLite(t),
		DataDir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan struct{})
	var once sync.Once
	p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
		mu.Lock()
		fired[m.MessageID]++
		n := len(fired)
		mu.Unlock()
		if n == total {
			once.Do(func() { close(done) })
		}
		return nil
	})
	hmu.Lock()
	handler = p.Handler()
	hmu.Unlock()

	c := startChild(t, dsn, addr, portalHTTP)
	defer func() { c.Kill() }()
	cl, err := client.New(serverURL, client.WithDomain(portalHTTP), client.WithLicenceKey(licenceKey), client.WithLineStatus(p.LineStatuses()))
	if err != nil {
		t.Fatal(err)
	}
	data, err := cl.Connect(ctx, client.Settings{"entity": "crash-bot"}, client.Connector(connector.EchoID), client.Line(lineID))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	webhook, _ := data["URL_WEBHOOK"].(string)
	if webhook == "" {
		t.Fatalf("no URL_WEBHOOK in %v", data)
	}

	// The messenger: batches of 50 messages, each posted until the server accepts it (as a messenger retries
	// a webhook that failed), while the server is killed after every tenth of the run.
	killEvery := total / kills
	killed := 0
	for start := 0; start < total; start += batch {
		body := echoBatch(start, min(batch, total-start))
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				t.Fatalf("gave up posting batch %d", start)
			}
			resp, err := http.Post(webhook, "application/json", bytes.NewReader(body))
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if killed < kills && (start+batch)%killEvery == 0 {
			c.Kill()
			killed++
			c = startChild(t, dsn, addr, portalHTTP)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		mu.Lock()
		n := len(fired)
		mu.Unlock()
		t.Fatalf("only %d of %d messages arrived", n, total)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range fired {
		if n != 1 {
			t.Errorf("message %s fired %d times", id, n)
		}
	}
	if killed != kills {
		t.Errorf("killed %d times, want %d", killed, kills)
	}
	t.Logf("%d messages through %d SIGKILLs of the connector server: all arrived, each event once", total, killed)
}

func echoBatch(start, n int) []byte {
	items := make([]map[string]any, n)
	for i := range items {
		id := strconv.Itoa(start + i)
		items[i] = map[string]any{
			"user":    map[string]any{"id": "crash-user-" + strconv.Itoa((start+i)%7)},
			"message": map[string]any{"id": "m" + id, "text": "message " + id},
			"chat":    map[string]any{"id": "crash-chat"},
		}
	}
	b, _ := json.Marshal(items)
	return b
}

// httpServer serves h on 127.0.0.1 until the test ends and returns its URL.
func httpServer(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
