package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// docCheck reports a difference between ParseDoc and UnserializeString on s: the same error (message and
// offset), or the same value from Interface, and a Doc reused by Parse agrees with a new one.
func docCheck(t *testing.T, reused *Doc, s string) {
	t.Helper()
	want, wantErr := UnserializeString(s)
	doc, gotErr := ParseDoc(s)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("from %q:\n tree: %v\n doc:  %v", s, wantErr, gotErr)
	}
	reErr := reused.Parse(s)
	if (reErr == nil) != (gotErr == nil) {
		t.Fatalf("from %q: reused Doc says %v, new one %v", s, reErr, gotErr)
	}
	if wantErr != nil {
		if reused.Root().Exists() {
			t.Fatalf("from %q: a Doc that failed has a root", s)
		}
		return
	}
	for _, got := range []any{doc.Root().Interface(), reused.Root().Interface()} {
		if reflect.DeepEqual(want, got) {
			continue
		}
		// NaN is not equal to itself: compare the serialized forms.
		ws, err1 := Serialize(want)
		gs, err2 := Serialize(got)
		if err1 != nil || err2 != nil || !bytes.Equal(ws, gs) {
			t.Fatalf("from %q:\n tree: %#v\n doc:  %#v", s, want, got)
		}
	}
	walkCheck(t, s, doc.Root(), want)
}

// walkCheck compares v, read through the accessors, with the tree's w.
func walkCheck(t *testing.T, s string, v Value, w any) {
	t.Helper()
	switch x := w.(type) {
	case nil:
		if v.Kind() != KindNull || !v.IsNull() {
			t.Fatalf("from %q: kind %v, want null", s, v.Kind())
		}
	case bool:
		if b, ok := v.Bool(); !ok || b != x || v.Kind() != KindBool {
			t.Fatalf("from %q: Bool() = %v, %v; want %v", s, b, ok, x)
		}
	case int64:
		if n, ok := v.Int(); !ok || n != x || v.Kind() != KindInt {
			t.Fatalf("from %q: Int() = %v, %v; want %v", s, n, ok, x)
		}
	case float64:
		if f, ok := v.Float(); !ok || !(f == x || math.IsNaN(f) && math.IsNaN(x)) || v.Kind() != KindFloat {
			t.Fatalf("from %q: Float() = %v, %v; want %v", s, f, ok, x)
		}
	case string:
		if str, ok := v.Str(); !ok || str != x || v.Kind() != KindString || v.Text() != UnstubField(x) {
			t.Fatalf("from %q: Str() = %q, %v; want %q", s, str, ok, x)
		}
	case []any:
		if v.Kind() != KindList || v.Len() != len(x) {
			t.Fatalf("from %q: kind %v len %d, want a list of %d", s, v.Kind(), v.Len(), len(x))
		}
		i := 0
		for k, el := range v.Entries() {
			if n, ok := k.Int(); !ok || n != int64(i) {
				t.Fatalf("from %q: list key %v, want %d", s, k.Interface(), i)
			}
			walkCheck(t, s, el, x[i])
			if v.Index(i) != el {
				t.Fatalf("from %q: Index(%d) is not the %d-th entry", s, i, i)
			}
			i++
		}
		if i != len(x) || v.Index(i).Exists() || v.Index(-1).Exists() {
			t.Fatalf("from %q: %d entries of %d, or an index past the end", s, i, len(x))
		}
	case *Map:
		if v.Kind() != KindMap || v.Len() != len(x.Entries) {
			t.Fatalf("from %q: kind %v len %d, want a map of %d", s, v.Kind(), v.Len(), len(x.Entries))
		}
		i := 0
		for k, el := range v.Entries() {
			e := x.Entries[i]
			if !reflect.DeepEqual(k.Interface(), e.Key) {
				t.Fatalf("from %q: key %#v, want %#v", s, k.Interface(), e.Key)
			}
			walkCheck(t, s, el, e.Value)
			if v.Get(KeyString(e.Key)) != el || v.Index(i) != el {
				t.Fatalf("from %q: Get(%q) or Index(%d) is not the %d-th entry", s, KeyString(e.Key), i, i)
			}
			i++
		}
		if i != len(x.Entries) {
			t.Fatalf("from %q: %d entries of %d", s, i, len(x.Entries))
		}
	default:
		t.Fatalf("from %q: unexpected %T in the tree", s, w)
	}
}

func FuzzDoc(f *testing.F) {
	for _, s := range intoSeeds(f) {
		f.Add(s)
	}
	for _, s := range docSeeds() {
		f.Add(s)
	}
	var reused Doc
	f.Fuzz(func(t *testing.T, s string) { docCheck(t, &reused, s) })
}

