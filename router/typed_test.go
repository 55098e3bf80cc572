package router_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// TestHandleItems: a HandleItems command gets DATA's items typed, as BindItems would bind them, with an item
// that does not fit reported on its own; Dispatch without an Input binds Items instead; Handle replaces it.
func TestHandleItems(t *testing.T) {
	clk := clock.NewFake(epoch)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	good := commandItems[router.CommandReceivingMessage].items.([]any)
	// decoded is good as the Input decodes it (PHP integers are int64, #EMPTY# is "").
	decoded := func() []any {
		ser, err := wire.SerializeStubbed(good)
		if err != nil {
			t.Fatal(err)
		}
		v, err := wire.Unserialize(ser)
		if err != nil {
			t.Fatal(err)
		}
		return wire.Unstub(v).([]any)
	}

	t.Run("the items arrive typed, equal to BindItems'", func(t *testing.T) {
		srv, rec := serverWith(t, md5Creds, clk, viaHandleItems)
		// The command's name in another case reaches the same handler, decoded the same way.
		for _, cmd := range []string{router.CommandReceivingMessage, "RECEIVINGMESSAGE"} {
			a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, cmd, good))
			if a.Err != nil || string(a.Response.Data) != `{"ITEMS":1,"RESULT":"OK"}` {
				t.Fatalf("%s: answer %s", cmd, a.Body)
			}
			req := rec.last(t)
			if req.Items != nil || req.ItemCount() != 1 {
				t.Fatalf("Items %v, ItemCount %d", req.Items, req.ItemCount())
			}
		}
		want, err := router.BindItems[router.MessageItem](decoded())
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, c := range rec.typed {
			if c.errs != nil || !reflect.DeepEqual(c.items, want) {
				t.Fatalf("typed items %+v (errors %v), want %+v", c.items, c.errs, want)
			}
		}
	})

	t.Run("an item that does not fit fails alone", func(t *testing.T) {
		srv, rec := serverWith(t, md5Creds, clk, viaHandleItems)
		items := []any{wire.NewMap("user", "not an array"), good[0], ""}
		if a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, router.CommandReceivingMessage, items)); a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		c := rec.typed[0]
		var be *wire.BindError
		if len(c.items) != 3 || len(c.errs) != 3 || !errors.As(c.errs[0], &be) || be.Path != "user" || c.errs[1] != nil || c.errs[2] != nil {
			t.Fatalf("items %d, errors %v", len(c.items), c.errs)
		}
		if c.items[1].User.ID != "u1" || c.items[2].User.ID != "" {
			t.Fatalf("items %+v", c.items)
		}
	})

	t.Run("empty DATA: no items", func(t *testing.T) {
		srv, rec := serverWith(t, md5Creds, clk, viaHandleItems)
		if a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, router.CommandReceivingMessage, nil)); a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
		if c := rec.typed[0]; len(c.items) != 0 || c.errs != nil {
			t.Fatalf("%+v", c)
		}
	})

	t.Run("Dispatch without an Input binds Items; Handle replaces HandleItems", func(t *testing.T) {
		r := router.New()
		var got []router.MessageItem
		router.HandleItems(r, router.CommandReceivingMessage, func(_ context.Context, _ *router.Request, items []router.MessageItem, errs []error) (any, error) {
			got = items
			return nil, errors.Join(errs...)
		})
		raw := decoded()
		if _, err := r.Dispatch(context.Background(), &router.Request{Command: router.CommandReceivingMessage, Items: raw}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].User.ID != "u1" {
			t.Fatalf("%+v", got)
		}
		r.Handle(router.CommandReceivingMessage, func(_ context.Context, req *router.Request) (any, error) {
			return len(req.Items), nil
		})
		srv := newInputServer(t, r, clk)
		a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, router.CommandReceivingMessage, good))
		if a.Err != nil || string(a.Response.Data) != `1` {
			t.Fatalf("answer %s", a.Body)
		}
	})
}

func newInputServer(t *testing.T, r *router.Router, clk clock.Clock) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(router.NewInput(r, router.WithCredentials(md5Creds), router.WithClock(clk)))
	t.Cleanup(srv.Close)
	return srv
}
