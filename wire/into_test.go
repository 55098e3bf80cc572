package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// intoTarget covers every kind of destination into reads from the nodes or hands to Bind.
type intoTarget struct {
	item
	S    string            `php:"s"`
	I8   int8              `php:"i8"`
	U    uint              `php:"u"`
	PS   *string           `php:"ps"`
	PI   *int64            `php:"pi"`
	PSub *intoTarget       `php:"psub"`
	Subs []intoTarget      `php:"subs"`
	Strs []string          `php:"strs"`
	Ints []int             `php:"ints"`
	B    []byte            `php:"b"`
	M    map[string]string `php:"m"`
	MI   map[int]any       `php:"mi"`
	F32  float32           `php:"f32"`
	Rest map[string]any    `php:",rest"`
}

// nest1 … nest10 are ten nested struct types.
type (
	nest1 struct {
		X nest2
		S string
	}
	nest2 struct {
		X nest3
		S string
	}
	nest3 struct {
		X nest4
		S string
	}
	nest4 struct {
		X nest5
		S string
	}
	nest5 struct {
		X nest6
		S string
	}
	nest6 struct {
		X nest7
		S string
	}
	nest7 struct {
		X nest8
		S string
	}
	nest8 struct {
		X nest9
		S string
	}
	nest9 struct {
		X nest10
		S string
	}
	nest10 struct {
		X *nest1
		S string
	}
)

// intoCheck reports a difference between the typed decode (unserializeInto) and unserialize + unstub + Bind
// on s, for each destination type.
func intoCheck(t *testing.T, s string) {
	t.Helper()
	for _, mk := range []func() any{
		func() any { return new(intoTarget) },
		func() any { return new([]intoTarget) },
		func() any { return new([]item) },
		func() any { return new(any) },
		func() any { return new(string) },
		func() any { return new(*int) },
		func() any { return new(map[string]any) },
		func() any { return new(nest1) },
	} {
		want, got := mk(), mk()
		v, wantErr := unserialize(s)
		if wantErr == nil {
			wantErr = Bind(unstub(v), want)
		}
		gotErr := unserializeInto(s, got)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Fatalf("%T from %q:\n tree: %v\n into: %v", want, s, wantErr, gotErr)
		}
		if wantErr != nil || reflect.DeepEqual(want, got) {
			continue
		}
		// NaN is not equal to itself: compare again with NaNs equal.
		if !equalWithNaN(reflect.ValueOf(want), reflect.ValueOf(got)) {
			t.Fatalf("%T from %q:\n tree: %#v\n into: %#v", want, s, want, got)
		}
	}
}

// itemsCheck reports a difference between the typed items (unserializeItems) and unserialize + unstub +
// Packet.Items + Bind of each item.
func itemsCheck(t *testing.T, s string) {
	t.Helper()
	got, gotErrs, gotErr := unserializeItems[intoTarget](s)
	var want []intoTarget
	var wantErrs []error
	v, wantErr := unserialize(s)
	if wantErr == nil {
		p := Packet{Data: unstub(v)}
		var list []any
		if list, wantErr = p.Items(); wantErr == nil && len(list) > 0 {
			want = make([]intoTarget, len(list))
			for i, el := range list {
				if err := Bind(el, &want[i]); err != nil {
					if wantErrs == nil {
						wantErrs = make([]error, len(list))
					}
					wantErrs[i] = err
				}
			}
		}
	}
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("items from %q:\n tree: %v\n into: %v", s, wantErr, gotErr)
	}
	if len(want) != len(got) || (wantErrs == nil) != (gotErrs == nil) {
		t.Fatalf("items from %q: %d items, errors %v; want %d, %v", s, len(got), gotErrs, len(want), wantErrs)
	}
	for i := range want {
		var we, ge error
		if wantErrs != nil {
			we, ge = wantErrs[i], gotErrs[i]
		}
		if (we == nil) != (ge == nil) || we != nil && we.Error() != ge.Error() {
			t.Fatalf("item %d from %q:\n tree: %v\n into: %v", i, s, we, ge)
		}
		if we != nil || reflect.DeepEqual(want[i], got[i]) {
			continue
		}
		ws, err1 := Serialize(want[i])
		gs, err2 := Serialize(got[i])
		if err1 != nil || err2 != nil || !bytes.Equal(ws, gs) {
			t.Fatalf("item %d from %q:\n tree: %#v\n into: %#v", i, s, want[i], got[i])
		}
	}
}

