package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// holdFirst holds the first receivingMessage packet before the portal sees it, until release is closed, so
// that the messages sent meanwhile go out together in the next packet.
type holdFirst struct {
	once    sync.Once
	held    chan struct{} // closed when the first packet is held
	release chan struct{}
}

func newHoldFirst() *holdFirst {
	return &holdFirst{held: make(chan struct{}), release: make(chan struct{})}
}

func (hf *holdFirst) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if vals, _ := url.ParseQuery(string(body)); vals.Get("BX_COMMAND") == openlines.CommandReceivingMessage {
			first := false
			hf.once.Do(func() { first = true })
			if first {
				close(hf.held)
				select {
				case <-hf.release:
				case <-r.Context().Done():
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// TestDownloadRetriedEndToEnd: a packet of three messages, one of which has a file whose download fails for
// now (the Bot Framework service answers 503 once), is answered OK:true; the other two fire at once and the
// server's queue empties (current: by the answer; legacy: the portal confirms all three, the failed one being
// kept for its retry). A minute later on the portal's clock its retry downloads the file and the message
// fires, exactly once. On each database, in both generations.
func TestDownloadRetriedEndToEnd(t *testing.T) {
	for _, db := range dbKinds() {
		for _, p := range profiles() {
			t.Run(db.name+"/"+p.String(), func(t *testing.T) {
				testDownloadRetried(t, systemConfig{mode: modes()[0], profile: p, serverDB: db.open(t), portalDB: db.open(t)})
			})
		}
	}
}

func testDownloadRetried(t *testing.T, cfg systemConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clk := clock.NewFake(time.Now().Truncate(time.Second))
	hold := newHoldFirst()
	cfg.clock, cfg.bfOptions, cfg.portalWrap = clk, []bftest.Option{bftest.WithClock(clk)}, hold.wrap
	s := startSystem(t, cfg)
	s.connect(ctx, t, lineID)
	const conv = "conv-retry"
	send := func(text string, att ...schema.Attachment) string {
		t.Helper()
		id, err := s.bf.SendUserMessage(ctx, s.webhook, conv, "29:retry-user", text, att...)
		if err != nil {
			t.Fatalf("SendUserMessage(%q): %v", text, err)
		}
		return id
	}

	first := send("first")
	select {
	case <-hold.held:
	case <-ctx.Done():
		t.Fatal("the first packet never reached the portal")
	}
	photo := s.bf.AddAttachment("image/png", []byte("\x89PNG\r\n\x1a\na picture pasted into the chat"))
	s.bf.Fail(bftest.Failure{Endpoint: bftest.EndpointAttachments, Status: http.StatusServiceUnavailable, Times: 1})
	before := send("before")
	withFile := send("with a file", schema.Attachment{ContentType: "image/png", ContentURL: photo, Name: "photo.png"})
	after := send("after")
	close(hold.release)

	s.events.wait(ctx, t, "the messages without a file", func() bool {
		n := 0
		for _, m := range s.events.messages {
			if m.MessageID == first || m.MessageID == before || m.MessageID == after {
				n++
			}
		}
		return n == 3
	})
	carries := func(p packet) bool { return strings.Contains(string(p.data), withFile) }
	var three packet
	for _, p := range s.pushes.wait(ctx, t, "the packet of three", openlines.CommandReceivingMessage, func(l []packet) bool {
		for _, p := range l {
			if carries(p) {
				return true
			}
		}
		return false
	}) {
		if carries(p) {
			three = p
		}
	}
	if !three.ok() || !strings.Contains(string(three.data), before) || !strings.Contains(string(three.data), after) {
		t.Fatalf("the packet with the file: answer %s, DATA %s; want OK:true for the three messages", three.answer, three.data)
	}
	if _, ok := s.events.message(withFile); ok {
		t.Fatal("the message fired although its file failed")
	}
	if n := s.bf.Count(bftest.EndpointAttachments); n != 1 {
		t.Fatalf("%d downloads of the file, want the one that failed", n)
	}
	s.drained(ctx, t)
	s.checkAcknowledgement(ctx, t, conv+" "+first, conv+" "+before, conv+" "+withFile, conv+" "+after)
	if st, err := s.portal.ItemStats(ctx); err != nil || st.Pending != 1 || st.Failures != 1 || st.Fired != 3 {
		t.Fatalf("portal items before the retry: %+v %v, want 1 pending after 1 failure, 3 fired", st, err)
	}

	// The portal retries a minute later (the first delay of its schedule), on its clock.
	clk.Advance(time.Minute)
	s.events.wait(ctx, t, "the retried message", func() bool {
		for _, m := range s.events.messages {
			if m.MessageID == withFile {
				return true
			}
		}
		return false
	})
	m, _ := s.events.message(withFile)
	if m.Attempt != 2 || len(m.Files) != 1 || len(m.FileFailures) != 0 || m.Text != "with a file" {
		t.Errorf("retried message: attempt %d, files %v, failures %+v, text %q; want attempt 2 with the file", m.Attempt, m.Files, m.FileFailures, m.Text)
	}
	if n := s.bf.Count(bftest.EndpointAttachments); n != 2 {
		t.Errorf("%d downloads of the file, want 2", n)
	}
	fired := s.events.fired()
	if len(fired) != 4 {
		t.Errorf("fired %v, want 4 messages", fired)
	}
	for id, n := range fired {
		if n != 1 {
			t.Errorf("message %q fired %d times", id, n)
		}
	}
	n := 0
	for _, p := range s.pushes.list(openlines.CommandReceivingMessage) {
		if carries(p) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the server pushed the message %d times, want once: the portal retried it alone", n)
	}
	// The retry's result is recorded right after its event fired.
	eventually.True(t, 30*time.Second, "the portal's items to show none pending, 4 fired, 1 retry", func() bool {
		st, err := s.portal.ItemStats(ctx)
		if err != nil {
			t.Fatalf("portal items after the retry: %v", err)
		}
		return st.Pending == 0 && st.Dead == 0 && st.Fired == 4 && st.Retries == 1
	})
	s.drained(ctx, t)
	if s.profile == wire.Legacy && s.calls.count(openlines.MethodSetStatusDelivered) == 0 {
		t.Error("the legacy portal confirmed nothing")
	}
}
