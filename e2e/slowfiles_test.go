package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// Bounds of TestSlowFilesKeepChatsFlowing.
const (
	// otherChatBound is how soon another chat's message must fire after its webhook was posted.
	otherChatBound = time.Second
	// slowFileCount is the files of chat A's first message: slowFileCount-1 dribbled, the last one
	// answered 404 once released.
	slowFileCount = 8
)

// TestSlowFilesKeepChatsFlowing proves issue 21 item 7 over the whole chain on one line (bftest, the
// connector server and its SQLite queue, a portal on SQLite with the files importer guarding addresses but
// allowing loopback): chat A sends a message with eight files that the file server holds (seven dribble a
// byte at a time, the eighth answers 404 when released); right after, chat B sends one small file, chat C a
// text, and chat A a second text. B and C fire within otherChatBound of their webhook, B's file stored,
// while A's first message holds its two download slots; A's second message waits behind A's first.
//
//   - released: the file server lets the files go; A's first message fires with seven files and the 404
//     reported as a failure that does not pass, then A's second.
//   - deadline: the importer's per-message deadline (files.DefaultMessageTimeout, on a fake clock of the
//     importer's own) passes first; every file of A's first message fails with a timeout, which does not
//     pass, so A's first message fires at once without its files (each reported), then
//     A's second.
//
// Either way chat A's messages fire in their order, each once, the connector's queue ends empty without dead letters and the portal
// holds no item pending or dead.
func TestSlowFilesKeepChatsFlowing(t *testing.T) {
	cases := []struct {
		name     string
		deadline bool // the importer's per-message deadline passes before the files are released
	}{{"released", false}, {"deadline", true}}
	for _, tc := range cases {
		for _, p := range profiles() {
			t.Run(tc.name+"/"+p.String(), func(t *testing.T) { testSlowFiles(t, p, tc.deadline) })
		}
	}
}

// slowRun is one run of TestSlowFilesKeepChatsFlowing: the system, the file server, the events with when
// they fired, and the four messages (chat A's two, B's, C's) with when B's and C's were sent.
type slowRun struct {
	s             *system
	fs            *slowFileServer
	importerClock *clock.Fake
	portalDB      *sqldb.DB
	fired         *arrivals
	a1, a2, b, c  string
	sentB, sentC  time.Time
}

func testSlowFiles(t *testing.T, profile wire.Profile, deadline bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &slowRun{fs: newSlowFileServer(t), importerClock: clock.NewFake(time.Now()), portalDB: testdb.SQLite(t), fired: newArrivals()}
	r.s = startSystem(t, systemConfig{mode: modes()[0], profile: profile, serverDB: testdb.SQLite(t), portalDB: r.portalDB,
		fileOptions: []files.Option{files.WithClock(r.importerClock)},
		portalRetry: portal.RetryPolicy{Schedule: []time.Duration{100 * time.Millisecond, time.Second}}})
	r.s.portal.OnReceivedMessage(r.fired.record)
	r.s.connect(ctx, t, lineID)

	r.sendAll(ctx, t)
	r.othersFlow(ctx, t)
	r.chatAHeld(ctx, t)
	bothA := func() bool { return r.fired.has(r.a1) && r.fired.has(r.a2) }
	if deadline {
		r.importerClock.Advance(files.DefaultMessageTimeout)
		eventually.True(t, 10*time.Second, "both of chat A's messages after the first one's deadline", bothA)
		checkTimedOutMessage(t, r.fired.message(r.a1))
		r.fs.release()
	} else {
		released := time.Now()
		r.fs.release()
		eventually.True(t, 10*time.Second, "both of chat A's messages to fire", bothA)
		t.Logf("chat A's first message fired %v after its files were released", r.fired.at(r.a1).Sub(released).Round(time.Millisecond))
		checkSlowMessage(t, r.fired.message(r.a1))
	}
	t.Logf("the events in order: %v", r.fired.order(map[string]string{r.a1: "A1", r.a2: "A2", r.b: "B", r.c: "C"}))
	if got, want := r.fired.chat("chat-a"), []string{r.a1, r.a2}; !slices.Equal(got, want) {
		t.Errorf("chat A fired %v, want %v", got, want)
	}
	r.nothingLeft(ctx, t)
}

