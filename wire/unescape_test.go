package wire

import (
	"net/url"
	"strings"
	"testing"
)

func TestUnescapeMatchesQueryUnescape(t *testing.T) {
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
		for b.Loop() {
			_, _ = unescape(in)
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

func TestParseFormInPlaceMatchesParseForm(t *testing.T) {
	for _, in := range []string{"", "a=1", "a=1&b=2", "&&a=1&", "a", "a=&=b", "BX_COMMAND=%zz", "a=1&a=2", "x=%",
		"DATA=" + url.QueryEscape("YTox+Ontp/OjA7=") + "&BX_HASH=abc", "n%41me=v%41lue+x", "%3D=%26"} {
		checkParseFormInPlace(t, in)
	}
}

func FuzzParseFormInPlace(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "BX_COMMAND=%zz", "a=1&a=2", "DATA=" + url.QueryEscape("YTox+Ontp/OjA7=")} {
		f.Add(s)
	}
	f.Fuzz(checkParseFormInPlace)
}

func checkParseFormInPlace(t *testing.T, in string) {
	want, wantErr := ParseForm(in)
	got, err := parseFormInPlace([]byte(in))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, want %v", in, err, wantErr)
	}
	if err != nil {
		if CodeOf(err) != CodeOf(wantErr) {
			t.Fatalf("%q: code %s, want %s", in, CodeOf(err), CodeOf(wantErr))
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
