package cli

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// switchPortal is a current portal that is down (HTTP 500 for messages) until up is set; then it takes
// receivingMessage and keeps the message ids in the order they came.
type switchPortal struct {
	*httptest.Server
	up   atomic.Bool
	mu   sync.Mutex
	msgs []string
}

func newSwitchPortal(t *testing.T, creds wire.Credentials) *switchPortal {
	p := &switchPortal{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		if err == nil {
			err = wire.Verify(fields, creds, nil)
		}
		var pk *wire.Packet
		if err == nil {
			pk, err = wire.Parse(fields, wire.ToPortal)
		}
		if err != nil {
			wire.WriteResponse(w, nil, err)
			return
		}
		switch {
		case pk.Command == openlines.CommandTestConnect:
			wire.WriteResponse(w, map[string]any{"RESULT": "OK"}, nil)
		case !p.up.Load():
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			var items []any
			err := pk.DecodeData()
			if err == nil {
				items, err = pk.Items()
			}
			if err != nil {
				wire.WriteResponse(w, nil, err)
				return
			}
			p.mu.Lock()
			for _, it := range items {
				m, _ := it.(*wire.Map)
				msg, _ := m.Get("message")
				mm, _ := msg.(*wire.Map)
				id, _ := mm.Get("id")
				p.msgs = append(p.msgs, fmt.Sprint(id))
			}
			p.mu.Unlock()
			wire.WriteResponse(w, []any{}, nil)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *switchPortal) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// TestConnectorQueueRedriveRoundTrip: portal down → dead letters → `connector queue redrive` (refused while
// the server serves the SQLite file, then with it stopped) → the next server delivers every message once,
// in order. retry and redrive with nothing to do, and redrive without a selector, say so.
func TestConnectorQueueRedriveRoundTrip(t *testing.T) {
	creds := md5Creds()
	portal := newSwitchPortal(t, creds)
	db := t.TempDir() + "/connector.db"
	serve := []string{"connector", "serve", "--listen", "127.0.0.1:0", "--db", db, "--schedule", "20ms", "--log-level", "error",
		"--licence-key", creds.LicenceKey}
	srv, m := startBackground(t, nil, listeningRE, serve...)
	env := map[string]string{"OLCTL_SERVER": m[1], "OLCTL_DOMAIN": portal.URL, "OLCTL_LICENCE_KEY": creds.LicenceKey,
		"OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "1"}
	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e1").wantCode(t, 0).decodeJSON(t, &rep)
	for i := 1; i <= 3; i++ {
		say(t, rep.WebhookURL, fmt.Sprintf(`{"user":{"id":"u1","name":"Ann"},"message":{"id":"m%d","text":"hi %d"},"chat":{"id":"c1"}}`, i, i))
	}
	qenv := map[string]string{"OLCTL_CONNECTOR_DB": db}
	var dead []queueItemJSON
	waitFor(t, func() bool {
		dead = nil
		run(t, runOpts{env: qenv}, "connector", "queue", "dead", "--json").wantCode(t, 0).decodeJSON(t, &dead)
		return len(dead) == 3
	}, func() string { return fmt.Sprintf("dead letters: %d, want 3", len(dead)) })
	var out strings.Builder
	step := func(code int, args ...string) {
		t.Helper()
		r := run(t, runOpts{env: qenv}, args...).wantCode(t, code)
		fmt.Fprintf(&out, "$ olctl %s\nexit %d\n%s%s\n", strings.Join(args, " "), r.code, r.out, r.err)
	}
	step(ExitUsage, "connector", "queue", "redrive", "--line", "1")
	if code := srv.stop(t); code != 0 {
		t.Fatalf("connector serve exited %d:\n%s", code, srv.err.String())
	}
	step(ExitUsage, "connector", "queue", "redrive")
	step(ExitOK, "connector", "queue", "retry", "1")
	step(ExitOK, "connector", "queue", "redrive", "--line", "1")
	step(ExitOK, "connector", "queue", "redrive", "--line", "1")
	golden(t, "queue_redrive", strings.ReplaceAll(out.String(), db, "connector.db"))

	portal.up.Store(true)
	srv2, _ := startBackground(t, nil, listeningRE, serve...)
	// An item leaves the queue once the portal has answered it: with the queue empty, a duplicate would
	// have reached the portal.
	var stats connector.QueueStats
	waitFor(t, func() bool {
		stats = connector.QueueStats{}
		run(t, runOpts{env: qenv}, "connector", "queue", "stats", "--json").wantCode(t, 0).decodeJSON(t, &stats)
		return stats.Pending == 0 && len(portal.got()) >= 3
	}, func() string { return fmt.Sprintf("queue %+v; the portal got %v", stats, portal.got()) })
	if got := strings.Join(portal.got(), ","); got != "m1,m2,m3" {
		t.Fatalf("the portal got %s, want m1,m2,m3 once each, in order", got)
	}
	if code := srv2.stop(t); code != 0 {
		t.Fatalf("connector serve exited %d:\n%s", code, srv2.err.String())
	}
	var doc queueRepairJSON
	run(t, runOpts{env: qenv}, "connector", "queue", "redrive", "--all", "--json").wantCode(t, 0).decodeJSON(t, &doc)
	if doc != (queueRepairJSON{Action: "redrive", Count: 0}) {
		t.Fatalf("redrive --all --json: %+v", doc)
	}
}

func TestNewCmdConnectorQueueRepairParsing(t *testing.T) {
	tests := []struct {
		name  string
		retry bool
		env   map[string]string
		args  []string
		want  QueueRepairOptions
		err   string
	}{
		{name: "redrive a line", args: []string{"--db", "c.db", "--line", "3"},
			want: QueueRepairOptions{DB: "c.db", Filter: connectorFilter("", "3", 0, 0)}},
		{name: "redrive all of a site", env: map[string]string{envConnectorDB: "env.db"}, args: []string{"--site", "https://p.example", "--all", "--after", "7", "--limit", "2"},
			want: QueueRepairOptions{DB: "env.db", All: true, Filter: connectorFilter("https://p.example", "", 7, 2)}},
		{name: "redrive nothing named", args: []string{"--db", "c.db"}, err: "--line LINE, --site SITE or --all"},
		{name: "redrive bad limit", args: []string{"--db", "c.db", "--all", "--limit", "-1"}, err: "--limit"},
		{name: "retry", retry: true, args: []string{"4", "--db", "c.db", "--site", "s"},
			want: QueueRepairOptions{DB: "c.db", Retry: true, Filter: connectorFilter("s", "4", 0, 0)}},
		{name: "redrive bad after", args: []string{"--db", "c.db", "--all", "--after", "-2"}, err: "--after -2: want an id"},
		{name: "retry without line", retry: true, args: []string{"--db", "c.db"}, err: "retry needs LINE"},
		{name: "retry takes the line as its argument", retry: true, args: []string{"4", "--line", "5"}, err: "unknown flag: --line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *QueueRepairOptions
			runF := func(o *QueueRepairOptions) error { got = o; return nil }
			cmd := NewCmdConnectorQueueRedrive(testFactory(tt.env), runF)
			if tt.retry {
				cmd = NewCmdConnectorQueueRetry(testFactory(tt.env), runF)
			}
			err := parse(cmd, tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil {
				t.Fatalf("err %v, runF ran %v", err, got != nil)
			}
			g := *got
			g.Context, g.IO, g.Config = nil, IO{}, nil
			if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func connectorFilter(site, line string, after int64, limit int) connector.QueueFilter {
	return connector.QueueFilter{Site: site, Line: line, AfterID: after, Limit: limit}
}

// TestConnectorServeTwiceOnSQLite: a second `connector serve` on the SQLite file that one serves is
// refused, exit 2, with a message naming the flag and the way out; the first one goes on serving.
func TestConnectorServeTwiceOnSQLite(t *testing.T) {
	db := t.TempDir() + "/connector.db"
	first, m := startBackground(t, nil, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0", "--db", db,
		"--log-level", "error", "--licence-key", "k")
	r := olctl(t, "connector", "serve", "--listen", "127.0.0.1:0", "--db", db, "--log-level", "error", "--licence-key", "k").
		wantCode(t, ExitUsage)
	golden(t, "connector_serve_twice", strings.ReplaceAll(r.err, db, "connector.db"))
	resp, err := http.Get(m[1] + "/healthz")
	if err != nil {
		t.Fatalf("the first server after the refusal: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the first server's /healthz: %d", resp.StatusCode)
	}
	if code := first.stop(t); code != 0 {
		t.Fatalf("the first server exited %d:\n%s", code, first.err.String())
	}
}

// TestQueueSelectFlags: the queue commands that select items name and describe --site, --line, --after,
// --limit and --all alike, from one definition.
func TestQueueSelectFlags(t *testing.T) {
	f := testFactory(nil)
	cmds := map[string]*cobra.Command{"ls": NewCmdConnectorQueueList(f, false, nil), "dead": NewCmdConnectorQueueList(f, true, nil),
		"redrive": NewCmdConnectorQueueRedrive(f, nil), "retry": NewCmdConnectorQueueRetry(f, nil)}
	for name, cmd := range cmds {
		want := []string{"site", "line", "after", "limit", "all"}
		if name == "retry" {
			want = []string{"site"}
		}
		var got []string
		cmd.Flags().VisitAll(func(fl *pflag.Flag) {
			if fl.Name != "db" && fl.Name != "help" {
				got = append(got, fl.Name)
			}
		})
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: flags %v, want %v", name, got, want)
		}
		if fl := cmd.Flags().Lookup("site"); fl.Usage != "only this portal (domain or licence)" {
			t.Errorf("%s --site: %q", name, fl.Usage)
		}
	}
	if ls, redrive := cmds["ls"].Flags().Lookup("after").Usage, cmds["redrive"].Flags().Lookup("after").Usage; ls != "only items with a greater id (paging)" ||
		redrive != "only dead letters with a greater id" {
		t.Errorf("--after: ls %q, redrive %q", ls, redrive)
	}
}
