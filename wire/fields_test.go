package wire

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestFieldsEncodeParseRoundTrip(t *testing.T) {
	t.Parallel()
	in := Fields{{"Z_FIRST", "a b+c&d=e"}, {"A", "Привет 😀 /?%#"}, {"EMPTY", ""}, {"B", "~._-"}}
	body := in.Encode()
	// The standard library reads the same values (order aside).
	q, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range in {
		if q.Get(f.Name) != f.Value {
			t.Errorf("url.ParseQuery(%s) = %q, want %q", f.Name, q.Get(f.Name), f.Value)
		}
	}
	out, err := ParseForm(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("fields %v", out.Names())
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("field %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

// TestQueryEscapeMatchesNetURL checks the form encoder against url.QueryEscape byte by byte: every byte value
// alone and inside runs, at the start, middle and end of a value.
func TestQueryEscapeMatchesNetURL(t *testing.T) {
	t.Parallel()
	values := []string{"", "abc", "YTox+Ontp/OjA7=", "a b", " ", "~._-", "Привет 😀", "\x00\xff"}
	for c := 0; c < 256; c++ {
		b := string([]byte{byte(c)})
		values = append(values, b, "ab"+b, b+"cd", "ab"+b+"cd"+b+b)
	}
	for _, v := range values {
		if got, want := string(appendQueryEscape(nil, v)), url.QueryEscape(v); got != want {
			t.Errorf("appendQueryEscape(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestParseFormRefuses(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"A=1&A=2", "A=%zz", "%zz=1"} {
		if _, err := ParseForm(body); !errors.Is(err, CodeBadPacket) {
			t.Errorf("ParseForm(%q) = %v, want BAD_PACKET", body, err)
		}
	}
	if f, err := ParseForm("&&A=1&&"); err != nil || len(f) != 1 {
		t.Errorf("empty pairs: %v %v", f, err)
	}
}

func TestReadForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		ctype  string
		body   string
		max    int64
		status int
		code   Code
	}{
		{"ok", "POST", "application/x-www-form-urlencoded; charset=UTF-8", "A=1", 0, 200, ""},
		{"no content type", "POST", "", "A=1", 0, 200, ""},
		{"get", "GET", "", "", 0, 405, CodeMethodNotAllowed},
		{"json", "POST", "application/json", "{}", 0, 200, CodeBadPacket},
		{"oversize", "POST", "", strings.Repeat("A", 101), 100, 413, CodeRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/pub/imconnector/", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			_, err := ReadForm(r, tc.max)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if CodeOf(err) != tc.code || httpStatus(err) != tc.status {
				t.Fatalf("err = %v (status %d), want %s/%d", err, httpStatus(err), tc.code, tc.status)
			}
		})
	}
	// A chunked body without Content-Length is cut at the cap too.
	r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("A", 200)))
	r.ContentLength = -1
	if _, err := ReadForm(r, 100); httpStatus(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("unknown length oversize: %v", err)
	}
}
