package router

import (
	"context"

	"github.com/olctl/olctl/wire"
)

// DocHandler handles a command whose DATA arrives as a wire.Doc, the fastest way to read a packet: items is
// DATA's root, a list of the packet's items (a map is taken in its order), with Len 0 for an empty DATA.
// Strings are as sent and share the packet's memory; Value.Text reads "#EMPTY#" as "" and Value.Decode binds
// an item with every "#EMPTY#" as "". The Doc belongs to this request alone: it may be kept after the
// handler returns.
type DocHandler func(ctx context.Context, req *Request, items wire.Value) (any, error)

// docItems is the DATA of a HandleDoc command.
type docItems struct{ items wire.Value }

func (di *docItems) len() int { return di.items.Len() }

// HandleDoc registers h for command, like Handle, with the packet's DATA read by the Input into a wire.Doc
// (Packet.DecodeDoc: one allocation for the index, no Go value per item or string) instead of the decoded
// tree. The Request's Items is nil; middleware sees the number of items in ItemCount. DATA that is not a
// list (an integer, a non-empty string) is refused with BAD_PACKET, as for Handle. A Request dispatched
// without an Input (Router.Dispatch) has its Items serialized and read into a Doc instead.
func HandleDoc(r *Router, command string, h DocHandler) {
	if command == "" || h == nil {
		panic("router: HandleDoc needs a command and a handler")
	}
	handler := func(ctx context.Context, req *Request) (any, error) {
		di, ok := req.typed.(*docItems)
		if !ok {
			var err error
			if di, err = docFromItems(req.Items); err != nil {
				return nil, err
			}
		}
		return h(ctx, req, di.items)
	}
	decode := func(p *wire.Packet) (itemSet, error) {
		doc := new(wire.Doc)
		if err := p.DecodeDoc(doc); err != nil {
			return nil, err
		}
		return docList(doc.Root())
	}
	r.set(command, handler, decode)
}

// docList checks that root is a list of items as Packet.Items does: an array, or an empty DATA (null, "" or
// "#EMPTY#"), which has no items.
func docList(root wire.Value) (*docItems, error) {
	switch k := root.Kind(); k {
	case wire.KindList, wire.KindMap, wire.KindNull:
	case wire.KindString:
		if root.Text() != "" {
			return nil, wire.Errorf(wire.CodeBadPacket, "DATA is a string, not a list")
		}
	default:
		return nil, wire.Errorf(wire.CodeBadPacket, "DATA is a %s, not a list", k)
	}
	return &docItems{items: root}, nil
}

// docFromItems reads items (a Request's decoded Items) into a Doc.
func docFromItems(items []any) (*docItems, error) {
	if items == nil {
		items = []any{}
	}
	raw, err := wire.Serialize(items)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeBadPacket, Message: "the request's items", Err: err}
	}
	doc, err := wire.ParseDoc(string(raw))
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeBadPacket, Message: "the request's items", Err: err}
	}
	return docList(doc.Root())
}
