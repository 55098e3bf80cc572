package router_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// TestHandleDoc: a HandleDoc command gets DATA as a wire.Doc whose items decode to what BindItems gives from
// the tree, and that stays readable after the handler returned; an empty DATA has no items; Dispatch without
// an Input reads Items into a Doc.
func TestHandleDoc(t *testing.T) {
	clk := clock.NewFake(epoch)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	good := commandItems[router.CommandReceivingMessage].items.([]any)

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
