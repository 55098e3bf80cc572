package wire

import (
	"errors"
	"reflect"
	"strconv"
	"unsafe"
)

// UnserializeInto decodes a PHP serialized value straight into the Go value dst points to, without building
// the decoded tree: the result is that of Bind(Unstub(v), dst) for v, err := UnserializeString(s), errors
// included (a *SyntaxError when s is malformed anywhere, else the *BindError Bind would return). Strings
// share s's memory. Values bound into a struct, a slice, a string, an integer or a pointer to one of these
// are read in place; any other destination (any, *Map, a Go map, a `,rest` field, a bool, a float) gets its
// part of the tree decoded and bound as Bind would.
func UnserializeInto(s string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		if _, err := UnserializeString(s); err != nil {
			return err
		}
		return Bind(nil, dst)
	}
	in := into{d: decoder{scanner: scanner{s: s}}}
	var path [8]string // not b.pathBuf: a pointer into itself would move in to the heap
	in.b.path = path[:0]
	if err := in.value(rv.Elem(), 0); err != nil {
		return err
	}
	if in.d.pos != len(in.d.s) {
		return in.d.errf("trailing bytes after the value")
	}
	return in.err
}

// into is the state of UnserializeInto. Its methods return syntax errors only; the first bind error is kept
// in err, and from then on values are only read (a syntax error later in the input still wins, as it does
// for UnserializeString followed by Bind). A bind error's path is made on the way back: each array the error
// came from puts its key in front (prefix), so that reading costs no path.
type into struct {
	d     decoder
	b     binder
	err   error
	types [8]typeFieldsEntry // the struct types met so far, before the shared cache
	ntype int
}

type typeFieldsEntry struct {
	t      unsafe.Pointer // the type's descriptor (comparing reflect.Types costs a call)
	fields []fieldInfo
	unique bool // no two fields have the same name: a key equal to a field's name is that field
	rest   int  // the index of the `,rest` field, or -1
}

// fields returns cachedFields(t), remembering the few types of one value.
func (in *into) fields(t reflect.Type) *typeFieldsEntry {
	tp := (*[2]unsafe.Pointer)(unsafe.Pointer(&t))[1]
	for i := range in.types[:in.ntype] {
		if in.types[i].t == tp {
			return &in.types[i]
		}
	}
	var e *typeFieldsEntry
	if in.ntype < len(in.types) {
		e = &in.types[in.ntype]
		in.ntype++
	} else { // more struct types than a value usually has: not remembered (a plan in use is never replaced)
		e = new(typeFieldsEntry)
	}
	*e = typeFieldsEntry{t: tp, fields: cachedFields(t), unique: true, rest: -1}
	for i := range e.fields {
		if e.fields[i].rest {
			e.rest = i // the last one, as binder.structure takes
		}
		for j := range i {
			if e.fields[i].name == e.fields[j].name {
				e.unique = false
			}
		}
	}
	return e
}

// prefix puts key in front of the kept bind error's path.
func (in *into) prefix(key string) {
	if be, ok := in.err.(*BindError); ok {
		if be.Path == "" {
			be.Path = key
		} else {
			be.Path = key + "." + be.Path
		}
	}
}

// tree decodes the next value as UnserializeString would and binds it with Bind's rules.
func (in *into) tree(dv reflect.Value, depth int) error {
	v, err := in.d.value(depth)
	if err != nil {
		return err
	}
	if in.err == nil && dv.IsValid() {
		in.err = in.b.bind(Unstub(v), dv)
	}
	return nil
}

// value reads the next value into dv (or only reads it, once a bind error is kept or dv is invalid).
func (in *into) value(dv reflect.Value, depth int) error {
	d := &in.d
	if in.err != nil || !dv.IsValid() || d.pos >= len(d.s) {
		return in.tree(reflect.Value{}, depth)
	}
	tag := d.s[d.pos]
	switch k := dv.Kind(); {
	case k == reflect.Interface, k == reflect.Pointer && dv.Type() == mapType:
		return in.tree(dv, depth)
	}
	switch dv.Kind() {
	case reflect.String:
		if tag != 's' {
			break
		}
		v, err := d.sstr()
		if err != nil {
			return err
		}
		if v == EmptyStub || v == EmptyArrayStub {
			v = ""
		}
		dv.SetString(v)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if tag != 'i' {
			break
		}
		n, _, err := d.integer()
		if err != nil {
			return err
		}
		if dv.OverflowInt(n) {
			in.err = in.b.fail("%d overflows %s", n, dv.Type())
			return nil
		}
		dv.SetInt(n)
		return nil
	case reflect.Pointer:
		if tag != 'a' && tag != 's' && tag != 'i' {
			break // null and the other scalars: as Bind
		}
		if tag == 's' {
			start := d.pos
			v, err := d.sstr()
			if err != nil {
				return err
			}
			if v == "" || v == EmptyStub { // "" after Unstub: the pointer is set to nil
				dv.SetZero()
				return nil
			}
			d.pos = start
		}
		if dv.IsNil() {
			dv.Set(reflect.New(dv.Type().Elem()))
		}
		return in.value(dv.Elem(), depth)
	case reflect.Struct:
		if tag == 'a' {
			return in.structure(dv, depth)
		}
	case reflect.Slice:
		if tag == 'a' {
			return in.slice(dv, depth)
		}
	}
	return in.tree(dv, depth)
}

