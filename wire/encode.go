package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The strings that stand for empty values on the wire (docs/protocol.md §3.3): EmptyStub for every empty value
// in the legacy profile and for "", nil and false in the current one; EmptyArrayStub for an empty array in the
// current profile.
const (
	EmptyStub      = "#EMPTY#"
	EmptyArrayStub = "#EMPTY_ARRAY#"
)

// Serialize encodes v in PHP's serialize() format, exactly as PHP would serialize the equivalent array.
//
// Supported values: nil, bool, every integer kind, float32/64, string, []byte (as a string), json.Number,
// slices and arrays (lists), *Map and Map (in their order), Go maps with string or integer keys (in sorted key
// order, since Go maps have none), structs (fields in declaration order, named by their `php` tag, else their
// `json` tag, else the field name; "-" skips a field, "omitempty" drops an empty one; untagged embedded
// structs are flattened), and pointers and interfaces to these. Like PHP, a string key that reads as a
// canonical integer is written as an integer key.
func Serialize(v any) ([]byte, error) { return appendSerialize(nil, v, stubNone) }

// SerializeStubbed is Serialize after the profile's stub rule (docs/protocol.md §3.3): every empty value ("",
// nil, false, an array with no elements), at any depth, is written as "#EMPTY#", except that the current
// profile writes an empty array as "#EMPTY_ARRAY#"; 0, 0.0 and "0" are kept.
func SerializeStubbed(v any, p Profile) ([]byte, error) { return appendSerialize(nil, v, p.stubs()) }

// stubMode is the stub rule an encoder applies.
type stubMode uint8

const (
	stubNone    stubMode = iota // Serialize: empty values as they are
	stubLegacy                  // every empty value → #EMPTY#
	stubCurrent                 // empty arrays → #EMPTY_ARRAY#, other empty values → #EMPTY#
)

// appendSerialize appends the serialization of v to dst under the stub rule.
func appendSerialize(dst []byte, v any, stub stubMode) ([]byte, error) {
	e := encoder{buf: dst, stub: stub}
	if err := e.value(v, 0); err != nil {
		return dst, err
	}
	return e.buf, nil
}

// encodeError is a Go value that cannot be serialized.
type encodeError struct {
	Path string
	Msg  string
}

func (e *encodeError) Error() string {
	if e.Path == "" {
		return "php serialize: " + e.Msg
	}
	return "php serialize: " + e.Path + ": " + e.Msg
}

type encoder struct {
	buf  []byte
	stub stubMode
	path []string // keys leading to the value being encoded, for errors
}

func (e *encoder) fail(format string, args ...any) error {
	return &encodeError{Path: strings.Join(e.path, "."), Msg: fmt.Sprintf(format, args...)}
}

func (e *encoder) str(s string) {
	e.buf = append(e.buf, 's', ':')
	e.buf = strconv.AppendInt(e.buf, int64(len(s)), 10)
	e.buf = append(e.buf, ':', '"')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '"', ';')
}

func (e *encoder) int(n int64) {
	e.buf = append(e.buf, 'i', ':')
	e.buf = strconv.AppendInt(e.buf, n, 10)
	e.buf = append(e.buf, ';')
}

// strKey writes a string key as PHP stores it: a decimal integer string becomes an int key.
func (e *encoder) strKey(k string) {
	if n, ok := phpIntKey(k); ok {
		e.int(n)
	} else {
		e.str(k)
	}
}

func (e *encoder) key(k any) {
	switch x := k.(type) {
	case int64:
		e.int(x)
		return
	case string:
		e.strKey(x)
		return
	}
	switch x := normalizeKey(k).(type) {
	case int64:
		e.int(x)
	case string:
		e.str(x)
	}
}

func (e *encoder) arrayHeader(n int) {
	e.buf = append(e.buf, 'a', ':')
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, ':', '{')
}

func (e *encoder) emptyStub() { e.str(EmptyStub) }

// emptyArray writes an array with no elements under the stub rule.
func (e *encoder) emptyArray() {
	switch e.stub {
	case stubLegacy:
		e.str(EmptyStub)
	case stubCurrent:
		e.str(EmptyArrayStub)
	default:
		e.buf = append(e.buf, 'a', ':', '0', ':', '{', '}')
	}
}

