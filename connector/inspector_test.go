package connector

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/internal/eventually"
)

// TestInspectorShowsLinesAndDeadLetters: the server's inspector lists the portal's calls (verified, their
// secrets masked), the webhooks and the pushes, each line with its flags and queue, and the dead letters,
// which its redrive sends to the portal.
func TestInspectorShowsLinesAndDeadLetters(t *testing.T) {
	clk := clock.NewFake(t0)
	p := newFakePortal(t, "key-inspector", clk)
	s := newTestServer(t, p, Config{Clock: clk, Workers: 2, Inspect: &inspect.Options{},
		Queue: Policy{Schedule: []time.Duration{time.Minute}}})
	page := httptest.NewServer(s.Inspector())
	defer page.Close()
	var seen strings.Builder
	get := func(method, path string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, page.URL+path, nil)
		req.Header.Set("X-Olctl-Inspector", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		seen.Write(b)
		if resp.StatusCode != 200 || json.Unmarshal(b, out) != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	type view struct {
		Direction, Command, Signature, Code, Data string
	}
	packets := func() map[int64]view {
		out := map[int64]view{}
		for id := int64(1); ; id++ {
			req, _ := http.NewRequest("GET", page.URL+"/api/packets/"+itoa(int(id)), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen.Write(b)
			if resp.StatusCode == 404 {
				return out
			}
			var v struct {
				view
				Data json.RawMessage
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			v.view.Data = string(v.Data)
			out[id] = v.view
		}
	}

	hook := p.connect("echo", "1", map[string]string{"token": "echo-token-value", "name": "test"})
	if code, body := postWebhook(t, hook, echoItems("c", 1, 1)); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	eventually.True(t, 5*time.Second, "the message at the portal", func() bool { return len(p.Events()) == 1 })
	settle(t, s)
	byCommand := map[string]view{} // the first packet of each command and direction
	all := packets()
	for id := int64(1); id <= int64(len(all)); id++ {
		v := all[id]
		if _, seen := byCommand[v.Direction+" "+v.Command]; !seen {
			byCommand[v.Direction+" "+v.Command] = v
		}
	}
	if v := byCommand["in saveSettings"]; v.Signature != "valid" || v.Code != "OK" || !strings.Contains(v.Data, `"token":"********"`) {
		t.Errorf("saveSettings %+v", v)
	}
	if v := byCommand["in webhook"]; v.Code != "OK" {
		t.Errorf("webhook %+v", v)
	}
	if v := byCommand["out receivingMessage"]; v.Signature != "signed" || v.Code != "OK" ||
		!strings.Contains(v.Data, `"text":"hello 1 :smile:"`) {
		t.Errorf("push %+v (recorded %+v)", v, byCommand)
	}
	var st inspect.State
	get("GET", "/api/state", &st)
	if lines := st.Tables[0]; len(lines.Rows) != 1 || lines.Rows[0].Cells[2] != "echo" || lines.Rows[0].Cells[5] != "idle" {
		t.Fatalf("lines %+v", lines)
	}

	p.down.Store(true)
	postWebhook(t, hook, echoItems("c", 2, 1))
	eventually.True(t, 5*time.Second, "the failed push", func() bool { return len(p.attemptTimes()) == 2 })
	settle(t, s)
	get("GET", "/api/state", &st)
	if row := st.Tables[0].Rows[0].Cells; row[5] != "blocked" || row[4] != "1" || !strings.HasPrefix(row[8], "dead letters at ") ||
		row[7] != t0.Add(time.Minute).UTC().Format(time.RFC3339) {
		t.Fatalf("blocked line %v", row)
	}
	clk.Set(t0.Add(time.Minute))
	eventually.True(t, 5*time.Second, "the dead letter", func() bool { st, _ := s.QueueStats(t.Context()); return st.Dead == 1 })
	settle(t, s)
	get("GET", "/api/state", &st)
	dead := st.Tables[1]
	if len(dead.Rows) != 1 || !dead.Rows[0].Redrive || dead.Rows[0].Cells[6] != "2" {
		t.Fatalf("dead letters %+v", dead)
	}
	p.down.Store(false)
	var red struct{ Redriven int }
	get("POST", "/api/redrive/"+dead.Rows[0].ID, &red)
	eventually.True(t, 5*time.Second, "the redriven message", func() bool { return len(p.Events()) == 2 })
	settle(t, s)
	get("GET", "/api/state", &st)
	if red.Redriven != 1 || len(st.Tables[1].Rows) != 0 {
		t.Fatalf("after the redrive: %d redriven, %+v", red.Redriven, st.Tables[1])
	}
	sum := md5.Sum([]byte("key-inspector"))
	for _, secret := range []string{"key-inspector", hex.EncodeToString(sum[:]), "echo-token-value"} {
		if strings.Contains(seen.String(), secret) {
			t.Errorf("the inspector showed %q", secret)
		}
	}
}
