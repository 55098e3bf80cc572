// Package router is the portal's Input (PROTOCOL.md §1–5): an http.Handler for `/pub/imconnector/` that takes
// the packets a connector server pushes, checks and decodes them with package wire, and a Router that hands
// each one, typed, to the handler registered for its command.
//
// The Input enforces POST (405) and the body cap (default 8 MiB, 413), reads the form keeping field order,
// verifies the signature (md5 or hmac-sha256 with its replay window), decodes DATA and turns #EMPTY# back into
// "". It always answers the JSON envelope of §3, and a handler that panics is answered with INTERNAL_ERROR
// instead of taking the process down.
//
//	r := router.New(router.WithLogger(logger))
//	r.Use(router.Logging(logger), metrics.Middleware())
//	r.Handle(router.CommandReceivingMessage, func(ctx context.Context, req *router.Request) (any, error) {
//		items, err := router.BindItems[router.MessageItem](req.Items)
//		...
//	})
//	in := router.NewInput(r, router.WithCredentials(wire.Credentials{Mode: wire.MD5, LicenceKey: key}))
//	http.Handle("/pub/imconnector/", in)
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/olctl/olctl/wire"
)

// The commands a connector server sends to a portal (PROTOCOL.md §5).
const (
	CommandTestConnect             = "testConnect"
	CommandReceivingMessage        = "receivingMessage"
	CommandReceivingStatusDelivery = "receivingStatusDelivery"
	CommandReceivingStatusReading  = "receivingStatusReading"
	CommandReceivingError          = "receivingError"
	CommandReceivingStatusBlock    = "receivingStatusBlock"
	CommandDeactivateConnector     = "deactivateConnector"
	CommandSetChatName             = "setChatName"
)

// Request is one verified and decoded packet, as a handler sees it.
type Request struct {
	// Packet is the packet as received: its fields in order, the raw DATA, the signature fields.
	Packet *wire.Packet
	// Command is BX_COMMAND, Connector is CONNECTOR and Line is LINE, with #EMPTY# turned back into "".
	Command   string
	Connector string
	Line      string
	// Items is DATA as a list (PROTOCOL.md §2: the items themselves), every #EMPTY# turned back into "".
	// Bind them into the typed item structs of this package with BindItems or wire.Bind. It is nil for a
	// command registered with HandleItems, whose handler gets its items typed instead.
	Items []any

	typed itemSet // the typed items of a HandleItems command, decoded by the Input
}

// ItemCount returns the number of items of the packet, typed or not.
func (req *Request) ItemCount() int {
	if req.typed != nil {
		return req.typed.len()
	}
	return len(req.Items)
}

// HandlerFunc handles one command. Its result becomes the DATA of an OK:true answer; an error becomes an
// OK:false answer with the error's protocol code (wire.CodeOf; several codes with a *wire.ResponseError).
type HandlerFunc func(ctx context.Context, req *Request) (any, error)

// Middleware wraps a handler, e.g. to log or measure every request. It is applied to every command,
// including testConnect and the answer to unknown commands.
type Middleware func(next HandlerFunc) HandlerFunc

// Option configures a Router.
type Option func(*Router)

// WithLogger sets the logger the Router reports recovered panics to (default: a logger that discards
// everything).
func WithLogger(l *slog.Logger) Option {
	return func(r *Router) {
		if l != nil {
			r.logger = l
		}
	}
}

// Router maps commands to handlers. Commands match exactly, else ignoring case. testConnect is built in
// (answering {"RESULT":"OK"}) and may be replaced with Handle; any command without a handler is answered with
// IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND. Handle and Use may be called at any time, also while serving;
// a Router is safe for concurrent use.
type Router struct {
	logger *slog.Logger

	mu         sync.Mutex // serialises Handle and Use
	handlers   map[string]HandlerFunc
	decoders   map[string]itemDecoder // the commands registered with HandleItems
	middleware []Middleware
	table      atomic.Pointer[table] // immutable, rebuilt by Handle and Use
}

// table is the routing state requests read without locking: every handler already wrapped in the middleware.
type table struct {
	exact    map[string]route
	folded   map[string]route // lower-cased names
	notFound HandlerFunc
}

// route is a command's wrapped handler and, for a HandleItems command, the decoder of its items.
type route struct {
	h   HandlerFunc
	dec itemDecoder
}

// route returns the route of command: exact, else ignoring case.
func (t *table) route(command string) (route, bool) {
	rt, ok := t.exact[command]
	if !ok {
		rt, ok = t.folded[strings.ToLower(command)]
	}
	return rt, ok
}

