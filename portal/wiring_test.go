package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// TestConcurrentPacketsForOneNewUser sends 200 packets at once, each with a message of the same new external
// user, through the real users package on both databases, to two portals sharing the database (as two
// processes would): exactly one internal user is created.
func TestConcurrentPacketsForOneNewUser(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		confirm := &fakeConfirmer{}
		var mu sync.Mutex
		ids := map[string]int{}
		var urls []string
		for range 2 {
			p, err := portal.New(context.Background(), portal.Config{
				Credentials: md5Creds, DB: db, Files: &fakeFiles{}, Confirmer: confirm, Profile: wire.Legacy,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.SetLineStatus(context.Background(), "botframework", "3", openLine); err != nil {
				t.Fatal(err)
			}
			p.OnReceivedMessage(func(_ context.Context, m portal.Message) error {
				mu.Lock()
				ids[m.UserID]++
				mu.Unlock()
				return nil
			})
			srv := httptest.NewServer(p.Handler())
			defer srv.Close()
			urls = append(urls, srv.URL)
		}
		send := routertest.NewSender(t, md5Creds, nil, "botframework.skype", "3")
		const n = 200
		bodies := make([]string, n)
		for i := range bodies {
			bodies[i] = send.Body(t, openlines.CommandReceivingMessage, []any{
				msgItem("29:new-user", "conv-1", fmt.Sprintf("m%d", i), "hello", "user", wire.NewMap("id", "29:new-user", "name", "Ann Lee", "email", "ann@example.com")),
			})
		}
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		start := make(chan struct{})
		answers := make([]routertest.Answer, n)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i] = routertest.Post(t, c, urls[i%2], bodies[i])
			}()
		}
		close(start)
		wg.Wait()
		for i, a := range answers {
			if a.Err != nil {
				t.Fatalf("packet %d: %s", i, a.Body)
			}
		}
		if countRows(t, db, "olctl_users") != 1 || len(ids) != 1 {
			t.Fatalf("%d user rows, ids %v", countRows(t, db, "olctl_users"), ids)
		}
		for id, k := range ids {
			if k != n || id == "" || id == "0" {
				t.Fatalf("ids %v", ids)
			}
		}
		if len(confirm.all()) != n {
			t.Fatalf("%d confirmations", len(confirm.all()))
		}
	})
}

// connectorServer is a fake connector server that records the portal's calls, checked with package wire.
type connectorServer struct {
	mu    sync.Mutex
	calls []*wire.Packet
}

func (s *connectorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fields, err := wire.ReadForm(r, 0)
	if err == nil {
		err = wire.Verify(fields, md5Creds, nil)
	}
	var p *wire.Packet
	if err == nil {
		p, err = wire.Parse(fields, wire.ToServer)
	}
	if err == nil {
		err = p.DecodeData()
	}
	if err != nil {
		wire.WriteResponse(w, nil, err)
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, p)
	s.mu.Unlock()
	wire.WriteResponse(w, map[string]any{"RESULT": "OK"}, nil)
}

func (s *connectorServer) all() []*wire.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*wire.Packet(nil), s.calls...)
}

// TestNewWiresTheRealPackages runs a packet through portal.New with nothing replaced: emoji, files (a real
// download from a local server), users, the SQLite database in DataDir and the client, which connects the
// line (writing its status where the gate reads it) and confirms delivery (legacy) to a fake connector
// server.
func TestNewWiresTheRealPackages(t *testing.T) {
	server := &connectorServer{}
	cs := httptest.NewServer(server)
	defer cs.Close()
	fileSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		_, _ = w.Write([]byte("%PDF-1.4 report"))
	}))
	defer fileSrv.Close()

	dir := t.TempDir()
	p, err := portal.New(context.Background(), portal.Config{
		Credentials: md5Creds,
		ServerURL:   cs.URL,
		Domain:      "https://portal.example.com",
		DataDir:     dir,
		Profile:     wire.Legacy,
		FileOptions: []files.Option{files.WithAllowPrivateNetworks(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Client() == nil {
		t.Fatal("no client")
	}
	ctx := context.Background()
	if _, err := p.Client().Connect(ctx, client.Settings{"bot_handle": "b"}, client.Connector("botframework.skype"), client.Line("3")); err != nil {
		t.Fatal(err)
	}
	if st, found, err := p.LineStatus(ctx, "botframework", "3"); err != nil || !found || !st.Open() {
		t.Fatalf("status after Connect %+v %v %v", st, found, err)
	}
	var got []portal.Message
	p.OnReceivedMessage(func(_ context.Context, m portal.Message) error { got = append(got, m); return nil })
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	send := routertest.NewSender(t, md5Creds, nil, "botframework.skype", "3")
	it := msgItem("29:ann", "a:conv-42", "1700000000001", "Привет :smile:", "recipient", wire.NewMap("id", "28:bot", "name", "bot"), "service_url", "https://smba.example/")
	it.Set("message", wire.NewMap("id", "1700000000001", "date", 1700000000, "text", "Привет :smile:", "files", []any{
		wire.NewMap("url", fileSrv.URL+"/report", "headers", []any{wire.NewMap("name", "Authorization", "value", "Bearer t")}),
		wire.NewMap("url", fileSrv.URL+"/forbidden"),
	}))
	a := routertest.Post(t, nil, srv.URL, send.Body(t, openlines.CommandReceivingMessage, []any{it}))
	if a.Err != nil {
		t.Fatalf("answer %s", a.Body)
	}
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	m := got[0]
	if !strings.HasPrefix(m.Text, "Привет [ICON=/bitrix/images/emoji/1f604.svg") || m.UserID != "1" || len(m.Files) != 1 ||
		len(m.FileFailures) != 1 || m.FileFailures[0].Index != 1 || m.FileFailures[0].Code != files.CodeStatus {
		t.Fatalf("message %+v", m)
	}
	calls := server.all()
	if len(calls) != 4 { // saveSettings, testConnect, register, setStatusDelivered
		t.Fatalf("%d calls to the server", len(calls))
	}
	c := calls[3]
	if c.Command != "setStatusDelivered" || c.Connector != "botframework.skype" || c.Line != "3" || c.Domain != "https://portal.example.com" {
		t.Fatalf("call %+v", c)
	}
	want := []any{[]any{wire.NewMap("chat", wire.NewMap("id", "a:conv-42"), "message", wire.NewMap("id", "1700000000001"))}}
	if !reflect.DeepEqual(c.Data, want) {
		t.Fatalf("DATA %#v", c.Data)
	}
	// The same database holds every store, and the chat context reaches the client's store.
	for _, table := range []string{"olctl_users", "olctl_files", "olctl_bf_context", "olctl_portal_items", "olctl_portal_status"} {
		if countRows(t, openDB(t, dir), table) != 1 {
			t.Errorf("table %s", table)
		}
	}
}

func openDB(t *testing.T, dir string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), "sqlite:"+dir+"/portal.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
