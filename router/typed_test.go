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
	clk, send, good := typedSetup(t)
	// decoded is good as the Input decodes it (PHP integers are int64, #EMPTY# is "").
	decoded := func() []any {
		ser, err := wire.SerializeStubbed(good, wire.Legacy)
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

// typedSetup is the clock, the sender and the receivingMessage items of TestHandleItems and TestHandleDoc.
func typedSetup(t *testing.T) (*clock.Fake, *routertest.Sender, []any) {
	clk := clock.NewFake(epoch)
	return clk, routertest.NewSender(t, md5Creds, clk, "botframework", "3"), commandItems[router.CommandReceivingMessage].items.([]any)
}

// TestHandleDoc: a HandleDoc command gets DATA as a wire.Doc whose items decode to what BindItems gives from
// the tree, and that stays readable after the handler returned; an empty DATA has no items; Dispatch without
// an Input reads Items into a Doc.
func TestHandleDoc(t *testing.T) {
	clk, send, good := typedSetup(t)

	t.Run("the items arrive as a Doc, equal to the tree's", func(t *testing.T) {
		srv, rec := serverWith(t, md5Creds, clk, viaHandleDoc)
		plain, plainRec := server(t, md5Creds, clk)
		items := []any{good[0], good[0], ""}
		for _, s := range []string{srv.URL, plain.URL} {
			a := routertest.Post(t, nil, s, send.Body(t, router.CommandReceivingMessage, items))
			if a.Err != nil || string(a.Response.Data) != `{"ITEMS":3,"RESULT":"OK"}` {
				t.Fatalf("answer %s", a.Body)
			}
		}
		if req := rec.last(t); req.Items != nil || req.ItemCount() != 3 {
			t.Fatalf("Items %v, ItemCount %d", req.Items, req.ItemCount())
		}
		tree := plainRec.last(t).Items
		want, err := router.BindItems[router.MessageItem](tree)
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		doc := rec.docs[0] // read after the handler returned
		if doc.Kind() != wire.KindList || doc.Len() != 3 {
			t.Fatalf("items: %v of %d", doc.Kind(), doc.Len())
		}
		for i, v := range tree {
			var got router.MessageItem
			if err := doc.Index(i).Decode(&got); err != nil || !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("item %d: %+v (%v), want %+v", i, got, err, want[i])
			}
			if w := wire.Unstub(doc.Index(i).Interface()); !reflect.DeepEqual(w, v) {
				t.Fatalf("item %d: %#v, want %#v", i, w, v)
			}
		}
		if text := doc.Index(0).Get("message").Get("text").Text(); text != want[0].Message.Text || text == "" {
			t.Fatalf("text %q, want %q", text, want[0].Message.Text)
		}
	})

	t.Run("empty DATA: no items", func(t *testing.T) {
		srv, rec := serverWith(t, md5Creds, clk, viaHandleDoc)
		if a := routertest.Post(t, nil, srv.URL, send.Body(t, router.CommandReceivingMessage, nil)); a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if d := rec.docs[0]; d.Len() != 0 || !d.Exists() {
			t.Fatalf("%v of %d", d.Kind(), d.Len())
		}
	})

	t.Run("Dispatch without an Input reads Items into a Doc", func(t *testing.T) {
		r := router.New()
		var got []string
		router.HandleDoc(r, router.CommandReceivingMessage, func(_ context.Context, _ *router.Request, items wire.Value) (any, error) {
			for _, it := range items.Entries() {
				got = append(got, it.Get("message").Get("text").Text())
			}
			return items.Len(), nil
		})
		n, err := r.Dispatch(context.Background(), &router.Request{Command: router.CommandReceivingMessage,
			Items: []any{wire.NewMap("message", wire.NewMap("text", "a")), wire.NewMap("message", wire.NewMap("text", ""))}})
		if err != nil || n != 2 || !reflect.DeepEqual(got, []string{"a", ""}) {
			t.Fatalf("%v %v %q", n, err, got)
		}
		if _, err := r.Dispatch(context.Background(), &router.Request{Command: router.CommandReceivingMessage, Items: []any{make(chan int)}}); wire.CodeOf(err) != wire.CodeBadPacket {
			t.Fatalf("items that do not serialize: %v", err)
		}
		if n, err := r.Dispatch(context.Background(), &router.Request{Command: router.CommandReceivingMessage}); err != nil || n != 0 {
			t.Fatalf("no items: %v %v", n, err)
		}
	})
}

func newInputServer(t *testing.T, r *router.Router, clk clock.Clock) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(router.NewInput(r, router.WithCredentials(md5Creds), router.WithClock(clk)))
	t.Cleanup(srv.Close)
	return srv
}