// sendAll sends chat A's message with the held files, then right after B's small file, C's text and A's
// second message.
func (r *slowRun) sendAll(ctx context.Context, t *testing.T) {
	t.Helper()
	send := func(conv, text string, atts ...schema.Attachment) (string, time.Time) {
		t.Helper()
		at := time.Now()
		id, err := r.s.bf.SendUserMessage(ctx, r.s.webhook, conv, "29:user-"+conv, text, atts...)
		if err != nil {
			t.Fatalf("SendUserMessage(%s, %q): %v", conv, text, err)
		}
		return id, at
	}
	var slow []schema.Attachment
	for i := range slowFileCount {
		path := fmt.Sprintf("/slow/%d", i)
		if i == slowFileCount-1 {
			path = fmt.Sprintf("/gone/%d", i)
		}
		slow = append(slow, schema.Attachment{ContentType: "text/plain", ContentURL: r.fs.URL + path, Name: fmt.Sprintf("a%d.txt", i)})
	}
	r.a1, _ = send("chat-a", "eight slow files", slow...)
	r.b, r.sentB = send("chat-b", "one small file",
		schema.Attachment{ContentType: "text/plain", ContentURL: r.fs.URL + "/small.txt", Name: "small.txt"})
	r.c, r.sentC = send("chat-c", "plain text")
	r.a2, _ = send("chat-a", "second message")
}

// othersFlow waits for B's and C's events and checks that each fired within otherChatBound of being sent,
// B's file stored.
func (r *slowRun) othersFlow(ctx context.Context, t *testing.T) {
	t.Helper()
	eventually.True(t, 10*time.Second, "chat B's and chat C's messages to fire", func() bool {
		return r.fired.has(r.b) && r.fired.has(r.c)
	})
	latB, latC := r.fired.at(r.b).Sub(r.sentB), r.fired.at(r.c).Sub(r.sentC)
	t.Logf("beside a message with %d slow files: chat B's file fired %v after it was sent, chat C's text %v",
		slowFileCount, latB.Round(time.Millisecond), latC.Round(time.Millisecond))
	if latB > otherChatBound || latC > otherChatBound {
		t.Errorf("chat B took %v and chat C %v, want each within %v", latB, latC, otherChatBound)
	}
	checkSmallFile(ctx, t, r.portalDB, r.fired.message(r.b))
	if m := r.fired.message(r.c); m.Text != "plain text" || len(m.Files) != 0 {
		t.Errorf("chat C: text %q, files %v", m.Text, m.Files)
	}
}

// chatAHeld checks that A's second message is at the portal, its packet answered, and waits behind A's
// first, whose files hold the per-message cap of downloads.
func (r *slowRun) chatAHeld(ctx context.Context, t *testing.T) {
	t.Helper()
	r.s.pushes.wait(ctx, t, "the answer to the packet of A's second message", openlines.CommandReceivingMessage,
		func(l []packet) bool {
			for _, p := range l {
				if strings.Contains(string(p.data), r.a2) && p.ok() {
					return true
				}
			}
			return false
		})
	eventually.True(t, 10*time.Second, "two of A's downloads to be held", func() bool {
		return r.fs.started.Load() >= files.DefaultMaxPerMessage
	})
	if r.fired.has(r.a1) || r.fired.has(r.a2) {
		t.Fatalf("chat A fired %v while its first message's files were held", r.fired.order(nil))
	}
	if n := r.fs.started.Load(); n != files.DefaultMaxPerMessage {
		t.Errorf("%d of A's downloads started, want %d (the per-message cap)", n, files.DefaultMaxPerMessage)
	}
}

// nothingLeft checks that each message fired once, the connector's queue is empty without dead letters,
// the legacy portal confirmed the four, and the portal holds no item pending or dead.
func (r *slowRun) nothingLeft(ctx context.Context, t *testing.T) {
	t.Helper()
	if got := r.fired.counts(); len(got) != 4 || got[r.a1] != 1 || got[r.a2] != 1 || got[r.b] != 1 || got[r.c] != 1 {
		t.Errorf("fired %v, want each of the 4 messages once", got)
	}
	r.s.drained(ctx, t)
	r.s.checkAcknowledgement(ctx, t, "chat-a "+r.a1, "chat-b "+r.b, "chat-c "+r.c, "chat-a "+r.a2)
	eventually.True(t, 10*time.Second, "the portal's items to show none pending, 4 fired", func() bool {
		st, err := r.s.portal.ItemStats(ctx)
		if err != nil {
			t.Fatalf("ItemStats: %v", err)
		}
		return st.Pending == 0 && st.Dead == 0 && st.Fired == 4
	})
	if dl, err := r.s.portal.DeadLetters(ctx, 0, 0); err != nil || len(dl) != 0 {
		t.Errorf("portal dead letters %+v %v, want none", dl, err)
	}
}

// checkSmallFile checks chat B's event: its one file imported, and the portal's file store holding the
// bytes served.
func checkSmallFile(ctx context.Context, t *testing.T, db *sqldb.DB, m portal.Message) {
	t.Helper()
	if len(m.Files) != 1 || len(m.FileFailures) != 0 {
		t.Fatalf("chat B: files %v, failures %+v, want its one file", m.Files, m.FileFailures)
	}
	store, err := files.NewDiskStore(ctx, t.TempDir(), db)
	if err != nil {
		t.Fatalf("NewDiskStore: %v", err)
	}
	meta, err := store.Stat(ctx, files.FileID(m.Files[0]))
	sum := sha256.Sum256([]byte(smallFile))
	if err != nil || meta.Size != int64(len(smallFile)) || meta.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("chat B's file in the store: %+v %v, want the %d bytes served", meta, err, len(smallFile))
	}
}

