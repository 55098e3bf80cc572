package router_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// handle registers a handler of raw items that runs f.
func handle(r *router.Router, command string, f func(ctx context.Context, req *router.Request) error) {
	router.Handle(r, command, func(ctx context.Context, req *router.Request, _ []any, _ []error) error { return f(ctx, req) })
}

// post sends command with items to srv and returns the answer.
func post(t *testing.T, url string, send *routertest.Sender, command string, items any) routertest.Answer {
	t.Helper()
	return routertest.Post(t, nil, url, send.Body(t, command, items))
}

func TestRouting(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	r := router.New()
	var mu sync.Mutex
	var got []string
	seen := func(ctx context.Context, req *router.Request) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req.Command)
		return nil
	}
	handle(r, "receivingMessage", seen)
	handle(r, "Other", seen)
	handle(r, "fails", func(context.Context, *router.Request) error { return wire.CodeNoUserIM })
	handle(r, "several", func(context.Context, *router.Request) error {
		return &wire.ResponseError{Errors: []*wire.Error{wire.Errorf(wire.CodeNoUserIM, "item 0"), wire.Errorf(wire.CodeInternal, "item 1")}}
	})
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	cases := []struct {
		cmd, routed, body string
		codes             []wire.Code
	}{
		{cmd: "receivingMessage", routed: "receivingMessage", body: `{"OK":true,"DATA":[]}`},
		{cmd: "RECEIVINGMESSAGE", routed: "receivingMessage", body: `{"OK":true,"DATA":[]}`},
		{cmd: "other", routed: "Other", body: `{"OK":true,"DATA":[]}`},
		{cmd: "testConnect", body: `{"OK":true,"DATA":{"RESULT":"OK"}}`},
		{cmd: "TESTCONNECT", body: `{"OK":true,"DATA":{"RESULT":"OK"}}`},
		{cmd: "fails", codes: []wire.Code{wire.CodeNoUserIM}},
		{cmd: "several", codes: []wire.Code{wire.CodeNoUserIM, wire.CodeInternal}},
		{cmd: "nope", codes: []wire.Code{wire.CodeUnknownCommand}},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			a := post(t, srv.URL, send, c.cmd, nil)
			if c.codes != nil {
				if a.Response == nil || a.Response.OK || fmt.Sprint(a.Codes()) != fmt.Sprint(c.codes) {
					t.Fatalf("answer %s, want %v", a.Body, c.codes)
				}
				return
			}
			if string(a.Body) != c.body {
				t.Fatalf("answer %s, want %s", a.Body, c.body)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.routed != "" && (len(got) != 1 || got[0] != c.routed) {
				t.Fatalf("routed to %v, want %s", got, c.routed)
			}
		})
	}
}

func TestTestConnectCanBeReplaced(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	r := router.New()
	handle(r, openlines.CommandTestConnect, func(context.Context, *router.Request) error { return wire.CodeFailedTestConnector })
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	if a := post(t, srv.URL, send, openlines.CommandTestConnect, nil); !errors.Is(a.Err, wire.CodeFailedTestConnector) {
		t.Fatalf("answer %s", a.Body)
	}
}

