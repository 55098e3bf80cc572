package inspect

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

const licenceKey = "the-licence-key-0123456789"

var hmacCreds = wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"the-hmac-secret-abcdef"}}

// packetBody is a signed server → portal packet whose DATA is items.
func packetBody(t testing.TB, signer *wire.Signer, command string, items any) string {
	t.Helper()
	fields, err := (&wire.Packet{Command: command, Connector: "botframework.webchat", Line: "3", Version: "1", Data: items}).Encode(wire.ToPortal)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(fields)
	if err != nil {
		t.Fatal(err)
	}
	return signed.Encode()
}

// verifying is a portal endpoint that checks signatures with a replay guard, as router.Input does, and
// notes one item.
func verifying(rec *Recorder, creds wire.Credentials, clk clock.Clock) http.Handler {
	guard := wire.NewReplayGuard(clk, 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 1<<20)
		if err == nil {
			err = wire.Verify(fields, creds, guard)
		}
		if err == nil {
			rec.Note(r.Context(), Note{Item: 0, ItemID: 7, Event: "OnReceivedMessage", Result: "fired"})
		}
		wire.WriteResponse(w, []any{}, err)
	})
}

func newTestRecorder(t testing.TB, o Options) (*Recorder, *wire.Signer, *httptest.Server) {
	t.Helper()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	signer, err := wire.NewSigner(hmacCreds, clk)
	if err != nil {
		t.Fatal(err)
	}
	o.Clock = clk
	o.Secrets = append(o.Secrets, hmacCreds.Secrets...)
	o.Verify = func(f wire.Fields) error { return wire.Verify(f, hmacCreds, nil) }
	o.Sign = signer.Sign
	rec := NewRecorder(o)
	srv := httptest.NewServer(rec.Incoming(verifying(rec, hmacCreds, clk)))
	t.Cleanup(srv.Close)
	return rec, signer, srv
}

func post(t testing.TB, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func item(text string) *wire.Map {
	return wire.NewMap("user", wire.NewMap("id", "u1"), "chat", wire.NewMap("id", "c1"),
		"message", wire.NewMap("id", "m1", "text", text))
}

// TestRingKeepsTheNewest: the ring holds the last Packets packets and no more than Bytes of them; the
// notes of an item find its packet while it is in the ring.
func TestRingKeepsTheNewest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opt     Options
		post    int
		oldest  int64
		keptMax int
	}{
		{"by count", Options{Packets: 3}, 10, 8, 3},
		{"by bytes", Options{Packets: 100, Bytes: 4000}, 10, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, signer, srv := newTestRecorder(t, tc.opt)
			for i := 0; i < tc.post; i++ {
				post(t, srv.URL, packetBody(t, signer, "receivingMessage", []any{item(fmt.Sprint("hello ", i))}))
			}
			rec.mu.Lock()
			sums := rec.summaries(1000)
			bytes := rec.bytes
			rec.mu.Unlock()
			if len(sums) > tc.keptMax || len(sums) == 0 || sums[len(sums)-1].ID != int64(tc.post) {
				t.Fatalf("kept %d packets (newest %d), want at most %d ending at %d", len(sums), sums[len(sums)-1].ID, tc.keptMax, tc.post)
			}
			if tc.oldest != 0 && sums[0].ID != tc.oldest {
				t.Errorf("oldest kept %d, want %d", sums[0].ID, tc.oldest)
			}
			if tc.opt.Bytes != 0 && bytes > tc.opt.Bytes {
				t.Errorf("ring holds %d bytes, over its %d", bytes, tc.opt.Bytes)
			}
			if _, ok := rec.get(sums[0].ID - 1); ok {
				t.Errorf("packet %d is still there", sums[0].ID-1)
			}
			last, _ := rec.get(int64(tc.post))
			if last.sum.Signature != "valid" || last.sum.Code != "OK" || last.sum.Items != 1 || last.sum.Outcome != "1 fired" {
				t.Errorf("newest packet %+v", last.sum)
			}
			// A later attempt's note reaches the newest packet by its item id.
			rec.Note(context.Background(), Note{Item: -1, ItemID: 7, Attempt: 2, Result: "retry"})
			last, _ = rec.get(int64(tc.post))
			if n := last.notes[len(last.notes)-1]; n.Event != "OnReceivedMessage" || n.Result != "retry" || last.sum.Outcome != "1 retry" {
				t.Errorf("notes %+v, outcome %q", last.notes, last.sum.Outcome)
			}
		})
	}
}

