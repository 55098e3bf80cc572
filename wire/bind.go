package wire

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// BindError is a decoded value that does not fit the Go value it is bound to. It matches CodeBadPacket.
type BindError struct {
	Path string
	Msg  string
}

func (e *BindError) Error() string {
	if e.Path == "" {
		return "bind: " + e.Msg
	}
	return "bind " + e.Path + ": " + e.Msg
}

// Is makes every BindError match CodeBadPacket.
func (e *BindError) Is(target error) bool { return isCode(target, CodeBadPacket) }

// Bind stores a decoded value (as Unserialize returns it) into the Go value dst points to, the way PHP code
// would read it: scalars convert leniently (an integer into a string field, a numeric string into an int, PHP
// truthiness into a bool), "" and nil leave a field at its zero value, a *Map or a list fills a slice in order,
// and struct fields are matched by their `php` tag, else `json` tag, else name (exact first, then ignoring
// case). Unknown keys are ignored, or collected into a map[string]any field tagged `php:",rest"`.
func Bind(src any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &BindError{Msg: fmt.Sprintf("destination must be a non-nil pointer, not %T", dst)}
	}
	var b binder
	b.path = b.pathBuf[:0]
	return b.bind(src, rv.Elem())
}

type binder struct {
	path    []string // keys leading to the value being bound, for errors
	pathBuf [8]string
}

func (b *binder) fail(format string, args ...any) error {
	return &BindError{Path: strings.Join(b.path, "."), Msg: fmt.Sprintf(format, args...)}
}

func (b *binder) push(s string) { b.path = append(b.path, s) }
func (b *binder) pop()          { b.path = b.path[:len(b.path)-1] }

var (
	anyType = reflect.TypeOf((*any)(nil)).Elem()
	mapType = reflect.TypeOf((*Map)(nil))
)

func (b *binder) bind(src any, dv reflect.Value) error {
	if dv.Type() == anyType {
		if src == nil {
			dv.SetZero()
		} else {
			dv.Set(reflect.ValueOf(src))
		}
		return nil
	}
	if dv.Type() == mapType {
		switch s := src.(type) {
		case *Map:
			dv.Set(reflect.ValueOf(s))
		case []any:
			m := &Map{Entries: make([]Entry, len(s))}
			for i, v := range s {
				m.Entries[i] = Entry{Key: int64(i), Value: v}
			}
			dv.Set(reflect.ValueOf(m))
		case nil, string:
			if s, ok := src.(string); ok && s != "" {
				return b.fail("want an array, got a string")
			}
			dv.Set(reflect.ValueOf(&Map{}))
		default:
			return b.fail("want an array, got %T", src)
		}
		return nil
	}
	switch dv.Kind() {
	case reflect.Pointer:
		if isZeroSrc(src) {
			dv.SetZero()
			return nil
		}
		if dv.IsNil() {
			dv.Set(reflect.New(dv.Type().Elem()))
		}
		return b.bind(src, dv.Elem())
	case reflect.String:
		s, err := b.toString(src)
		if err != nil {
			return err
		}
		dv.SetString(s)
	case reflect.Bool:
		dv.SetBool(truthy(src))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := b.toInt(src)
		if err != nil {
			return err
		}
		if dv.OverflowInt(n) {
			return b.fail("%d overflows %s", n, dv.Type())
		}
		dv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := b.toInt(src)
		if err != nil {
			return err
		}
		if n < 0 || dv.OverflowUint(uint64(n)) {
			return b.fail("%d does not fit %s", n, dv.Type())
		}
		dv.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		f, err := b.toFloat(src)
		if err != nil {
			return err
		}
		dv.SetFloat(f)
	case reflect.Slice:
		return b.slice(src, dv)
	case reflect.Map:
		return b.goMap(src, dv)
	case reflect.Struct:
		return b.structure(src, dv)
	case reflect.Interface:
		if src == nil {
			dv.SetZero()
			return nil
		}
		sv := reflect.ValueOf(src)
		if !sv.Type().AssignableTo(dv.Type()) {
			return b.fail("cannot store %T in %s", src, dv.Type())
		}
		dv.Set(sv)
	default:
		return b.fail("cannot bind into %s", dv.Type())
	}
	return nil
}

func isZeroSrc(src any) bool {
	switch s := src.(type) {
	case nil:
		return true
	case string:
		return s == ""
	}
	return false
}

// isEmptyArray reports whether src is an array with no elements: the "#EMPTY_ARRAY#" of a current sender,
// unstubbed, where a scalar is expected reads as the scalar's zero value.
func isEmptyArray(src any) bool {
	switch s := src.(type) {
	case []any:
		return len(s) == 0
	case *Map:
		return s == nil || len(s.Entries) == 0
	}
	return false
}

func truthy(src any) bool {
	switch s := src.(type) {
	case nil:
		return false
	case bool:
		return s
	case int64:
		return s != 0
	case float64:
		return s != 0
	case string:
		return s != "" && s != "0"
	case []any:
		return len(s) > 0
	case *Map:
		return s.Len() > 0
	}
	return true
}

func (b *binder) toString(src any) (string, error) {
	switch s := src.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case []any, *Map:
		if isEmptyArray(s) {
			return "", nil
		}
	case int64:
		return strconv.FormatInt(s, 10), nil
	case float64:
		return string(appendPHPFloat(nil, s)), nil
	case bool:
		if s {
			return "1", nil
		}
		return "", nil
	}
	return "", b.fail("want a string, got an array")
}