// New returns a Router with testConnect registered.
func New(opts ...Option) *Router {
	r := &Router{logger: slog.New(slog.DiscardHandler), handlers: map[string]HandlerFunc{}, decoders: map[string]itemDecoder{}}
	for _, o := range opts {
		o(r)
	}
	r.handlers[CommandTestConnect] = testConnect
	r.rebuild()
	return r
}

// TestConnectResult is the DATA testConnect answers with (PROTOCOL.md §3).
type TestConnectResult struct {
	Result string `json:"RESULT"`
}

func testConnect(context.Context, *Request) (any, error) { return TestConnectResult{Result: "OK"}, nil }

// Handle registers h for command, replacing any handler registered before. It panics on an empty command or
// a nil handler, which are programming errors.
func (r *Router) Handle(command string, h HandlerFunc) {
	if command == "" || h == nil {
		panic("router: Handle needs a command and a handler")
	}
	r.set(command, h, nil)
}

// set puts h under command, with dec, the Input's decoder of its DATA (HandleItems, HandleDoc; nil: the tree),
// and rebuilds the routing table.
func (r *Router) set(command string, h HandlerFunc, dec itemDecoder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[command] = h
	if dec == nil {
		delete(r.decoders, command)
	} else {
		r.decoders[command] = dec
	}
	r.rebuild()
}

// Use appends middleware; the first one given is the outermost. It applies to handlers registered before and
// after the call.
func (r *Router) Use(middleware ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range middleware {
		if m != nil {
			r.middleware = append(r.middleware, m)
		}
	}
	r.rebuild()
}

// Commands returns the registered commands (unsorted).
func (r *Router) Commands() []string {
	t := r.table.Load()
	out := make([]string, 0, len(t.exact))
	for c := range t.exact {
		out = append(out, c)
	}
	return out
}

// rebuild makes a new table from handlers and middleware; r.mu is held (or r is not shared yet).
func (r *Router) rebuild() {
	t := &table{
		exact:  make(map[string]route, len(r.handlers)),
		folded: make(map[string]route, len(r.handlers)),
	}
	for cmd, h := range r.handlers {
		rt := route{h: r.wrap(h), dec: r.decoders[cmd]}
		t.exact[cmd] = rt
		t.folded[strings.ToLower(cmd)] = rt
	}
	t.notFound = r.wrap(unknownCommand)
	r.table.Store(t)
}

func unknownCommand(_ context.Context, req *Request) (any, error) {
	return nil, wire.Errorf(wire.CodeUnknownCommand, "unknown command %.64q", req.Command)
}

// wrap puts h inside the panic guard and then the middleware, so that middleware sees a panic as an error.
func (r *Router) wrap(h HandlerFunc) HandlerFunc {
	w := r.recoverer(h)
	for i := len(r.middleware) - 1; i >= 0; i-- {
		w = r.middleware[i](w)
	}
	return w
}

// recoverer turns a panic of h into an INTERNAL_ERROR and logs it with its stack.
func (r *Router) recoverer(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, req *Request) (data any, err error) {
		defer func() {
			if v := recover(); v != nil {
				err = panicError(r.logger, req, v)
				data = nil
			}
		}()
		return h(ctx, req)
	}
}

// ErrHandlerPanic is wrapped by the error a panicking handler is answered with.
var ErrHandlerPanic = errors.New("router: handler panicked")

func panicError(l *slog.Logger, req *Request, v any) error {
	cmd := ""
	if req != nil {
		cmd = req.Command
	}
	l.Error("router: handler panicked", "command", cmd, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	return &wire.Error{Code: wire.CodeInternal, Message: fmt.Sprintf("the handler of %.64q failed", cmd), Err: fmt.Errorf("%w: %v", ErrHandlerPanic, v)}
}

// Dispatch hands req to the handler of its command through the middleware and returns what the handler
// returned. A panic in the handler (or in middleware) is returned as an INTERNAL_ERROR wrapping
// ErrHandlerPanic. Input calls it for every verified packet; tests and in-process transports may call it
// directly.
func (r *Router) Dispatch(ctx context.Context, req *Request) (data any, err error) {
	return r.guarded(ctx, req, r.table.Load())
}

// guarded runs the handler t routes req to, turning a panic into an error. The Input decodes and dispatches
// with one table, so that the items it decoded are for the handler that runs.
func (r *Router) guarded(ctx context.Context, req *Request, t *table) (data any, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(r.logger, req, v)
			data = nil
		}
	}()
	rt, ok := t.route(req.Command)
	if !ok {
		rt.h = t.notFound
	}
	return rt.h(ctx, req)
}