// TestSecretsAreMasked: secret keys and known secret values never reach the detail of a packet.
func TestSecretsAreMasked(t *testing.T) {
	t.Parallel()
	const appSecret = "bf-app-secret-value"
	rec, signer, srv := newTestRecorder(t, Options{Secrets: []string{licenceKey}, SecretKeys: []string{"h"}})
	settings := wire.NewMap("app_id", "app-1", "app_secret", appSecret, "nested", wire.NewMap("access_token", "tok-123"),
		"note", "the key is "+licenceKey, "empty_password", "")
	post(t, srv.URL+"/pub/imconnector/?h=line-hash-value&x=1", packetBody(t, signer, "receivingMessage", []any{settings}))
	d := rec.view(mustGet(t, rec, 1))
	b, _ := json.Marshal(d)
	for _, secret := range []string{appSecret, "tok-123", licenceKey, hmacCreds.Secrets[0], "line-hash-value"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("%q shown: %s", secret, b)
		}
	}
	for _, want := range []string{`"app_id":"app-1"`, `"app_secret":"********"`, `"access_token":"********"`,
		`"note":"the key is ********"`, `"empty_password":""`} {
		if !strings.Contains(string(d.Data), want) {
			t.Errorf("DATA %s lacks %s", d.Data, want)
		}
	}
	if !strings.Contains(d.Curl, "# DATA held secrets") || !strings.Contains(d.URL, "x=1") {
		t.Errorf("curl %s, url %s", d.Curl, d.URL)
	}
	// The DATA the page and curl show is the masked one, encoded again.
	for _, f := range d.Fields {
		if f.Name == "DATA" {
			raw, _ := base64.StdEncoding.DecodeString(f.Value)
			if strings.Contains(string(raw), appSecret) || !strings.Contains(string(raw), Masked) {
				t.Errorf("DATA field %q", raw)
			}
		}
		if f.Name == "BX_HASH" && f.Value == "" {
			t.Error("BX_HASH not shown")
		}
	}
}

