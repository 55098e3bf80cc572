package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/wire"
)

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server string
		opts   []Option
		want   []string // every one must be named; none: New succeeds
	}{
		{name: "minimal", server: "https://c.example.com", opts: []Option{WithDomain(testDomain)}},
		{name: "no scheme is https", server: "connector.example.com", opts: []Option{WithDomain(testDomain)}},
		{name: "everything missing", server: "", want: []string{"server URL is missing", "portal domain is missing"}},
		{name: "bad URLs", server: "ftp://x", opts: []Option{WithDomain("portal.example.com")},
			want: []string{"not http or https", "not an http(s) base URL"}},
		{name: "query in the server URL", server: "https://c.example.com/?a=1", opts: []Option{WithDomain(testDomain)},
			want: []string{"must not carry a query"}},
		{name: "hmac without a secret", server: "https://c", opts: []Option{WithDomain(testDomain), WithSigning(wire.HMACSHA256)},
			want: []string{"needs a secret"}},
		{name: "hmac with an empty secret", server: "https://c", opts: []Option{WithDomain(testDomain), WithSigning(wire.HMACSHA256, "a", "")},
			want: []string{"secret #2 is empty"}},
		{name: "md5 with secrets", server: "https://c", opts: []Option{WithDomain(testDomain), WithSigning(wire.MD5, "x")},
			want: []string{"takes no secrets"}},
		{name: "free-text version", server: "https://c", opts: []Option{WithDomain(testDomain), WithVersion("olctl-go/1")},
			want: []string{"not a dotted decimal"}},
		{name: "legacy version on current", server: "https://c", opts: []Option{WithDomain(testDomain), WithVersion("21.1100.0")},
			want: []string{"is of the legacy profile, the client speaks current"}},
		{name: "current version on legacy", server: "https://c", opts: []Option{WithDomain(testDomain), WithProfile(wire.Legacy), WithVersion("22.800.0")},
			want: []string{"is of the current profile, the client speaks legacy"}},
		{name: "region on legacy", server: "https://c", opts: []Option{WithDomain(testDomain), WithProfile(wire.Legacy), WithRegion("ru")},
			want: []string{"legacy profile sends no BX_REGION"}},
		{name: "bad path", server: "https://c", opts: []Option{WithDomain(testDomain), WithPath("portal.php")},
			want: []string{"must start with /"}},
		{name: "bad signing mode", server: "https://c", opts: []Option{WithSigning("rot13")}, want: []string{"unknown signing mode"}},
		{name: "bad profile", server: "https://c", opts: []Option{WithProfile(7)}, want: []string{"unknown profile"}},
		{name: "negative timeout", server: "https://c", opts: []Option{WithTimeout(-time.Second)}, want: []string{"negative timeout"}},
		{name: "negative TTL", server: "https://c", opts: []Option{WithCacheTTL(-time.Second)}, want: []string{"negative TTL"}},
		{name: "bad retry", server: "https://c", opts: []Option{WithRetry(Retry{MinWait: time.Second, MaxWait: time.Millisecond})},
			want: []string{"below MinWait"}},
		{name: "bad max response", server: "https://c", opts: []Option{WithMaxResponse(0)}, want: []string{"not a positive size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.server, tt.opts...)
			if len(tt.want) == 0 {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not name %q", err, w)
				}
			}
		})
	}
}

func TestURL(t *testing.T) {
	t.Parallel()
	for server, want := range map[string]string{
		"https://c.example.com":      "https://c.example.com/imwebhook/portal.php",
		"https://c.example.com/":     "https://c.example.com/imwebhook/portal.php",
		"c.example.com":              "https://c.example.com/imwebhook/portal.php",
		"http://127.0.0.1:8080/base": "http://127.0.0.1:8080/base/imwebhook/portal.php",
	} {
		c, err := New(server, WithDomain(testDomain))
		if err != nil {
			t.Errorf("%s: %v", server, err)
		} else if c.URL() != want {
			t.Errorf("%s: %s, want %s", server, c.URL(), want)
		}
	}
	c, _ := New("https://c", WithDomain(testDomain), WithPath("/hook"))
	if c.URL() != "https://c/hook" {
		t.Errorf("WithPath: %s", c.URL())
	}
}