func (e *encoder) value(v any, depth int) error {
	if depth > MaxDepth {
		return e.fail("nesting deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		if e.stub != stubNone {
			e.emptyStub()
		} else {
			e.buf = append(e.buf, 'N', ';')
		}
		return nil
	case string:
		if e.stub != stubNone && x == "" {
			e.emptyStub()
		} else {
			e.str(x)
		}
		return nil
	case bool:
		switch {
		case x:
			e.buf = append(e.buf, 'b', ':', '1', ';')
		case e.stub != stubNone:
			e.emptyStub()
		default:
			e.buf = append(e.buf, 'b', ':', '0', ';')
		}
		return nil
	case int:
		e.int(int64(x))
		return nil
	case int64:
		e.int(x)
		return nil
	case float64:
		return e.float(x)
	case []any:
		if len(x) == 0 {
			e.emptyArray()
			return nil
		}
		e.arrayHeader(len(x))
		for i, el := range x {
			e.int(int64(i))
			if err := e.value(el, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	case *Map:
		if x == nil {
			e.emptyArray()
			return nil
		}
		return e.phpMap(x, depth)
	case Map:
		return e.phpMap(&x, depth)
	case map[string]any:
		return e.stringMap(x, depth)
	case map[string]string:
		return e.stringStringMap(x, depth)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			e.int(n)
			return nil
		}
		f, err := x.Float64()
		if err != nil {
			return e.fail("bad json.Number %q", string(x))
		}
		return e.float(f)
	case []byte:
		if e.stub != stubNone && len(x) == 0 {
			e.emptyStub()
		} else {
			e.str(string(x))
		}
		return nil
	}
	return e.reflectValue(reflect.ValueOf(v), depth)
}

var (
	reflectStringType   = reflect.TypeFor[string]()
	mapStringAnyType    = reflect.TypeFor[map[string]any]()
	mapStringStringType = reflect.TypeFor[map[string]string]()
)

// sortedKeys returns m's keys in byte order: Go maps have no order, so the encoding is made deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (e *encoder) stringMap(x map[string]any, depth int) error {
	if len(x) == 0 {
		e.emptyArray()
		return nil
	}
	keys := sortedKeys(x)
	e.arrayHeader(len(keys))
	for _, k := range keys {
		e.strKey(k)
		e.path = append(e.path, k)
		if err := e.value(x[k], depth+1); err != nil {
			return err
		}
		e.path = e.path[:len(e.path)-1]
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) stringStringMap(x map[string]string, depth int) error {
	if len(x) == 0 {
		e.emptyArray()
		return nil
	}
	if depth+1 > MaxDepth {
		return e.fail("nesting deeper than %d", MaxDepth)
	}
	keys := sortedKeys(x)
	e.arrayHeader(len(keys))
	for _, k := range keys {
		e.strKey(k)
		if v := x[k]; e.stub != stubNone && v == "" {
			e.emptyStub()
		} else {
			e.str(v)
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// float writes f; NaN and the infinities are refused, since no peer sends them (docs/protocol.md §4) and PHP
// reads them back as floats that compare unlike anything a sender meant.
func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return e.fail("%v cannot be sent: a packet carries finite numbers only", f)
	}
	e.buf = append(e.buf, 'd', ':')
	e.buf = appendPHPFloat(e.buf, f)
	e.buf = append(e.buf, ';')
	return nil
}

func (e *encoder) phpMap(m *Map, depth int) error {
	if len(m.Entries) == 0 {
		e.emptyArray()
		return nil
	}
	e.arrayHeader(len(m.Entries))
	for _, en := range m.Entries {
		e.key(en.Key)
		if err := e.value(en.Value, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) reflectValue(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Invalid:
		return e.value(nil, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return e.value(nil, depth)
		}
		return e.reflectValue(rv.Elem(), depth)
	case reflect.Bool:
		return e.value(rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return e.fail("integer %d does not fit a PHP int", u)
		}
		e.int(int64(u))
		return nil
	case reflect.Float32, reflect.Float64:
		return e.float(rv.Float())
	case reflect.String:
		return e.value(rv.String(), depth)
	case reflect.Slice:
		if rv.IsNil() {
			e.emptyArray()
			return nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return e.value(string(rv.Bytes()), depth)
		}
		fallthrough
	case reflect.Array:
		n := rv.Len()
		if n == 0 {
			e.emptyArray()
			return nil
		}
		e.arrayHeader(n)
		for i := 0; i < n; i++ {
			e.int(int64(i))
			if err := e.value(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	case reflect.Map:
		// Named map types (client.Settings, …) take the typed paths without reflecting on each entry.
		if t := rv.Type(); t.Key() == reflectStringType {
			switch {
			case t.Elem() == anyType:
				return e.stringMap(rv.Convert(mapStringAnyType).Interface().(map[string]any), depth)
			case t.Elem() == reflectStringType:
				return e.stringStringMap(rv.Convert(mapStringStringType).Interface().(map[string]string), depth)
			}
		}
		return e.reflectMap(rv, depth)
	case reflect.Struct:
		return e.reflectStruct(rv, depth)
	}
	return e.fail("cannot serialize a %s", rv.Type())
}

func (e *encoder) reflectMap(rv reflect.Value, depth int) error {
	kt := rv.Type().Key().Kind()
	type kv struct {
		key any
		s   string
		val reflect.Value
	}
	entries := make([]kv, 0, rv.Len())
	iter := rv.MapRange()
	for iter.Next() {
		k := iter.Key()
		var key any
		switch kt {
		case reflect.String:
			key = k.String()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			key = k.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			key = int64(k.Uint())
		default:
			return e.fail("map keys must be strings or integers, not %s", k.Type())
		}
		entries = append(entries, kv{key: key, s: fmt.Sprint(key), val: iter.Value()})
	}
	if len(entries) == 0 {
		e.emptyArray()
		return nil
	}
	sort.Slice(entries, func(i, j int) bool {
		a, aInt := entries[i].key.(int64)
		b, bInt := entries[j].key.(int64)
		if aInt && bInt {
			return a < b
		}
		return entries[i].s < entries[j].s
	})
	e.arrayHeader(len(entries))
	for _, en := range entries {
		e.key(en.key)
		e.path = append(e.path, en.s)
		if err := e.value(en.val.Interface(), depth+1); err != nil {
			return err
		}
		e.path = e.path[:len(e.path)-1]
	}
	e.buf = append(e.buf, '}')
	return nil
}

func (e *encoder) reflectStruct(rv reflect.Value, depth int) error {
	fields := cachedFields(rv.Type())
	n := 0
	for _, f := range fields {
		if f.rest || !f.skip(rv) {
			if f.rest {
				n += fieldByIndex(rv, f.index).Len()
			} else {
				n++
			}
		}
	}
	if n == 0 {
		e.emptyArray()
		return nil
	}
	e.arrayHeader(n)
	for _, f := range fields {
		if f.rest {
			if err := e.restEntries(fieldByIndex(rv, f.index), depth); err != nil {
				return err
			}
			continue
		}
		if f.skip(rv) {
			continue
		}
		e.key(f.name)
		e.path = append(e.path, f.name)
		fv := fieldByIndex(rv, f.index)
		var err error
		if fv.IsValid() {
			err = e.value(fv.Interface(), depth+1)
		} else {
			err = e.value(nil, depth+1)
		}
		if err != nil {
			return err
		}
		e.path = e.path[:len(e.path)-1]
	}
	e.buf = append(e.buf, '}')
	return nil
}

// restEntries writes the entries of a `,rest` map field (extra keys a struct carries) in sorted order.
func (e *encoder) restEntries(m reflect.Value, depth int) error {
	if !m.IsValid() || m.Len() == 0 {
		return nil
	}
	keys := make([]string, 0, m.Len())
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.key(k)
		if err := e.value(m.MapIndex(reflect.ValueOf(k).Convert(m.Type().Key())).Interface(), depth+1); err != nil {
			return err
		}
	}
	return nil
}

type fieldInfo struct {
	name      string
	index     []int
	omitEmpty bool
	rest      bool // a map[string]T field that holds the keys no other field names
}

func (f fieldInfo) skip(rv reflect.Value) bool {
	if !f.omitEmpty {
		return false
	}
	fv := fieldByIndex(rv, f.index)
	return !fv.IsValid() || fv.IsZero() || ((fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0)
}

// fieldByIndex is rv.FieldByIndex that returns the invalid Value for a field behind a nil embedded pointer.
func fieldByIndex(rv reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return reflect.Value{}
			}
			rv = rv.Elem()
		}
		rv = rv.Field(x)
	}
	return rv
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo; types are immutable, so this cache is never stale

func cachedFields(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	f := typeFields(t, nil)
	fieldCache.Store(t, f)
	return f
}

func typeFields(t reflect.Type, index []int) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("php")
		if !hasTag {
			tag = sf.Tag.Get("json")
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		idx := append(append([]int(nil), index...), i)
		ft := sf.Type
		if sf.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, typeFields(ft, idx)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fi := fieldInfo{name: name, index: idx}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty", "omitzero":
				fi.omitEmpty = true
			case "rest":
				if ft.Kind() == reflect.Map && ft.Key().Kind() == reflect.String {
					fi.rest = true
				}
			}
		}
		out = append(out, fi)
	}
	return out
}
