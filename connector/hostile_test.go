package connector

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/wire"
)

// TestRegisterNeedsTestConnect: register is FAILED_REGISTER_CONNECTOR unless a testConnect of the line
// connector succeeded since its settings were last saved (docs/protocol.md §10).
func TestRegisterNeedsTestConnect(t *testing.T) {
	p := newFakePortal(t, "key-register", nil)
	newTestServer(t, p, Config{})
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1"))
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register without testConnect: %q", code)
	}
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1", "fail_test", "Y"))
	if code := callErr(t, p, "testConnect", "echo", "1"); code != wire.CodeFailedTestConnector {
		t.Fatalf("failing testConnect: %q", code)
	}
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register after a failed testConnect: %q", code)
	}
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e1"))
	p.mustCall("testConnect", "echo", "1")
	if out := p.mustCall("register", "echo", "1"); out["RESULT"] != "OK" {
		t.Fatalf("register after testConnect: %v", out)
	}
	// New settings need a new test.
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e2"))
	if code := callErr(t, p, "register", "echo", "1"); code != wire.CodeFailedRegister {
		t.Fatalf("register after new settings: %q", code)
	}
}

// TestEchoRefusesUnknownCommands: an echo item whose command no portal knows (or in another case) is
// refused at the webhook with BAD_PACKET naming it, and nothing of the body is queued.
func TestEchoRefusesUnknownCommands(t *testing.T) {
	p := newFakePortal(t, "key-echo-cmd", nil)
	s := newTestServer(t, p, Config{NoDispatch: true})
	hook := p.connect("echo", "1", nil)
	for _, cmd := range []string{"bogus", "receivingmessage", ""} {
		body := `[{"user":{"id":"u"},"message":{"id":"m1","text":"ok"},"chat":{"id":"c"}},` +
			`{"command":"` + cmd + `","user":{"id":"u"},"message":{"id":"m2","text":"x"},"chat":{"id":"c"}}]`
		status, b := postWebhook(t, hook, []byte(body))
		if status != http.StatusBadRequest || !strings.Contains(string(b), "BAD_PACKET") || !strings.Contains(string(b), "items[1].command") {
			t.Errorf("command %q: %d %s", cmd, status, b)
		}
	}
	if n := queueLen(t, s); n != 0 {
		t.Fatalf("%d items queued", n)
	}
}

// unauthorizedChannel refuses every webhook with 401, as a channel does for a bad token.
type unauthorizedChannel struct{ *Echo }

func (unauthorizedChannel) ID() string { return "locked" }
func (unauthorizedChannel) Receive(context.Context, *Line, *http.Request, []byte) ([]Incoming, error) {
	return nil, &StatusError{Status: http.StatusUnauthorized, Err: errors.New("no bearer token")}
}