// header reads an array's `a:<n>:{` (on its 'a') with the checks of decoder.array.
func (in *into) header(depth int) (int, error) {
	in.d.pos++
	return in.d.header(depth)
}

// akey is an array key without boxing: an integer, or a string.
type akey struct {
	s     string
	n     int64
	isInt bool
}

func (k akey) String() string {
	if k.isInt {
		return strconv.FormatInt(k.n, 10)
	}
	return k.s
}

// arrayKeys refuses duplicate keys as decoder.array does (after the value, at the same offset).
type arrayKeys struct {
	bits  uint64
	small [16]akey
	n     int
	seen  map[akey]struct{}
}

func (k *arrayKeys) add(d *scanner, key akey, bit uint64, count int) error {
	if k.seen == nil && k.n == len(k.small) {
		k.seen = make(map[akey]struct{}, count)
		for _, e := range k.small {
			k.seen[e] = struct{}{}
		}
	}
	if k.seen != nil {
		if _, dup := k.seen[key]; dup {
			return d.errf("duplicate array key %v", key)
		}
		k.seen[key] = struct{}{}
		return nil
	}
	if k.bits&bit != 0 {
		for _, e := range k.small[:k.n] {
			if e == key {
				return d.errf("duplicate array key %v", key)
			}
		}
	}
	k.bits |= bit
	k.small[k.n] = key
	k.n++
	return nil
}

// structure reads an array into a struct as binder.structure binds one: entries matched to fields in order,
// unknown keys into the `,rest` map or dropped. Its loop over the entries, slice's and UnserializeItems' are
// written out: a shared loop calling back for each value made a typed decode 10–20 % slower.
func (in *into) structure(dv reflect.Value, depth int) error {
	n, err := in.header(depth)
	if err != nil {
		return err
	}
	plan := in.fields(dv.Type())
	fields := plan.fields
	var rest reflect.Value
	if plan.rest >= 0 {
		rest = fieldFor(dv, fields[plan.rest].index)
	}
	// Duplicate keys: a key equal to a field's name is that field's, every time it comes, so a bit per field
	// finds it repeated; the other keys (matched ignoring case, unknown, integers) are kept in keys.
	var exact uint64
	var keys *arrayKeys
	next := 0 // the field after the last one matched: keys mostly come in the fields' order
	for i := 0; i < n; i++ {
		key, ks, bit, err := in.d.arrayKey()
		if err != nil {
			return err
		}
		if key.isInt && ks == "" {
			ks = strconv.FormatInt(key.n, 10)
		}
		idx, isExact := -1, false
		if plan.unique && next < len(fields) && fields[next].name == ks && !fields[next].rest {
			idx, isExact = next, true
		} else if f := matchField(fields, ks); f != nil {
			idx = int((uintptr(unsafe.Pointer(f)) - uintptr(unsafe.Pointer(&fields[0]))) / unsafe.Sizeof(fields[0]))
			isExact = f.name == ks
		}
		if idx >= 0 && plan.unique {
			next = idx + 1
		}
		switch {
		case in.err != nil:
			err = in.tree(reflect.Value{}, depth+1)
		case idx >= 0:
			err = in.value(fieldFor(dv, fields[idx].index), depth+1)
			if in.err != nil {
				in.prefix(ks)
			}
		case rest.IsValid():
			err = in.restValue(rest, ks, depth+1)
		default:
			err = in.tree(reflect.Value{}, depth+1)
		}
		if err != nil {
			return err
		}
		if isExact && idx < 64 {
			if exact&(1<<idx) != 0 {
				return in.d.errf("duplicate array key %v", key)
			}
			exact |= 1 << idx
			continue
		}
		if keys == nil {
			keys = new(arrayKeys)
		}
		if err := keys.add(&in.d.scanner, key, bit, n); err != nil {
			return err
		}
	}
	if !in.d.eat('}') {
		return in.d.expectFail('}')
	}
	return nil
}