func TestMaskJSON(t *testing.T) {
	t.Parallel()
	m := newMasker([]string{"s3cret"}, []string{"pin"})
	for _, tc := range []struct{ in, want string }{
		{`{"OK":true,"DATA":{"RESULT":"OK"}}`, `{"OK":true,"DATA":{"RESULT":"OK"}}`},
		{`{"b":1,"a":{"client_secret":"x","n":[1,2]},"PIN":42}`, `{"b":1,"a":{"client_secret":"********","n":[1,2]},"PIN":"********"}`},
		{`{"token":{"v":"deep"}}`, `{"token":{"v":"********"}}`},
		{`["s3cret here"]`, `["******** here"]`},
	} {
		got, ok := m.json([]byte(tc.in))
		if !ok || string(got) != tc.want {
			t.Errorf("json(%s) = %s, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
	if _, ok := m.json([]byte(`{"a":1} trailing`)); ok {
		t.Error("trailing data accepted")
	}
}

// TestReplayIsSignedAfresh: a replayed hmac packet passes the replay guard (a new timestamp and nonce) and
// is recorded as a replay; a packet sent cannot be replayed.
func TestReplayIsSignedAfresh(t *testing.T) {
	t.Parallel()
	rec, signer, srv := newTestRecorder(t, Options{})
	body := packetBody(t, signer, "receivingMessage", []any{item("hi")})
	post(t, srv.URL, body)
	post(t, srv.URL, body) // the same bytes again: the guard refuses them
	if again, _ := rec.get(2); again.sum.Code != string(wire.CodeReplay) {
		t.Fatalf("a verbatim resend answered %q, want REPLAY", again.sum.Code)
	}
	id, err := rec.Replay(context.Background(), 1)
	if err != nil || id != 3 {
		t.Fatalf("Replay = %d, %v", id, err)
	}
	r, _ := rec.get(3)
	if r.sum.ReplayOf != 1 || r.sum.Code != "OK" || r.sum.Signature != "valid" || len(r.notes) != 1 {
		t.Fatalf("replay %+v notes %+v", r.sum, r.notes)
	}
	if r.fields.Get("BX_NONCE") == mustGet(t, rec, 1).fields.Get("BX_NONCE") {
		t.Error("the replay reused the nonce")
	}
	out := NewRecorder(Options{Sign: signer.Sign})
	c := &http.Client{Transport: out.Outgoing(nil)}
	resp, err := c.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(packetBody(t, signer, "testConnect", []any{})))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := out.Replay(context.Background(), 1); err == nil {
		t.Error("a packet sent was replayed")
	}
}

// TestOutgoingRecordsPacketsOnly: a packet sent is recorded with its answer and reaches the server whole; a
// token request (a form without BX_COMMAND) passes and is not kept.
func TestOutgoingRecordsPacketsOnly(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b))
		wire.WriteResponse(w, map[string]string{"RESULT": "OK", "access_token": "tok-xyz"}, nil)
	}))
	defer srv.Close()
	rec := NewRecorder(Options{})
	c := &http.Client{Transport: rec.Outgoing(nil)}
	token := url.Values{"grant_type": {"client_credentials"}, "client_secret": {"cs-1"}}.Encode()
	pkt := "BX_COMMAND=sendMessage&CONNECTOR=botframework&LINE=3&DATA=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(`a:0:{}`))) + "&BX_HASH=abc"
	for _, body := range []string{token, pkt} {
		resp, err := c.Post(srv.URL+"/imwebhook/portal.php", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(got) != 2 || got[0] != token || got[1] != pkt {
		t.Fatalf("server got %q", got)
	}
	rec.mu.Lock()
	sums := rec.summaries(10)
	rec.mu.Unlock()
	if len(sums) != 1 || sums[0].Command != "sendMessage" || sums[0].Direction != Out || sums[0].Signature != "signed" || sums[0].Code != "OK" {
		t.Fatalf("recorded %+v", sums)
	}
	if d := rec.view(mustGet(t, rec, 1)); strings.Contains(d.Answer, "tok-xyz") || !strings.Contains(d.Answer, `"RESULT":"OK"`) {
		t.Errorf("answer %s", d.Answer)
	}
}

func mustGet(t testing.TB, rec *Recorder, id int64) *record {
	t.Helper()
	r, ok := rec.get(id)
	if !ok {
		t.Fatalf("packet %d not in the ring", id)
	}
	return &r
}

// TestStreamStartsFromTheRing: a page's stream starts with the ring as it is, then every packet as it
// passes; the page and its API answer with the headers that keep them to themselves.
func TestStreamStartsFromTheRing(t *testing.T) {
	t.Parallel()
	rec, signer, srv := newTestRecorder(t, Options{})
	post(t, srv.URL, packetBody(t, signer, "receivingMessage", []any{item("one")}))
	page := httptest.NewServer(rec.Handler(Page{Title: "Test side"}))
	defer page.Close()
	resp, err := http.Get(page.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := sseEvents(resp.Body)
	if ev := <-events; ev.name != "reset" || !strings.Contains(ev.data, `"command":"receivingMessage"`) {
		t.Fatalf("first event %+v", ev)
	}
	post(t, srv.URL, packetBody(t, signer, "receivingStatusDelivery", []any{}))
	select {
	case ev := <-events:
		if ev.name != "packet" || !strings.Contains(ev.data, `"id":2`) || !strings.Contains(ev.data, "receivingStatusDelivery") {
			t.Fatalf("live event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
	for _, path := range []string{"/", "/static/page.js", "/api/state", "/api/packets/1"} {
		r, err := http.Get(page.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: %d %q", path, r.StatusCode, r.Header.Get("Content-Security-Policy"))
		}
		if path == "/" && (!strings.Contains(string(b), "<title>Test side · olctl inspector</title>") || strings.Contains(string(b), "http")) {
			t.Errorf("page %s", b)
		}
	}
}

type sse struct{ name, data string }

func sseEvents(r io.Reader) <-chan sse {
	ch := make(chan sse, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ch <- ev
				ev = sse{}
			}
		}
	}()
	return ch
}

// TestPostsNeedThePagesHeader: replay and redrive refuse a POST without X-Olctl-Inspector or from another
// origin, which is what a cross-site form would send.
func TestPostsNeedThePagesHeader(t *testing.T) {
	t.Parallel()
	rec, signer, srv := newTestRecorder(t, Options{})
	post(t, srv.URL, packetBody(t, signer, "receivingMessage", []any{item("one")}))
	redriven := 0
	page := httptest.NewServer(rec.Handler(Page{Redrive: func(context.Context, string) (int, error) { redriven++; return 1, nil }}))
	defer page.Close()
	for _, tc := range []struct {
		name, path, header, origin string
		want                       int
	}{
		{"replay, no header", "/api/packets/1/replay", "", "", 403},
		{"replay, other origin", "/api/packets/1/replay", "1", "http://evil.example", 403},
		{"replay", "/api/packets/1/replay", "1", page.URL, 200},
		{"replay of an unknown packet", "/api/packets/99/replay", "1", "", 409},
		{"redrive, no header", "/api/redrive/5", "", "", 403},
		{"redrive", "/api/redrive/5", "1", "", 200},
	} {
		req, _ := http.NewRequest(http.MethodPost, page.URL+tc.path, nil)
		if tc.header != "" {
			req.Header.Set("X-Olctl-Inspector", tc.header)
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if redriven != 1 {
		t.Errorf("redrive called %d times, want 1", redriven)
	}
}

// TestGuard: without a token only loopback clients naming a loopback host pass; with one, only requests
// that carry it (the URL's token sets the cookie and is taken out of the URL).
func TestGuard(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "inspector") })
	for _, tc := range []struct {
		name, token, remote, host, target, auth, cookie string
		want                                            int
	}{
		{"loopback", "", "127.0.0.1:5000", "127.0.0.1:9000", "/", "", "", 200},
		{"localhost", "", "[::1]:5000", "localhost:9000", "/", "", "", 200},
		{"another host", "", "192.0.2.7:5000", "127.0.0.1:9000", "/", "", "", 403},
		{"rebound name", "", "127.0.0.1:5000", "evil.example:9000", "/", "", "", 403},
		{"no token", "t0ken", "192.0.2.7:5000", "inspector.example", "/", "", "", 401},
		{"wrong token", "t0ken", "192.0.2.7:5000", "inspector.example", "/?token=nope", "", "", 401},
		{"token in the URL", "t0ken", "192.0.2.7:5000", "inspector.example", "/?token=t0ken&x=1", "", "", 303},
		{"bearer", "t0ken", "192.0.2.7:5000", "inspector.example", "/api/state", "Bearer t0ken", "", 200},
		{"cookie", "t0ken", "192.0.2.7:5000", "inspector.example", "/api/stream", "", "t0ken", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			req.RemoteAddr, req.Host = tc.remote, tc.host
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: cookieName, Value: tc.cookie})
			}
			w := httptest.NewRecorder()
			Guard(ok, tc.token).ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			if tc.want == 303 {
				c := w.Result().Cookies()
				if loc := w.Header().Get("Location"); loc != "/?x=1" || len(c) != 1 || c[0].Value != tc.token || !c[0].HttpOnly ||
					c[0].SameSite != http.SameSiteStrictMode {
					t.Fatalf("redirect to %q with cookies %+v", loc, c)
				}
			}
		})
	}
	for addr, want := range map[string]bool{"127.0.0.1:9000": true, "localhost:0": true, "[::1]:80": true, ":9000": false,
		"0.0.0.0:9000": false, "192.0.2.1:80": false, "bad": false} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v", addr, got)
		}
	}
}

