package portal_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

const (
	licenceKey = "DEMO-LICENCE-KEY-0001"
	secret     = "whsec-demo-0123456789abcdef"
	vectorsDir = "../wire/testdata/vectors/packets.json"
)

var (
	md5Creds  = wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	hmacCreds = wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: licenceKey, Secrets: []string{secret}}
	epoch     = time.Unix(1732412345, 0)
	openLine  = openlines.LineStatus{Active: true, Connection: true, Register: true}
)

// fakeUsers is a UserSyncer in memory: one internal id per (connector, user.id), counting creations: user
// ext-N is uN, any other the number of its creation.
type fakeUsers struct {
	mu      sync.Mutex
	ids     map[string]string
	creates int
	calls   int
	fail    error
}

func (f *fakeUsers) SyncUser(_ context.Context, connector string, u openlines.User) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return "", f.fail
	}
	if f.ids == nil {
		f.ids = map[string]string{}
	}
	k := connector + "|" + u.ID
	if id, ok := f.ids[k]; ok {
		return id, nil
	}
	f.creates++
	id := fmt.Sprintf("u%d", f.creates)
	if n, ok := strings.CutPrefix(u.ID, "ext-"); ok {
		id = "u" + n // the same id whichever chat of a packet runs first
	}
	f.ids[k] = id
	return id, nil
}

func (f *fakeUsers) LookupUser(_ context.Context, connector, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[connector+"|"+id], nil
}

func (f *fakeUsers) stats() (creates, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, f.calls
}

func (f *fakeUsers) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// fakeFiles imports every URL as a new id. A URL containing "big" fails with failed_big_file, one containing
// "404" with failed_status (both for good); one containing "flaky" fails with failed_download, which may
// pass, while down is set.
type fakeFiles struct {
	mu   sync.Mutex
	next portal.FileID
	seen []openlines.File
	down bool
}

func (f *fakeFiles) Import(_ context.Context, fs []openlines.File) ([]portal.FileID, []portal.FileFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []portal.FileID
	var fails []portal.FileFailure
	for i, x := range fs {
		f.seen = append(f.seen, x)
		switch {
		case strings.Contains(x.URL, "big"):
			fails = append(fails, portal.FileFailure{Index: i, URL: x.URL, Code: files.CodeBigFile, Err: errors.New("too big")})
		case strings.Contains(x.URL, "404"):
			fails = append(fails, portal.FileFailure{Index: i, URL: x.URL, Code: files.CodeStatus, Err: errors.New("404")})
		case strings.Contains(x.URL, "flaky") && f.down:
			fails = append(fails, portal.FileFailure{Index: i, URL: x.URL, Code: files.CodeDownload, Temporary: true, Err: errors.New("connection reset")})
		default:
			f.next++
			ids = append(ids, 100+f.next)
		}
	}
	return ids, fails
}

func (f *fakeFiles) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *fakeFiles) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// confirmation is one setStatusDelivered call.
type confirmation struct {
	Connector, Line string
	Items           []openlines.StatusItem
}

// fakeConfirmer records setStatusDelivered calls.
type fakeConfirmer struct {
	mu    sync.Mutex
	calls []confirmation
	fail  error
}

func (f *fakeConfirmer) ConfirmDelivered(_ context.Context, connector, line string, items []openlines.StatusItem) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, confirmation{connector, line, append([]openlines.StatusItem(nil), items...)})
	return f.fail
}

func (f *fakeConfirmer) all() []confirmation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]confirmation(nil), f.calls...)
}

func (f *fakeConfirmer) setFail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// delivered is the setStatusDelivered item of a chat and message id.
func delivered(chat, message string) openlines.StatusItem {
	return openlines.StatusItem{Chat: openlines.ChatRef{ID: chat}, Message: openlines.MessageRef{ID: message}}
}

// rig is a portal with fakes behind a real HTTP server on 127.0.0.1, its lines 3 and 4 of botframework
// connected (unless closedLines).
type rig struct {
	p       *portal.Portal
	srv     *httptest.Server
	db      *sqldb.DB
	users   *fakeUsers
	files   *fakeFiles
	confirm *fakeConfirmer
	clock   *clock.Fake
	send    *routertest.Sender
	creds   wire.Credentials
}

type rigOption func(*portal.Config)

// legacy makes the rig's portal a legacy one.
func legacy(c *portal.Config) { c.Profile = wire.Legacy }

// retrySchedule sets the rig's retry schedule.
func retrySchedule(d ...time.Duration) rigOption {
	return func(c *portal.Config) { c.Retry.Schedule = d }
}

// closedLines: the rig connects no line.
const closedLines = "closed"

