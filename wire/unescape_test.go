package wire

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// unescape decodes one name or value as ReadForm and ParseForm do (in place, on a copy here), and checks the
// bad-escape check agrees with the decoder.
func unescape(in string) (string, error) {
	b := []byte(in)
	checkErr := checkEscapes(b)
	w, err := unescapeTo(b, 0, 0, len(b))
	if (checkErr == nil) != (err == nil) {
		return "", fmt.Errorf("checkEscapes says %v, unescapeTo says %v", checkErr, err)
	}
	if err != nil {
		return "", err
	}
	return string(b[:w]), nil
}

func TestUnescapeMatchesQueryUnescape(t *testing.T) {
	t.Parallel()
	long := url.QueryEscape(strings.Repeat("YTox+Ontp/OjA7=", 500))
	for _, in := range []string{"", "plain", "a+b", "%41%42", "%e2%9C%93", "%", "%4", "%zz", "%4g", "a%", "x%2", "+%2B+",
		"100%25", "%00", long, "end%2", "%%41"} {
		want, wantErr := url.QueryUnescape(in)
		got, err := unescape(in)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Errorf("unescape(%.40q) = %.40q, %v; want %.40q, %v", in, got, err, want, wantErr)
		}
		if err != nil && err.Error() != wantErr.Error() {
			t.Errorf("unescape(%q) error %q, want %q", in, err, wantErr)
		}
	}
}

func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"a+b", "%41", "%zz", "100%", url.QueryEscape("DATA=YTox+Ontp/OjA7")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		want, wantErr := url.QueryUnescape(in)
		got, err := unescape(in)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("unescape(%q) = %q, %v; want %q, %v", in, got, err, want, wantErr)
		}
	})
}

func BenchmarkUnescape(b *testing.B) {
	in := url.QueryEscape(strings.Repeat("YTox+Ontp/OjA7=abcdefghij", 300))
	b.Run("olctl", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		buf := make([]byte, len(in))
		for b.Loop() {
			copy(buf, in) // the body ReadForm owns; decoded in place
			_, _ = unescapeTo(buf, 0, 0, len(buf))
		}
	})
	b.Run("net-url", func(b *testing.B) {
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = url.QueryUnescape(in)
		}
	})
}

func TestParseFormMatchesNetURL(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "a=1", "a=1&b=2", "&&a=1&", "a", "a=&=b", "BX_COMMAND=%zz", "a=1&a=2", "x=%",
		"DATA=" + url.QueryEscape("YTox+Ontp/OjA7=") + "&BX_HASH=abc", "n%41me=v%41lue+x", "%3D=%26", "%zz=1"} {
		checkParseForm(t, in)
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "BX_COMMAND=%zz", "a=1&a=2", "DATA=" + url.QueryEscape("YTox+Ontp/OjA7=")} {
		f.Add(s)
	}
	f.Fuzz(checkParseForm)
}

// referenceForm parses a body with net/url's unescaping: the fields in order, or an error for a bad escape or a
// repeated name.
func referenceForm(body string) (Fields, error) {
	var out Fields
	for _, pair := range strings.Split(body, "&") {
		if pair == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, err
		}
		if _, dup := out.Lookup(name); dup {
			return nil, fmt.Errorf("field %s appears twice", name)
		}
		out = append(out, Field{Name: name, Value: value})
	}
	return out, nil
}

func checkParseForm(t *testing.T, in string) {
	want, wantErr := referenceForm(in)
	got, err := ParseForm(in)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, want %v", in, err, wantErr)
	}
	if err != nil {
		if CodeOf(err) != CodeBadPacket {
			t.Fatalf("%q: code %s, want BAD_PACKET", in, CodeOf(err))
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %v, want %v", in, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q: field %d %+v, want %+v", in, i, got[i], want[i])
		}
	}
}