// TestTenThousandPackets: with 10 000 packets passed through, memory holds the ring, and what a page
// loads (the page and the first frame of its stream) is the ring's newest View packets, whatever passed.
func TestTenThousandPackets(t *testing.T) {
	t.Parallel()
	rec, signer, srv := newTestRecorder(t, Options{})
	body := packetBody(t, signer, "receivingMessage", []any{item("hello")})
	start := time.Now()
	h := rec.Incoming(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { wire.WriteResponse(w, []any{}, nil) }))
	for i := 0; i < 10000; i++ {
		req := httptest.NewRequest(http.MethodPost, srv.URL+"/pub/imconnector/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	perPacket := time.Since(start) / 10000
	rec.mu.Lock()
	kept, bytes := rec.n, rec.bytes
	rec.mu.Unlock()
	if kept != DefaultPackets || bytes > DefaultBytes {
		t.Fatalf("ring holds %d packets, %d bytes", kept, bytes)
	}
	page := httptest.NewServer(rec.Handler(Page{View: 200}))
	defer page.Close()
	start = time.Now()
	resp, err := http.Get(page.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	ev := <-sseEvents(resp.Body)
	resp.Body.Close()
	first := time.Since(start)
	var reset struct {
		Packets []summary `json:"packets"`
		Total   int64     `json:"total"`
	}
	if err := json.Unmarshal([]byte(ev.data), &reset); err != nil {
		t.Fatal(err)
	}
	if len(reset.Packets) != 200 || reset.Total != 10000 || reset.Packets[199].ID != 10000 {
		t.Fatalf("first frame: %d packets, total %d", len(reset.Packets), reset.Total)
	}
	t.Logf("recording: %v per packet; ring %d packets, %d KiB; first frame %d KiB in %v", perPacket, kept, bytes>>10,
		len(ev.data)>>10, first)
	if len(ev.data) > 200*1024 || first > 2*time.Second {
		t.Errorf("first frame %d bytes in %v", len(ev.data), first)
	}
}

// TestReplayWithACallMeanwhile: a replayed packet whose handling sends a packet of its own (a legacy portal's
// setStatusDelivered) is the replay's record, not the call.
func TestReplayWithACallMeanwhile(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	signer, _ := wire.NewSigner(hmacCreds, clk)
	rec := NewRecorder(Options{Clock: clk, Sign: signer.Sign})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { wire.WriteResponse(w, nil, nil) }))
	defer server.Close()
	calls := &http.Client{Transport: rec.Outgoing(nil)}
	portal := httptest.NewServer(rec.Incoming(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, server.URL, strings.NewReader("BX_COMMAND=setStatusDelivered&DATA=&BX_HASH=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := calls.Do(req); err == nil {
			resp.Body.Close()
		}
		wire.WriteResponse(w, []any{}, nil)
	})))
	defer portal.Close()
	post(t, portal.URL, packetBody(t, signer, "receivingMessage", []any{item("hi")})) // 1: the call, 2: the packet
	id, err := rec.Replay(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	r := mustGet(t, rec, id)
	if r.sum.Command != "receivingMessage" || r.sum.ReplayOf != 2 || id != 4 {
		t.Fatalf("Replay gave packet %d: %+v", id, r.sum)
	}
	if call := mustGet(t, rec, 3); call.sum.Command != "setStatusDelivered" || call.sum.ReplayOf != 0 {
		t.Fatalf("the call meanwhile: %+v", call.sum)
	}
}
