package router

import (
	"context"

	"github.com/olctl/olctl/wire"
)

// ItemsHandler handles a command whose items arrive typed: items[i] is DATA's i-th item bound into T, and
// itemErrs[i] (when itemErrs is not nil) says why item i did not fit T (a *wire.BindError, code BAD_PACKET);
// such an item holds what was bound before the error. A malformed DATA never reaches the handler.
type ItemsHandler[T any] func(ctx context.Context, req *Request, items []T, itemErrs []error) (any, error)

// itemDecoder decodes a packet's items for a HandleItems command.
type itemDecoder func(p *wire.Packet) (itemSet, error)

// itemSet is what an itemDecoder leaves in a Request: a *typedItems[T].
type itemSet interface{ len() int }

// typedItems is the items of a HandleItems command and their bind errors.
type typedItems[T any] struct {
	items []T
	errs  []error
}

func (ti *typedItems[T]) len() int { return len(ti.items) }

// HandleItems registers h for command, like Handle, with the packet's DATA decoded by the Input straight into
// a []T (wire.DecodeItems: no decoded tree, about half the work of decoding DATA and binding it with
// BindItems). The Request's Items is nil; middleware sees the number of items in ItemCount. A Request
// dispatched without an Input (Router.Dispatch) has its Items bound into T instead, item by item.
func HandleItems[T any](r *Router, command string, h ItemsHandler[T]) {
	if command == "" || h == nil {
		panic("router: HandleItems needs a command and a handler")
	}
	handler := func(ctx context.Context, req *Request) (any, error) {
		ti, ok := req.typed.(*typedItems[T])
		if !ok {
			ti = bindTyped[T](req.Items)
		}
		return h(ctx, req, ti.items, ti.errs)
	}
	decode := func(p *wire.Packet) (itemSet, error) {
		items, errs, err := wire.DecodeItems[T](p)
		if err != nil {
			return nil, err
		}
		return &typedItems[T]{items: items, errs: errs}, nil
	}
	r.set(command, handler, decode)
}

// bindTyped binds decoded items into a []T, item by item.
func bindTyped[T any](raw []any) *typedItems[T] {
	ti := &typedItems[T]{}
	if len(raw) == 0 {
		return ti
	}
	ti.items = make([]T, len(raw))
	for i, it := range raw {
		if err := wire.Bind(it, &ti.items[i]); err != nil {
			if ti.errs == nil {
				ti.errs = make([]error, len(raw))
			}
			ti.errs[i] = err
		}
	}
	return ti
}