// docSeeds are inputs on the edges of the Doc's node encoding and of the duplicate key checks.
func docSeeds() []string {
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

func TestDocAgreesWithUnserialize(t *testing.T) {
	var reused Doc
	for _, s := range append(intoSeeds(t), docSeeds()...) {
		docCheck(t, &reused, s)
	}
	raw, _ := tenItemPacket(t)
	docCheck(t, &reused, string(raw))
}

func TestDocAccessors(t *testing.T) {
	doc, err := ParseDoc(`a:3:{i:0;a:2:{s:7:"message";a:2:{s:4:"text";s:2:"hi";s:4:"file";s:7:"#EMPTY#";}s:2:"12";d:0.5;}i:1;b:0;i:2;i:-7;}`)
	if err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	msg := root.Index(0).Get("message")
	for _, c := range []struct {
		name string
		got  any
		want any
	}{
		{"root kind", root.Kind(), KindList},
		{"root len", root.Len(), 3},
		{"text", msg.Get("text").Text(), "hi"},
		{"stub as written", msg.Get("file").Interface(), EmptyStub},
		{"stub read as empty", msg.Get("file").Text(), ""},
		{"integer key found by its text", root.Index(0).Get("12").Kind(), KindFloat},
		{"missing key", msg.Get("nope").Exists(), false},
		{"chained through a missing key", root.Get("x").Get("y").Index(3).Text(), ""},
		{"missing kind", root.Get("x").Kind(), KindInvalid},
		{"len of a string", msg.Get("text").Len(), 0},
		{"int of a string", func() bool { _, ok := msg.Get("text").Int(); return ok }(), false},
		{"str of an int", func() bool { _, ok := root.Index(2).Str(); return ok }(), false},
		{"int", func() int64 { n, _ := root.Index(2).Int(); return n }(), int64(-7)},
		{"bool", func() bool { b, ok := root.Index(1).Bool(); return !b && ok }(), true},
		{"kind name", KindMap.String() + " " + Kind(42).String(), "map Kind(42)"},
		{"zero doc", (&Doc{}).Root().Exists(), false},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	var got struct {
		Text string `php:"text"`
		File string `php:"file"`
	}
	if err := msg.Decode(&got); err != nil || got.Text != "hi" || got.File != "" {
		t.Fatalf("Decode: %+v, %v", got, err)
	}
	n := 0
	for range root.Entries() {
		n++
		break
	}
	if n != 1 {
		t.Fatalf("Entries did not stop when asked: %d", n)
	}
}

func TestDocRefusals(t *testing.T) {
	for _, s := range []string{`a:1:{i:0;O:1:"A":0:{}}`, `a:2:{s:1:"a";N;s:1:"a";N;}`, `s:5:"abc";`, `i:1;x`} {
		_, err := ParseDoc(s)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrBadPacket) {
			t.Errorf("%q: %v, want a *SyntaxError that is BAD_PACKET", s, err)
		}
	}
}

// An input past the limit is refused before it is read, and leaves the Doc empty.
func TestDocInputLimit(t *testing.T) {
	var d Doc
	if err := d.Parse("N;"); err != nil || !d.Root().IsNull() {
		t.Fatal(err)
	}
	err := d.parse("a:0:{}", 5)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 5 || !strings.Contains(se.Msg, "larger than the 5 a Doc holds") || d.Root().Exists() {
		t.Fatalf("%v, root %v", err, d.Root().Kind())
	}
	if maxDocInput != 1<<29-1 {
		t.Fatalf("the limit is %d, but node offsets have 29 bits", maxDocInput)
	}
}

// A reused Doc allocates nothing for a packet no larger than one it held.
func TestDocParseAllocatesNothingWhenReused(t *testing.T) {
	raw, _ := tenItemPacket(t)
	s := string(raw)
	var d Doc
	if err := d.Parse(s); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _ = d.Parse(s) }); n != 0 {
		t.Fatalf("%v allocations per Parse of a reused Doc", n)
	}
}

// DecodeDoc reads the same DATA DecodeData does, for every PHP vector.
func TestDecodeDocVectors(t *testing.T) {
	var d Doc
	for name, v := range loadVectors(t) {
		p := &Packet{RawData: vectorFields(t, v).Get(FieldData)}
		if err := p.DecodeDoc(&d); err != nil {
			t.Fatal(name, err)
		}
		tree := d.Root().Interface()
		if err := p.DecodeData(); err != nil {
			t.Fatal(name, err)
		}
		ws, _ := Serialize(Unstub(tree))
		gs, _ := Serialize(p.Data)
		if !bytes.Equal(ws, gs) {
			t.Fatalf("%s: DecodeDoc gives %s, DecodeData %s", name, ws, gs)
		}
	}
}
