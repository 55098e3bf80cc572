package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
	"unicode"
	"unicode/utf8"
)

func TestPublicAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true},
		{"93.184.216.34", true},
		{"2606:4700:4700::1111", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"100.100.100.200", false},
		{"0.0.0.0", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"::1", false},
		{"::", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"fe80::1", false},
		{"fd00:ec2::254", false},
		{"fc00::1", false},
		{"64:ff9b::a00:1", false},
		{"2002:7f00:1::", false},
		{"ff02::1", false},
		{"::1%lo", false},
		{"fe80::1%eth0", false},
		{"::ffff:127.0.0.1%lo", false},
		{"2606:4700:4700::1111%eth0", true},
	}
	for _, tt := range tests {
		if got := publicAddr(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("publicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
		}
		err := dialGuard("tcp", netip.AddrPortFrom(netip.MustParseAddr(tt.addr), 443).String(), nil)
		if (err == nil) != tt.public {
			t.Errorf("dialGuard(%s) = %v", tt.addr, err)
		}
	}
	if dialGuard("tcp", "not-an-address", nil) == nil {
		t.Error("dialGuard accepted an unparsable address")
	}
}

func TestSanitizeName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("я", 150) + ".pdf" // 300 bytes of Cyrillic
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{"/etc/passwd", "passwd"},
		{`C:\Windows\system32\cmd.exe`, "cmd.exe"},
		{"..", DefaultName},
		{"...", DefaultName},
		{"", DefaultName},
		{"   ", DefaultName},
		{"dir/", DefaultName},
		{".htaccess", "htaccess"},
		{"trailing. . .", "trailing"},
		{"a\x00b\x1fc\x7f.txt", "abc.txt"},
		{"line\nbreak.txt", "linebreak.txt"},
		{"tab\there.txt", "tabhere.txt"},
		{"no\u00a0break\u2003space.txt", "no break space.txt"},
		{"\u202Etxt.exe", "txt.exe"},
		{"zero\u200bwidth.png", "zerowidth.png"},
		{`what?<is>:this|"*.txt`, "what__is__this___.txt"},
		{"bad\xffutf8.txt", "bad_utf8.txt"},
		{"фото отпуска.jpg", "фото отпуска.jpg"},
		{"emoji 😀.png", "emoji 😀.png"},
	}
	for _, tt := range tests {
		if got := SanitizeName(tt.in); got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	got := SanitizeName(long)
	if len(got) > MaxNameBytes || !strings.HasSuffix(got, ".pdf") || !utf8.ValidString(got) {
		t.Errorf("SanitizeName(long) = %q (%d bytes)", got, len(got))
	}
	noExt := strings.Repeat("a", 500)
	if got := SanitizeName(noExt); len(got) != MaxNameBytes {
		t.Errorf("SanitizeName(500 a) has %d bytes", len(got))
	}
}

func TestChooseType(t *testing.T) {
	t.Parallel()
	tests := []struct{ given, header, sniffed, want string }{
		{"image/png", "text/plain", "text/plain; charset=utf-8", "image/png"},
		{"", "Text/HTML; charset=utf-8", "text/plain", "text/html"},
		{"", "", "image/gif", "image/gif"},
		{"", "application/octet-stream", "image/png", "image/png"},
		{"application/octet-stream", "", "application/octet-stream", "application/octet-stream"},
		{"not a type", "", "image/png", "image/png"},
		{"", "garbage", "", "application/octet-stream"},
		{"", "text/plain; charset=", "", "text/plain"},
	}
	for _, tt := range tests {
		if got := chooseType(tt.given, tt.header, tt.sniffed); got != tt.want {
			t.Errorf("chooseType(%q, %q, %q) = %q, want %q", tt.given, tt.header, tt.sniffed, got, tt.want)
		}
	}
}

