package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// fakePortal is a portal for tests, built on wire only: it verifies the server's packets, records them,
// processes receivingMessage items once per (connector, line, chat, message) and confirms them with
// setStatusDelivered; it also calls the server's remote methods.
type fakePortal struct {
	t        testing.TB
	srv      *httptest.Server
	key      string
	creds    wire.Credentials
	signer   *wire.Signer
	clk      clock.Clock
	server   atomic.Value // string: the connector server's portal endpoint
	rr       atomic.Int64
	client   *http.Client
	guard    *wire.ReplayGuard
	down     atomic.Bool                   // answer 503
	refuse   atomic.Bool                   // answer OK:false
	noConf   atomic.Bool                   // accept but do not confirm
	halfConf atomic.Bool                   // confirm only the first half of each batch
	async    atomic.Bool                   // confirm after answering instead of before
	latency  atomic.Int64                  // extra time (ns) each receivingMessage packet takes, like a remote portal
	gate     atomic.Pointer[chan struct{}] // when set, receivingMessage packets wait until it is closed
	maxBody  atomic.Int64                  // the body cap of its receiver (0: wire.DefaultMaxBody); larger is 413
	poison   atomic.Pointer[poisonRule]    // items the portal cannot take (see poisonRule)
	flaky    atomic.Int64                  // receivingMessage packets still to refuse with INTERNAL_ERROR, whatever they hold
	// version is the BX_VERSION of the portal's calls: "test" (not dotted decimal: legacy) unless a test
	// makes it current (wire.CurrentVersion). A current portal answers DATA [] and never confirms.
	version atomic.Value
	// domain is the BX_DOMAIN of the portal's calls when not empty (a portal served elsewhere), else URL().
	domain string

	mu          sync.Mutex
	packets     []gotPacket
	attempts    []time.Time    // receivingMessage packets, including refused ones
	seen        map[string]int // processed item key → times received
	events      []event        // unique items in processing order
	inflight    map[string]int // line → packets being handled (concurrency check)
	overlaps    int            // packets for a line that arrived while another for it was in flight
	confirmErrs int
	confirms    atomic.Int64 // setStatusDelivered calls made
}

// poisonRule names the items (by message.id) a fakePortal cannot take: it refuses every receivingMessage
// packet holding one with HTTP status, else with OK:false and code, until its clock reaches until (zero:
// for ever); with neither it takes the packet but neither processes nor confirms those items (a legacy
// portal that never confirms them).
type poisonRule struct {
	msgs   map[string]bool
	status int
	code   wire.Code
	until  time.Time
}

func (r *poisonRule) holds(it any) bool { return r.msgs[scalarString(path(it, "message", "id"))] }

// refusal is the answer at now to a packet of items (nil: take it).
func (r *poisonRule) refusal(items []any, now time.Time) (status int, err error) {
	if (r.status == 0 && r.code == "") || (!r.until.IsZero() && !now.Before(r.until)) {
		return 0, nil
	}
	for _, it := range items {
		if r.holds(it) {
			if r.status != 0 {
				return r.status, nil
			}
			return 0, wire.Errorf(r.code, "the test portal cannot take message %s", scalarString(path(it, "message", "id")))
		}
	}
	return 0, nil
}

type gotPacket struct {
	At        time.Time
	Command   string
	Connector string
	Line      string
	Items     []any
	RawData   string // DATA as received (base64)
	Size      int64  // the body's length
	Data      any    // DATA decoded, stubs undone
}

type event struct {
	Connector, Line, Chat, Msg string
	Text                       string
}

func newFakePortal(t testing.TB, key string, clk clock.Clock) *fakePortal {
	return newFakePortalCreds(t, key, wire.Credentials{Mode: wire.MD5, LicenceKey: key}, clk)
}

func newFakePortalCreds(t testing.TB, key string, creds wire.Credentials, clk clock.Clock) *fakePortal {
	p := &fakePortal{t: t, key: key, creds: creds, clk: clock.Or(clk), seen: map[string]int{}, inflight: map[string]int{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: testTransport}}
	var err error
	if p.signer, err = wire.NewSigner(creds, p.clk); err != nil {
		t.Fatal(err)
	}
	p.guard = wire.NewReplayGuard(p.clk, 0)
	p.version.Store("test")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(p.handle)}}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePortal) URL() string { return p.srv.URL }

// current reports whether the portal plays the current generation (its BX_VERSION is 22.800.0 or later).
func (p *fakePortal) current() bool { return wire.ProfileOf(p.version.Load().(string)) == wire.Current }

func (p *fakePortal) site() Site {
	return Site{LicenceKey: p.key, Mode: p.creds.Mode, Secrets: p.creds.Secrets}
}

