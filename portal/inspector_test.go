package portal_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

func inspected(c *portal.Config) { c.Inspect = &inspect.Options{} }

// inspector is a client of a portal's inspector that keeps every answer, to look for secrets in them.
type inspector struct {
	t    *testing.T
	srv  *httptest.Server
	seen strings.Builder
}

func newInspector(t *testing.T, p *portal.Portal) *inspector {
	in := &inspector{t: t, srv: httptest.NewServer(p.Inspector())}
	t.Cleanup(in.srv.Close)
	return in
}

func (in *inspector) do(method, path string, out any) {
	in.t.Helper()
	req, _ := http.NewRequest(method, in.srv.URL+path, nil)
	req.Header.Set("X-Olctl-Inspector", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	in.seen.Write(b)
	if resp.StatusCode != 200 {
		in.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		in.t.Fatalf("%s %s: %v in %s", method, path, err, b)
	}
}

type packetView struct {
	ID        int64           `json:"id"`
	Command   string          `json:"command"`
	Signature string          `json:"signature"`
	Code      string          `json:"code"`
	ReplayOf  int64           `json:"replay_of"`
	Outcome   string          `json:"outcome"`
	Data      json.RawMessage `json:"data"`
	Notes     []inspect.Note  `json:"notes"`
}

func results(notes []inspect.Note) string {
	var out []string
	for _, n := range notes {
		out = append(out, n.Result+" "+n.Event)
	}
	return strings.Join(out, "; ")
}

// TestInspectorFollowsItems: the portal's inspector shows a packet's items taken and fired or kept for a
// retry, a replay's duplicate skipped, the dead letter, and its redrive fired, in both signing modes, with
// no secret in anything it answers.
func TestInspectorFollowsItems(t *testing.T) {
	for name, creds := range map[string]wire.Credentials{"md5": md5Creds, "hmac": hmacCreds} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, creds, nil, inspected, retrySchedule(time.Minute)).manualRetries()
			var mu sync.Mutex
			down := true
			r.p.OnReceivedMessage(func(context.Context, portal.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if down {
					return errors.New("backend down")
				}
				return nil
			})
			in := newInspector(t, r.p)
			if a := r.post(t, openlines.CommandReceivingMessage, []any{msgItem("ext-1", "c1", "m1", "hello inspector")}); a.Status != 200 || a.Err != nil {
				t.Fatalf("receivingMessage: %d %s", a.Status, a.Body)
			}

			var first packetView
			in.do("GET", "/api/packets/1", &first)
			if first.Command != openlines.CommandReceivingMessage || first.Signature != "valid" || first.Code != "OK" ||
				!strings.Contains(string(first.Data), `"text":"hello inspector"`) ||
				results(first.Notes) != "taken OnReceivedMessage; retry OnReceivedMessage" {
				t.Fatalf("packet 1: %+v notes %s", first, results(first.Notes))
			}

			var rep struct{ ID int64 }
			in.do("POST", "/api/packets/1/replay", &rep)
			var replay packetView
			in.do("GET", "/api/packets/2", &replay)
			if rep.ID != 2 || replay.ReplayOf != 1 || replay.Code != "OK" || replay.Signature != "valid" ||
				results(replay.Notes) != "duplicate " || replay.Outcome != "1 duplicate" {
				t.Fatalf("replay: %+v notes %s", replay, results(replay.Notes))
			}

			r.retryAt(t, time.Minute) // the last attempt fails: a dead letter
			var st inspect.State
			in.do("GET", "/api/state", &st)
			dead := st.Tables[1]
			if len(dead.Rows) != 1 || !dead.Rows[0].Redrive || !strings.Contains(strings.Join(dead.Rows[0].Cells, " "), "backend down") {
				t.Fatalf("dead letters %+v", dead)
			}
			mu.Lock()
			down = false
			mu.Unlock()
			var red struct{ Redriven int }
			in.do("POST", "/api/redrive/"+dead.Rows[0].ID, &red)
			portal.RunDue(r.p)
			in.do("GET", "/api/packets/1", &first)
			if red.Redriven != 1 || results(first.Notes) != "taken OnReceivedMessage; retry OnReceivedMessage; dead OnReceivedMessage; fired OnReceivedMessage" ||
				first.Outcome != "1 fired" {
				t.Fatalf("after the redrive: %d redriven, notes %s (%s)", red.Redriven, results(first.Notes), first.Outcome)
			}
			if s, _ := r.p.ItemStats(ctx); s.Dead != 0 || s.Duplicates != 1 {
				t.Fatalf("stats %+v", s)
			}
			in.do("GET", "/api/state", &st)
			if len(st.Tables[1].Rows) != 0 {
				t.Fatalf("dead letters after the redrive: %+v", st.Tables[1])
			}
			sum := md5.Sum([]byte(licenceKey))
			for _, s := range append([]string{licenceKey, hex.EncodeToString(sum[:])}, creds.Secrets...) {
				if strings.Contains(in.seen.String(), s) {
					t.Errorf("the inspector showed the secret %q", s)
				}
			}
		})
	}
}

// TestInspectorOff: without Config.Inspect nothing is recorded and the inspector says how to turn it on.
func TestInspectorOff(t *testing.T) {
	r := newRig(t, md5Creds, nil)
	w := httptest.NewRecorder()
	r.p.Inspector().ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 404 || !strings.Contains(w.Body.String(), "Config.Inspect") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