func newRig(t *testing.T, creds wire.Credentials, db *sqldb.DB, opts ...rigOption) *rig {
	t.Helper()
	if db == nil {
		db = testdb.SQLite(t)
	}
	r := &rig{db: db, users: &fakeUsers{}, files: &fakeFiles{}, confirm: &fakeConfirmer{}, clock: clock.NewFake(epoch), creds: creds}
	cfg := portal.Config{
		Credentials: creds,
		DB:          db,
		Clock:       r.clock,
		Users:       r.users,
		Files:       r.files,
		Confirmer:   r.confirm,
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := portal.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	r.p = p
	if cfg.Domain != closedLines {
		for _, line := range []string{"3", "4"} {
			if err := p.SetLineStatus(context.Background(), "botframework", line, openLine); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.srv = httptest.NewServer(p.Handler())
	t.Cleanup(r.srv.Close)
	r.send = routertest.NewSender(t, creds, r.clock, "botframework.skype", "3")
	if cfg.Profile == wire.Legacy {
		r.send.Profile = wire.Legacy
	}
	return r
}

// closed is the rig option for a portal with no line connected.
func closed(c *portal.Config) { c.Domain = closedLines }

// post sends a signed packet and returns the answer.
func (r *rig) post(t *testing.T, command string, items any) routertest.Answer {
	t.Helper()
	return routertest.Post(t, r.srv.Client(), r.srv.URL, r.send.Body(t, command, items))
}

// postOK sends a packet and fails t unless the answer is OK with DATA [].
func (r *rig) postOK(t *testing.T, command string, items any) {
	t.Helper()
	a := r.post(t, command, items)
	if a.Status != 200 || a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
		t.Fatalf("%s: answer %d %s", command, a.Status, a.Body)
	}
}

// msgItem builds a receivingMessage item.
func msgItem(user, chat, id, text string, kv ...any) *wire.Map {
	m := wire.NewMap(
		"user", wire.NewMap("id", user, "name", "Ann Lee"),
		"message", wire.NewMap("id", id, "date", 1700000000, "text", text),
		"chat", wire.NewMap("id", chat),
	)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}

// eventLog records every event of a portal.
type eventLog struct {
	mu     sync.Mutex
	events []string
	msgs   []portal.Message
	notify chan string // when set, gets every event too
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	n := l.notify
	l.mu.Unlock()
	if n != nil {
		n <- s
	}
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func (l *eventLog) messages() []portal.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]portal.Message(nil), l.msgs...)
}

// subscribeAll records every event of p in l.
func subscribeAll(p *portal.Portal, l *eventLog) {
	msg := func(ctx context.Context, m portal.Message) error {
		l.mu.Lock()
		l.msgs = append(l.msgs, m)
		l.mu.Unlock()
		l.add(fmt.Sprintf("%s %s/%s %s/%s user=%s text=%q", m.Type, m.Connector, m.Line, m.Chat.ID, m.MessageID, m.UserID, m.Text))
		return nil
	}
	p.OnReceivedMessage(msg)
	p.OnReceivedMessageUpdate(msg)
	p.OnReceivedMessageDel(msg)
	p.OnReceivedPost(msg)
	p.OnReceivedPostUpdate(msg)
	p.OnReceivedStatusWrites(msg)
	p.OnReceivedCommandStart(msg)
	p.OnReceivedStatusDelivery(func(_ context.Context, s portal.StatusDelivery) error {
		l.add(fmt.Sprintf("delivery %s/%s im=%s/%s ext=%v chat=%s", s.Connector, s.Line, s.IM.ChatID, s.IM.MessageID, s.ExternalIDs, s.Chat.ID))
		return nil
	})
	p.OnReceivedStatusReading(func(_ context.Context, s portal.StatusReading) error {
		l.add(fmt.Sprintf("reading %s/%s chat=%s message=%s", s.Connector, s.Line, s.Chat.ID, s.Message.FirstID()))
		return nil
	})
	p.OnReceivedError(func(_ context.Context, e portal.ReceivedError) error {
		l.add(fmt.Sprintf("error %s/%s chat=%s message=%s user=%s %s undelivered=%s reconnect=%v notice=%q", e.Connector, e.Line,
			e.ChatID, e.MessageID, e.User, e.Code, e.Undelivered, e.Reconnect, e.Notice))
		return nil
	})
	p.OnReceivedStatusBlock(func(_ context.Context, s portal.StatusBlock) error {
		l.add(fmt.Sprintf("block %s/%s chat=%s user=%s/%s blocked=%v", s.Connector, s.Line, s.Chat.ID, s.User.ID, s.UserID, s.Blocked))
		return nil
	})
	status := func(kind string) func(context.Context, portal.StatusConnector) error {
		return func(_ context.Context, s portal.StatusConnector) error {
			f := s.Fields()
			l.add(fmt.Sprintf("status %s %s/%s ACTIVE=%s CONNECTION=%s REGISTER=%s ERROR=%s", kind, s.Connector, s.Line,
				f.Active, f.Connection, f.Register, f.Error))
			return nil
		}
	}
	p.OnAddStatusConnector(status("add"))
	p.OnUpdateStatusConnector(status("update"))
	p.OnDeleteStatusConnector(status("delete"))
	p.OnNewChatName(func(_ context.Context, c portal.ChatName) error {
		l.add(fmt.Sprintf("chatname %s/%s chat=%s user=%s/%s name=%q", c.Connector, c.Line, c.ChatID, c.UserID, c.User, c.Name))
		return nil
	})
}

// countRows counts the rows of a table.
func countRows(t *testing.T, db *sqldb.DB, table string, where ...string) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM ` + table
	if len(where) > 0 {
		q += " WHERE " + where[0]
	}
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wait returns the next value of ch, failing t after a while (a goroutine of the portal is expected to send
// it).
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// retryAt moves the fake clock by d and runs the items then due, in the test's goroutine (the rig's own
// retrier is stopped by manualRetries).
func (r *rig) retryAt(t *testing.T, d time.Duration) {
	t.Helper()
	r.clock.Advance(d)
	portal.RunDue(r.p)
}

// manualRetries stops the rig's retrier: the test runs retries with retryAt.
func (r *rig) manualRetries() *rig {
	portal.StopRetries(r.p)
	return r
}

// itemStates counts the rig's stored items by state: pending, done, rejected, dead.
func (r *rig) itemStates(t *testing.T) [4]int {
	t.Helper()
	var out [4]int
	for s := range out {
		out[s] = countRows(t, r.db, "olctl_portal_items", fmt.Sprintf("state = %d", s))
	}
	return out
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
