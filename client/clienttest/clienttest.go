// Package clienttest is a fake connector server endpoint for tests of code that calls one through package
// client (the mirror of router/routertest, which plays the server's other half). A Server listens on
// 127.0.0.1, reads every portal packet with package wire (form, signature, fields, DATA with both stubs
// undone), records it with its headers and URL, and answers what its Handler writes: by default the OK
// envelope for a valid packet and the packet's error code for a refused one.
//
//	srv := clienttest.NewServer(t, wire.Credentials{Mode: wire.MD5, LicenceKey: key})
//	srv.Handle(func(w http.ResponseWriter, c *clienttest.Call) { clienttest.OK(w, map[string]any{"ID": "1"}) })
//	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey(key))
//	…
//	call := srv.Last(t) // call.Method, call.Args, call.Header, call.URL.RawQuery
package clienttest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Call is one packet the server took.
type Call struct {
	N int // 1 for the first packet the server took
	// Method, Connector and Line are BX_COMMAND, CONNECTOR and LINE with the stubs undone, of a refused
	// packet too.
	Method    string
	Connector string
	Line      string
	// Fields are the form fields as received, in order, BX_HASH included.
	Fields wire.Fields
	// Packet is the parsed packet (nil when the form did not parse); Args its DATA, the call's argument
	// list, with both stubs undone.
	Packet *wire.Packet
	Args   []any
	Header http.Header
	URL    *url.URL // path and query as requested
	// Err is why the packet was refused (its signature, a missing field, bad DATA); nil for a valid one.
	Err error
	// Context is the request's: it ends when the client goes away.
	Context context.Context
}

// Bind decodes argument i into v with wire.Bind (typed structs by their php tags).
func (c *Call) Bind(i int, v any) error {
	if i < 0 || i >= len(c.Args) {
		return wire.Errorf(wire.CodeBadPacket, "the call has %d arguments, not %d", len(c.Args), i+1)
	}
	return wire.Bind(c.Args[i], v)
}

// Handler answers one packet.
type Handler func(w http.ResponseWriter, c *Call)

// Server is a fake connector server. Safe for concurrent use.
type Server struct {
	*httptest.Server
	t       testing.TB
	creds   wire.Credentials
	guard   *wire.ReplayGuard
	lenient bool

	mu      sync.Mutex
	calls   []*Call
	handler Handler
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock of the hmac-sha256 replay guard (default the system clock): give it the
// client's fake clock.
func WithClock(clk clock.Clock) Option {
	return func(s *Server) { s.guard = wire.NewReplayGuard(clk, 0) }
}

// Lenient makes a refused packet an answer rather than a test failure, for tests that send bad packets on
// purpose.
func Lenient() Option { return func(s *Server) { s.lenient = true } }

// NewServer starts a Server that verifies packets with c and closes when the test ends. A packet that does
// not verify, parse or decode fails the test (unless Lenient) and is answered with its error code.
func NewServer(t testing.TB, c wire.Credentials, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, creds: c, guard: wire.NewReplayGuard(nil, 0)}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Handle sets the handler of the packets that verified; nil restores the default, OK with empty DATA.
func (s *Server) Handle(h Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// Calls returns the packets taken so far, in arrival order.
func (s *Server) Calls() []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Count returns the number of packets taken so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Last returns the last packet taken, failing t when there is none.
func (s *Server) Last(t testing.TB) *Call {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		t.Fatal("clienttest: the server took no packet")
	}
	return s.calls[len(s.calls)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	c := &Call{Header: r.Header.Clone(), URL: r.URL, Context: r.Context()}
	c.Fields, c.Err = wire.ReadForm(r, wire.DefaultMaxBody)
	if c.Err == nil {
		c.Err = wire.Verify(c.Fields, s.creds, s.guard)
	}
	if c.Err == nil {
		c.Packet, c.Err = wire.Parse(c.Fields, wire.ToServer)
	}
	if c.Err == nil {
		c.Err = c.Packet.DecodeData()
	}
	if c.Err == nil {
		c.Args, c.Err = c.Packet.Items()
	}
	c.Method = wire.UnstubField(c.Fields.Get("BX_COMMAND"))
	c.Connector = wire.UnstubField(c.Fields.Get("CONNECTOR"))
	c.Line = wire.UnstubField(c.Fields.Get("LINE"))
	s.mu.Lock()
	c.N = len(s.calls) + 1
	s.calls = append(s.calls, c)
	h := s.handler
	s.mu.Unlock()
	if c.Err != nil {
		if !s.lenient {
			s.t.Errorf("clienttest: packet #%d (%s) refused: %v", c.N, c.Method, c.Err)
		}
		wire.WriteResponse(w, nil, c.Err)
		return
	}
	if h == nil {
		OK(w, nil)
		return
	}
	h(w, c)
}

// OK answers {"OK":true,"DATA":data}; nil data is an empty array, as Bitrix writes it.
func OK(w http.ResponseWriter, data any) {
	if data == nil {
		data = []any{}
	}
	wire.WriteResponse(w, data, nil)
}

// Fail answers {"OK":false,"DATA":[],"ERROR":[{"CODE":…}, …]}, one error per code, with status 200 as
// Bitrix does.
func Fail(w http.ResponseWriter, codes ...wire.Code) {
	type item struct {
		Code string `json:"CODE"`
	}
	errs := make([]item, len(codes))
	for i, c := range codes {
		errs[i] = item{string(c)}
	}
	body, _ := json.Marshal(map[string]any{"OK": false, "DATA": []any{}, "ERROR": errs})
	Raw(w, http.StatusOK, string(body))
}

// Raw answers body as it is with status, as application/json.
func Raw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
