package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/internal/httpserve"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Input is the portal's HTTP endpoint for the packets of a connector server (`/pub/imconnector/`). Safe for
// concurrent use. For each request, in this order:
//
//   - POST only (else 405), the body cap (else 413), the form read in order (a repeated field is BAD_PACKET);
//   - the signature (docs/protocol.md §6), before anything of DATA is decoded;
//   - the packet-level checks of §7: an empty CONNECTOR is CONNECTOR_ID_NOT_SPECIFIED, an empty BX_COMMAND
//     or one without a handler IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND, a connector whose real id the
//     portal does not serve (WithConnectors) IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR, no DATA BAD_PACKET;
//   - DATA decoded into the handler's items (a malformed DATA is BAD_PACKET);
//   - the middleware (the line gate among them) and the handler.
//
// Every answer is the JSON envelope of §5.
type Input struct {
	router     *Router
	creds      wire.Credentials
	guard      *wire.ReplayGuard
	clock      clock.Clock
	maxBody    int64
	logger     *slog.Logger
	observer   Observer
	connectors map[string]bool // real ids served; nil: any
	profile    wire.Profile
	err        error // a bad option
}

// InputOption configures an Input.
type InputOption func(*Input)

// WithCredentials sets how packets are verified: the signing mode and the licence key (md5) or the secrets
// (hmac-sha256, any of which verifies). It is required.
func WithCredentials(c wire.Credentials) InputOption { return func(in *Input) { in.creds = c } }

// WithReplayGuard sets the guard that refuses stale timestamps and reused nonces of hmac packets (default:
// wire.NewReplayGuard on the Input's clock, 300 s window). Share one guard between the Inputs of one portal.
func WithReplayGuard(g *wire.ReplayGuard) InputOption { return func(in *Input) { in.guard = g } }

// WithClock sets the clock of the default replay guard and of the timings reported to the observer
// (default: the system clock).
func WithClock(c clock.Clock) InputOption { return func(in *Input) { in.clock = clock.Or(c) } }

// WithMaxBody caps the request body (default wire.DefaultMaxBody, 8 MiB); a larger body is answered 413.
// n must not be negative; 0 keeps the default.
func WithMaxBody(n int64) InputOption {
	return func(in *Input) {
		switch {
		case n < 0:
			in.fail("WithMaxBody(%d): negative", n)
		case n > 0:
			in.maxBody = n
		}
	}
}

// WithLogger sets the logger refused packets (Warn, no secrets) and handler panics (Error, with the stack)
// are reported to (default: a logger that discards everything).
func WithLogger(l *slog.Logger) InputOption {
	return func(in *Input) {
		if l != nil {
			in.logger = l
		}
	}
}

// WithObserver reports every packet refused before routing (bad method, size, signature, packet-level
// checks, DATA) to o, with the command "" (default: none). Routed packets are measured by middleware.
func WithObserver(o Observer) InputOption { return func(in *Input) { in.observer = o } }

// WithConnectors names the real connector ids the portal serves ("botframework", …, in any case): a packet
// for any other is refused with IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR. A virtual or empty id is an
// error. Without it, or with no ids, every connector is accepted.
func WithConnectors(real ...string) InputOption {
	return func(in *Input) {
		if len(real) > 0 && in.connectors == nil {
			in.connectors = map[string]bool{}
		}
		for _, id := range real {
			if id == "" || openlines.RealConnector(id) != strings.ToLower(id) {
				in.fail("WithConnectors: %q is not a real connector id", id)
				continue
			}
			in.connectors[strings.ToLower(id)] = true
		}
	}
}

// WithProfile sets the generation of the portal the Input serves, which every Request carries (default
// wire.Current). Both stubs are undone whatever the profile (docs/protocol.md §3.3).
func WithProfile(p wire.Profile) InputOption { return func(in *Input) { in.profile = p } }

// ErrConfig is wrapped by the error NewInput returns for options that cannot work.
var ErrConfig = errors.New("router: bad input config")

