package files_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
)

// TestSlowMessageLeavesSlots: one message with eight files on a server that never answers holds two of the
// importer's eight slots (WithMaxPerMessage), so another chat's file is imported at once; when the message
// timeout passes on the importer's clock, every file of the slow message fails with
// failed_message_timeout, not Temporary (the message goes on without them), and its slots are free again.
func TestSlowMessageLeavesSlots(t *testing.T) {
	t.Parallel()
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow/") {
			cur := inflight.Add(1)
			defer inflight.Add(-1)
			for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
			}
			<-r.Context().Done() // the client gives up first
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("small"))
	}))
	defer srv.Close()
	fake := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	imp := files.NewImporter(files.NewMemoryStore(), files.WithAllowPrivateNetworks(true), files.WithClock(fake),
		files.WithMessageTimeout(30*time.Second))

	var slow []openlines.File
	for i := range 8 {
		slow = append(slow, openlines.File{URL: fmt.Sprintf("%s/slow/%d", srv.URL, i)})
	}
	type res struct {
		ids   []files.FileID
		fails []files.Failure
	}
	slowDone := make(chan res, 1)
	go func() {
		ids, fails := imp.Import(context.Background(), slow)
		slowDone <- res{ids, fails}
	}()
	eventually.True(t, 10*time.Second, fmt.Sprintf("%d slow downloads to start", files.DefaultMaxPerMessage),
		func() bool { return inflight.Load() >= files.DefaultMaxPerMessage })

	start := time.Now()
	ids, fails := imp.Import(context.Background(), []openlines.File{{URL: srv.URL + "/fast"}})
	if len(ids) != 1 || len(fails) != 0 {
		t.Fatalf("the other chat's file: ids %v, failures %v", ids, fails)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the other chat's file took %v beside the slow message", d)
	}
	if p := peak.Load(); p != files.DefaultMaxPerMessage {
		t.Errorf("the slow message had %d downloads in flight, want %d", p, files.DefaultMaxPerMessage)
	}
	select {
	case r := <-slowDone:
		t.Fatalf("the slow message ended before its timeout: %+v", r)
	default:
	}

	fake.Advance(30 * time.Second)
	var r res
	select {
	case r = <-slowDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the message timeout did not end the slow message")
	}
	if len(r.ids) != 0 || len(r.fails) != len(slow) {
		t.Fatalf("the slow message: ids %v, %d failures", r.ids, len(r.fails))
	}
	for _, f := range r.fails {
		if f.Code != files.CodeMessageTimeout || f.Temporary() || !errors.Is(f, files.ErrMessageTimeout) {
			t.Errorf("file %d: %s %v (temporary %v), want a lasting failed_message_timeout", f.Index, f.Code, f.Err, f.Temporary())
		}
	}
	eventually.True(t, 10*time.Second, "the slow downloads to end after the timeout", func() bool { return inflight.Load() == 0 })
}

// TestMaxPerMessageOption: the message's cap is never above the importer's, and n <= 0 keeps the default.
func TestMaxPerMessageOption(t *testing.T) {
	t.Parallel()
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		<-release
		_, _ = w.Write([]byte("x"))
	}))
	defer srv.Close()
	imp := files.NewImporter(files.NewMemoryStore(), files.WithAllowPrivateNetworks(true), files.WithMaxConcurrent(3),
		files.WithMaxPerMessage(10), files.WithMaxPerMessage(0))
	var atts []openlines.File
	for i := range 6 {
		atts = append(atts, openlines.File{URL: fmt.Sprintf("%s/f%d", srv.URL, i)})
	}
	done := make(chan int, 1)
	go func() { ids, _ := imp.Import(context.Background(), atts); done <- len(ids) }()
	eventually.True(t, 10*time.Second, "3 downloads in flight", func() bool { return inflight.Load() >= 3 })
	close(release)
	if n := <-done; n != 6 || peak.Load() != 3 {
		t.Fatalf("%d imported, peak %d, want 6 and 3", n, peak.Load())
	}
}