// TestWebhookUnauthorized: a channel's 401 is answered 401 with the code UNAUTHORIZED and counted so in the
// metrics, not as INTERNAL_ERROR.
func TestWebhookUnauthorized(t *testing.T) {
	chs := NewChannels()
	if err := chs.Register("locked", func(env Env) (Channel, error) {
		e, _ := NewEcho(env)
		return unauthorizedChannel{e.(*Echo)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := newFakePortal(t, "key-401", nil)
	s := newTestServer(t, p, Config{Channels: chs})
	hook := p.connect("locked", "1", nil)
	status, b := postWebhook(t, hook, []byte(`{}`))
	if status != http.StatusUnauthorized || !strings.Contains(string(b), `"CODE":"UNAUTHORIZED"`) {
		t.Fatalf("answer %d %s", status, b)
	}
	if got := scrape(t, s.URL(), `olctl_connector_requests_total{code="UNAUTHORIZED",endpoint="webhook"}`); got != 1 {
		t.Errorf("UNAUTHORIZED webhooks = %v, want 1", got)
	}
	if got := scrape(t, s.URL(), `olctl_connector_requests_total{code="INTERNAL_ERROR",endpoint="webhook"}`); got != 0 {
		t.Errorf("INTERNAL_ERROR webhooks = %v, want 0", got)
	}
}

// bigItems is a webhook body of n messages of size bytes of text each, numbered from first.
func bigItems(chat string, first, n, size int) []byte {
	var b strings.Builder
	b.WriteString(`[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user":{"id":"u"},"message":{"id":"%d","text":"%s"},"chat":{"id":"%s"}}`, first+i, strings.Repeat("x", size), chat)
	}
	b.WriteString(`]`)
	return []byte(b.String())
}

// TestBatchesFitThePortalCap: 40 messages of 5 KB for a portal whose cap is 64 KiB go out in packets that
// each fit it (the batch of 50 is cut), all arrive once, and nothing is dead.
func TestBatchesFitThePortalCap(t *testing.T) {
	const limit = 64 << 10
	p := newFakePortal(t, "key-fit", nil)
	p.version.Store(wire.CurrentVersion)
	p.maxBody.Store(limit)
	s := newTestServer(t, p, Config{PortalMaxBody: limit})
	hook := p.connect("echo", "1", nil)
	p.gate.Store(ptrChan(make(chan struct{}))) // hold the first packet until every item is queued
	if status, b := postWebhook(t, hook, bigItems("c", 0, 40, 5000)); status != http.StatusOK {
		t.Fatalf("webhook: %d %s", status, b)
	}
	close(*p.gate.Load())
	eventually.True(t, 20*time.Second, "40 events", func() bool { return len(p.Events()) == 40 })
	eventually.True(t, 5*time.Second, "an empty queue", func() bool { return queueLen(t, s) == 0 })
	n := 0
	for _, pk := range p.Packets() {
		if pk.Command != "receivingMessage" {
			continue
		}
		n++
		if pk.Size > limit {
			t.Errorf("a packet of %d bytes, over the cap of %d", pk.Size, limit)
		}
	}
	if n < 4 {
		t.Errorf("%d packets for 200 KB under a 64 KiB cap", n)
	}
	if st, _ := s.QueueStats(context.Background()); st.Dead != 0 || st.Blocked != 0 {
		t.Errorf("queue %+v", st)
	}
}

func ptrChan(c chan struct{}) *chan struct{} { return &c }

// TestOversizeItemAloneIsDeadLettered: a portal whose cap is below the server's refuses packets with 413;
// the server halves the batch down to one item, dead-letters the item too large for any packet alone, and
// delivers the others of its line without blocking it.
func TestOversizeItemAloneIsDeadLettered(t *testing.T) {
	p := newFakePortal(t, "key-413", nil)
	p.version.Store(wire.CurrentVersion)
	p.maxBody.Store(64 << 10) // the server believes 8 MiB
	s := newTestServer(t, p, Config{})
	hook := p.connect("echo", "1", nil)
	p.gate.Store(ptrChan(make(chan struct{})))
	var body []byte
	body = append(body, bigItems("c", 0, 3, 1000)...)
	body = append(body[:len(body)-1], ',')
	body = append(body, bigItems("c", 3, 1, 100000)[1:]...)
	body = append(body[:len(body)-1], ',')
	body = append(body, bigItems("c", 4, 3, 1000)[1:]...)
	if status, b := postWebhook(t, hook, body); status != http.StatusOK {
		t.Fatalf("webhook: %d %s", status, b)
	}
	close(*p.gate.Load())
	eventually.True(t, 20*time.Second, "6 events", func() bool { return len(p.Events()) == 6 })
	eventually.True(t, 5*time.Second, "an empty queue", func() bool { return queueLen(t, s) == 0 })
	dead, err := s.DeadLetters(context.Background(), QueueFilter{})
	if err != nil || len(dead) != 1 || dead[0].MessageID != "3" {
		t.Fatalf("dead letters %+v %v", dead, err)
	}
	if st, _ := s.QueueStats(context.Background()); st.Blocked != 0 || st.Dead != 1 {
		t.Errorf("queue %+v", st)
	}
	for _, e := range p.Events() {
		if e.Msg == "3" {
			t.Error("the oversize item arrived")
		}
	}
}

// TestWebhookRefusesUndeliverable: a webhook item that alone would make a packet over the portal's cap is
// refused with 413 and REQUEST_ENTITY_TOO_LARGE, nothing of its body queued; an item that fits is queued.
func TestWebhookRefusesUndeliverable(t *testing.T) {
	p := newFakePortal(t, "key-undeliverable", nil)
	s := newTestServer(t, p, Config{PortalMaxBody: 64 << 10, NoDispatch: true})
	hook := p.connect("echo", "1", nil)
	status, b := postWebhook(t, hook, append(bigItems("c", 0, 1, 1000)[:0:0], []byte(`[{"user":{"id":"u"},"message":{"id":"s","text":"small"},"chat":{"id":"c"}},`+
		string(bigItems("c", 1, 1, 60000)[1:]))...))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "REQUEST_ENTITY_TOO_LARGE") || !strings.Contains(string(b), "item 1") {
		t.Fatalf("an undeliverable item: %d %s", status, b)
	}
	if n := queueLen(t, s); n != 0 {
		t.Fatalf("%d items queued", n)
	}
	if status, b := postWebhook(t, hook, bigItems("c", 2, 1, 20000)); status != http.StatusOK {
		t.Fatalf("an item that fits: %d %s", status, b)
	}
}

// TestMetricsListener: /metrics on the main listener answers loopback clients only (not through a proxy);
// with MetricsAddr it has a listener of its own and the main one has none.
func TestMetricsListener(t *testing.T) {
	s := newTestServer(t, nil, Config{Sites: []Site{{LicenceKey: "k"}}})
	get := func(url string, header ...string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if len(header) == 2 {
			req.Header.Set(header[0], header[1])
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(s.MetricsURL()); got != http.StatusOK {
		t.Errorf("loopback: %d", got)
	}
	if got := get(s.MetricsURL(), "X-Forwarded-For", "203.0.113.7"); got != http.StatusForbidden {
		t.Errorf("through a proxy: %d", got)
	}
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr = "203.0.113.7:5555"
	if h.ServeHTTP(rec, req); rec.Code != http.StatusForbidden {
		t.Errorf("a remote client: %d", rec.Code)
	}

	own := newTestServer(t, nil, Config{Sites: []Site{{LicenceKey: "k"}}, MetricsAddr: "127.0.0.1:0"})
	if got := get(own.MetricsURL()); got != http.StatusOK || strings.HasPrefix(own.MetricsURL(), own.URL()) {
		t.Errorf("own listener %s: %d", own.MetricsURL(), got)
	}
	if got := get(own.URL() + "/metrics"); got != http.StatusNotFound {
		t.Errorf("main listener with MetricsAddr: %d", got)
	}
}

// TestPrivateDomainRefused: without AllowPrivateNetworks a signed testConnect whose BX_DOMAIN is a loopback
// address is FAILED_TO_TEST_CONNECTOR naming the guard, and no connection reaches that address; a
// channel's calls through Env.HTTPClient are refused the same way.
func TestPrivateDomainRefused(t *testing.T) {
	p := newFakePortal(t, "key-guard", nil)
	chs := NewChannels()
	var env Env
	if err := chs.Register("spy", func(e Env) (Channel, error) {
		env = e
		ch, _ := NewEcho(e)
		return spyChannel{ch.(*Echo)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{Sites: []Site{p.site()}, Channels: chs})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Close() })
	p.setServer(s.PortalEndpoint())
	p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e"))
	resp, err := p.call(context.Background(), "testConnect", "echo", "1")
	codes := wire.ErrorItems(err)
	if err == nil || len(codes) == 0 || codes[0].Code != string(wire.CodeFailedTestConnector) || !strings.Contains(codes[0].Message, "not a public address") {
		t.Fatalf("testConnect to a loopback BX_DOMAIN: %v %v", resp, err)
	}
	if pk := p.Packets(); len(pk) != 0 {
		t.Fatalf("the guarded address got %d packets", len(pk))
	}
	req, _ := http.NewRequest("GET", p.URL()+"/", nil)
	if _, err := env.HTTPClient.Do(req); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("a channel's call to loopback: %v", err)
	}
}

type spyChannel struct{ *Echo }

func (spyChannel) ID() string { return "spy" }

// TestServerLimits: a webhook body that trickles holds its slot only until ReadTimeout; with the one slot
// taken, another request is answered 503 at once; afterwards the server answers again.
func TestServerLimits(t *testing.T) {
	p := newFakePortal(t, "key-limits", nil)
	s := newTestServer(t, p, Config{ReadTimeout: 500 * time.Millisecond, MaxConcurrent: 1, NoDispatch: true})
	hook := p.connect("echo", "1", nil)
	u, _ := url.Parse(hook)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8388608\r\n\r\n[", u.RequestURI())
	start := time.Now()
	eventually.True(t, 400*time.Millisecond, "a 503 with Retry-After while the trickle holds the only slot", func() bool {
		resp, err := testClient.Get(s.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
	})
	eventually.True(t, 5*time.Second, "the trickle cut and the slot free", func() bool {
		resp, err := testClient.Get(s.URL() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the trickle held its slot for %v", d)
	}
}

// TestSizerIsExact: the sizes the dispatcher cuts batches by are those of the packets it sends, for every
// prefix of batches of random items (empty values, escapes, every byte) in both generations, and the
// escaped base64 count agrees with wire's encoding fed in any pieces.
func TestSizerIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, gen := range []wire.Profile{wire.Current, wire.Legacy} {
		p := newFakePortal(t, "key-sizer-"+gen.String(), nil)
		s := newTestServer(t, p, Config{NoDispatch: true})
		p.mustCall("saveSettings", "echo", "1", wire.NewMap("entity", "e"))
		site, err := s.store.siteByLicence(context.Background(), p.site().licence())
		if err != nil {
			t.Fatal(err)
		}
		site.site.Profile = ProfileLegacy
		if gen == wire.Current {
			site.site.Profile = ProfileCurrent
		}
		if site.generation() != gen {
			t.Fatalf("site generation %v, want %v", site.generation(), gen)
		}
		for round := 0; round < 20; round++ {
			b := &batch{lane: &lane{line: "1"}, command: "receivingMessage", connector: "echo.x"}
			for i := 0; i < 1+rng.IntN(12); i++ {
				raw := make([]byte, rng.IntN(300))
				for j := range raw {
					raw[j] = byte(rng.IntN(256))
				}
				item := wire.NewMap("user", wire.NewMap("id", "u", "name", ""), "message",
					wire.NewMap("id", strconv.Itoa(i), "text", string(raw), "files", []any{}), "chat", wire.NewMap("id", "c"))
				blob, err := wire.Serialize(item)
				if err != nil {
					t.Fatal(err)
				}
				b.ids, b.blobs = append(b.ids, int64(i+1)), append(b.blobs, blob)
			}
			sz, err := s.newSizer(site, b)
			if err != nil {
				t.Fatal(err)
			}
			for k := 1; k <= len(b.ids); k++ {
				body, _, err := s.encodeBatch(site, &batch{lane: b.lane, command: b.command, connector: b.connector, ids: b.ids[:k], blobs: b.blobs[:k]})
				if err != nil {
					t.Fatal(err)
				}
				if got := sz.size(k); got != int64(len(body)) {
					t.Fatalf("%v, %d of %d items: sizer %d, packet %d", gen, k, len(b.ids), got, len(body))
				}
			}
		}
	}
	for n := 0; n < 50; n++ {
		raw := make([]byte, n)
		for j := range raw {
			raw[j] = byte(rng.IntN(256))
		}
		want := len(wire.Fields{{Name: "D", Value: base64.StdEncoding.EncodeToString(raw)}}.Encode()) - 2
		for cut := 0; cut <= n; cut++ {
			var c b64len
			c.write(raw[:cut])
			for _, x := range raw[cut:] {
				c.write([]byte{x})
			}
			if got := c.total(); got != int64(want) {
				t.Fatalf("%d bytes cut at %d: %d, want %d", n, cut, got, want)
			}
		}
	}
}