func intoSeeds(tb testing.TB) []string {
	seeds := []string{
		`a:0:{}`, `N;`, `s:0:"";`, `s:7:"#EMPTY#";`, `i:5;`, `b:1;`, `d:0.5;`, `d:NAN;`,
		`a:3:{s:1:"s";s:1:"x";s:2:"i8";i:300;s:1:"u";i:-1;}`,
		`a:2:{s:2:"ps";s:7:"#EMPTY#";s:2:"pi";s:2:"12";}`,
		`a:1:{s:4:"psub";a:1:{s:1:"s";s:2:"hi";}}`,
		`a:1:{s:4:"subs";a:2:{i:0;a:1:{s:1:"S";s:1:"a";}i:1;s:0:"";}}`,
		`a:1:{s:4:"strs";a:2:{i:1;s:1:"a";i:0;s:1:"b";}}`,
		`a:1:{s:4:"ints";a:2:{i:0;s:1:"7";i:0;s:1:"8";}}`,
		`a:2:{s:1:"b";s:3:"abc";s:1:"m";a:1:{s:1:"k";s:7:"#EMPTY#";}}`,
		`a:2:{s:2:"mi";a:1:{i:3;N;}s:3:"f32";s:3:"1.5";}`,
		`a:2:{s:4:"zzzz";a:1:{i:0;s:7:"#EMPTY#";}s:1:"7";s:1:"x";}`,
		`a:2:{s:1:"s";a:0:{}s:1:"s";i:1;}`,
		`a:1:{s:4:"user";a:2:{s:2:"id";s:1:"1";s:5:"other";b:1;}}`,
		`a:2:{i:0;a:1:{s:3:"raw";a:1:{s:1:"k";s:7:"#EMPTY#";}}i:1;N;}`,
		`a:1:{s:1:"S";s:1:"x";}trailing`,
		`a:2:{s:2:"i8";i:999;s:1:"s";s:5:"short";}`, // a bind error, then a syntax error: the syntax error wins
		`a:1:{s:7:"ordered";a:1:{s:1:"a";i:1;}}`,
		`a:1:{s:5:"small";i:256;}`,
		strings.Repeat(`a:2:{s:1:"S";s:1:"s";s:1:"X";`, 12) + `N;` + strings.Repeat(`}`, 12),
		strings.Repeat(`a:2:{s:1:"S";s:1:"s";s:1:"X";`, 65) + `N;` + strings.Repeat(`}`, 65), // too deep: the tree's offset
		`a:3:{i:0;a:1:{s:2:"i8";i:999;}i:1;a:1:{s:1:"s";s:1:"k";}i:2;s:1:"x";}`,              // items that do not fit, one fits
		`a:2:{i:0;a:1:{s:2:"i8";i:999;}i:1;a:1:{s:1:"s";s:5:"k";}}`,                          // a bad item, then a syntax error
		`a:2:{s:1:"a";a:0:{}s:1:"a";a:0:{}}`, `s:1:"x";`, `i:3;`,
		`a:2:{s:1:"S";s:1:"a";s:1:"s";s:1:"b";}`, `a:2:{s:1:"q";i:1;s:1:"q";i:2;}`, `a:2:{i:7;N;s:1:"7";N;}`,
		`a:3:{s:1:"s";s:1:"a";s:1:"S";s:1:"b";s:1:"s";s:1:"c";}`,
		`a:1:{s:4:"subs";a:2:{i:0;a:0:{}i:1;a:1:{s:4:"psub";a:1:{s:2:"i8";i:999;}}}}`, // a bind error's path: subs.1.psub.i8
		`a:1:{s:4:"subs";a:1:{i:0;a:1:{s:2:"mi";a:1:{s:1:"x";N;}}}}`,                  // … from Bind, inside a Go map
	}
	for _, v := range loadVectors(tb) {
		raw, _ := base64.StdEncoding.DecodeString(vectorFields(tb, v).Get(fieldData))
		seeds = append(seeds, string(raw))
	}
	raw, _ := tenItemPacket(tb)
	return append(seeds, string(raw), strings.Repeat("a:1:{i:0;", 70)+"N;"+strings.Repeat("}", 70))
}

func TestUnserializeIntoMatchesBind(t *testing.T) {
	t.Parallel()
	for _, s := range append(intoSeeds(t), edgeSeeds()...) {
		intoCheck(t, s)
		itemsCheck(t, s)
	}
}

// unserializeInto decodes s into the Go value dst points to as DecodeItems decodes an item: the nodes of the
// one parser bound with into, which the tests hold to unserialize + unstub + Bind.
func unserializeInto(s string, dst any) error {
	ns, err := parse(s)
	if err != nil {
		return err
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return Bind(nil, dst)
	}
	in := into{tree: tree{nodes: ns, unstub: true}}
	in.b.path = in.b.pathBuf[:0]
	return in.value(0, rv.Elem())
}

// unserializeItems is DecodeItems on serialized bytes (before base64).
func unserializeItems[T any](s string) ([]T, []error, error) {
	ns, err := parse(s)
	if err != nil {
		return nil, nil, err
	}
	return bindItems[T](ns)
}

// FuzzUnserializeInto checks the typed decode against the tree: unserializeInto and unserializeItems against
// unserialize + unstub + Bind, the same values or the same errors, for every input.
func FuzzUnserializeInto(f *testing.F) {
	for _, s := range append(intoSeeds(f), edgeSeeds()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		intoCheck(t, s)
		itemsCheck(t, s)
	})
}