// TestFileName: the naming rules of docs/protocol.md §8.3 in each profile.
func TestFileName(t *testing.T) {
	t.Parallel()
	u := func(s string) *url.URL {
		x, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	long := strings.Repeat("ж", 60) + ".pdf"
	generated := func(source string) string {
		sum := sha256.Sum256([]byte(source))
		return "file-" + hex.EncodeToString(sum[:6])
	}
	tests := []struct {
		profile                            wire.Profile
		given, disposition, url, typ, want string
	}{
		{wire.Current, "", "", "https://cdn.example.com/a/photo.jpeg?x=1", "image/jpeg", "photo.jpeg"},
		{wire.Current, "", "", "https://cdn.example.com/a/photo?x=1.png", "image/png", "photo.png"},
		{wire.Current, "", "", "https://cdn.example.com/", "application/pdf", generated("https://cdn.example.com/") + ".pdf"},
		{wire.Current, "", "", "https://cdn.example.com", "text/plain", generated("https://cdn.example.com") + ".txt"},
		{wire.Current, "", "", "https://cdn.example.com/x", "application/x-unknown", "x"},
		{wire.Current, "doc", "", "https://cdn.example.com/ignored.bin", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "doc.docx"},
		{wire.Current, " spaced.txt ", "", "https://cdn.example.com/", "text/plain", "spaced.txt"},
		{wire.Current, long, "", "https://cdn.example.com/", "application/pdf", string([]rune(long)[14:])},
		{wire.Legacy, long, "", "https://cdn.example.com/", "application/pdf", long},
		{wire.Current, "", `attachment; filename="report 2024.pdf"`, "https://cdn.example.com/download", "application/pdf", "report 2024.pdf"},
		{wire.Current, "", `attachment; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf`, "https://cdn.example.com/download", "application/pdf", "отчёт.pdf"},
		{wire.Legacy, "", `attachment; filename="report.pdf"`, "https://cdn.example.com/download", "application/pdf", "download.pdf"},
		{wire.Current, "given.txt", `attachment; filename="other.pdf"`, "https://cdn.example.com/download", "text/plain", "given.txt"},
		{wire.Current, "..", "", "https://cdn.example.com/", "text/plain", generated("https://cdn.example.com/") + ".txt"},
	}
	for _, tt := range tests {
		if got := fileName(tt.given, tt.disposition, u(tt.url), tt.url, tt.typ, tt.profile); got != tt.want {
			t.Errorf("%s: fileName(%q, %q, %s, %s) = %q, want %q", tt.profile, tt.given, tt.disposition, tt.url, tt.typ, got, tt.want)
		}
	}
}

// TestFailureTemporary: which failures may pass, so that the item is tried again later.
func TestFailureTemporary(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f    Failure
		want bool
	}{
		{Failure{Code: CodeDownload}, true},
		{Failure{Code: CodeTimeout}, false},
		{Failure{Code: CodeMessageTimeout}, false},
		{Failure{Code: CodeStore}, true},
		{Failure{Code: CodeStatus, Err: &StatusError{StatusCode: 503}}, true},
		{Failure{Code: CodeStatus, Err: &StatusError{StatusCode: 429}}, true},
		{Failure{Code: CodeStatus, Err: &StatusError{StatusCode: 404}}, false},
		{Failure{Code: CodeStatus, Err: &StatusError{StatusCode: 204}}, false},
		{Failure{Code: CodeBigFile}, false},
		{Failure{Code: CodeBlocked}, false},
		{Failure{Code: CodeBadAttachment}, false},
	} {
		if got := tt.f.Temporary(); got != tt.want {
			t.Errorf("%s %v: Temporary() = %v", tt.f.Code, tt.f.Err, got)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://u:p@h.example/a/b?token=1#frag", "https://h.example/a/b"},
		{"http://h/x", "http://h/x"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := redact("http://bad\x7f/"); !strings.HasPrefix(got, "unparsable URL") {
		t.Errorf("redact of a bad URL = %q", got)
	}
}

// TestGuardOnRedirect: the guard runs on every connection, so a redirect from an allowed host to a refused
// address is stopped at dial time. Here 127.0.0.1 stands for a public host and 127.0.0.2 for a private one.
func TestGuardOnRedirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		port := r.Host[strings.LastIndex(r.Host, ":"):]
		switch r.URL.Path {
		case "/to-private":
			http.Redirect(w, r, "http://127.0.0.2"+port+"/secret", http.StatusFound)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	only := netip.MustParseAddr("127.0.0.1")
	imp := NewImporter(NewMemoryStore(), func(i *Importer) { i.allowAddr = func(a netip.Addr) bool { return a.Unmap() == only } })
	if ids, fails := imp.Import(context.Background(), []openlines.File{{URL: srv.URL + "/fine"}}); len(ids) != 1 {
		t.Fatalf("allowed host: %v", fails)
	}
	for _, path := range []string{"/to-private"} {
		hits.Store(0)
		ids, fails := imp.Import(context.Background(), []openlines.File{{URL: srv.URL + path}})
		if len(ids) != 0 || len(fails) != 1 || fails[0].Code != CodeBlocked {
			t.Fatalf("%s: ids %v failures %v", path, ids, fails)
		}
		if hits.Load() != 1 {
			t.Fatalf("%s: %d requests reached the server, want only the first", path, hits.Load())
		}
	}
}

// FuzzSanitizeName: whatever the input, the name is non-empty, bounded, valid UTF-8, and has no path
// separators, control characters or invisible format characters, and sanitizing it again changes nothing.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"../../etc/passwd", `..\..\a.txt`, "\u202Efdp.exe", "a\x00b", strings.Repeat("я", 150) + ".pdf", "", " . "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SanitizeName(in)
		if out == "" || len(out) > MaxNameBytes || !utf8.ValidString(out) || strings.ContainsAny(out, "/\\<>:\"|?*") {
			t.Fatalf("SanitizeName(%q) = %q", in, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SanitizeName(%q) = %q keeps %U", in, out, r)
			}
		}
		if again := SanitizeName(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
	})
}
