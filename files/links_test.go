package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
)

var (
	secret    = []byte("0123456789abcdef-link-secret")
	oldSecret = []byte("fedcba9876543210-old-secret")
)

func TestNewLinksValidates(t *testing.T) {
	t.Parallel()
	s := files.NewMemoryStore()
	tests := []struct {
		name   string
		store  files.Store
		base   string
		secret []byte
		opts   []files.LinkOption
	}{
		{"no store", nil, "https://p.example/files", secret, nil},
		{"relative base", s, "/files", secret, nil},
		{"ftp base", s, "ftp://p.example/files", secret, nil},
		{"base with query", s, "https://p.example/files?x=1", secret, nil},
		{"base with credentials", s, "https://u:p@p.example/files", secret, nil},
		{"short secret", s, "https://p.example/files", []byte("short"), nil},
		{"short previous secret", s, "https://p.example/files", secret, []files.LinkOption{files.WithPreviousSecrets([]byte("x"))}},
	}
	for _, tt := range tests {
		if _, err := files.NewLinks(tt.store, tt.base, tt.secret, tt.opts...); err == nil {
			t.Errorf("%s: NewLinks succeeded", tt.name)
		}
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := files.NewMemoryStore()
	html, _ := store.Put(ctx, files.Meta{Name: "page.html", Type: "text/html"}, strings.NewReader("<script>alert(1)</script>"))
	png, _ := store.Put(ctx, files.Meta{Name: "фото 1.png", Type: "image/png"}, bytes.NewReader(pngBytes))
	fake := clock.NewFake(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	links, err := files.NewLinks(store, srv.URL+"/portal/files/", secret, files.WithLinkClock(fake), files.WithLinkTTL(time.Hour), files.WithPreviousSecrets(oldSecret))
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/portal/files/", links)

	out, err := links.OutgoingFiles(ctx, []files.FileID{png, html})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Name != "фото 1.png" || out[0].Type != "image" || out[0].MIME != "image/png" || out[0].Size != int64(len(pngBytes)) || out[1].Name != "page.html" || out[1].Type != "file" {
		t.Fatalf("OutgoingFiles = %+v", out)
	}
	if !strings.HasPrefix(out[0].Link, srv.URL+"/portal/files/") {
		t.Fatalf("link %s is not under the base", out[0].Link)
	}
	if _, err := links.OutgoingFiles(ctx, []files.FileID{png, 4242}); !errors.Is(err, files.ErrNotFound) || !strings.Contains(err.Error(), "4242") {
		t.Fatalf("OutgoingFiles with an unknown id: %v", err)
	}

	get := func(method, link string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, link, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("GET", out[0].Link)
	if resp.StatusCode != 200 || !bytes.Equal(body, pngBytes) || resp.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET png: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = get("GET", out[1].Link)
	if resp.StatusCode != 200 || string(body) != "<script>alert(1)</script>" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("GET html: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = get("GET", out[0].Link, "Range", "bytes=0-3")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, pngBytes[:4]) {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	if resp, body = get("HEAD", out[0].Link); resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	if resp, _ = get("POST", out[0].Link); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}

	tamper := func(link string, f func(u *url.URL)) string {
		u, _ := url.Parse(link)
		f(u)
		return u.String()
	}
	bad := map[string]string{
		"other id": tamper(out[0].Link, func(u *url.URL) { u.Path = strings.Replace(u.Path, "/2/", "/1/", 1) }),
		"later exp": tamper(out[0].Link, func(u *url.URL) {
			q := u.Query()
			q.Set("exp", "99999999999")
			u.RawQuery = q.Encode()
		}),
		"no sig": tamper(out[0].Link, func(u *url.URL) {
			q := u.Query()
			q.Del("sig")
			u.RawQuery = q.Encode()
		}),
		"bad id": tamper(out[0].Link, func(u *url.URL) { u.Path = "/portal/files/02/x.png" }),
	}
	for name, link := range bad {
		if resp, _ := get("GET", link); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
		u, _ := url.Parse(link)
		if _, err := links.Verify(u); !errors.Is(err, files.ErrLinkInvalid) {
			t.Errorf("%s: Verify = %v", name, err)
		}
	}
	// A renamed link still serves the file under its stored name: the name is not part of the signature.
	renamed := tamper(out[0].Link, func(u *url.URL) { u.Path = strings.TrimSuffix(u.Path, "фото 1.png") + "other.png" })
	if resp, _ := get("GET", renamed); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "utf-8''%D1%84") {
		t.Fatalf("renamed link: %d %s", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}

	// A link signed with the previous secret still verifies (rotation).
	old, _ := files.NewLinks(store, srv.URL+"/portal/files", oldSecret, files.WithLinkClock(fake))
	oldOut, _ := old.OutgoingFiles(ctx, []files.FileID{png})
	if resp, _ := get("GET", oldOut[0].Link); resp.StatusCode != 200 {
		t.Fatalf("link of the previous secret: %d", resp.StatusCode)
	}
	// An unknown but correctly signed id is 404.
	ghost := links.Link(files.Meta{ID: 777, Name: "ghost.txt"})
	if resp, _ := get("GET", ghost); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown id: %d", resp.StatusCode)
	}

	// After the TTL the link is gone.
	fake.Advance(time.Hour + time.Second)
	if resp, _ := get("GET", out[0].Link); resp.StatusCode != http.StatusGone {
		t.Fatalf("expired link: %d", resp.StatusCode)
	}
	u, _ := url.Parse(out[0].Link)
	if _, err := links.Verify(u); !errors.Is(err, files.ErrLinkExpired) {
		t.Fatalf("Verify expired = %v", err)
	}
}
