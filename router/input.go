package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Input is the portal's HTTP endpoint for packets from the connector server (`/pub/imconnector/`). For each
// request it checks the method (POST, else 405) and the body size (else 413), reads the form in order,
// verifies the signature, parses the packet, decodes DATA, turns #EMPTY# back into "" and dispatches a
// Request to its Router. Every answer is the JSON envelope of PROTOCOL.md §3. Safe for concurrent use.
type Input struct {
	router   *Router
	creds    wire.Credentials
	credsErr error
	guard    *wire.ReplayGuard
	clock    clock.Clock
	maxBody  int64
	logger   *slog.Logger
	observer Observer
}

// InputOption configures an Input.
type InputOption func(*Input)

// WithCredentials sets how packets are verified: the signing mode and the licence key (md5) or the secrets
// (hmac-sha256, any of which verifies). There is no default: an Input without valid credentials refuses
// every packet with LICENCE_ERROR, and Err says why.
func WithCredentials(c wire.Credentials) InputOption { return func(in *Input) { in.creds = c } }

// WithReplayGuard sets the guard that refuses stale timestamps and reused nonces of hardened packets
// (default: wire.NewReplayGuard on the Input's clock, 300 s window). Share one guard between the Inputs of
// one portal.
func WithReplayGuard(g *wire.ReplayGuard) InputOption { return func(in *Input) { in.guard = g } }

// WithClock sets the clock of the default replay guard and of request timings (default: the system clock).
func WithClock(c clock.Clock) InputOption { return func(in *Input) { in.clock = clock.Or(c) } }

// WithMaxBody caps the request body (default wire.DefaultMaxBody, 8 MiB); a larger body is answered 413.
func WithMaxBody(n int64) InputOption {
	return func(in *Input) {
		if n > 0 {
			in.maxBody = n
		}
	}
}

// WithInputLogger sets the logger refused packets are reported to, at Warn level without any secret
// (default: a logger that discards everything).
func WithInputLogger(l *slog.Logger) InputOption {
	return func(in *Input) {
		if l != nil {
			in.logger = l
		}
	}
}

// WithObserver reports every packet refused before it reaches the Router (bad method, size, signature,
// encoding) to o, with the command "" (default: none). Routed packets are measured by middleware.
func WithObserver(o Observer) InputOption { return func(in *Input) { in.observer = o } }

// ErrNoCredentials is wrapped by Err (and the LICENCE_ERROR answers) of an Input without valid credentials.
var ErrNoCredentials = errors.New("router: the input has no valid credentials")

// NewInput returns an Input that dispatches to r.
func NewInput(r *Router, opts ...InputOption) *Input {
	if r == nil {
		r = New()
	}
	in := &Input{router: r, clock: clock.System(), maxBody: wire.DefaultMaxBody, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(in)
	}
	if in.guard == nil {
		in.guard = wire.NewReplayGuard(in.clock)
	}
	if in.creds.Mode == "" && in.creds.LicenceKey == "" && len(in.creds.Secrets) == 0 {
		in.credsErr = fmt.Errorf("%w: none configured (use WithCredentials)", ErrNoCredentials)
	} else if err := in.creds.Validate(); err != nil {
		in.credsErr = fmt.Errorf("%w: %v", ErrNoCredentials, err)
	}
	return in
}

// Err reports a configuration problem that makes the Input refuse every packet (no or invalid credentials).
func (in *Input) Err() error { return in.credsErr }

// Router returns the Router the Input dispatches to.
func (in *Input) Router() *Router { return in.router }

// ServeHTTP implements http.Handler.
func (in *Input) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.clock.Now()
	defer func() {
		// Dispatch recovers handler panics itself; this guards the decoding path, so that no input can take
		// the process down.
		if v := recover(); v != nil {
			wire.WriteResponse(w, nil, panicError(in.logger, nil, v))
		}
	}()
	t := in.router.table.Load()
	req, err := in.read(r, t)
	if err != nil {
		in.refuse(w, r, req, err, start)
		return
	}
	data, err := in.router.guarded(r.Context(), req, t)
	wire.WriteResponse(w, data, err)
}

// refuse answers a packet that did not reach the Router.
func (in *Input) refuse(w http.ResponseWriter, r *http.Request, req *Request, err error, start time.Time) {
	code := wire.CodeOf(err)
	if code == wire.CodeMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	cmd := ""
	if req != nil {
		cmd = req.Command
	}
	in.logger.Warn("router: packet refused", "code", string(code), "error", err.Error(), "command", cmd,
		"remote", r.RemoteAddr)
	if in.observer != nil {
		in.observer.Observe("", code, in.clock.Now().Sub(start))
	}
	wire.WriteResponse(w, nil, err)
}

// read turns an HTTP request into a verified, decoded Request. On a refusal after parsing, the partial
// Request is returned with the error (for logging).
func (in *Input) read(r *http.Request, t *table) (*Request, error) {
	fields, err := wire.ReadForm(r, in.maxBody)
	if err != nil {
		return nil, err
	}
	if in.credsErr != nil {
		return nil, &wire.Error{Code: wire.CodeLicence, Message: "this receiver cannot verify packets", Err: in.credsErr}
	}
	if err := wire.Verify(fields, in.creds, in.guard); err != nil {
		return nil, err
	}
	p, err := wire.Parse(fields, wire.ToPortal)
	if err != nil {
		return nil, err
	}
	req := &Request{Packet: p, Command: p.Command, Connector: p.Connector, Line: p.Line}
	if rt, _ := t.route(p.Command); rt.dec != nil { // a HandleItems command: straight into its item type
		req.typed, err = rt.dec(p)
		return req, err
	}
	if err := p.DecodeData(); err != nil {
		return req, err
	}
	items, err := p.Items()
	if err != nil {
		return req, err
	}
	req.Items = items
	return req, nil
}