func TestUnserializeIntoManyTypes(t *testing.T) {
	t.Parallel()
	s := strings.Repeat(`a:2:{s:1:"S";s:1:"s";s:1:"X";`, 12) + `N;` + strings.Repeat(`}`, 12)
	var n nest1
	if err := unserializeInto(s, &n); err != nil {
		t.Fatal(err)
	}
	if n.X.X.X.X.X.X.X.X.X.X == nil || n.X.X.X.X.X.X.X.X.X.X.X.S != "s" || n.X.X.X.X.X.X.X.X.X.S != "s" {
		t.Fatalf("%+v", n)
	}
}

// edgeSeeds are inputs on the edges of the parser's integer and float readers, its list/map decision and
// its duplicate key check.
func edgeSeeds() []string {
	many := func(n int, key func(i int) string) string {
		var b strings.Builder
		b.WriteString("a:" + itoa(n) + ":{")
		for i := range n {
			b.WriteString(key(i) + "N;")
		}
		return b.String() + "}"
	}
	return []string{
		"i:2147483647;", "i:2147483648;", "i:-2147483648;", "i:-2147483649;", "i:9223372036854775807;",
		"i:-9223372036854775808;", "i:9223372036854775808;", "i:+12;", "i:+12345678901;", "i:00000000000000000000012345678901;",
		`a:1:{s:11:"12345678901";N;}`, `a:1:{s:11:"-2147483649";b:1;}`, `a:1:{s:2:"-0";N;}`, `a:1:{s:2:"07";N;}`,
		`a:2:{s:1:"0";N;s:1:"1";N;}`, `a:2:{i:0;N;i:0;N;}`, `a:2:{i:1;N;i:0;N;}`, `a:3:{i:0;N;i:1;N;s:1:"1";N;}`,
		`a:2:{s:0:"";N;s:0:"";N;}`, `a:2:{s:11:"12345678901";N;i:12345678901;N;}`,
		"d:INF;", "d:-INF;", "d:NAN;", "d:-0;", "d:1.5E+300;", "d:x;", "b:2;", "b:1", "N", "",
		many(16, func(i int) string { return "i:" + itoa(i) + ";" }),
		many(17, func(i int) string { return `s:1:"` + string(rune('a'+i)) + `";` }),
		many(20, func(i int) string { return `s:1:"` + string(rune('a'+i%18)) + `";` }), // a repeat after 16
		many(20, func(i int) string { return "i:" + itoa(i*7) + ";" }),
		many(20, func(i int) string { return "i:" + itoa(i%17) + ";" }),
		strings.Repeat("a:1:{i:0;", 64) + "N;" + strings.Repeat("}", 64),
		strings.Repeat("a:1:{i:0;", 65) + "N;" + strings.Repeat("}", 65),
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Every decoded form refuses what Unserialize refuses, with a *SyntaxError that is BAD_PACKET: an object
// inside an array, a repeated key, a string shorter than its length, trailing bytes.
func TestDecodeRefusals(t *testing.T) {
	t.Parallel()
	for _, s := range []string{`a:1:{i:0;O:1:"A":0:{}}`, `a:2:{s:1:"a";N;s:1:"a";N;}`, `s:5:"abc";`, `i:1;x`} {
		_, treeErr := unserialize(s)
		var v any
		typedErr := unserializeInto(s, &v)
		_, _, itemsErr := unserializeItems[item](s)
		for _, err := range []error{treeErr, typedErr, itemsErr} {
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, CodeBadPacket) {
				t.Errorf("%q: %v, want a *SyntaxError that is BAD_PACKET", s, err)
			}
		}
	}
}

// DecodeItems reads the items DecodeData and Items give, for every PHP vector.
func TestDecodeItemsVectors(t *testing.T) {
	t.Parallel()
	for name, v := range loadVectors(t) {
		p := &Packet{RawData: vectorFields(t, v).Get(fieldData)}
		typed, itemErrs, err := DecodeItems[any](p)
		if err != nil || itemErrs != nil {
			t.Fatal(name, err, itemErrs)
		}
		if err := p.DecodeData(); err != nil {
			t.Fatal(name, err)
		}
		items, err := p.Items()
		if err != nil {
			t.Fatal(name, err)
		}
		ws, _ := Serialize(items)
		gs, _ := Serialize(typed)
		if len(typed) != len(items) || !bytes.Equal(ws, gs) {
			t.Fatalf("%s: DecodeItems gives %s, DecodeData %s", name, gs, ws)
		}
	}
}

// equalWithNaN is reflect.DeepEqual for decoded values, except that a NaN equals a NaN.
func equalWithNaN(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalWithNaN(a.Elem(), b.Elem())
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() || a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalWithNaN(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() || a.IsNil() != b.IsNil() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !equalWithNaN(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !equalWithNaN(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
