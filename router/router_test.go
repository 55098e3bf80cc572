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
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

func TestDispatch(t *testing.T) {
	r := router.New()
	r.Handle("receivingMessage", func(_ context.Context, req *router.Request) (any, error) { return "exact:" + req.Command, nil })
	r.Handle("Other", func(_ context.Context, req *router.Request) (any, error) { return "folded:" + req.Command, nil })
	r.Handle("fails", func(context.Context, *router.Request) (any, error) { return nil, wire.ErrNoUserIM })
	cases := []struct {
		cmd  string
		want any
		code wire.Code
	}{
		{cmd: "receivingMessage", want: "exact:receivingMessage"},
		{cmd: "RECEIVINGMESSAGE", want: "exact:RECEIVINGMESSAGE"},
		{cmd: "other", want: "folded:other"},
		{cmd: "testConnect", want: router.TestConnectResult{Result: "OK"}},
		{cmd: "testconnect", want: router.TestConnectResult{Result: "OK"}},
		{cmd: "fails", code: wire.CodeNoUserIM},
		{cmd: "nope", code: wire.CodeUnknownCommand},
		{cmd: "", code: wire.CodeUnknownCommand},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			got, err := r.Dispatch(context.Background(), &router.Request{Command: c.cmd})
			if c.code != "" {
				if wire.CodeOf(err) != c.code || got != nil {
					t.Fatalf("got %v, %v; want code %s", got, err, c.code)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestTestConnectCanBeReplaced(t *testing.T) {
	r := router.New()
	r.Handle(router.CommandTestConnect, func(context.Context, *router.Request) (any, error) { return nil, wire.ErrFailedTestConnector })
	if _, err := r.Dispatch(context.Background(), &router.Request{Command: "testConnect"}); !errors.Is(err, wire.ErrFailedTestConnector) {
		t.Fatal(err)
	}
}

func TestMiddlewareOrderAndScope(t *testing.T) {
	var mu sync.Mutex
	var trace []string
	mw := func(name string) router.Middleware {
		return func(next router.HandlerFunc) router.HandlerFunc {
			return func(ctx context.Context, req *router.Request) (any, error) {
				mu.Lock()
				trace = append(trace, name+">"+req.Command)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}
	r := router.New()
	r.Handle("before", func(context.Context, *router.Request) (any, error) { return nil, nil })
	r.Use(mw("a"), nil, mw("b"))
	r.Handle("after", func(context.Context, *router.Request) (any, error) { return nil, nil })
	for _, cmd := range []string{"before", "after", "testConnect", "unknown"} {
		_, _ = r.Dispatch(context.Background(), &router.Request{Command: cmd})
	}
	want := "a>before b>before a>after b>after a>testConnect b>testConnect a>unknown b>unknown"
	if got := strings.Join(trace, " "); got != want {
		t.Fatalf("trace %q\nwant  %q", got, want)
	}
}

func TestPanicsBecomeInternalErrors(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	m := router.NewMetrics(nil)
	r := router.New(router.WithLogger(logger))
	r.Use(m.Middleware())
	r.Handle("handler", func(context.Context, *router.Request) (any, error) { panic("handler boom") })
	r.Handle("runtime", func(_ context.Context, req *router.Request) (any, error) {
		return req.Items[5], nil // a runtime error: index out of range
	})
	r.Use(func(next router.HandlerFunc) router.HandlerFunc {
		return func(ctx context.Context, req *router.Request) (any, error) {
			if req.Command == "middleware" {
				panic(fmt.Errorf("middleware boom"))
			}
			return next(ctx, req)
		}
	})
	for _, cmd := range []string{"handler", "runtime", "middleware"} {
		got, err := r.Dispatch(context.Background(), &router.Request{Command: cmd})
		if got != nil || wire.CodeOf(err) != wire.CodeInternal || !errors.Is(err, router.ErrHandlerPanic) {
			t.Fatalf("%s: %v, %v", cmd, got, err)
		}
	}
	if !strings.Contains(logs.String(), "handler boom") || !strings.Contains(logs.String(), "stack=") {
		t.Fatalf("panic not logged with its stack:\n%s", logs.String())
	}
	// The handler panic is inside the metrics middleware (counted); the middleware panic is outside it.
	snap := m.Snapshot()
	if len(snap) != 2 || snap[0].Errors[wire.CodeInternal] != 1 || snap[1].Errors[wire.CodeInternal] != 1 {
		t.Fatalf("%+v", snap)
	}
}

func TestLogging(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := clock.NewFake(epoch)
	r := router.New()
	r.Use(router.Logging(logger, clk))
	r.Handle("slow", func(context.Context, *router.Request) (any, error) { clk.Advance(3 * time.Second); return nil, nil })
	r.Handle("bad", func(context.Context, *router.Request) (any, error) {
		return nil, wire.Errorf(wire.CodeNoUserIM, "item 2 has no user.id")
	})
	r.Handle("broken", func(context.Context, *router.Request) (any, error) { return nil, errors.New("disk full") })
	for _, cmd := range []string{"slow", "bad", "broken", "nope"} {
		_, _ = r.Dispatch(context.Background(), &router.Request{Command: cmd, Connector: "botframework", Line: "3", Items: []any{1, 2}})
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{
		`level=DEBUG msg="router: packet handled" command=slow connector=botframework line=3 items=2 duration=3s`,
		`level=WARN msg="router: packet refused" command=bad connector=botframework line=3 items=2 duration=0s code=CONNECTOR_PROXY_NO_USER_IM error="CONNECTOR_PROXY_NO_USER_IM: item 2 has no user.id"`,
		`level=ERROR msg="router: packet failed" command=broken connector=botframework line=3 items=2 duration=0s code=INTERNAL_ERROR error="disk full"`,
		`level=WARN msg="router: packet refused" command=nope connector=botframework line=3 items=2 duration=0s code=IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND`,
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
	clk := clock.NewFake(epoch)
	m := router.NewMetrics(clk)
	r := router.New()
	r.Use(m.Middleware())
	r.Handle("a", func(_ context.Context, req *router.Request) (any, error) {
		clk.Advance(time.Duration(len(req.Items)) * time.Millisecond)
		if len(req.Items) == 3 {
			return nil, wire.ErrNoUserIM
		}
		return nil, nil
	})
	for _, n := range []int{1, 5, 3} {
		_, _ = r.Dispatch(context.Background(), &router.Request{Command: "a", Items: make([]any, n)})
	}
	for _, cmd := range []string{"x1", "x2", "x3"} {
		_, _ = r.Dispatch(context.Background(), &router.Request{Command: cmd})
	}
	_, _ = r.Dispatch(context.Background(), &router.Request{Command: "testConnect"})
	got := m.Snapshot()
	want := []router.CommandStats{
		{Command: router.UnknownCommandLabel, Requests: 3, Errors: map[wire.Code]uint64{wire.CodeUnknownCommand: 3}},
		{Command: "a", Requests: 3, Errors: map[wire.Code]uint64{wire.CodeNoUserIM: 1}, Total: 9 * time.Millisecond, Max: 5 * time.Millisecond},
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

func TestHandleWhileServing(t *testing.T) {
	r := router.New()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = r.Dispatch(ctx, &router.Request{Command: "c7"})
			}
		}()
	}
	for i := 0; i < 50; i++ {
		r.Handle(fmt.Sprintf("c%d", i), func(context.Context, *router.Request) (any, error) { return nil, nil })
		r.Use(func(next router.HandlerFunc) router.HandlerFunc { return next })
	}
	cancel()
	wg.Wait()
	if n := len(r.Commands()); n != 51 {
		t.Fatalf("%d commands", n)
	}
	if _, err := r.Dispatch(context.Background(), &router.Request{Command: "c7"}); err != nil {
		t.Fatal(err)
	}
}

func TestHandleRefusesNothing(t *testing.T) {
	for _, f := range []func(){
		func() {
			router.New().Handle("", func(context.Context, *router.Request) (any, error) { return nil, nil })
		},
		func() { router.New().Handle("x", nil) },
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

func TestBindItemsNamesTheItem(t *testing.T) {
	items := []any{
		wire.NewMap("user", wire.NewMap("id", "u1")),
		wire.NewMap("user", wire.NewMap("id", []any{"not", "a", "string"})),
	}
	_, err := router.BindItems[router.MessageItem](items)
	var be *wire.BindError
	if !errors.Is(err, wire.ErrBadPacket) || !errors.As(err, &be) || !strings.Contains(err.Error(), "item 1") || be.Path != "user.id" {
		t.Fatalf("%v (%#v)", err, be)
	}
	if _, err := router.BindItems[router.MessageItem]([]any{"a string"}); !errors.Is(err, wire.ErrBadPacket) {
		t.Fatal(err)
	}
}

func TestItemValidation(t *testing.T) {
	ok := func() router.MessageItem {
		return router.MessageItem{User: router.User{ID: "u"}, Chat: router.Chat{ID: "c"}, Message: router.Message{ID: "m"}}
	}
	cases := []struct {
		name string
		edit func(*router.MessageItem)
		code wire.Code
	}{
		{name: "complete", edit: func(*router.MessageItem) {}},
		{name: "no user.id", edit: func(m *router.MessageItem) { m.User.ID = "" }, code: wire.CodeNoUserIM},
		{name: "no chat.id", edit: func(m *router.MessageItem) { m.Chat.ID = "" }, code: wire.CodeBadPacket},
		{name: "no message.id", edit: func(m *router.MessageItem) { m.Message.ID = "" }, code: wire.CodeBadPacket},
		{name: "typing without message.id", edit: func(m *router.MessageItem) { m.Message.ID = ""; m.TypeMessage = router.MessageTypingStart }},
		{name: "unknown type", edit: func(m *router.MessageItem) { m.TypeMessage = "reaction" }, code: wire.CodeBadPacket},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ok()
			c.edit(&m)
			err := m.Validate()
			if (c.code == "" && err != nil) || (c.code != "" && wire.CodeOf(err) != c.code) {
				t.Fatalf("%v, want %q", err, c.code)
			}
		})
	}
	others := []struct {
		name string
		v    interface{ Validate() error }
		ok   bool
	}{
		{"delivery", &router.StatusDeliveryItem{IM: router.IMRef{MessageID: "1"}, Chat: router.Chat{ID: "c"}}, true},
		{"delivery without im", &router.StatusDeliveryItem{Chat: router.Chat{ID: "c"}}, false},
		{"delivery without chat", &router.StatusDeliveryItem{IM: router.IMRef{MessageID: "1"}}, false},
		{"reading", &router.StatusReadingItem{Chat: router.Chat{ID: "c"}}, true},
		{"reading without chat", &router.StatusReadingItem{}, false},
		{"error without chat", &router.ErrorItem{}, false},
		{"block without chat", &router.StatusBlockItem{}, false},
		{"chat name without chat", &router.ChatNameItem{}, false},
	}
	for _, o := range others {
		if err := o.v.Validate(); (err == nil) != o.ok || (err != nil && !errors.Is(err, wire.ErrBadPacket)) {
			t.Errorf("%s: %v", o.name, err)
		}
	}
}
