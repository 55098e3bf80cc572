package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// The attack tests run the servers a user runs, `olctl connector serve` and `olctl serve`, as processes of
// the olctl binary built without the race detector (so that their RSS is what a deployment sees), on
// 127.0.0.1, and attack them with what broke them before: bodies of many fields, declared lengths never
// sent, trickled bodies, packets over the portal's cap, items no portal can take, dates past 9999, slow
// attachments, a BX_DOMAIN that probes the server's network, register before testConnect, /metrics through
// a proxy, and 500 concurrent slow clients. Each case checks its answer, that nothing was stored that should
// not be, and that a normal message still goes through.

// olctlBinary builds cmd/olctl into dir.
func olctlBinary(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building olctl needs go on PATH: %v", err)
	}
	bin := filepath.Join(dir, "bin", "olctl")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/olctl/olctl/cmd/olctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var (
	connectorReady = regexp.MustCompile(`connector server listening on (http://\S+)`)
	portalReady    = regexp.MustCompile(`portal receiver listening on (http://[^/\s]+)`)
	webhookURLRE   = regexp.MustCompile(`http://\S+/imwebhook/echo\?h=[0-9a-f]+`)
)

// attackSchedule retries a portal that was down soon (the default starts at a minute).
const attackSchedule = "100ms,200ms,500ms,1s,1s,2s,2s,5s,10s,30s"

// stack is a connector server and a portal receiver, each its own olctl process, with line 1 of the echo
// connector connected between them.
type stack struct {
	t          *testing.T
	bin, dir   string
	env        []string
	conn       *proctest.Process
	portal     *proctest.Process
	portalAddr string
	portalArgs []string
	webhook    string
	events     *eventLog
}

// eventLog keeps the JSON event lines `olctl serve` prints.
type eventLog struct {
	mu      sync.Mutex
	byID    map[string][]map[string]any // message id → its events
	at      map[string]time.Time        // message id → when its first event was read
	changed chan struct{}
}

func newEventLog() *eventLog {
	return &eventLog{byID: map[string][]map[string]any{}, at: map[string]time.Time{}, changed: make(chan struct{}, 1)}
}

