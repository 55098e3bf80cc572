package wire

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestSerializeScalars(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string
		stub string // with the #EMPTY# rule, when different
	}{
		{nil, "N;", `s:7:"#EMPTY#";`},
		{true, "b:1;", ""},
		{false, "b:0;", `s:7:"#EMPTY#";`},
		{0, "i:0;", ""},
		{int64(-9223372036854775808), "i:-9223372036854775808;", ""},
		{uint8(7), "i:7;", ""},
		{0.0, "d:0;", ""},
		{1.0, "d:1;", ""},
		{0.1, "d:0.1;", ""},
		{1e25, "d:1.0E+25;", ""},
		{1e17, "d:1.0E+17;", ""},
		{1e16, "d:10000000000000000;", ""},
		{0.0001, "d:0.0001;", ""},
		{0.00001, "d:1.0E-5;", ""},
		{1.5e-7, "d:1.5E-7;", ""},
		{-1.25e300, "d:-1.25E+300;", ""},
		{5e-324, "d:5.0E-324;", ""},
		{0.30000000000000004, "d:0.30000000000000004;", ""},
		{math.Copysign(0, -1), "d:-0;", ""},
		{"", `s:0:"";`, `s:7:"#EMPTY#";`},
		{"0", `s:1:"0";`, ""},
		{"Привет", `s:12:"Привет";`, ""},
		{"a\"b;}", `s:5:"a"b;}";`, ""},
		{[]any{}, "a:0:{}", `s:7:"#EMPTY#";`},
		{[]string{"x", ""}, `a:2:{i:0;s:1:"x";i:1;s:0:"";}`, `a:2:{i:0;s:1:"x";i:1;s:7:"#EMPTY#";}`},
		{NewMap("b", 1, "a", NewMap()), `a:2:{s:1:"b";i:1;s:1:"a";a:0:{}}`, `a:2:{s:1:"b";i:1;s:1:"a";s:7:"#EMPTY#";}`},
		{NewMap("3", "x", "-0", "y", "03", "z"), `a:3:{i:3;s:1:"x";s:2:"-0";s:1:"y";s:2:"03";s:1:"z";}`, ""},
		{map[string]any{"b": 2, "a": 1}, `a:2:{s:1:"a";i:1;s:1:"b";i:2;}`, ""},
		{map[int]string{10: "x", 2: "y"}, `a:2:{i:2;s:1:"y";i:10;s:1:"x";}`, ""},
		{[]byte("raw"), `s:3:"raw";`, ""},
	} {
		got, err := Serialize(tc.in)
		if err != nil {
			t.Fatalf("Serialize(%#v): %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("Serialize(%#v) = %s, want %s", tc.in, got, tc.want)
		}
		want := tc.stub
		if want == "" {
			want = tc.want
		}
		got, _ = SerializeStubbed(tc.in, Legacy)
		if string(got) != want {
			t.Errorf("SerializeStubbed(%#v, Legacy) = %s, want %s", tc.in, got, want)
		}
		if !strings.Contains(tc.want, "a:0:{}") { // no empty array: the profiles stub alike
			if got, _ = SerializeStubbed(tc.in, Current); string(got) != want {
				t.Errorf("SerializeStubbed(%#v, Current) = %s, want %s", tc.in, got, want)
			}
		}
	}
}

// TestSerializeStubbedCurrent: the current profile writes an empty array, at any depth and of any Go type, as
// #EMPTY_ARRAY#, and every other empty value as #EMPTY#.
func TestSerializeStubbedCurrent(t *testing.T) {
	t.Parallel()
	type settings struct {
		Channels []string `php:"channels"`
		Greeting string   `php:"greeting"`
	}
	for _, tc := range []struct {
		in   any
		want string
	}{
		{[]any{}, `s:13:"#EMPTY_ARRAY#";`},
		{[]string(nil), `s:13:"#EMPTY_ARRAY#";`},
		{(*Map)(nil), `s:13:"#EMPTY_ARRAY#";`},
		{map[string]any{}, `s:13:"#EMPTY_ARRAY#";`},
		{map[string]string{}, `s:13:"#EMPTY_ARRAY#";`},
		{map[int]int{}, `s:13:"#EMPTY_ARRAY#";`},
		{[0]int{}, `s:13:"#EMPTY_ARRAY#";`},
		{nil, `s:7:"#EMPTY#";`},
		{NewMap("b", 1, "a", NewMap()), `a:2:{s:1:"b";i:1;s:1:"a";s:13:"#EMPTY_ARRAY#";}`},
		{settings{}, `a:2:{s:8:"channels";s:13:"#EMPTY_ARRAY#";s:8:"greeting";s:7:"#EMPTY#";}`},
		{[]any{[]any{}, "", false, "0", 0}, `a:5:{i:0;s:13:"#EMPTY_ARRAY#";i:1;s:7:"#EMPTY#";i:2;s:7:"#EMPTY#";i:3;s:1:"0";i:4;i:0;}`},
	} {
		got, err := SerializeStubbed(tc.in, Current)
		if err != nil {
			t.Fatalf("SerializeStubbed(%#v, Current): %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("SerializeStubbed(%#v, Current) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

type file struct {
	URL     string   `php:"url"`
	Name    string   `json:"name,omitempty"`
	Headers []header `php:"headers,omitempty"`
}

type header struct {
	Name  string `php:"name"`
	Value string `php:"value"`
}

type base struct {
	ID string `php:"id"`
}

type user struct {
	base
	Name   string         `php:"name"`
	Skip   string         `php:"-"`
	Gender string         `php:"gender,omitempty"`
	Age    *int           `php:"age"`
	Extra  map[string]any `php:",rest"`
	hidden string
}

func TestSerializeStructs(t *testing.T) {
	t.Parallel()
	got, err := Serialize(user{base: base{ID: "29:1"}, Name: "Анна", Skip: "x", Extra: map[string]any{"z": 1, "title": "Dr"}, hidden: "h"})
	if err != nil {
		t.Fatal(err)
	}
	want := `a:5:{s:2:"id";s:4:"29:1";s:4:"name";s:8:"Анна";s:3:"age";N;s:5:"title";s:2:"Dr";s:1:"z";i:1;}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, _ = SerializeStubbed([]file{{URL: "u"}}, Legacy)
	if want := `a:1:{i:0;a:1:{s:3:"url";s:1:"u";}}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got, _ = SerializeStubbed(struct {
		A string `php:"a,omitempty"`
	}{}, Legacy)
	if want := `s:7:"#EMPTY#";`; string(got) != want {
		t.Fatalf("an empty struct is an empty array: got %s", got)
	}
	if _, err := Serialize(make(chan int)); err == nil {
		t.Fatal("a channel must not serialize")
	}
	if _, err := Serialize(map[float64]int{1: 1}); err == nil {
		t.Fatal("float map keys must not serialize")
	}
	if _, err := Serialize(uint64(math.MaxUint64)); err == nil {
		t.Fatal("uint64 past int64 must not serialize")
	}
}

func TestUnserializeValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"N;", nil},
		{"b:1;", true},
		{"b:0;", false},
		{"i:-42;", int64(-42)},
		{"i:+5;", int64(5)},
		{"d:1.0E+25;", 1e25},
		{"d:0.5;", 0.5},
		{`s:0:"";`, ""},
		{`s:3:"a;b";`, "a;b"},
		{`s:4:"😀";`, "😀"},
		{"a:0:{}", []any{}},
		{`a:2:{i:0;s:1:"a";i:1;N;}`, []any{"a", nil}},
		{`a:2:{i:1;s:1:"a";i:0;N;}`, &Map{Entries: []Entry{{int64(1), "a"}, {int64(0), nil}}}},
		{`a:2:{s:1:"z";i:1;s:1:"a";i:2;}`, &Map{Entries: []Entry{{"z", int64(1)}, {"a", int64(2)}}}},
		{`a:1:{s:1:"0";b:1;}`, []any{true}},
	} {
		got, err := unserialize(tc.in)
		if err != nil {
			t.Errorf("Unserialize(%s): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Unserialize(%s) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"d:INF;", "d:-INF;", "d:NAN;", "d:1E700;", "a:1:{i:0;d:-1e400;}"} {
		if v, err := unserialize(in); err == nil {
			t.Errorf("Unserialize(%s) = %v, want an error: a packet carries finite numbers only", in, v)
		}
	}
}

func TestUnserializeRefusesWithOffset(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("a:1:{i:0;", MaxDepth+1) + "N;" + strings.Repeat("}", MaxDepth+1)
	for _, tc := range []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "end of input"},
		{"N", 1, "want ';'"},
		{"N;N;", 2, "trailing bytes"},
		{"b:2;", 2, "bad boolean"},
		{"i:;", 2, "want an integer"},
		{"i:99999999999999999999;", 2, "out of range"},
		{"i:1", 3, "after the integer"},
		{"d:abc;", 2, "bad float"},
		{`s:50:"abc";`, 6, "runs past the end"},
		{`s:5:"abc";`, 10, `want '"'`},
		{`s:1:"ab";`, 6, `want '"'`},
		{`s:-1:"";`, 2, "want a length"},
		{`O:8:"stdClass":0:{}`, 0, "objects are refused"},
		{`C:3:"Foo":0:{}`, 0, "objects are refused"},
		{`a:2:{i:0;N;i:1;r:1;}`, 15, "references are refused"},
		{`a:1:{i:0;R:1;}`, 9, "references are refused"},
		{`x:1;`, 0, "unknown type"},
		{`a:1:{d:1.5;N;}`, 5, "keys must be integers or strings"},
		{`a:1:{a:0:{}N;}`, 5, "keys must be integers or strings"},
		{`a:2:{i:0;N;i:0;N;}`, 17, "duplicate array key"},
		{`a:2:{s:1:"a";N;s:1:"a";N;}`, 25, "duplicate array key"},
		{`a:3:{s:2:"id";N;s:4:"name";N;s:2:"id";i:1;}`, 42, "duplicate array key"},
		{`a:3:{i:0;N;s:1:"x";N;i:0;N;}`, 27, "duplicate array key"}, // a list turned map
		{`a:3:{i:0;N;i:1;N;i:1;N;}`, 23, "duplicate array key"},     // a list turned map on its last key
		{`a:2:{i:5;N;s:1:"5";N;}`, 21, "duplicate array key"},       // "5" is the integer key 5
		{`a:2:{s:0:"";N;s:0:"";N;}`, 23, "duplicate array key"},     // the empty key
		{`a:2:{i:-7;N;i:-7;N;}`, 19, "duplicate array key"},
		{`a:999999999:{}`, 12, "more than"},
		{`a:50:{i:0;N;}`, 5, "runs past the end"},
		{deep, 9*MaxDepth + 1, "nesting deeper"},
		{`a:1:{i:0;N;`, 11, "end of input"},
	} {
		_, err := unserialize(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Unserialize(%.40q): err = %v, want a SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Unserialize(%.40q) = %v (offset %d), want %q at %d", tc.in, err, se.Offset, tc.msg, tc.offset)
		}
		if !errors.Is(err, CodeBadPacket) || CodeOf(err) != CodeBadPacket {
			t.Errorf("Unserialize(%.40q): error is not BAD_PACKET", tc.in)
		}
	}
}

func TestUnserializeElementLimit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("a:2:{")
	for i := 0; i < 2; i++ {
		b.WriteString("i:" + string(rune('0'+i)) + ";a:60000:{")
		for j := 0; j < 60000; j++ {
			b.WriteString("i:" + strconv.Itoa(j) + ";N;")
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	_, err := unserialize(b.String())
	if err == nil || !strings.Contains(err.Error(), "more than 100000 elements") {
		t.Fatalf("err = %v, want the element limit", err)
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	m := NewMap("a", 1, 7, "x")
	m.Set("a", 2)
	m.Set("7", "y") // "7" is the integer key 7, as in PHP
	if m.Len() != 2 {
		t.Fatalf("len %d", m.Len())
	}
	if v, _ := m.Get("a"); v != 2 {
		t.Fatalf("a = %v", v)
	}
	if m.String(7) != "y" || m.String(int64(7)) != "y" {
		t.Fatal("integer keys")
	}
	var nilMap *Map
	if _, ok := nilMap.Get("a"); ok || nilMap.Len() != 0 {
		t.Fatal("nil map")
	}
}

func TestUnstubAndIsEmpty(t *testing.T) {
	t.Parallel()
	v, _ := unserialize(`a:2:{s:1:"a";s:7:"#EMPTY#";s:1:"b";a:1:{i:0;s:7:"#EMPTY#";}}`)
	v = unstub(v)
	m := v.(*Map)
	if m.String("a") != "" {
		t.Fatal("a not unstubbed")
	}
	if b, _ := m.Get("b"); b.([]any)[0] != "" {
		t.Fatal("nested not unstubbed")
	}
	if unstub(EmptyStub) != "" {
		t.Fatal("top-level")
	}
	for _, x := range []any{"", nil, false, []any{}, &Map{}, map[string]any{}} {
		if !IsEmpty(x) {
			t.Errorf("IsEmpty(%#v) = false", x)
		}
	}
	for _, x := range []any{0, int64(0), 0.0, "0", true, []any{nil}} {
		if IsEmpty(x) {
			t.Errorf("IsEmpty(%#v) = true", x)
		}
	}
}

func TestUnserializeManyKeysIsLinear(t *testing.T) {
	t.Parallel()
	// 100 000 distinct string keys: the duplicate check must not be quadratic.
	var b strings.Builder
	b.WriteString("a:100000:{")
	for j := 0; j < 100000; j++ {
		k := "k" + strconv.Itoa(j)
		b.WriteString(`s:` + strconv.Itoa(len(k)) + `:"` + k + `";N;`)
	}
	b.WriteString("}")
	v, err := unserialize(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if v.(*Map).Len() != 100000 {
		t.Fatal("lost entries")
	}
}

// TestUnserializeKeysInOneBucket decodes small maps whose keys all share one bucket of the duplicate check's
// digest (same length, first and last byte), so that every key is compared with the earlier ones: distinct
// keys are kept in order, and a repeat among them is refused.
func TestUnserializeKeysInOneBucket(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 8, 15, 16, 40} {
		var b strings.Builder
		b.WriteString("a:" + strconv.Itoa(n) + ":{")
		for j := 0; j < n; j++ {
			k := fmt.Sprintf("a%03da", j)
			b.WriteString(`s:5:"` + k + `";i:` + strconv.Itoa(j) + `;`)
		}
		b.WriteString("}")
		v, err := unserialize(b.String())
		if err != nil {
			t.Fatalf("%d keys: %v", n, err)
		}
		m := v.(*Map)
		for j, e := range m.Entries {
			if e.Key != fmt.Sprintf("a%03da", j) || e.Value != int64(j) {
				t.Fatalf("%d keys: entry %d = %v: %v", n, j, e.Key, e.Value)
			}
		}
		dup := strings.Replace(b.String(), fmt.Sprintf(`"a%03da"`, n-1), fmt.Sprintf(`"a%03da"`, (n-1)/2), 1)
		if _, err := unserialize(dup); err == nil || !strings.Contains(err.Error(), "duplicate array key") {
			t.Fatalf("%d keys with a repeat: %v", n, err)
		}
	}
}

// TestShortStrings: strings of every length around the short-string fast path's limit (under 100 bytes),
// as keys and as values, decode to themselves, and a wrong length is refused at the same offset either way.
func TestShortStrings(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 120; n++ {
		v := strings.Repeat(`x";`, n/3+1)[:n]
		in := `a:1:{s:` + strconv.Itoa(len(v)) + `:"` + v + `";s:` + strconv.Itoa(len(v)) + `:"` + v + `";}`
		got, err := unserialize(in)
		if n > 0 {
			if err != nil {
				t.Fatalf("%d: %v", n, err)
			}
			if e := got.(*Map).Entries; len(e) != 1 || e[0].Key != any(v) || e[0].Value != any(v) {
				t.Fatalf("%d: %#v", n, e)
			}
		}
		bad := `a:1:{s:1:"k";s:` + strconv.Itoa(len(v)+1) + `:"` + v + `";}`
		var se *SyntaxError
		if _, err := unserialize(bad); !errors.As(err, &se) {
			t.Fatalf("%d: a wrong length was accepted: %v", n, err)
		}
	}
}

// TestSerializeRefusesNonFinite: NaN and the infinities are never sent (docs/protocol.md §4).
func TestSerializeRefusesNonFinite(t *testing.T) {
	t.Parallel()
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1), []any{1, math.Inf(1)}, float32(math.Inf(-1)),
		map[string]any{"lat": math.NaN()}} {
		if b, err := Serialize(v); err == nil {
			t.Errorf("Serialize(%v) = %s, want an error", v, b)
		}
		if b, err := SerializeStubbed(v, Current); err == nil {
			t.Errorf("SerializeStubbed(%v) = %s, want an error", v, b)
		}
	}
}
