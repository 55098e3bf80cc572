package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/internal/syncbuf"
	"github.com/olctl/olctl/wire"
)

// background is an olctl command running in-process until stopped.
type background struct {
	out, err *syncbuf.Buffer
	cancel   context.CancelFunc
	done     chan int
}

// startBackground runs olctl args in a goroutine with env and waits until stderr matches ready.
func startBackground(t *testing.T, env map[string]string, ready *regexp.Regexp, args ...string) (*background, []string) {
	t.Helper()
	return startBackgroundOn(t, env, false, ready, args...)
}

// startBackgroundOn is startBackground with stdout a terminal when outTTY is set.
func startBackgroundOn(t *testing.T, env map[string]string, outTTY bool, ready *regexp.Regexp, args ...string) (*background, []string) {
	t.Helper()
	b := &background{out: &syncbuf.Buffer{}, err: &syncbuf.Buffer{}, done: make(chan int, 1)}
	args = withPrivateNetworks(args)
	full := map[string]string{"HOME": t.TempDir()}
	for k, v := range env {
		full[k] = v
	}
	f := &Factory{
		IO:        IO{In: strings.NewReader(""), Out: b.out, ErrOut: b.err, OutTTY: outTTY},
		LookupEnv: func(k string) (string, bool) { v, ok := full[k]; return v, ok },
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() { b.done <- Run(ctx, f, args) }()
	t.Cleanup(func() { b.stop(t) })
	var m []string
	waitFor(t, func() bool {
		if m = ready.FindStringSubmatch(b.err.String()); m != nil {
			return true
		}
		select {
		case code := <-b.done:
			b.done <- code
			t.Fatalf("olctl %v exited with %d before it was ready:\n%s", args, code, b.err.String())
		default:
		}
		return false
	}, func() string { return fmt.Sprintf("olctl %v not ready:\n%s", args, b.err.String()) })
	return b, m
}

// stop cancels the command and returns its exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	b.cancel()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not stop")
		return -1
	}
}

// fakePortal answers the connector server's testConnect and fails everything else with 500 (a portal that
// is down for messages).
func fakePortal(t *testing.T, creds wire.Credentials) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var refused atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		if err == nil {
			err = wire.Verify(fields, creds, nil)
		}
		if err != nil {
			wire.WriteResponse(w, nil, err)
			return
		}
		if fields.Get("BX_COMMAND") == "testConnect" {
			wire.WriteResponse(w, map[string]any{"RESULT": "OK"}, nil)
			return
		}
		refused.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(s.Close)
	return s, &refused
}

var listeningRE = regexp.MustCompile(`connector server listening on (http://\S+)`)