func TestMiddlewareOrderAndScope(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	var mu sync.Mutex
	var trace []string
	mw := func(name string) router.Middleware {
		return func(next router.HandlerFunc) router.HandlerFunc {
			return func(ctx context.Context, req *router.Request) error {
				mu.Lock()
				trace = append(trace, name+">"+req.Command)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}
	r := router.New()
	handle(r, "before", func(context.Context, *router.Request) error { return nil })
	r.Use(mw("a"), nil, mw("b"))
	handle(r, "after", func(context.Context, *router.Request) error { return nil })
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	for _, cmd := range []string{"before", "after", "testConnect", "unknown"} {
		post(t, srv.URL, send, cmd, nil)
	}
	// A packet refused before routing (the unknown command) reaches no middleware.
	want := "a>before b>before a>after b>after a>testConnect b>testConnect"
	if got := strings.Join(trace, " "); got != want {
		t.Fatalf("trace %q\nwant  %q", got, want)
	}
}

func TestPanicsBecomeInternalErrors(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	m := router.NewMetrics(nil)
	r := router.New()
	r.Use(m.Middleware())
	handle(r, "handler", func(context.Context, *router.Request) error { panic("handler boom") })
	router.Handle(r, "runtime", func(_ context.Context, _ *router.Request, items []any, _ []error) error {
		_ = items[5] // a runtime error: index out of range
		return nil
	})
	r.Use(func(next router.HandlerFunc) router.HandlerFunc {
		return func(ctx context.Context, req *router.Request) error {
			if req.Command == "middleware" {
				panic(fmt.Errorf("middleware boom"))
			}
			return next(ctx, req)
		}
	})
	handle(r, "middleware", func(context.Context, *router.Request) error { return nil })
	srv := serve(t, r, md5Creds, clk, router.WithLogger(logger))
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	for _, cmd := range []string{"handler", "runtime", "middleware"} {
		a := post(t, srv.URL, send, cmd, nil)
		if a.Status != 200 || a.Response == nil || a.Response.OK || a.Codes()[0] != wire.CodeInternal ||
			!strings.Contains(a.Response.Errors[0].Message, "router: handler panicked") {
			t.Fatalf("%s: %s", cmd, a.Body)
		}
	}
	for _, s := range []string{"handler boom", "index out of range", "middleware boom", "stack="} {
		if !strings.Contains(logs.String(), s) {
			t.Fatalf("%q not logged:\n%s", s, logs.String())
		}
	}
	// The handler panics are inside the metrics middleware (counted); the middleware panic is outside it.
	snap := m.Snapshot()
	if len(snap) != 2 || snap[0].Errors[wire.CodeInternal] != 1 || snap[1].Errors[wire.CodeInternal] != 1 {
		t.Fatalf("%+v", snap)
	}
}

func TestLogging(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := clock.NewFake(epoch)
	r := router.New()
	r.Use(router.Logging(logger, clk))
	handle(r, "slow", func(context.Context, *router.Request) error { clk.Advance(3 * time.Second); return nil })
	handle(r, "bad", func(context.Context, *router.Request) error {
		return wire.Errorf(wire.CodeNoUserIM, "item 2 has no user.id")
	})
	handle(r, "broken", func(context.Context, *router.Request) error { return errors.New("disk full") })
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	for _, cmd := range []string{"slow", "bad", "broken"} {
		post(t, srv.URL, send, cmd, []any{1, 2})
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{
		`level=DEBUG msg="router: packet handled" command=slow connector=botframework line=3 items=2 duration=3s`,
		`level=WARN msg="router: packet refused" command=bad connector=botframework line=3 items=2 duration=0s code=CONNECTOR_PROXY_NO_USER_IM error="CONNECTOR_PROXY_NO_USER_IM: item 2 has no user.id"`,
		`level=ERROR msg="router: packet failed" command=broken connector=botframework line=3 items=2 duration=0s code=INTERNAL_ERROR error="disk full"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("logs:\n%s", logs.String())
	}
	for i, w := range want {
		if _, rest, _ := strings.Cut(lines[i], " "); !strings.HasPrefix(rest, w) {
			t.Fatalf("line %d\n got %s\nwant %s", i, rest, w)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	m := router.NewMetrics(clk)
	r := router.New()
	r.Use(m.Middleware())
	handle(r, "a", func(_ context.Context, req *router.Request) error {
		clk.Advance(time.Duration(req.ItemCount()) * time.Millisecond)
		if req.ItemCount() == 3 {
			return wire.CodeNoUserIM
		}
		return nil
	})
	srv := serve(t, r, md5Creds, clk, router.WithObserver(m))
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	for _, n := range []int{1, 5, 3} {
		post(t, srv.URL, send, "a", make([]any, n))
	}
	post(t, srv.URL, send, "A", make([]any, 0)) // filed under the command as registered
	for _, cmd := range []string{"x1", "x2", "x3"} {
		post(t, srv.URL, send, cmd, nil)
	}
	post(t, srv.URL, send, "testConnect", nil)
	got := m.Snapshot()
	want := []router.CommandStats{
		{Command: router.RefusedLabel, Requests: 3, Errors: map[wire.Code]uint64{wire.CodeUnknownCommand: 3}},
		{Command: "a", Requests: 4, Errors: map[wire.Code]uint64{wire.CodeNoUserIM: 1}, Total: 9 * time.Millisecond, Max: 5 * time.Millisecond},
		{Command: "testConnect", Requests: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	got[1].Errors[wire.CodeNoUserIM] = 100 // a snapshot is a copy
	if m.Snapshot()[1].Errors[wire.CodeNoUserIM] != 1 {
		t.Fatal("snapshot shares its maps")
	}
}

// TestHandleWhileServing: Handle and Use may be called while packets are served; every packet meanwhile is
// answered by a complete routing table.
func TestHandleWhileServing(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	r := router.New()
	handle(r, "c7", func(context.Context, *router.Request) error { return nil })
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	body := send.Body(t, "c7", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200 && ctx.Err() == nil; n++ {
				if a := routertest.Post(t, nil, srv.URL, body); a.Err != nil {
					t.Errorf("answer %s", a.Body)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		handle(r, fmt.Sprintf("c%d", i), func(context.Context, *router.Request) error { return nil })
		r.Use(func(next router.HandlerFunc) router.HandlerFunc { return next })
	}
	cancel()
	wg.Wait()
	if a := post(t, srv.URL, send, "c49", nil); a.Err != nil {
		t.Fatalf("answer %s", a.Body)
	}
}

func TestHandleRefusesNothing(t *testing.T) {
	t.Parallel()
	for _, f := range []func(){
		func() { handle(router.New(), "", func(context.Context, *router.Request) error { return nil }) },
		func() { router.Handle[any](router.New(), "x", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		}()
	}
}

// lineGate is a fake line gate: receivingMessage and setChatName pass only for the (real connector, line)
// pairs in open, as a portal's gate does with its stored line status.
func lineGate(open map[string]bool) router.Middleware {
	return func(next router.HandlerFunc) router.HandlerFunc {
		return func(ctx context.Context, req *router.Request) error {
			gated := req.Command == openlines.CommandReceivingMessage || req.Command == openlines.CommandSetChatName
			if gated && !open[req.RealConnector+"/"+req.Line] {
				return wire.Errorf(wire.CodeNotActiveLine, "connector %s is not active on line %s", req.RealConnector, req.Line)
			}
			return next(ctx, req)
		}
	}
}

// TestLineGate: a gate used as the innermost middleware refuses receivingMessage and setChatName of a closed
// line with NOT_ACTIVE_LINE before any handler runs, keyed by the real connector; other commands and open
// lines pass; the outer middleware sees the refusal under its command.
func TestLineGate(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	rec := &recorder{}
	r := newRouter(rec, false)
	m := router.NewMetrics(clk)
	r.Use(m.Middleware(), lineGate(map[string]bool{"botframework/3": true}))
	srv := serve(t, r, md5Creds, clk)
	cases := []struct {
		connector, line, command string
		code                     wire.Code // "" for handled
	}{
		{"botframework.skype", "3", openlines.CommandReceivingMessage, ""},
		{"botframework.webchat", "3", openlines.CommandSetChatName, ""},
		{"botframework.skype", "4", openlines.CommandReceivingMessage, wire.CodeNotActiveLine},
		{"botframework.skype", "4", openlines.CommandSetChatName, wire.CodeNotActiveLine},
		{"vkgroup", "3", openlines.CommandReceivingMessage, wire.CodeNotActiveLine},
		{"botframework.skype", "4", openlines.CommandReceivingStatusDelivery, ""},
		{"botframework.skype", "4", openlines.CommandDeactivateConnector, ""},
		{"botframework.skype", "4", openlines.CommandTestConnect, ""},
	}
	for _, c := range cases {
		t.Run(c.connector+"/"+c.line+" "+c.command, func(t *testing.T) {
			before := rec.count()
			send := routertest.NewSender(t, md5Creds, clk, c.connector, c.line)
			a := post(t, srv.URL, send, c.command, commandItems[c.command].items)
			if c.code == "" {
				if a.Err != nil || (c.command != openlines.CommandTestConnect && rec.count() != before+1) {
					t.Fatalf("answer %s, %d calls", a.Body, rec.count()-before)
				}
				return
			}
			if a.Response == nil || a.Response.OK || len(a.Codes()) != 1 || a.Codes()[0] != c.code {
				t.Fatalf("answer %s, want %s", a.Body, c.code)
			}
			if rec.count() != before {
				t.Fatal("the handler ran behind a closed gate")
			}
		})
	}
	snap := m.Snapshot()
	if len(snap) != 5 || snap[1].Command != openlines.CommandReceivingMessage || snap[1].Errors[wire.CodeNotActiveLine] != 2 ||
		snap[3].Command != openlines.CommandSetChatName || snap[3].Errors[wire.CodeNotActiveLine] != 1 {
		t.Fatalf("%+v", snap)
	}
}

// TestHandleReplacesWithAnotherType: a command registered again gets its items in the new handler's type.
func TestHandleReplacesWithAnotherType(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	rec := &recorder{}
	r := router.New()
	router.Handle(r, openlines.CommandReceivingMessage, record[openlines.MessageItem](rec))
	srv := serve(t, r, md5Creds, clk)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	items := commandItems[openlines.CommandReceivingMessage].items
	post(t, srv.URL, send, openlines.CommandReceivingMessage, items)
	if it := oneItem[openlines.MessageItem](t, rec); it.User.ID != "u1" {
		t.Fatalf("item %+v", it)
	}
	router.Handle(r, openlines.CommandReceivingMessage, record[any](rec))
	post(t, srv.URL, send, openlines.CommandReceivingMessage, items)
	if it := oneItem[any](t, rec); it.(*wire.Map).Len() != 6 {
		t.Fatalf("item %#v", it)
	}
}
