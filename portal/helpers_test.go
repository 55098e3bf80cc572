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
)

// fakeUsers is a UserSyncer in memory: one internal id per (connector, user.id), counting creations.
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
	f.ids[k] = id
	return id, nil
}

func (f *fakeUsers) stats() (creates, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, f.calls
}

// fakeFiles imports every URL as a new id; a URL containing "big" fails with failed_big_file, one containing
// "404" with failed_status.
type fakeFiles struct {
	mu   sync.Mutex
	next portal.FileID
	seen []openlines.File
}

func (f *fakeFiles) Import(_ context.Context, files []openlines.File) ([]portal.FileID, []portal.FileFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []portal.FileID
	var fails []portal.FileFailure
	for i, x := range files {
		f.seen = append(f.seen, x)
		switch {
		case strings.Contains(x.URL, "big"):
			fails = append(fails, portal.FileFailure{Index: i, URL: x.URL, Code: portal.CodeBigFile, Err: errors.New("too big")})
		case strings.Contains(x.URL, "404"):
			fails = append(fails, portal.FileFailure{Index: i, URL: x.URL, Code: "failed_status", Err: errors.New("404")})
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

// confirmation is one setStatusDelivered call.
type confirmation struct {
	Connector, Line string
	Items           []portal.Delivered
}

// fakeConfirmer records setStatusDelivered calls.
type fakeConfirmer struct {
	mu    sync.Mutex
	calls []confirmation
	fail  error
}

func (f *fakeConfirmer) ConfirmDelivered(_ context.Context, connector, line string, items []portal.Delivered) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, confirmation{connector, line, append([]portal.Delivered(nil), items...)})
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

// rig is a portal with fakes behind a real HTTP server on 127.0.0.1.
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
	r.srv = httptest.NewServer(p.Handler())
	t.Cleanup(r.srv.Close)
	r.send = routertest.NewSender(t, creds, r.clock, "botframework.skype", "3")
	return r
}

// post sends a signed packet and returns the answer.
func (r *rig) post(t *testing.T, command string, items any) routertest.Answer {
	t.Helper()
	return routertest.Post(t, r.srv.Client(), r.srv.URL, r.send.Body(t, command, items))
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
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, s)
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
	p.OnReceivedTypingStart(msg)
	p.OnReceivedStatusDelivery(func(_ context.Context, s portal.StatusDelivery) error {
		l.add(fmt.Sprintf("delivery %s/%s im=%s/%s ext=%s chat=%s", s.Connector, s.Line, s.IM.ChatID, s.IM.MessageID, s.Message.ID, s.Chat.ID))
		return nil
	})
	p.OnReceivedStatusReading(func(_ context.Context, s portal.StatusReading) error {
		l.add(fmt.Sprintf("reading %s/%s chat=%s message=%s", s.Connector, s.Line, s.Chat.ID, s.Message.ID))
		return nil
	})
	p.OnReceivedError(func(_ context.Context, e portal.ReceivedError) error {
		l.add(fmt.Sprintf("error %s/%s chat=%s message=%s %s: %s", e.Connector, e.Line, e.ChatID, e.MessageID, e.Code, e.MessageConnector))
		return nil
	})
	p.OnReceivedStatusBlock(func(_ context.Context, s portal.StatusBlock) error {
		l.add(fmt.Sprintf("block %s/%s chat=%s user=%s", s.Connector, s.Line, s.Chat.ID, s.User.ID))
		return nil
	})
	p.OnUpdateStatusConnector(func(_ context.Context, s portal.ConnectorStatus) error {
		l.add(fmt.Sprintf("status %s/%s active=%v connection=%v register=%v error=%v", s.Connector, s.Line, s.Active, s.Connection, s.Register, s.Error))
		return nil
	})
	p.OnChatNameChanged(func(_ context.Context, c portal.ChatName) error {
		l.add(fmt.Sprintf("chatname %s/%s chat=%s name=%q", c.Connector, c.Line, c.ChatID, c.Name))
		return nil
	})
}

// countRows counts the rows of a table.
func countRows(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