// setServer sets the connector server endpoint(s) the portal calls; with several, calls rotate over them.
func (p *fakePortal) setServer(endpoints ...string) { p.server.Store(endpoints) }

func (p *fakePortal) handle(w http.ResponseWriter, r *http.Request) {
	data, after, err := p.process(w, r)
	if data == nil && err == nil {
		return // answered already
	}
	wire.WriteResponse(w, data, err)
	if after != nil {
		go after()
	}
}

// process handles one packet and returns the answer; the in-flight count of its line is released before
// the answer is written, so that the next packet for the line cannot look concurrent.
func (p *fakePortal) process(w http.ResponseWriter, r *http.Request) (data any, after func(), rerr error) {
	if r.URL.Path != DefaultPortalPath {
		http.NotFound(w, r)
		return nil, nil, nil
	}
	if p.down.Load() {
		p.mu.Lock()
		p.attempts = append(p.attempts, p.clk.Now())
		p.mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
		return nil, nil, nil
	}
	fields, err := wire.ReadForm(r, p.maxBody.Load())
	if err != nil {
		return nil, nil, err
	}
	pk, err := wire.Parse(fields, wire.ToPortal)
	if err == nil {
		err = wire.Verify(fields, p.creds, p.guard)
	}
	if err == nil {
		err = pk.DecodeData()
	}
	var items []any
	if err == nil {
		items, err = pk.Items()
	}
	if err != nil {
		p.t.Errorf("fake portal: bad packet from the server: %v", err)
		return nil, nil, err
	}
	p.mu.Lock()
	if pk.Command == openlines.CommandReceivingMessage {
		p.attempts = append(p.attempts, p.clk.Now())
	}
	p.packets = append(p.packets, gotPacket{At: p.clk.Now(), Command: pk.Command, Connector: pk.Connector, Line: pk.Line, Items: items,
		RawData: pk.RawData, Data: pk.Data, Size: r.ContentLength})
	p.inflight[pk.Line]++
	if p.inflight[pk.Line] > 1 && pk.Command == openlines.CommandReceivingMessage {
		p.overlaps++
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inflight[pk.Line]--
		p.mu.Unlock()
	}()
	if p.refuse.Load() {
		return nil, nil, wire.Errorf(wire.CodeNoAddUser, "refused by the test")
	}
	if pk.Command == openlines.CommandReceivingMessage && p.flaky.Add(-1) >= 0 {
		return nil, nil, wire.Errorf(wire.CodeInternal, "the test portal fails for now")
	}
	poison := p.poison.Load()
	if poison != nil && pk.Command == openlines.CommandReceivingMessage {
		if status, err := poison.refusal(items, p.clk.Now()); status != 0 {
			http.Error(w, "poisoned", status)
			return nil, nil, nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	current := p.current()
	if current && pk.Command != openlines.CommandReceivingMessage {
		return []any{}, nil, nil // a current portal drops its handlers' data: {"OK":true,"DATA":[]}
	}
	if pk.Command == openlines.CommandTestConnect {
		return map[string]string{"RESULT": "OK"}, nil, nil
	}
	if pk.Command != openlines.CommandReceivingMessage {
		return map[string]bool{"RESULT": true}, nil, nil
	}
	if d := time.Duration(p.latency.Load()); d > 0 {
		time.Sleep(d)
	}
	if g := p.gate.Load(); g != nil {
		<-*g
	}
	var confirm []any
	p.mu.Lock()
	for i, it := range items {
		if poison != nil && poison.status == 0 && poison.code == "" && poison.holds(it) {
			continue // taken, never processed nor confirmed
		}
		chat, msg := scalarString(path(it, "chat", "id")), scalarString(path(it, "message", "id"))
		key := pk.Connector + "|" + pk.Line + "|" + chat + "|" + msg
		if p.seen[key] == 0 {
			p.events = append(p.events, event{Connector: pk.Connector, Line: pk.Line, Chat: chat, Msg: msg, Text: scalarString(path(it, "message", "text"))})
		}
		p.seen[key]++
		if p.halfConf.Load() && i >= (len(items)+1)/2 {
			continue
		}
		confirm = append(confirm, wire.NewMap("chat", wire.NewMap("id", chat), "message", wire.NewMap("id", msg)))
	}
	p.mu.Unlock()
	if current {
		return []any{}, nil, nil // acknowledged by this answer
	}
	if p.noConf.Load() || len(confirm) == 0 {
		return map[string]bool{"RESULT": true}, nil, nil
	}
	if p.async.Load() {
		return map[string]bool{"RESULT": true}, func() { p.confirm(pk.Connector, pk.Line, confirm) }, nil
	}
	p.confirm(pk.Connector, pk.Line, confirm)
	return map[string]bool{"RESULT": true}, nil, nil
}

func (p *fakePortal) confirm(connector, line string, items []any) {
	p.confirms.Add(1)
	if _, err := p.call(context.Background(), "setStatusDelivered", connector, line, items); err != nil {
		p.mu.Lock()
		p.confirmErrs++
		p.mu.Unlock()
	}
}

// call sends a signed remote call to the server and returns the answer.
func (p *fakePortal) call(ctx context.Context, method, connector, line string, args ...any) (*wire.Response, error) {
	fields, err := p.fields(method, connector, line, args...)
	if err != nil {
		return nil, err
	}
	return p.post(ctx, method, connector, fields.Encode())
}

func (p *fakePortal) fields(method, connector, line string, args ...any) (wire.Fields, error) {
	if args == nil {
		args = []any{}
	}
	version := p.version.Load().(string)
	domain := p.domain
	if domain == "" {
		domain = p.URL()
	}
	pk := &wire.Packet{Command: method, Licence: wire.Licence(p.key), Domain: domain, Connector: connector, Line: line, Version: version,
		Data: args, Profile: wire.ProfileOf(version), Region: "eu"}
	f, err := pk.Encode(wire.ToServer)
	if err != nil {
		return nil, err
	}
	return p.signer.Sign(f)
}

// post sends a signed body as the portal's generation does: a current portal adds the unsigned
// ?connector=&command= query, the Referer, its own User-Agent, and both send x-bitrix-licence
// (docs/protocol.md §2).
func (p *fakePortal) post(ctx context.Context, method, connector, body string) (*wire.Response, error) {
	eps, _ := p.server.Load().([]string)
	if len(eps) == 0 {
		return nil, fmt.Errorf("fake portal: no server endpoint")
	}
	ep := eps[int(p.rr.Add(1))%len(eps)]
	ua := "Bitrix Connector Client"
	if p.current() {
		ep += "?connector=" + connector + "&command=" + method
		ua += " CP"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", ua)
	req.Header.Set("x-bitrix-licence", wire.Licence(p.key))
	if p.current() {
		req.Header.Set("Referer", p.URL())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return wire.ParseResponse(b)
}

// mustCall is call that fails the test on an error.
func (p *fakePortal) mustCall(method, connector, line string, args ...any) map[string]any {
	p.t.Helper()
	resp, err := p.call(context.Background(), method, connector, line, args...)
	if err != nil {
		p.t.Fatalf("%s: %v", method, err)
	}
	var out map[string]any
	if len(resp.Data) > 0 && resp.Data[0] == '{' {
		if err := json.Unmarshal(resp.Data, &out); err != nil {
			p.t.Fatalf("%s: DATA: %v", method, err)
		}
	}
	return out
}

// connect runs saveSettings, testConnect and register for an echo line connector and returns its webhook URL.
func (p *fakePortal) connect(connector, line string, settings map[string]string) string {
	p.t.Helper()
	m := &wire.Map{}
	for k, v := range settings {
		m.Set(k, v)
	}
	if len(m.Entries) == 0 {
		m.Set("name", "test")
	}
	p.mustCall("saveSettings", connector, line, m)
	p.mustCall("testConnect", connector, line)
	out := p.mustCall("register", connector, line)
	u, _ := out["URL_WEBHOOK"].(string)
	if u == "" {
		p.t.Fatalf("register gave no URL_WEBHOOK: %v", out)
	}
	return u
}

func (p *fakePortal) Events() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event(nil), p.events...)
}

func (p *fakePortal) Packets() []gotPacket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gotPacket(nil), p.packets...)
}

func (p *fakePortal) counts() (packets, events, dups, overlaps int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.seen {
		dups += n - 1
	}
	return len(p.packets), len(p.events), dups, p.overlaps
}

// testTransport keeps connections alive for the many concurrent requests of the tests and benchmarks.
var testTransport = func() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return tr
}()

var testClient = &http.Client{Transport: testTransport, Timeout: 60 * time.Second}

// postWebhook posts a JSON body to a webhook URL and returns the status and body.
func postWebhook(t testing.TB, url string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := testClient.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("webhook: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// echoItems is a webhook body of n messages numbered from first in chat.
func echoItems(chat string, first, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user":{"id":"u-%s","name":"Ann Lee"},"message":{"id":"%d","date":1700000000,"text":"hello %d :smile:"},"chat":{"id":"%s"}}`,
			chat, first+i, first+i, chat)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