func TestConnectorServeAndQueue(t *testing.T) {
	creds := md5Creds()
	portal, refused := fakePortal(t, creds)
	db := t.TempDir() + "/connector.db"
	srv, m := startBackground(t, nil, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0", "--db", db,
		"--schedule", "50ms,50ms", "--log-level", "error", "--licence-key", "another-portal-key", "--licence-key", creds.LicenceKey)
	env := map[string]string{"OLCTL_SERVER": m[1], "OLCTL_DOMAIN": portal.URL, "OLCTL_LICENCE_KEY": creds.LicenceKey,
		"OLCTL_CONNECTOR": "echo", "OLCTL_LINE": "1"}

	var list callResultJSON
	run(t, runOpts{env: env}, "listConnector", "--json").wantCode(t, 0).decodeJSON(t, &list)
	if !strings.Contains(string(list.Data), "echo") {
		t.Fatalf("listConnector: %s", list.Data)
	}
	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--set", "entity=e1").wantCode(t, 0).decodeJSON(t, &rep)
	if !strings.HasPrefix(rep.WebhookURL, m[1]+"/imwebhook/echo?h=") {
		t.Fatalf("webhook URL %q", rep.WebhookURL)
	}
	run(t, runOpts{env: env, stdin: "x"}, "call", "nope").wantCode(t, ExitFailed)

	// A customer message through the echo webhook is queued; the portal refuses it until it is dead-lettered.
	say(t, rep.WebhookURL, `{"user":{"id":"u1","name":"Ann"},"message":{"id":"m1","text":"hi"},"chat":{"id":"c1"}}`)
	qenv := map[string]string{"OLCTL_CONNECTOR_DB": db}
	var dead []queueItemJSON
	waitFor(t, func() bool {
		dead = nil
		run(t, runOpts{env: qenv}, "connector", "queue", "dead", "--json").wantCode(t, 0).decodeJSON(t, &dead)
		return len(dead) == 1
	}, func() string {
		return fmt.Sprintf("the item was never dead-lettered; portal refused %d packets", refused.Load())
	})
	d := dead[0]
	if d.Line != "1" || d.ChatID != "c1" || d.MessageID != "m1" || d.Command != "receivingMessage" || d.Attempts < 1 || d.DeadAt.IsZero() {
		t.Fatalf("dead item %+v", d)
	}
	raw := run(t, runOpts{env: qenv}, "connector", "queue", "dead", "--json").wantCode(t, 0).out
	if !strings.Contains(compactJSON(t, []byte(raw)), `"item":{"user":{"id":"u1","name":"Ann"},"message":{"id":"m1","text":"hi"},"chat":{"id":"c1"}`) {
		t.Fatalf("item not in its order: %s", raw)
	}

	var stats connector.QueueStats
	run(t, runOpts{env: qenv}, "connector", "queue", "stats", "--json").wantCode(t, 0).decodeJSON(t, &stats)
	if stats.Dead != 1 || stats.Pending != 0 || len(stats.Lines) != 1 {
		t.Fatalf("stats %+v", stats)
	}
	plain := run(t, runOpts{env: qenv}, "connector", "queue", "stats").wantCode(t, 0)
	if !strings.HasPrefix(plain.out, "SITE\tLINE\tPENDING\tSTATE\tATTEMPTS\tNEXT\tDEAD\n") || !strings.Contains(plain.out, "total\t\t0\t0 blocked\t\t\t1\n") {
		t.Fatalf("stats table:\n%s", plain.out)
	}
	var queued []queueItemJSON
	run(t, runOpts{env: qenv}, "connector", "queue", "ls", "--json", "--all").wantCode(t, 0).decodeJSON(t, &queued)
	if len(queued) != 0 {
		t.Fatalf("queue still holds %+v", queued)
	}
	deadTable := run(t, runOpts{env: qenv}, "connector", "queue", "dead", "--line", "1").wantCode(t, 0)
	if !strings.Contains(deadTable.out, "\treceivingMessage\techo\tc1\tm1\t") {
		t.Fatalf("dead table:\n%s", deadTable.out)
	}

	if code := srv.stop(t); code != 0 {
		t.Fatalf("connector serve exited %d:\n%s", code, srv.err.String())
	}
	if !strings.Contains(srv.err.String(), "connector server stopping") {
		t.Fatalf("stderr:\n%s", srv.err.String())
	}
}

func TestConnectorErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"serve without licence key", nil, []string{"connector", "serve", "--listen", "127.0.0.1:0"}, ExitUsage,
			"--licence-key, OLCTL_LICENCE_KEY"},
		{"serve hmac without secret", map[string]string{"OLCTL_SIGNING": "hmac-sha256"},
			[]string{"connector", "serve", "--licence-key", "k"}, ExitUsage, "--secret"},
		{"serve bad schedule", nil, []string{"connector", "serve", "--licence-key", "k", "--schedule", "1m,soon"}, ExitUsage, "--schedule"},
		{"serve bad log level", nil, []string{"connector", "serve", "--licence-key", "k", "--log-level", "loud"}, ExitUsage, "--log-level"},
		{"serve bad listen", nil, []string{"connector", "serve", "--licence-key", "k", "--listen", "127.0.0.1:99999"}, ExitUsage, "listen"},
		{"queue without db", nil, []string{"connector", "queue", "stats"}, ExitUsage, "--db or OLCTL_CONNECTOR_DB"},
		{"queue bad db", nil, []string{"connector", "queue", "ls", "--db", "mysql://"}, ExitUsage, "--db"},
		{"queue bad limit", nil, []string{"connector", "queue", "ls", "--db", "x.db", "--limit", "-1"}, ExitUsage, "--limit"},
		{"queue unknown", nil, []string{"connector", "queue", "purge"}, ExitUsage, `unknown command "purge"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, tt.args...).wantCode(t, tt.code)
			if !strings.Contains(r.err, tt.want) {
				t.Fatalf("stderr %q lacks %q", r.err, tt.want)
			}
		})
	}
}

// withPrivateNetworks adds --allow-private-networks to a `connector serve`: the tests' portals and Bot
// Framework listen on 127.0.0.1, which the server refuses to connect to by default.
func withPrivateNetworks(args []string) []string {
	if len(args) < 2 || args[0] != "connector" || args[1] != "serve" {
		return args
	}
	return append([]string{"connector", "serve", "--allow-private-networks"}, args[2:]...)
}