func (b *binder) toInt(src any) (int64, error) {
	switch s := src.(type) {
	case nil:
		return 0, nil
	case int64:
		return s, nil
	case bool:
		if s {
			return 1, nil
		}
		return 0, nil
	case float64:
		if s != math.Trunc(s) || math.IsInf(s, 0) || math.IsNaN(s) || s > math.MaxInt64 || s < math.MinInt64 {
			return 0, b.fail("want an integer, got %v", s)
		}
		return int64(s), nil
	case []any, *Map:
		if isEmptyArray(s) {
			return 0, nil
		}
	case string:
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, b.fail("want an integer, got %q", s)
		}
		return n, nil
	}
	return 0, b.fail("want an integer, got an array")
}

func (b *binder) toFloat(src any) (float64, error) {
	switch s := src.(type) {
	case nil:
		return 0, nil
	case int64:
		return float64(s), nil
	case float64:
		return s, nil
	case bool:
		if s {
			return 1, nil
		}
		return 0, nil
	case string:
		if s == "" {
			return 0, nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, b.fail("want a number, got %q", s)
		}
		return f, nil
	}
	return 0, b.fail("want a number, got an array")
}

// elements returns the values of a list or map in order, or nil for an empty value.
func (b *binder) elements(src any) ([]any, []Entry, error) {
	switch s := src.(type) {
	case nil:
		return nil, nil, nil
	case string:
		if s == "" {
			return nil, nil, nil
		}
		return nil, nil, b.fail("want an array, got a string")
	case []any:
		return s, nil, nil
	case *Map:
		return nil, s.Entries, nil
	}
	return nil, nil, b.fail("want an array, got %T", src)
}

func (b *binder) slice(src any, dv reflect.Value) error {
	if dv.Type().Elem().Kind() == reflect.Uint8 {
		if s, ok := src.(string); ok {
			dv.SetBytes([]byte(s))
			return nil
		}
	}
	list, entries, err := b.elements(src)
	if err != nil {
		return err
	}
	n := len(list) + len(entries)
	if n == 0 {
		dv.SetZero()
		return nil
	}
	out := reflect.MakeSlice(dv.Type(), n, n)
	for i := 0; i < n; i++ {
		var v any
		if list != nil {
			v = list[i]
		} else {
			v = entries[i].Value
		}
		b.push(strconv.Itoa(i))
		if err := b.bind(v, out.Index(i)); err != nil {
			return err
		}
		b.pop()
	}
	dv.Set(out)
	return nil
}

func (b *binder) goMap(src any, dv reflect.Value) error {
	list, entries, err := b.elements(src)
	if err != nil {
		return err
	}
	if list == nil && entries == nil {
		dv.SetZero()
		return nil
	}
	mt := dv.Type()
	out := reflect.MakeMapWithSize(mt, len(list)+len(entries))
	put := func(k any, v any) error {
		ks := KeyString(k)
		b.push(ks)
		defer b.pop()
		kv := reflect.New(mt.Key()).Elem()
		if err := b.bind(k, kv); err != nil {
			return err
		}
		vv := reflect.New(mt.Elem()).Elem()
		if err := b.bind(v, vv); err != nil {
			return err
		}
		out.SetMapIndex(kv, vv)
		return nil
	}
	for i, v := range list {
		if err := put(int64(i), v); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := put(e.Key, e.Value); err != nil {
			return err
		}
	}
	dv.Set(out)
	return nil
}

func (b *binder) structure(src any, dv reflect.Value) error {
	list, entries, err := b.elements(src)
	if err != nil {
		return err
	}
	if list != nil {
		if len(list) == 0 {
			return nil
		}
		entries = make([]Entry, len(list))
		for i, v := range list {
			entries[i] = Entry{Key: int64(i), Value: v}
		}
	}
	fields := cachedFields(dv.Type())
	var rest reflect.Value
	for _, f := range fields {
		if f.rest {
			rest = fieldFor(dv, f.index)
		}
	}
	for _, e := range entries {
		ks := KeyString(e.Key)
		f := matchField(fields, ks)
		if f < 0 {
			if rest.IsValid() {
				if rest.IsNil() {
					rest.Set(reflect.MakeMap(rest.Type()))
				}
				vv := reflect.New(rest.Type().Elem()).Elem()
				b.push(ks)
				if err := b.bind(e.Value, vv); err != nil {
					return err
				}
				b.pop()
				rest.SetMapIndex(reflect.ValueOf(ks).Convert(rest.Type().Key()), vv)
			}
			continue
		}
		b.push(ks)
		if err := b.bind(e.Value, fieldFor(dv, fields[f].index)); err != nil {
			return err
		}
		b.pop()
	}
	return nil
}

// KeyString returns an array key as text: a string as it is, an integer in decimal (without fmt's
// reflection for the int64 and string keys a decoded Map holds), any other value in its fmt form.
func KeyString(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	case int:
		return strconv.Itoa(k)
	}
	return fmt.Sprint(k)
}

// matchField returns the index of the field key names: the first whose name is key, else the first whose
// name is key ignoring case, else -1. The `,rest` field has no name.
func matchField(fields []fieldInfo, key string) int {
	for i := range fields {
		if !fields[i].rest && fields[i].name == key {
			return i
		}
	}
	for i := range fields {
		if !fields[i].rest && strings.EqualFold(fields[i].name, key) {
			return i
		}
	}
	return -1
}

// fieldFor returns the settable field at index, allocating nil embedded pointers on the way.
func fieldFor(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}
