package router

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Request is one verified packet that passed the packet-level checks (docs/protocol.md §7), as middleware
// and handlers see it.
type Request struct {
	// Packet is the packet as received: its fields in order, the raw DATA, the signature fields.
	Packet *wire.Packet
	// Command is the command as registered with Handle: BX_COMMAND matched exactly, else in any case
	// (Packet.Command is as received).
	Command string
	// Connector is CONNECTOR as received, usually a virtual id ("botframework.skype"); RealConnector is its
	// real id ("botframework"), the one a line's status and the gate are kept under.
	Connector     string
	RealConnector string
	// Line is LINE, the open line's id.
	Line string
	// Profile is the generation of the portal the packet was sent to (the Input's WithProfile): it says how
	// the portal acknowledges the packet's items.
	Profile wire.Profile

	items int // the number of items DATA held
	batch any // the decoded items, a *batch[T] of the handler's T
}

// ItemCount returns the number of items of the packet's DATA.
func (req *Request) ItemCount() int { return req.items }

// HandlerFunc is a command's handler as middleware sees it: it returns nil once the packet is handled, or an
// error that becomes the OK:false answer with the error's protocol code (wire.CodeOf; several codes with a
// *wire.ResponseError).
type HandlerFunc func(ctx context.Context, req *Request) error

// Middleware wraps a handler, e.g. to log, measure or gate every request. It is applied to every routed
// command, testConnect included; packets refused before routing never reach it.
type Middleware func(next HandlerFunc) HandlerFunc

// Router maps commands to handlers. Commands match exactly, else ignoring case. testConnect is built in and
// may be replaced with Handle; a command without a handler is refused before routing. Handle and Use may be
// called at any time, also while serving; a Router is safe for concurrent use.
type Router struct {
	mu         sync.Mutex // serialises Handle and Use
	routes     map[string]route
	middleware []Middleware
	table      atomic.Pointer[table] // immutable, rebuilt by Handle and Use
}

// route is what Handle registers: the handler and the decoder of its items.
type route struct {
	name   string // the command as registered
	h      HandlerFunc
	decode decoder
}

// table is the routing state requests read without locking: every handler already wrapped in the middleware.
type table struct {
	exact  map[string]route
	folded map[string]route // lower-cased names
}

// lookup returns the route of command: exact, else ignoring case.
func (t *table) lookup(command string) (route, bool) {
	rt, ok := t.exact[command]
	if !ok {
		rt, ok = t.folded[strings.ToLower(command)]
	}
	return rt, ok
}

// New returns a Router with testConnect registered.
func New() *Router {
	r := &Router{routes: map[string]route{}}
	Handle(r, openlines.CommandTestConnect, func(context.Context, *Request, []any, []error) error { return nil })
	return r
}

// Handle registers h for command, replacing any handler registered before. The Input decodes the packet's
// DATA straight into a []T before middleware and handler run (wire.DecodeItems, or wire.Bind for the one map
// of setChatName): items[i] is DATA's i-th item, and itemErrs[i] (when itemErrs is not nil) says why item i
// did not fit T (a *wire.BindError, code BAD_PACKET), in which case items[i] holds what was bound before the
// error. A bad item never fails the packet; a malformed DATA never reaches the handler. T = any gives the
// items as decoded, with both stubs undone.
//
// The answer is docs/protocol.md §5's: once h returns nil, {"OK":true,"DATA":{"RESULT":"OK"}} for testConnect
// and {"OK":true,"DATA":[]} for any other command, whatever single items did; an error h returns becomes the
// OK:false answer with its protocol code. Handle panics on an empty command or a nil handler, which are
// programming errors.
func Handle[T any](r *Router, command string, h func(ctx context.Context, req *Request, items []T, itemErrs []error) error) {
	if command == "" || h == nil {
		panic("router: Handle needs a command and a handler")
	}
	handler := func(ctx context.Context, req *Request) error {
		b, _ := req.batch.(*batch[T])
		if b == nil {
			return &wire.Error{Code: wire.CodeInternal, Message: "the items of " + req.Command + " were not decoded"}
		}
		return h(ctx, req, b.items, b.errs)
	}
	r.set(command, route{name: command, h: handler, decode: decodeBatch[T]})
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

// set puts rt under command and rebuilds the routing table.
func (r *Router) set(command string, rt route) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[command] = rt
	r.rebuild()
}

// rebuild makes a new table from the routes and the middleware; r.mu is held (or r is not shared yet).
func (r *Router) rebuild() {
	t := &table{exact: make(map[string]route, len(r.routes)), folded: make(map[string]route, len(r.routes))}
	for cmd, rt := range r.routes {
		rt.h = r.wrap(rt.h)
		t.exact[cmd] = rt
		t.folded[strings.ToLower(cmd)] = rt
	}
	r.table.Store(t)
}

// wrap puts h inside the panic guard and then the middleware, so that middleware sees a panic as an error.
func (r *Router) wrap(h HandlerFunc) HandlerFunc {
	w := recoverer(h)
	for i := len(r.middleware) - 1; i >= 0; i-- {
		w = r.middleware[i](w)
	}
	return w
}

// recoverer turns a panic of h into an INTERNAL_ERROR that carries its stack.
func recoverer(h HandlerFunc) HandlerFunc {
	return func(ctx context.Context, req *Request) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = panicError(req.Command, v)
			}
		}()
		return h(ctx, req)
	}
}

// ErrHandlerPanic is wrapped by the error a panicking handler or middleware is answered with (INTERNAL_ERROR).
var ErrHandlerPanic = errors.New("router: handler panicked")

// panicked is a recovered panic: its value and the stack it was raised on, for the Input to log.
type panicked struct {
	value any
	stack []byte
}

func (p *panicked) Error() string { return fmt.Sprintf("%v: %v", ErrHandlerPanic, p.value) }
func (p *panicked) Unwrap() error { return ErrHandlerPanic }

func panicError(command string, v any) error {
	return &wire.Error{Code: wire.CodeInternal, Message: fmt.Sprintf("the handler of %.64q failed", command),
		Err: &panicked{value: v, stack: debug.Stack()}}
}
