package router

import (
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// decoder decodes a packet's DATA into the items of one handler's type: a *batch[T] and its length.
type decoder func(p *wire.Packet) (batch any, n int, err error)

// batch is the items of one packet bound into a handler's T, with the error of each item that did not fit.
type batch[T any] struct {
	items []T
	errs  []error // nil when every item fit
}

// decodeBatch decodes DATA into a []T (docs/protocol.md §3.2, §3.3): the item list itself, straight from the
// serialized bytes; for setChatName one map, which is one item; an empty DATA ("", [] and both stubs) has
// no items; any other scalar is BAD_PACKET.
func decodeBatch[T any](p *wire.Packet) (any, int, error) {
	if strings.EqualFold(p.Command, openlines.CommandSetChatName) {
		return decodeOne[T](p)
	}
	items, errs, err := wire.DecodeItems[T](p)
	if err != nil {
		return nil, 0, err
	}
	return &batch[T]{items: items, errs: errs}, len(items), nil
}

// decodeOne decodes a DATA that is one map into one item; a list is taken as the items themselves.
func decodeOne[T any](p *wire.Packet) (any, int, error) {
	if err := p.DecodeData(); err != nil {
		return nil, 0, err
	}
	raw := []any{p.Data}
	if _, ok := p.Data.(*wire.Map); !ok {
		var err error
		if raw, err = p.Items(); err != nil {
			return nil, 0, err
		}
	}
	b := &batch[T]{}
	if len(raw) > 0 {
		b.items = make([]T, len(raw))
	}
	for i, it := range raw {
		if err := wire.Bind(it, &b.items[i]); err != nil {
			if b.errs == nil {
				b.errs = make([]error, len(raw))
			}
			b.errs[i] = err
		}
	}
	return b, len(raw), nil
}
