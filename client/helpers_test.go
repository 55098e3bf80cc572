package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

const (
	testLicenceKey = "licence-key-123"
	testDomain     = "https://portal.example.com"
	testSecret     = "s3cret-hmac"
)

// signing is one of the two modes the tests run in.
type signing struct {
	name  string
	mode  wire.Mode
	creds wire.Credentials
	opts  []Option
}

func signings() []signing {
	return []signing{
		{name: "md5", mode: wire.MD5, creds: wire.Credentials{Mode: wire.MD5, LicenceKey: testLicenceKey}},
		{name: "hmac-sha256", mode: wire.HMACSHA256,
			creds: wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: testLicenceKey, Secrets: []string{testSecret}},
			opts:  []Option{WithHMAC(testSecret)}},
	}
}

// received is one packet the fake connector server took, verified and decoded.
type received struct {
	Fields wire.Fields
	Packet *wire.Packet
	Args   []any
	Err    error // the verification or parse error, if any
	Header http.Header
	ctx    context.Context // the request's context
}

// fakeServer is an httptest connector server: it verifies every packet with wire (signature and, in hardened
// mode, a replay guard on the same fake clock as the client), records it, and answers with the handler.
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	sign  signing
	guard *wire.ReplayGuard
	clock *clock.Fake

	mu      sync.Mutex
	packets []received
	handle  func(n int, p received, w http.ResponseWriter) // n counts from 1
}

var testEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakeServer(t *testing.T, s signing, handle func(n int, p received, w http.ResponseWriter)) *fakeServer {
	t.Helper()
	clk := clock.NewFake(testEpoch)
	fs := &fakeServer{t: t, sign: s, clock: clk, guard: wire.NewReplayGuard(clk), handle: handle}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	rec := received{Header: r.Header.Clone(), ctx: r.Context()}
	fields, err := wire.ReadForm(r, wire.DefaultMaxBody)
	rec.Fields = fields
	if err == nil {
		err = wire.Verify(fields, fs.sign.creds, fs.guard)
	}
	if err == nil {
		rec.Packet, err = wire.Parse(fields, wire.ToServer)
	}
	if err == nil {
		err = rec.Packet.DecodeData()
	}
	if err == nil {
		rec.Args, err = rec.Packet.Items()
	}
	rec.Err = err
	fs.mu.Lock()
	fs.packets = append(fs.packets, rec)
	n := len(fs.packets)
	handle := fs.handle
	fs.mu.Unlock()
	if err != nil {
		wire.WriteResponse(w, nil, err)
		return
	}
	if handle == nil {
		wire.WriteResponse(w, nil, nil)
		return
	}
	handle(n, rec, w)
}

func (fs *fakeServer) setHandle(h func(n int, p received, w http.ResponseWriter)) {
	fs.mu.Lock()
	fs.handle = h
	fs.mu.Unlock()
}

func (fs *fakeServer) received() []received {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.packets)
}

func (fs *fakeServer) count() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.packets)
}

// client returns a Client on the server with the server's signing, sharing its fake clock.
func (fs *fakeServer) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	all := []Option{WithDomain(testDomain), WithLicenceKey(testLicenceKey), WithClock(fs.clock),
		WithConnector("botframework.skype"), WithLine("3"), WithVersion("test-1")}
	all = append(all, fs.sign.opts...)
	all = append(all, opts...)
	c, err := New(fs.srv.URL, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func answer(w http.ResponseWriter, data any) { wire.WriteResponse(w, data, nil) }

func answerRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitWaiters blocks until n goroutines wait on the fake clock (a retry sleeping), or fails.
func waitWaiters(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clk.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine waits on the clock (want %d, have %d)", n, clk.Waiters())
		}
		time.Sleep(time.Millisecond)
	}
}
