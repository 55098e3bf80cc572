package connector

import (
	"reflect"
	"strings"
	"testing"
)

// TestOrderedJSON checks that the fast reader of valid JSON and the json.Decoder one agree, and that
// invalid JSON is refused.
func TestOrderedJSON(t *testing.T) {
	valid := []string{
		`{"items":[{"user":{"id":"u-c1","name":"Ann Lee"},"message":{"id":"7","date":1700000000,"text":"hello :smile:"},"chat":{"id":"c1"}}]}`,
		` { "b" : 1 , "a" : [ ] , "c" : { } , "d" : [ 1 , 2.5 , -3e2 , 1E+2 ] } `,
		`{"a":1,"b":2,"a":3}`, // a repeated key keeps its first place and its last value
		`{"big":123456789012345678901234567890,"neg":-9223372036854775808,"f":0.1}`,
		`{"t":true,"f":false,"n":null,"s":""}`,
		`{"esc":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","uni":"héllo 😀"}`,
		"{\"bad utf8\":\"a\xffb\",\"k\xfe\":1}",
		`[["x"],[[]],{"1":"int key","01":"string key"}]`,
		`"just a string"`,
		`42`,
		"\t\r\n[1]\n",
	}
	for _, in := range valid {
		fast, err := decodeOrderedJSON([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		slow, err := decodeJSONTokens([]byte(in))
		if err != nil {
			t.Errorf("%q: decoder: %v", in, err)
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q: fast %#v, decoder %#v", in, fast, slow)
		}
	}
	invalid := []string{``, ` `, `{`, `{"a":}`, `[1,]`, `{"a":1}{}`, `{"a" 1}`, `'a'`, `[1 2]`, `{"a":tru}`, "\"a\x01\"",
		strings.Repeat("[", 1000) + strings.Repeat("]", 1000)}
	for _, in := range invalid {
		if v, err := decodeOrderedJSON([]byte(in)); err == nil {
			t.Errorf("%q: accepted as %#v", in, v)
		}
	}
}

// FuzzOrderedJSON checks the fast JSON reader against the json.Decoder one on any input: the same value or
// both an error, never a panic.
func FuzzOrderedJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"]}`, `{"a":1,"a":2}`, `[1,2.5,-3e2]`, `"\u00e9\ud83d\ude00"`,
		"{\"k\xfe\":1}", `{"a":{"b":{"c":[]}}}`, `[`, `{"a" 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fast, ferr := decodeOrderedJSON(in)
		slow, serr := decodeJSONTokens(in)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("%q: fast err %v, decoder err %v", in, ferr, serr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: fast %#v, decoder %#v", in, fast, slow)
		}
	})
}