// checkSlowMessage checks the event of chat A's first message when its files were let go: the dribbled
// files imported in order, the 404 reported as a failure that does not pass, on the first attempt.
func checkSlowMessage(t *testing.T, m portal.Message) {
	t.Helper()
	if m.Attempt != 1 || len(m.Files) != slowFileCount-1 || len(m.FileFailures) != 1 {
		t.Fatalf("A's first message: attempt %d, %d files, failures %+v; want attempt 1, %d files and 1 failure",
			m.Attempt, len(m.Files), m.FileFailures, slowFileCount-1)
	}
	if f := m.FileFailures[0]; f.Index != slowFileCount-1 || f.Code != files.CodeStatus || f.Temporary {
		t.Errorf("A's failed file: %+v, want index %d, %s, not temporary", f, slowFileCount-1, files.CodeStatus)
	}
}

// checkTimedOutMessage checks the event of chat A's first message when the message's deadline passed: on
// its first attempt, no file, each of the eight reported as a timeout, which does not pass (failed_timeout
// for the two downloading, whose own 2-minute bound ends on the same tick, or failed_message_timeout).
func checkTimedOutMessage(t *testing.T, m portal.Message) {
	t.Helper()
	if m.Attempt != 1 || len(m.Files) != 0 || len(m.FileFailures) != slowFileCount {
		t.Fatalf("A's first message: attempt %d, %d files, failures %+v; want attempt 1, no file and %d failures",
			m.Attempt, len(m.Files), m.FileFailures, slowFileCount)
	}
	for _, f := range m.FileFailures {
		if (f.Code != files.CodeMessageTimeout && f.Code != files.CodeTimeout) || f.Temporary {
			t.Errorf("A's file %d: %+v, want a timeout, not temporary", f.Index, f)
		}
	}
}

const smallFile = "a small file, served at once"

// slowFileServer serves the test's files on loopback: /small.txt at once; /slow/N dribbles a byte every
// 20 ms until released, then ends; /gone/N holds its answer until released, then answers 404. A held
// request also ends when its client gives up.
type slowFileServer struct {
	URL      string
	started  atomic.Int32 // held requests begun
	released chan struct{}
	once     sync.Once
}

func newSlowFileServer(t *testing.T) *slowFileServer {
	t.Helper()
	fs := &slowFileServer{released: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(fs.release) // before Close, which waits for the held requests
	fs.URL = srv.URL
	return fs
}

// release lets every held request, and every later one, finish.
func (fs *slowFileServer) release() { fs.once.Do(func() { close(fs.released) }) }

func (fs *slowFileServer) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/slow/"):
		fs.started.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		flusher, _ := w.(http.Flusher)
		for {
			_, _ = io.WriteString(w, ".")
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-tick.C:
			case <-fs.released:
				_, _ = io.WriteString(w, " the end of "+r.URL.Path)
				return
			case <-r.Context().Done():
				return
			}
		}
	case strings.HasPrefix(r.URL.Path, "/gone/"):
		fs.started.Add(1)
		select {
		case <-fs.released:
			http.NotFound(w, r)
		case <-r.Context().Done():
		}
	default:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, smallFile)
	}
}

// arrivals records the message events of a portal with when each fired, for latencies and the order per
// chat.
type arrivals struct {
	mu   sync.Mutex
	list []arrival
}

type arrival struct {
	at time.Time
	m  portal.Message
}

func newArrivals() *arrivals { return &arrivals{} }

func (a *arrivals) record(_ context.Context, m portal.Message) error {
	now := time.Now()
	a.mu.Lock()
	a.list = append(a.list, arrival{now, m})
	a.mu.Unlock()
	return nil
}

func (a *arrivals) first(id string) (arrival, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.list {
		if x.m.MessageID == id {
			return x, true
		}
	}
	return arrival{}, false
}

func (a *arrivals) has(id string) bool { _, ok := a.first(id); return ok }

func (a *arrivals) at(id string) time.Time { x, _ := a.first(id); return x.at }

func (a *arrivals) message(id string) portal.Message { x, _ := a.first(id); return x.m }

// chat returns the message ids the chat fired, in the order they fired.
func (a *arrivals) chat(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, x := range a.list {
		if x.m.Chat.ID == id {
			out = append(out, x.m.MessageID)
		}
	}
	return out
}

// order returns the message id of every event, or its name in names, in the order they fired.
func (a *arrivals) order(names map[string]string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, x := range a.list {
		if n, ok := names[x.m.MessageID]; ok {
			out = append(out, n)
			continue
		}
		out = append(out, x.m.MessageID)
	}
	return out
}

// counts returns how many times each message id fired.
func (a *arrivals) counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := map[string]int{}
	for _, x := range a.list {
		n[x.m.MessageID]++
	}
	return n
}