// restValue reads a value of an unknown key into the `,rest` map, as binder.structure does.
func (in *into) restValue(rest reflect.Value, ks string, depth int) error {
	v, err := in.d.value(depth)
	if err != nil {
		return err
	}
	if in.err != nil {
		return nil
	}
	if rest.IsNil() {
		rest.Set(reflect.MakeMap(rest.Type()))
	}
	vv := reflect.New(rest.Type().Elem()).Elem()
	if err := in.b.bind(Unstub(v), vv); err != nil {
		in.err = err
		in.prefix(ks)
		return nil
	}
	rest.SetMapIndex(reflect.ValueOf(ks).Convert(rest.Type().Key()), vv)
	return nil
}

// slice reads an array into a slice as binder.slice binds one: its values in order, an empty array as nil.
func (in *into) slice(dv reflect.Value, depth int) error {
	n, err := in.header(depth)
	if err != nil {
		return err
	}
	// A new slice, as Bind makes, grown in place (reflect.MakeSlice would allocate a header besides).
	if in.err == nil {
		dv.SetZero()
		if n > 0 {
			dv.Grow(n)
			dv.SetLen(n)
		}
	}
	var keys arrayKeys
	for i := 0; i < n; i++ {
		key, _, bit, err := in.d.arrayKey()
		if err != nil {
			return err
		}
		if in.err == nil {
			err = in.value(dv.Index(i), depth+1)
			if in.err != nil {
				in.prefix(strconv.Itoa(i))
			}
		} else {
			err = in.tree(reflect.Value{}, depth+1)
		}
		if err != nil {
			return err
		}
		if err := keys.add(&in.d.scanner, key, bit, n); err != nil {
			return err
		}
	}
	if !in.d.eat('}') {
		return in.d.expectFail('}')
	}
	return nil
}

// UnserializeItems decodes a list of items straight into a []T: a list or an array (its values, in order),
// null or "" (none), as Packet.Items takes DATA. Each item is bound on its own, as Bind(Unstub(item),
// &items[i]) would: itemErrs[i] is that item's *BindError, or nil (itemErrs is nil when every item fit),
// and an item that does not fit holds what was bound before the error. err is a *SyntaxError when s is
// malformed anywhere, or a *wire.Error (BAD_PACKET) when s is not a list.
func UnserializeItems[T any](s string) (items []T, itemErrs []error, err error) {
	in := into{d: decoder{scanner: scanner{s: s}}}
	var path [8]string
	in.b.path = path[:0]
	d := &in.d
	if d.pos >= len(d.s) || d.s[d.pos] != 'a' { // not an array: as Packet.Items, through the tree
		v, err := UnserializeString(s)
		if err != nil {
			return nil, nil, err
		}
		p := Packet{Data: Unstub(v)}
		_, err = p.Items() // no items (null, ""), or an error
		return nil, nil, err
	}
	n, err := in.header(0)
	if err != nil {
		return nil, nil, err
	}
	if n > 0 {
		items = make([]T, n)
	}
	var keys arrayKeys
	for i := 0; i < n; i++ {
		key, _, bit, err := in.d.arrayKey()
		if err != nil {
			return nil, nil, err
		}
		in.b.path = in.b.path[:0]
		if err := in.value(reflect.ValueOf(&items[i]).Elem(), 1); err != nil {
			return nil, nil, err
		}
		if in.err != nil {
			if itemErrs == nil {
				itemErrs = make([]error, n)
			}
			itemErrs[i], in.err = in.err, nil
		}
		if err := keys.add(&d.scanner, key, bit, n); err != nil {
			return nil, nil, err
		}
	}
	if !d.eat('}') {
		return nil, nil, d.expectFail('}')
	}
	if d.pos != len(d.s) {
		return nil, nil, d.errf("trailing bytes after the value")
	}
	return items, itemErrs, nil
}

// DecodeItems decodes the packet's DATA (base64, PHP serialized) straight into a []T with
// UnserializeItems; p.Data is left nil. Errors carry BAD_PACKET, as DecodeData's and Items' do.
func DecodeItems[T any](p *Packet) (items []T, itemErrs []error, err error) {
	raw, err := decodeBase64(p.RawData)
	if err != nil {
		return nil, nil, &Error{Code: CodeBadPacket, Message: "DATA is not base64", Err: err}
	}
	items, itemErrs, err = UnserializeItems[T](unsafeString(raw)) // raw is ours and never written again
	var se *SyntaxError
	if errors.As(err, &se) {
		return nil, nil, &Error{Code: CodeBadPacket, Message: "DATA", Err: err}
	}
	return items, itemErrs, err
}
