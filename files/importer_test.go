package files_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
)

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// fileServer is the remote end of the downloads: each route answers one way.
func fileServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/files/report.pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.4 report"))
	})
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="invoice 7.pdf"`)
		if r.Header.Get("User-Agent") != files.DefaultUserAgent {
			http.Error(w, "who are you", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte("%PDF-1.4 invoice"))
	})
	mux.HandleFunc("/files/final.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("final"))
	})
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	})
	mux.HandleFunc("/raw/avatar", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no Content-Type at all: the importer must sniff
		_, _ = w.Write(pngBytes)
	})
	mux.HandleFunc("/octet/picture", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(pngBytes)
	})
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte{0, 1, 2, 3, 0xff})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("root"))
	})
	// /redirect/N redirects N times, then lands on /files/final.txt.
	mux.HandleFunc("/redirect/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n <= 1 {
			http.Redirect(w, r, "/files/final.txt?sig=abc", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/redirect/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/redirect-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/x", http.StatusFound)
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0ken" || r.Header.Get("X-Trace") != "42" || r.Header.Get("User-Agent") != "bot/2" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pngBytes)
	})
	mux.HandleFunc("/redirect-auth", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/auth", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big/declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(make([]byte, 1<<20))
	})
	// /big/endless streams without a Content-Length until the client goes away: only a cut-off ends it.
	mux.HandleFunc("/big/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for i := 0; i < 1<<15; i++ { // at most 1 GiB, so that a broken importer still ends
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(make([]byte, 64<<10))
	})
	mux.HandleFunc("/dl/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("named by URL"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestImport(t *testing.T) {
	t.Parallel()
	srv := fileServer(t)
	type want struct {
		name, typ, body string
		code            string // a failure's code; "" for success
		is              error  // the failure's cause (errors.Is), when set
		status          int    // the StatusError's code, when set
	}
	tests := []struct {
		name string
		att  openlines.File
		want want
	}{
		{"plain pdf", openlines.File{URL: "/files/report.pdf"}, want{name: "report.pdf", typ: "application/pdf", body: "%PDF-1.4 report"}},
		{"given name and type win", openlines.File{URL: "/plain", Name: "notes.md", Type: "text/markdown"}, want{name: "notes.md", typ: "text/markdown", body: "hello"}},
		{"name without extension gets one from the type", openlines.File{URL: "/plain", Name: "readme"}, want{name: "readme.txt", typ: "text/plain", body: "hello"}},
		{"given type gives the extension", openlines.File{URL: "/raw/avatar", Name: "me", Type: "image/jpeg"}, want{name: "me.jpg", typ: "image/jpeg", body: string(pngBytes)}},
		{"missing name: URL base name without query", openlines.File{URL: "/files/report.pdf?token=secret&x=1"}, want{name: "report.pdf", typ: "application/pdf", body: "%PDF-1.4 report"}},
		{"missing name: URL without a base name", openlines.File{URL: "/"}, want{name: "generated.txt", typ: "text/plain", body: "root"}},
		{"missing name: Content-Disposition, with Bitrix's User-Agent", openlines.File{URL: "/download"}, want{name: "invoice 7.pdf", typ: "application/pdf", body: "%PDF-1.4 invoice"}},
		{"missing name: escaped URL name", openlines.File{URL: "/dl/my%20report%20%C3%A9t%C3%A9"}, want{name: "my report été.txt", typ: "text/plain", body: "named by URL"}},
		{"sniffed: no Content-Type", openlines.File{URL: "/raw/avatar"}, want{name: "avatar.png", typ: "image/png", body: string(pngBytes)}},
		{"sniffed: octet-stream says nothing", openlines.File{URL: "/octet/picture"}, want{name: "picture.png", typ: "image/png", body: string(pngBytes)}},
		{"unknown binary stays octet-stream", openlines.File{URL: "/blob"}, want{name: "blob.bin", typ: "application/octet-stream", body: "\x00\x01\x02\x03\xff"}},
		{"hostile name ../../etc/passwd", openlines.File{URL: "/plain", Name: "../../etc/passwd"}, want{name: "passwd.txt", typ: "text/plain", body: "hello"}},
		{"hostile Windows path", openlines.File{URL: "/plain", Name: `..\..\Windows\win.ini`}, want{name: "win.ini", typ: "text/plain", body: "hello"}},
		{"hostile control characters and RTL override", openlines.File{URL: "/plain", Name: "inv\x00oice\r\n\u202Efdp.exe"}, want{name: "invoicefdp.exe", typ: "text/plain", body: "hello"}},
		{"hostile name in the URL", openlines.File{URL: "/dl/..%2F..%2Fetc%2Fpasswd"}, want{name: "passwd.txt", typ: "text/plain", body: "named by URL"}},
		{"hostile dots only", openlines.File{URL: "/plain", Name: ".."}, want{name: "generated.txt", typ: "text/plain", body: "hello"}},
		{"redirects: 1", openlines.File{URL: "/redirect/1"}, want{name: "final.txt", typ: "text/plain", body: "final"}},
		{"redirects: 5 is the maximum", openlines.File{URL: "/redirect/5"}, want{name: "final.txt", typ: "text/plain", body: "final"}},
		{"redirects: 6 is too many", openlines.File{URL: "/redirect/6"}, want{code: files.CodeDownload, is: files.ErrTooManyRedirects}},
		{"redirect to ftp", openlines.File{URL: "/redirect-ftp"}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
		{"headers sent", openlines.File{URL: "/auth", Headers: []openlines.Header{{Name: "Authorization", Value: "Bearer t0ken"}, {Name: "x-trace", Value: "42"}, {Name: "User-Agent", Value: "bot/2"}}}, want{name: "auth.png", typ: "image/png", body: string(pngBytes)}},
		{"headers kept over a same-host redirect", openlines.File{URL: "/redirect-auth", Headers: []openlines.Header{{Name: "Authorization", Value: "Bearer t0ken"}, {Name: "X-Trace", Value: "42"}, {Name: "User-Agent", Value: "bot/2"}}}, want{name: "auth.png", typ: "image/png", body: string(pngBytes)}},
		{"headers missing: 403", openlines.File{URL: "/auth"}, want{code: files.CodeStatus, status: 403}},
		{"404", openlines.File{URL: "/missing"}, want{code: files.CodeStatus, status: 404}},
		{"only 200 counts: 204", openlines.File{URL: "/nocontent"}, want{code: files.CodeStatus, status: 204}},
		{"oversize, declared", openlines.File{URL: "/big/declared"}, want{code: files.CodeBigFile, is: files.ErrTooBig}},
		{"oversize, endless stream cut off", openlines.File{URL: "/big/endless"}, want{code: files.CodeBigFile, is: files.ErrTooBig}},
		{"exactly the maximum size", openlines.File{URL: "/exact", Name: "y.bin"}, want{name: "y.bin", typ: "application/octet-stream", body: string(make([]byte, 64<<10))}},
		{"empty URL", openlines.File{}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
		{"ftp URL", openlines.File{URL: "ftp://example.com/a.txt"}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
		{"header with a line break", openlines.File{URL: "/plain", Headers: []openlines.Header{{Name: "X-A", Value: "1\r\nHost: evil"}}}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
		{"header with a bad name", openlines.File{URL: "/plain", Headers: []openlines.Header{{Name: "X A", Value: "1"}}}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
		{"header that may not be set", openlines.File{URL: "/plain", Headers: []openlines.Header{{Name: "Host", Value: "evil"}}}, want{code: files.CodeBadAttachment, is: files.ErrBadAttachment}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := files.NewMemoryStore()
			imp := files.NewImporter(store, files.WithAllowPrivateNetworks(true), files.WithMaxSize(64<<10))
			att := tt.att
			if strings.HasPrefix(att.URL, "/") {
				att.URL = srv.URL + att.URL
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			ids, fails := imp.Import(ctx, []openlines.File{att})
			if tt.want.code != "" {
				if len(ids) != 0 || len(fails) != 1 {
					t.Fatalf("ids %v, failures %v: want one failure", ids, fails)
				}
				f := fails[0]
				if f.Code != tt.want.code || f.Index != 0 || f.URL != att.URL {
					t.Fatalf("failure %+v: want code %s at index 0 for %s", f, tt.want.code, att.URL)
				}
				if tt.want.is != nil && !errors.Is(f, tt.want.is) {
					t.Fatalf("failure %v does not wrap %v", f, tt.want.is)
				}
				if tt.want.status != 0 {
					var se *files.StatusError
					if !errors.As(f, &se) || se.StatusCode != tt.want.status {
						t.Fatalf("failure %v: want status %d", f, tt.want.status)
					}
				}
				if store.Len() != 0 {
					t.Fatalf("a failed import stored %d files", store.Len())
				}
				return
			}
			if len(fails) != 0 || len(ids) != 1 {
				t.Fatalf("ids %v, failures %v: want one id", ids, fails)
			}
			rc, m, err := store.Open(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			body, _ := io.ReadAll(rc)
			if tt.want.name == "generated.txt" { // a name generated from the URL (docs/protocol.md §8.3)
				sum := sha256.Sum256([]byte(att.URL))
				tt.want.name = "file-" + hex.EncodeToString(sum[:6]) + ".txt"
			}
			if m.Name != tt.want.name || m.Type != tt.want.typ || string(body) != tt.want.body || m.Size != int64(len(tt.want.body)) {
				t.Fatalf("stored %q %q %d bytes %.40q, want %q %q %.40q", m.Name, m.Type, m.Size, body, tt.want.name, tt.want.typ, tt.want.body)
			}
		})
	}
}

func TestImportManyKeepsOrder(t *testing.T) {
	t.Parallel()
	srv := fileServer(t)
	store := files.NewMemoryStore()
	imp := files.NewImporter(store, files.WithAllowPrivateNetworks(true))
	atts := []openlines.File{
		{URL: srv.URL + "/plain", Name: "a.txt"},
		{URL: srv.URL + "/missing"},
		{URL: srv.URL + "/files/report.pdf"},
		{URL: ""},
		{URL: srv.URL + "/plain", Name: "a.txt"}, // the same file again: the same id
	}
	ids, fails := imp.Import(context.Background(), atts)
	if len(ids) != 3 || len(fails) != 2 {
		t.Fatalf("ids %v failures %v", ids, fails)
	}
	if ids[0] != ids[2] || ids[0] == ids[1] {
		t.Fatalf("ids %v: want the first and last equal (deduplicated), the middle different", ids)
	}
	if fails[0].Index != 1 || fails[0].Code != files.CodeStatus || fails[1].Index != 3 || fails[1].Code != files.CodeBadAttachment {
		t.Fatalf("failures %+v", fails)
	}
	m, _ := store.Stat(context.Background(), ids[1])
	if m.Name != "report.pdf" {
		t.Fatalf("second id is %q, want report.pdf", m.Name)
	}
}

// TestImportMaxConcurrent: with a limit of 3, exactly 3 downloads are in flight at the peak. The handler
// holds every request until 3 are in flight, so the peak is reached deterministically, and a fourth would be
// seen if the limit leaked. (The message's own cap, WithMaxPerMessage, is set above the limit so that the
// importer's is the one measured.)
func TestImportMaxConcurrent(t *testing.T) {
	t.Parallel()
	const limit, n = 3, 12
	var inflight, peak atomic.Int32
	gate := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		if cur >= limit {
			once.Do(func() { close(gate) })
		}
		<-gate
		_, _ = io.WriteString(w, r.URL.Path)
		inflight.Add(-1)
	}))
	defer srv.Close()
	store := files.NewMemoryStore()
	imp := files.NewImporter(store, files.WithAllowPrivateNetworks(true), files.WithMaxConcurrent(limit), files.WithMaxPerMessage(n))
	var atts []openlines.File
	for i := range n {
		atts = append(atts, openlines.File{URL: fmt.Sprintf("%s/f%d", srv.URL, i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ids, fails := imp.Import(ctx, atts)
	if len(ids) != n || len(fails) != 0 {
		t.Fatalf("ids %d failures %v", len(ids), fails)
	}
	if p := peak.Load(); p != limit {
		t.Fatalf("peak of %d downloads in flight, want %d", p, limit)
	}
}

// TestImportTimeout: a body that stalls is abandoned when the total timeout passes on the importer's clock.
func TestImportTimeout(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("the first bytes, then nothing"))
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // stall until the client gives up
	}))
	defer srv.Close()
	fake := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	imp := files.NewImporter(files.NewMemoryStore(), files.WithAllowPrivateNetworks(true), files.WithClock(fake), files.WithTimeout(30*time.Second))
	type res struct {
		ids   []files.FileID
		fails []files.Failure
	}
	done := make(chan res, 1)
	go func() {
		ids, fails := imp.Import(context.Background(), []openlines.File{{URL: srv.URL + "/slow"}})
		done <- res{ids, fails}
	}()
	<-started
	// the importer arms its timer before connecting
	eventually.True(t, 10*time.Second, "the importer to arm its timer", func() bool { return fake.Waiters() > 0 })
	fake.Advance(29 * time.Second)
	select {
	case r := <-done:
		t.Fatalf("import ended before the timeout: %+v", r)
	default:
	}
	fake.Advance(time.Second)
	select {
	case r := <-done:
		if len(r.ids) != 0 || len(r.fails) != 1 || r.fails[0].Code != files.CodeTimeout || !errors.Is(r.fails[0], files.ErrTimeout) {
			t.Fatalf("got %+v, want one failed_timeout", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the timeout did not stop the download")
	}
}

// TestImportGuard: by default the importer refuses loopback, also by name, before any byte is sent.
func TestImportGuard(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "secret metadata")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":")+1:]
	urls := []string{
		srv.URL + "/latest/meta-data",                   // 127.0.0.1
		"http://localhost:" + port + "/x",               // a name that resolves to loopback
		"http://[::1]:" + port + "/x",                   // IPv6 loopback (refused even if nothing listens)
		"http://169.254.169.254/latest/meta-data/",      // cloud metadata
		"http://0.0.0.0:" + port + "/x",                 // "this host"
		"http://[::ffff:127.0.0.1]:" + port + "/mapped", // IPv4-mapped loopback
		"http://[::1%25lo]:" + port + "/zoned",          // IPv6 loopback with a zone
		"http://[fe80::1%25lo]:" + port + "/zoned",      // link-local with a zone
	}
	imp := files.NewImporter(files.NewMemoryStore(), files.WithConnectTimeout(5*time.Second))
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			ids, fails := imp.Import(context.Background(), []openlines.File{{URL: u}})
			if len(ids) != 0 || len(fails) != 1 {
				t.Fatalf("ids %v failures %v", ids, fails)
			}
			var be *files.BlockedError
			if fails[0].Code != files.CodeBlocked || !errors.Is(fails[0], files.ErrBlockedAddress) || !errors.As(fails[0], &be) {
				t.Fatalf("failure %v (%s): want failed_blocked_address", fails[0], fails[0].Code)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server was reached %d times", n)
	}
	// With the option, the same server is fine.
	imp = files.NewImporter(files.NewMemoryStore(), files.WithAllowPrivateNetworks(true))
	if ids, fails := imp.Import(context.Background(), []openlines.File{{URL: srv.URL + "/x"}}); len(ids) != 1 {
		t.Fatalf("with private networks allowed: %v", fails)
	}
}

func TestImportContextCanceled(t *testing.T) {
	t.Parallel()
	srv := fileServer(t)
	imp := files.NewImporter(files.NewMemoryStore(), files.WithAllowPrivateNetworks(true))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ids, fails := imp.Import(ctx, []openlines.File{{URL: srv.URL + "/plain"}, {URL: srv.URL + "/plain"}})
	if len(ids) != 0 || len(fails) != 2 || !errors.Is(fails[0], context.Canceled) {
		t.Fatalf("ids %v failures %v", ids, fails)
	}
}

func TestFailureError(t *testing.T) {
	t.Parallel()
	f := files.Failure{Index: 2, URL: "https://user:pw@cdn.example.com/a/b.png?token=secret", Code: files.CodeStatus, Err: &files.StatusError{StatusCode: 404}}
	msg := f.Error()
	for _, leak := range []string{"secret", "pw"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("%q leaks %q", msg, leak)
		}
	}
	if !strings.Contains(msg, "cdn.example.com/a/b.png") || !strings.Contains(msg, "404") || !strings.Contains(msg, "attachment 2") {
		t.Fatalf("message %q lacks the essentials", msg)
	}
}

func TestImportWithoutStore(t *testing.T) {
	t.Parallel()
	ids, fails := files.NewImporter(nil).Import(context.Background(), []openlines.File{{URL: "https://example.com/a.png"}})
	if len(ids) != 0 || len(fails) != 1 || fails[0].Code != files.CodeStore {
		t.Fatalf("ids %v failures %v", ids, fails)
	}
}