func (e *eventLog) line(l string) {
	var ev map[string]any
	if json.Unmarshal([]byte(l), &ev) != nil {
		return
	}
	id, _ := ev["message_id"].(string)
	e.mu.Lock()
	if _, ok := e.at[id]; !ok {
		e.at[id] = time.Now()
	}
	e.byID[id] = append(e.byID[id], ev)
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

func (e *eventLog) get(id string) ([]map[string]any, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byID[id], e.at[id]
}

// wait waits until message id has fired, or timeout passes; it returns when the event was read.
func (e *eventLog) wait(id string, timeout time.Duration) (time.Time, bool) {
	deadline := time.After(timeout)
	for {
		if evs, at := e.get(id); len(evs) > 0 {
			return at, true
		}
		select {
		case <-e.changed:
		case <-deadline:
			return time.Time{}, false
		}
	}
}

// count returns how many events fired for ids with the prefix.
func (e *eventLog) count(prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for id, evs := range e.byID {
		if strings.HasPrefix(id, prefix) {
			n += len(evs)
		}
	}
	return n
}

// startStack starts both servers with the given extra flags and connects line 1.
func startStack(t *testing.T, connFlags, portalFlags []string) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{t: t, dir: dir, bin: olctlBinary(t, dir), events: newEventLog(), portalAddr: freeAddr(t),
		env: []string{"OLCTL_LICENCE_KEY=" + licenceKey, "HOME=" + dir, "XDG_CONFIG_HOME=" + dir}}
	s.conn = proctest.Command(t, s.bin, append([]string{"connector", "serve", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--allow-private-networks", "--schedule", attackSchedule, "--log-level", "error"},
		connFlags...), s.env, connectorReady, nil)
	s.portalArgs = append([]string{"serve", "--listen", s.portalAddr, "--server", s.conn.URL, "--data-dir", dir,
		"--allow-private-networks", "--log-level", "error"}, portalFlags...)
	s.startPortal()
	out, err := s.run("connect", "--yes", "--connector", connector.EchoID, "--line", lineID, "--set", "entity=attack",
		"--db", filepath.Join(dir, "portal.db"))
	if s.webhook = webhookURLRE.FindString(out); err != nil || s.webhook == "" {
		t.Fatalf("connect: %v\n%s", err, out)
	}
	return s
}

func (s *stack) startPortal() {
	s.portal = proctest.Command(s.t, s.bin, s.portalArgs, s.env, portalReady, s.events.line)
}

// portalURL is the portal receiver's endpoint.
func (s *stack) portalURL() string { return "http://" + s.portalAddr + "/pub/imconnector/" }

// run runs olctl with the stack's server and domain and returns its combined output.
func (s *stack) run(args ...string) (string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(append(os.Environ(), s.env...), "OLCTL_SERVER="+s.conn.URL, "OLCTL_DOMAIN=http://"+s.portalAddr)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// post posts a webhook body and returns the status and answer.
func (s *stack) post(body []byte) (int, string) {
	s.t.Helper()
	resp, err := http.Post(s.webhook, "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatalf("webhook: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// normal sends one ordinary message and returns how long it took to fire at the portal.
func (s *stack) normal(id string) time.Duration {
	s.t.Helper()
	start := time.Now()
	if status, b := s.post(echoItem(id, "c-normal", "a normal message", nil)); status != http.StatusOK {
		s.t.Fatalf("a normal message: %d %s", status, b)
	}
	at, ok := s.events.wait(id, 30*time.Second)
	if !ok {
		s.t.Fatalf("the normal message %s did not arrive in 30 s", id)
	}
	return at.Sub(start)
}

// healthy checks both servers answer /healthz and a normal message goes through.
func (s *stack) healthy(after string) {
	s.t.Helper()
	for _, u := range []string{s.conn.URL + "/healthz", "http://" + s.portalAddr + "/healthz"} {
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != http.StatusOK {
			s.t.Fatalf("after %s: %s is not healthy: %v", after, u, err)
		}
		resp.Body.Close()
	}
	s.normal("healthy-" + after)
}

// queue reads the connector's queue through its own CLI.
func (s *stack) queue() connector.QueueStats {
	s.t.Helper()
	out, err := s.run("connector", "queue", "stats", "--json", "--db", filepath.Join(s.dir, "connector.db"))
	var st connector.QueueStats
	if err != nil || json.Unmarshal([]byte(out), &st) != nil {
		s.t.Fatalf("queue stats: %v\n%s", err, out)
	}
	return st
}

// waitQueueEmpty waits for the connector's queue to drain and returns its stats.
func (s *stack) waitQueueEmpty(timeout time.Duration) connector.QueueStats {
	s.t.Helper()
	var st connector.QueueStats
	eventually.True(s.t, timeout, "the connector's queue to drain", func() bool { st = s.queue(); return st.Pending == 0 })
	return st
}

// echoItem is a webhook body of one echo item; extra keys are added to its message.
func echoItem(id, chat, text string, extra map[string]any) []byte {
	msg := map[string]any{"id": id, "text": text}
	for k, v := range extra {
		msg[k] = v
	}
	b, _ := json.Marshal([]any{map[string]any{"user": map[string]any{"id": "u-" + chat}, "message": msg, "chat": map[string]any{"id": chat}}})
	return b
}

// manyFieldsBody is 160 000 distinct empty fields, 1.2 MB.
func manyFieldsBody() string {
	var b strings.Builder
	for i := 0; i < 160000; i++ {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("f" + strconv.Itoa(i))
	}
	return b.String()
}

// holders opens n connections to addr that each send headers announcing an 8 MiB body and then body bytes
// (one every interval), or, with slowHeaders, their headers a byte at a time, until stop is called. Each
// connection counts in cut when the server closes it or answers.
type holders struct {
	stop func()
	cut  *atomic.Int64
	open *atomic.Int64
}

func hold(t *testing.T, addr, path string, n int, slowHeaders bool, interval time.Duration) holders {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	cut, open := &atomic.Int64{}, &atomic.Int64{}
	head := "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8388608\r\n\r\nBX_COMMAND="
	if slowHeaders {
		head = "POST " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: "
	}
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		open.Add(1)
		wg.Add(2)
		closed := make(chan struct{})
		go func() { // the server's side: an answer or a close ends the connection
			defer wg.Done()
			_, _ = io.Copy(io.Discard, c)
			cut.Add(1)
			close(closed)
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-closed:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("a")); err != nil {
						return
					}
				}
			}
		}()
	}
	var once sync.Once
	return holders{stop: func() { once.Do(func() { close(done); wg.Wait() }) }, cut: cut, open: open}
}

