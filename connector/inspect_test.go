package connector

import (
	"context"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

func TestHardenedPortalEndToEnd(t *testing.T) {
	creds := wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{"new-secret", "old-secret"}}
	p := newFakePortalCreds(t, "key-hmac", creds, nil)
	// The server signs with its first secret; the portal accepts either (rotation).
	s := newTestServer(t, nil, Config{Sites: []Site{{LicenceKey: "key-hmac", Mode: wire.HMACSHA256, Secrets: []string{"old-secret", "new-secret"}}}})
	p.setServer(s.PortalEndpoint())
	hook := p.connect("echo", "2", nil)
	p.mustCall("testConnect", "echo", "2")
	postWebhook(t, hook, echoItems("c", 0, 20))
	eventually.True(t, 5*time.Second, "20 events", func() bool { return len(p.Events()) == 20 })
	eventually.True(t, 5*time.Second, "an empty queue", func() bool { return queueLen(t, s) == 0 })
}

func TestQueueInspection(t *testing.T) {
	a := newFakePortal(t, "key-inspect-a", nil)
	b := newFakePortal(t, "key-inspect-b", nil)
	dsn := testdb.SQLiteDSN(t)
	s := newTestServer(t, a, Config{DSN: dsn, Sites: []Site{b.site()}, NoDispatch: true})
	b.setServer(s.PortalEndpoint())
	ha := a.connect("echo", "1", nil)
	hb := b.connect("echo", "7", nil)
	postWebhook(t, ha, echoItems("x", 0, 5))
	postWebhook(t, hb, echoItems("y", 100, 3))
	ctx := context.Background()
	st, err := s.QueueStats(ctx)
	if err != nil || st.Pending != 8 || len(st.Lines) != 2 {
		t.Fatalf("stats %+v %v", st, err)
	}
	for _, l := range st.Lines {
		if l.State != "ready" || (l.Line == "1" && l.Pending != 5) || (l.Line == "7" && l.Pending != 3) {
			t.Errorf("line %+v", l)
		}
	}
	for _, tc := range []struct {
		name  string
		f     QueueFilter
		want  int
		first string
	}{
		{"all", QueueFilter{}, 8, "0"},
		{"by domain", QueueFilter{Site: b.URL()}, 3, "100"},
		{"by licence", QueueFilter{Site: wire.Licence("key-inspect-a")}, 5, "0"},
		{"by line", QueueFilter{Line: "7"}, 3, "100"},
		{"limit", QueueFilter{Limit: 2}, 2, "0"},
		{"unknown site", QueueFilter{Site: "https://nope"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := s.QueueList(ctx, tc.f)
			if err != nil || len(items) != tc.want {
				t.Fatalf("%d items, %v; want %d", len(items), err, tc.want)
			}
			if tc.want > 0 && (items[0].MessageID != tc.first || items[0].Command != openlines.CommandReceivingMessage || items[0].Connector != "echo") {
				t.Errorf("first item %+v", items[0])
			}
			if tc.want > 0 && scalarString(path(items[0].Item, "message", "id")) != tc.first {
				t.Errorf("item body %v", items[0].Item)
			}
		})
	}
	// Paging with AfterID walks the whole queue in order.
	var seen []string
	for after := int64(0); ; {
		page, err := s.QueueList(ctx, QueueFilter{AfterID: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, it := range page {
			seen = append(seen, it.MessageID)
		}
		after = page[len(page)-1].ID
	}
	if len(seen) != 8 || seen[0] != "0" || seen[5] != "100" {
		t.Errorf("paged %v", seen)
	}
	// A store opened on the same database (the CLI's way) sees the same queue.
	other, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if st2, err := other.QueueStats(ctx); err != nil || st2.Pending != 8 || len(st2.Lines) != 2 {
		t.Errorf("stats through Open: %+v %v", st2, err)
	}
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open accepted an empty DSN")
	}
	if dead, err := s.DeadLetters(ctx, QueueFilter{}); err != nil || len(dead) != 0 {
		t.Errorf("dead letters %v %v", dead, err)
	}
}
