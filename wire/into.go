package wire

import (
	"encoding/base64"
	"reflect"
	"strconv"
)

// DecodeItems decodes the packet's DATA (base64, PHP serialized) into a []T without building the tree of Go
// values, as Packet.Items takes DATA: a list or an array (its values, in order), null or "" (none). Each item
// is bound on its own, exactly as Bind(item, &items[i]) binds an item of DecodeData's tree (both stubs
// undone): itemErrs[i] is that item's *BindError, or nil (itemErrs is nil when every item fit), and an item
// that does not fit holds what was bound before the error. err is BAD_PACKET: DATA is not base64, or not PHP
// serialized (wrapping the *SyntaxError), or not a list. p.Data is left nil.
func DecodeItems[T any](p *Packet) (items []T, itemErrs []error, err error) {
	raw, err := base64.StdEncoding.DecodeString(p.RawData)
	if err != nil {
		return nil, nil, &Error{Code: CodeBadPacket, Message: "DATA is not base64", Err: err}
	}
	ns, err := parse(bytesString(raw)) // raw is ours and never written again
	if err != nil {
		return nil, nil, &Error{Code: CodeBadPacket, Message: "DATA", Err: err}
	}
	return bindItems[T](ns)
}

// bindItems binds the items of parsed DATA into a []T.
func bindItems[T any](ns nodes) (items []T, itemErrs []error, err error) {
	in := into{tree: tree{nodes: ns, unstub: true}}
	root := &ns.list[0]
	if root.kind != kindList && root.kind != kindMap {
		_, err := listOf(in.tree.value(0)) // no items (null, "", a stub), or an error
		return nil, nil, err
	}
	if root.n > 0 {
		items = make([]T, root.n)
	}
	for i, j := 0, 1; j < root.m; i, j = i+1, in.next(j+1) {
		in.b.path = in.b.pathBuf[:0]
		if err := in.value(j+1, reflect.ValueOf(&items[i]).Elem()); err != nil {
			if itemErrs == nil {
				itemErrs = make([]error, len(items))
			}
			itemErrs[i] = err
		}
	}
	return items, itemErrs, nil
}

// into binds parsed nodes into Go values with Bind's rules, as Bind binds the tree built from them with both
// stubs undone. A string, an integer, a struct, a slice and a pointer to one of these are read from the nodes
// themselves; any other destination (any, *Map, a Go map, a bool, a float) and any value Bind would convert
// (an integer into a string, …) gets its part of the tree built and bound by Bind. FuzzUnserializeInto holds
// the two ways to the same values and the same errors.
type into struct {
	tree
	b     binder
	plans []plan // the struct types met in this decode: the shared cache costs a synchronised lookup per struct
}

// plan is how into reads a struct type.
type plan struct {
	t      reflect.Type
	fields []fieldInfo
	rest   int  // the index of the last `,rest` field, or -1
	unique bool // no two fields have the same name: a key equal to a field's name is that field
}

// plan returns the plan of struct type t.
func (in *into) plan(t reflect.Type) *plan {
	for i := range in.plans {
		if in.plans[i].t == t {
			return &in.plans[i]
		}
	}
	pl := plan{t: t, fields: cachedFields(t), rest: -1, unique: true}
	for i, f := range pl.fields {
		if f.rest {
			pl.rest = i
		}
		for _, g := range pl.fields[:i] {
			if g.name == f.name {
				pl.unique = false
			}
		}
	}
	in.plans = append(in.plans, pl)
	return &in.plans[len(in.plans)-1]
}

// value binds the node at i into dv.
func (in *into) value(i int, dv reflect.Value) error {
	nd := &in.list[i]
	switch dv.Kind() {
	case reflect.String:
		if nd.kind == kindString {
			s := in.str(nd)
			if s == EmptyStub || s == EmptyArrayStub {
				s = ""
			}
			dv.SetString(s)
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if nd.kind == kindInt {
			if dv.OverflowInt(nd.n) {
				return in.b.fail("%d overflows %s", nd.n, dv.Type())
			}
			dv.SetInt(nd.n)
			return nil
		}
	case reflect.Pointer:
		if dv.Type() == mapType || nd.kind != kindString && nd.kind != kindInt && nd.kind != kindList && nd.kind != kindMap {
			break
		}
		if nd.kind == kindString {
			if s := in.str(nd); s == "" || s == EmptyStub { // "" once unstubbed: Bind sets nil
				dv.SetZero()
				return nil
			}
		}
		if dv.IsNil() {
			dv.Set(reflect.New(dv.Type().Elem()))
		}
		return in.value(i, dv.Elem())
	case reflect.Struct:
		if nd.kind == kindList || nd.kind == kindMap {
			return in.structure(i, dv)
		}
	case reflect.Slice:
		if nd.kind == kindList || nd.kind == kindMap {
			return in.slice(i, dv)
		}
	}
	return in.b.bind(in.tree.value(i), dv)
}

// structure binds an array into a struct as binder.structure does: each entry into the field its key names
// (exact first, then ignoring case), unknown keys into the `,rest` map or dropped.
func (in *into) structure(i int, dv reflect.Value) error {
	nd := &in.list[i]
	if nd.n == 0 {
		return nil
	}
	pl := in.plan(dv.Type())
	var rest reflect.Value
	if pl.rest >= 0 {
		rest = fieldFor(dv, pl.fields[pl.rest].index)
	}
	after := 0 // the field after the one last matched: keys mostly come in the order of the fields
	for j := i + 1; j < nd.m; j = in.next(j + 1) {
		key := in.key(&in.list[j]).String()
		f := -1
		if pl.unique && after < len(pl.fields) && pl.fields[after].name == key && !pl.fields[after].rest {
			f = after
		} else {
			f = matchField(pl.fields, key)
		}
		switch {
		case f >= 0:
			after = f + 1
			in.b.push(key)
			if err := in.value(j+1, fieldFor(dv, pl.fields[f].index)); err != nil {
				return err
			}
			in.b.pop()
		case rest.IsValid():
			if rest.IsNil() {
				rest.Set(reflect.MakeMap(rest.Type()))
			}
			vv := reflect.New(rest.Type().Elem()).Elem()
			in.b.push(key)
			if err := in.value(j+1, vv); err != nil {
				return err
			}
			in.b.pop()
			rest.SetMapIndex(reflect.ValueOf(key).Convert(rest.Type().Key()), vv)
		}
	}
	return nil
}

// slice binds an array into a slice as binder.slice does: its values in order, an empty array as nil.
func (in *into) slice(i int, dv reflect.Value) error {
	nd := &in.list[i]
	if nd.n == 0 {
		dv.SetZero()
		return nil
	}
	out := reflect.MakeSlice(dv.Type(), int(nd.n), int(nd.n))
	for k, j := 0, i+1; j < nd.m; k, j = k+1, in.next(j+1) {
		in.b.push(strconv.Itoa(k))
		if err := in.value(j+1, out.Index(k)); err != nil {
			return err
		}
		in.b.pop()
	}
	dv.Set(out)
	return nil
}