// rss samples a process's RSS every 50 ms until stop and returns the largest sample.
func sampleRSS(p *proctest.Process) (stop func() float64) {
	done := make(chan struct{})
	res := make(chan float64, 1)
	go func() {
		peak := p.RSS()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				res <- max(peak, p.RSS())
				return
			case <-tick.C:
				peak = max(peak, p.RSS())
			}
		}
	}()
	return func() float64 { close(done); return <-res }
}

// TestAttackProcesses runs every hostile case against the two server processes, each with its expected
// answer, the servers healthy after it and nothing stored that should not be.
func TestAttackProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds olctl and runs it as processes")
	}
	start := time.Now()
	// A 3 s body deadline keeps the held-connection cases short; everything else is the defaults.
	s := startStack(t, []string{"--read-timeout", "3s"}, []string{"--read-timeout", "3s"})
	s.normal("first")
	connAddr := strings.TrimPrefix(s.conn.URL, "http://")

	t.Run("many fields", func(t *testing.T) {
		body := manyFieldsBody()
		for _, target := range []struct {
			name string
			p    *proctest.Process
			url  string
		}{{"portal", s.portal, s.portalURL()}, {"connector", s.conn, s.conn.URL + "/imwebhook/portal.php"}} {
			cpu := target.p.CPUTime()
			wall := time.Now()
			const n = 10
			for i := 0; i < n; i++ {
				resp, err := http.Post(target.url, "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "BAD_PACKET") || !strings.Contains(string(b), "too many fields") {
					t.Fatalf("%s: %d %s", target.name, resp.StatusCode, b)
				}
			}
			perCPU, perWall := (target.p.CPUTime()-cpu)/n, time.Since(wall)/n
			t.Logf("%s: 160 000 fields (%d bytes) answered BAD_PACKET in %v of wall time, %v of the server's CPU, per request",
				target.name, len(body), perWall.Round(time.Microsecond), perCPU)
			if perCPU > 100*time.Millisecond {
				t.Errorf("%s: %v of CPU per request", target.name, perCPU)
			}
		}
		s.healthy("many-fields")
	})

	t.Run("declared lengths", func(t *testing.T) {
		for _, target := range []struct {
			name, addr, path string
			p                *proctest.Process
			n                int
		}{{"portal", s.portalAddr, "/pub/imconnector/", s.portal, 100}, {"connector", connAddr, "/imwebhook/portal.php", s.conn, 60}} {
			before := target.p.RSS()
			rss := sampleRSS(target.p)
			h := hold(t, target.addr, target.path, target.n, false, time.Hour) // 10 bytes sent, 8 MiB announced
			began := time.Now()
			eventually.True(t, 10*time.Second, fmt.Sprintf("the read timeout to cut the %d connections held to the %s", target.n, target.name),
				func() bool { return h.cut.Load() >= int64(target.n) })
			peak := rss()
			h.stop()
			t.Logf("%s: %d connections announcing 8 MiB each: RSS %.1f → %.1f MiB, all cut after %v", target.name, target.n, before, peak,
				time.Since(began).Round(100*time.Millisecond))
			if peak-before > 25 {
				t.Errorf("%s: RSS grew by %.1f MiB", target.name, peak-before)
			}
		}
		s.healthy("declared-lengths")
	})

	t.Run("trickled body", func(t *testing.T) {
		h := hold(t, s.portalAddr, "/pub/imconnector/", 1, false, 500*time.Millisecond)
		began := time.Now()
		eventually.True(t, 10*time.Second, "the read timeout to cut the trickled body", func() bool { return h.cut.Load() != 0 })
		h.stop()
		if d := time.Since(began); h.cut.Load() != 1 || d > 6*time.Second {
			t.Errorf("a body at a byte every 500 ms was cut after %v (cut: %d)", d, h.cut.Load())
		}
		s.healthy("trickle")
	})

	t.Run("batch over the portal's cap", func(t *testing.T) {
		// The portal is down while 60 messages of 130 KB queue up, as behind a slow portal: the first batch
		// would be 8.7 MiB of packet.
		s.portal.Kill()
		text := strings.Repeat("x", 130000)
		for i := 0; i < 60; i++ {
			if status, b := s.post(echoItem("big-"+strconv.Itoa(i), "c-big", text, nil)); status != http.StatusOK {
				t.Fatalf("big message %d: %d %s", i, status, b)
			}
		}
		s.startPortal()
		for i := 0; i < 60; i++ {
			if _, ok := s.events.wait("big-"+strconv.Itoa(i), 60*time.Second); !ok {
				t.Fatalf("big message %d did not arrive", i)
			}
		}
		if st := s.waitQueueEmpty(10 * time.Second); st.Pending != 0 || st.Dead != 0 {
			t.Errorf("queue %+v, want empty with no dead letters", st)
		}
		if n := s.events.count("big-"); n != 60 {
			t.Errorf("%d events for 60 big messages", n)
		}
		s.healthy("big-batch")
	})

	t.Run("undeliverable items", func(t *testing.T) {
		status, b := s.post(echoItem("huge", "c-bad", strings.Repeat("y", 6400000), nil))
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(b, "REQUEST_ENTITY_TOO_LARGE") {
			t.Errorf("a 6.4 MB item: %d %.200s", status, b)
		}
		status, b = s.post([]byte(`[{"command":"sendCoffee","user":{"id":"u"},"message":{"id":"coffee","text":"x"},"chat":{"id":"c-bad"}}]`))
		if status != http.StatusBadRequest || !strings.Contains(b, "BAD_PACKET") || !strings.Contains(b, "sendCoffee") {
			t.Errorf("an unknown command: %d %s", status, b)
		}
		s.healthy("undeliverable")
		if evs, _ := s.events.get("huge"); len(evs) != 0 {
			t.Error("the 6.4 MB item arrived")
		}
		if evs, _ := s.events.get("coffee"); len(evs) != 0 {
			t.Error("the item with an unknown command arrived")
		}
		if st := s.queue(); st.Pending != 0 || st.Dead != 0 {
			t.Errorf("queue %+v", st)
		}
	})

	t.Run("date after 9999", func(t *testing.T) {
		const secs = 253402300800 // 10000-01-01
		if status, b := s.post(echoItem("year-10000", "c-date", "from the future", map[string]any{"date": secs})); status != http.StatusOK {
			t.Fatalf("webhook: %d %s", status, b)
		}
		if _, ok := s.events.wait("year-10000", 30*time.Second); !ok {
			t.Fatal("the message dated 10000-01-01 did not fire")
		}
		evs, _ := s.events.get("year-10000")
		if len(evs) != 1 || evs[0]["date_unix"] != float64(secs) || evs[0]["date"] != nil {
			t.Errorf("events %v", evs)
		}
		if st := s.waitQueueEmpty(10 * time.Second); st.Pending != 0 || st.Dead != 0 {
			t.Errorf("queue %+v", st)
		}
		s.healthy("date")
	})

	t.Run("slow attachments", func(t *testing.T) {
		// Line 2 carries a message whose eight files never arrive; line 1's message with one small file must
		// not wait for them.
		release := make(chan struct{})
		var slowHits atomic.Int32
		files := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/slow/") {
				slowHits.Add(1)
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "small file")
		})
		defer close(release)
		out, err := s.run("connect", "--yes", "--connector", connector.EchoID, "--line", "2", "--set", "entity=attack-2",
			"--db", filepath.Join(s.dir, "portal.db"))
		hook2 := webhookURLRE.FindString(out)
		if err != nil || hook2 == "" {
			t.Fatalf("connect line 2: %v\n%s", err, out)
		}
		var slow []map[string]any
		for i := 0; i < 8; i++ {
			slow = append(slow, map[string]any{"url": files + "/slow/" + strconv.Itoa(i), "name": "f" + strconv.Itoa(i) + ".txt"})
		}
		resp, err := http.Post(hook2, "application/json", bytes.NewReader(echoItem("slow-files", "c-slow", "eight slow files", map[string]any{"files": slow})))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("slow message: %v %v", resp, err)
		}
		resp.Body.Close()
		eventually.True(t, 10*time.Second, "2 slow downloads to start", func() bool { return slowHits.Load() >= 2 })
		start := time.Now()
		if status, b := s.post(echoItem("small-file", "c-small", "one small file", map[string]any{"files": []any{map[string]any{"url": files + "/small.txt"}}})); status != http.StatusOK {
			t.Fatalf("small message: %d %s", status, b)
		}
		at, ok := s.events.wait("small-file", 20*time.Second)
		if !ok {
			t.Fatal("the other chat's message did not arrive while the slow files held their slots")
		}
		evs, _ := s.events.get("small-file")
		if d := at.Sub(start); d > 5*time.Second || len(evs) != 1 || evs[0]["files"] == nil {
			t.Errorf("the other chat's file took %v beside eight slow ones: %v", d, evs)
		}
		if n := slowHits.Load(); n > 2 {
			t.Errorf("the slow message had %d downloads going, want at most 2", n)
		}
		t.Logf("another chat's file arrived %v after it was sent, while eight slow files of one message held 2 slots",
			at.Sub(start).Round(time.Millisecond))
	})

	t.Run("BX_DOMAIN probe", func(t *testing.T) {
		// A connector server as deployed (no --allow-private-networks), and a signed testConnect whose
		// BX_DOMAIN is an address of its own network.
		var accepted atomic.Int32
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		guarded := proctest.Command(t, s.bin, []string{"connector", "serve", "--listen", "127.0.0.1:0", "--db",
			filepath.Join(s.dir, "guarded.db"), "--log-level", "error"}, s.env, connectorReady, nil)
		probe := "http://" + ln.Addr().String()
		cl, err := client.New(guarded.URL, client.WithDomain(probe), client.WithLicenceKey(licenceKey))
		if err != nil {
			t.Fatal(err)
		}
		err = cl.TestConnect(context.Background(), client.Connector(connector.EchoID), client.Line(lineID))
		codes := wire.ErrorItems(err)
		if len(codes) == 0 || codes[0].Code != string(wire.CodeFailedTestConnector) || !strings.Contains(codes[0].Message, "not a public address") {
			t.Errorf("testConnect probing %s: %v", probe, err)
		}
		if n := accepted.Load(); n != 0 {
			t.Errorf("the probed address got %d connections", n)
		}
	})

	t.Run("register before testConnect", func(t *testing.T) {
		cl, err := client.New(s.conn.URL, client.WithDomain("http://"+s.portalAddr), client.WithLicenceKey(licenceKey))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := cl.SaveSettings(ctx, client.Settings{"entity": "e-3"}, client.Connector(connector.EchoID), client.Line("3")); err != nil {
			t.Fatal(err)
		}
		_, err = cl.Register(ctx, client.Connector(connector.EchoID), client.Line("3"))
		if codes := wire.ErrorItems(err); len(codes) == 0 || codes[0].Code != string(wire.CodeFailedRegister) {
			t.Errorf("register without testConnect: %v", err)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		get := func(forwarded bool) int {
			req, _ := http.NewRequest("GET", s.conn.URL+"/metrics", nil)
			if forwarded {
				req.Header.Set("X-Forwarded-For", "203.0.113.9")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := get(false); got != http.StatusOK {
			t.Errorf("/metrics from loopback: %d", got)
		}
		if got := get(true); got != http.StatusForbidden {
			t.Errorf("/metrics through a proxy: %d", got)
		}
	})

	t.Run("half-closed client", func(t *testing.T) {
		// A signed packet whose client closes its side after the request: an answer, or none; never
		// INTERNAL_ERROR "context canceled".
		c, err := net.Dial("tcp", s.portalAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		body := signedPortalBody(t, openlines.CommandSetChatName, wire.NewMap("name", "n", "chat_id", "c-normal", "user_id", "u-c-normal"))
		fmt.Fprintf(c, "POST /pub/imconnector/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		_ = c.(*net.TCPConn).CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c)
		if strings.Contains(string(b), "context canceled") || strings.Contains(string(b), "INTERNAL_ERROR") {
			t.Errorf("a half-closed client got %q", b)
		}
		s.healthy("half-close")
	})

	// Nothing else reached the portal, and both processes stayed small.
	if st := s.waitQueueEmpty(10 * time.Second); st.Pending != 0 || st.Dead != 0 {
		t.Errorf("queue at the end %+v", st)
	}
	t.Logf("peak RSS over every case: connector %.1f MiB, portal %.1f MiB; %v in all", s.conn.PeakRSS(), s.portal.PeakRSS(),
		time.Since(start).Round(time.Second))
}

// signedPortalBody is a server → portal packet signed with the test licence key.
func signedPortalBody(t *testing.T, command string, data any) string {
	t.Helper()
	fields, err := (&wire.Packet{Command: command, Connector: connector.EchoID, Line: lineID, Data: data}).Encode(wire.ToPortal)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := wire.NewSigner(wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(fields)
	if err != nil {
		t.Fatal(err)
	}
	return signed.Encode()
}

// TestSlowClientsLoad: 500 concurrent slow clients (400 that trickle an 8 MiB body, 100 that trickle their
// headers) against each server process, with its default limits: the server's RSS stays under 100 MiB, a
// normal message still arrives within 1 s during the attack, and the server is healthy afterwards.
func TestSlowClientsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds olctl and runs it as processes")
	}
	s := startStack(t, nil, nil)
	s.normal("warm-up")
	connAddr := strings.TrimPrefix(s.conn.URL, "http://")
	hookPath := strings.TrimPrefix(s.webhook, s.conn.URL)
	for _, target := range []struct {
		name string
		p    *proctest.Process
		addr string
		path []string
	}{
		{"connector", s.conn, connAddr, []string{hookPath, "/imwebhook/portal.php"}},
		{"portal", s.portal, s.portalAddr, []string{"/pub/imconnector/"}},
	} {
		t.Run(target.name, func(t *testing.T) {
			before := target.p.RSS()
			rss := sampleRSS(target.p)
			var hs []holders
			for i, n := 0, 0; n < 400; i, n = i+1, n+100 {
				hs = append(hs, hold(t, target.addr, target.path[i%len(target.path)], 100, false, time.Second))
			}
			hs = append(hs, hold(t, target.addr, target.path[0], 100, true, time.Second))
			var worst time.Duration
			for i := 0; i < 5; i++ {
				d := s.normal(fmt.Sprintf("during-%s-%d", target.name, i))
				worst = max(worst, d)
				if d > time.Second {
					t.Errorf("a normal message took %v during the attack", d)
				}
				time.Sleep(500 * time.Millisecond) // not a poll: it spreads the five probes over the attack
			}
			var cut int64
			for _, h := range hs {
				cut += h.cut.Load()
			}
			peak := rss()
			for _, h := range hs {
				h.stop()
			}
			t.Logf("%s: 500 slow clients (%d cut meanwhile): RSS %.1f → %.1f MiB; a normal message took %v at worst",
				target.name, cut, before, peak, worst.Round(time.Millisecond))
			if peak >= 100 {
				t.Errorf("%s: RSS %.1f MiB during the attack, want under 100", target.name, peak)
			}
			s.healthy("load-" + target.name)
		})
	}
}