func (in *Input) fail(format string, args ...any) {
	if in.err == nil {
		in.err = fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
}

// NewInput returns an Input that dispatches to r. It fails, wrapping ErrConfig, without a Router, without
// valid credentials (WithCredentials) or with a bad option.
func NewInput(r *Router, opts ...InputOption) (*Input, error) {
	in := &Input{router: r, clock: clock.System(), maxBody: wire.DefaultMaxBody, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(in)
	}
	switch {
	case in.err != nil:
		return nil, in.err
	case r == nil:
		return nil, fmt.Errorf("%w: no router", ErrConfig)
	case in.creds.Mode == "" && in.creds.LicenceKey == "" && len(in.creds.Secrets) == 0:
		return nil, fmt.Errorf("%w: no credentials (use WithCredentials)", ErrConfig)
	}
	if err := in.creds.Validate(); err != nil {
		return nil, fmt.Errorf("%w: credentials: %w", ErrConfig, err)
	}
	if in.guard == nil {
		in.guard = wire.NewReplayGuard(in.clock, 0)
	}
	return in, nil
}

// ServeHTTP implements http.Handler. A request whose client went away before its answer (its context
// canceled) gets none: the connection is closed (http.ErrAbortHandler), and nothing is logged as a failure.
func (in *Input) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := in.clock.Now()
	gone := false
	defer func() { // runs last, outside the recover below
		if gone {
			httpserve.Abort()
		}
	}()
	defer func() { // the handlers have their own guard; this one covers the Input's own path
		if v := recover(); v != nil {
			in.answer(w, r, "", panicError("", v))
		}
	}()
	req, rt, err := in.read(r)
	if err != nil {
		if gone = httpserve.Gone(r); gone {
			return
		}
		in.refuse(w, r, req, err, start)
		return
	}
	if err := rt.h(r.Context(), req); err != nil {
		if gone = httpserve.Gone(r); gone {
			return
		}
		in.answer(w, r, req.Command, err)
		return
	}
	if strings.EqualFold(req.Command, openlines.CommandTestConnect) {
		wire.WriteResponse(w, openlines.TestConnectAnswer{Result: "OK"}, nil)
		return
	}
	wire.WriteResponse(w, emptyList, nil)
}

// emptyList is the DATA of the answer to every command but testConnect: [].
var emptyList = []any{}

// answer writes an OK:false answer for err, logging a handler panic with its stack.
func (in *Input) answer(w http.ResponseWriter, r *http.Request, command string, err error) {
	var p *panicked
	if errors.As(err, &p) {
		in.logger.Error("router: handler panicked", "command", command, "panic", fmt.Sprint(p.value),
			"stack", string(p.stack), "remote", r.RemoteAddr)
	}
	wire.WriteResponse(w, nil, err)
}

// refuse answers a packet that did not reach the Router.
func (in *Input) refuse(w http.ResponseWriter, r *http.Request, req *Request, err error, start time.Time) {
	code := wire.CodeOf(err)
	if code == wire.CodeMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	var cmd, connector, line string
	if req != nil {
		cmd, connector, line = req.Command, req.Connector, req.Line
	}
	in.logger.Warn("router: packet refused", "code", string(code), "error", err.Error(), "command", cmd,
		"connector", connector, "line", line, "remote", r.RemoteAddr)
	if in.observer != nil {
		in.observer.Observe("", code, in.clock.Now().Sub(start))
	}
	wire.WriteResponse(w, nil, err)
}

// read turns an HTTP request into a verified, checked and decoded Request and the route it goes to. On a
// refusal after parsing, the partial Request is returned with the error (for logging).
func (in *Input) read(r *http.Request) (*Request, route, error) {
	fields, err := wire.ReadForm(r, in.maxBody)
	if err != nil {
		return nil, route{}, err
	}
	if err := wire.Verify(fields, in.creds, in.guard); err != nil {
		return nil, route{}, err
	}
	p, parseErr := wire.Parse(fields, wire.ToPortal)
	p.Profile = in.profile
	req := &Request{Packet: p, Command: p.Command, Connector: p.Connector,
		RealConnector: openlines.RealConnector(p.Connector), Line: p.Line, Profile: in.profile}
	rt, known := in.router.table.Load().lookup(p.Command)
	switch {
	case p.Connector == "":
		return req, rt, wire.Errorf(wire.CodeNoConnector, "the packet has no CONNECTOR")
	case !known:
		return req, rt, wire.Errorf(wire.CodeUnknownCommand, "unknown command %.64q", p.Command)
	case in.connectors != nil && !in.connectors[req.RealConnector]:
		return req, rt, wire.Errorf(wire.CodeUnknownConnector, "this portal does not serve connector %.64q", p.Connector)
	case parseErr != nil:
		return req, rt, parseErr
	}
	req.Command = rt.name
	req.batch, req.items, err = rt.decode(p)
	return req, rt, err
}
