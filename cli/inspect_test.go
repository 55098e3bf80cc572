package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/internal/eventually"
)

var (
	portalInspectorRE    = regexp.MustCompile(`portal receiver inspector on (http://\S+)/ \(loopback only\)`)
	connectorInspectorRE = regexp.MustCompile(`connector server inspector on (http://\S+)/ \(open it once with \?token=`)
)

// TestInspectFlagsRefused: the inspector listens beyond loopback only with a token, and a token needs an
// address.
func TestInspectFlagsRefused(t *testing.T) {
	env := map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1", "OLCTL_LICENCE_KEY": testLicenceKey}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--inspect", ":8099"}, `--inspect ":8099" listens beyond loopback: give --inspect-token`},
		{[]string{"serve", "--inspect", "0.0.0.0:8099"}, "listens beyond loopback"},
		{[]string{"serve", "--inspect-token", "t"}, "--inspect-token needs --inspect ADDR"},
		{[]string{"connector", "serve", "--inspect", "192.0.2.1:8099"}, "listens beyond loopback"},
		{[]string{"connector", "serve", "--inspect-token", "t"}, "--inspect-token needs --inspect ADDR"},
	} {
		r := run(t, runOpts{env: env}, tc.args...)
		r.wantCode(t, ExitUsage)
		if !strings.Contains(r.err, tc.want) {
			t.Errorf("olctl %v: stderr %q, want %q", tc.args, r.err, tc.want)
		}
	}
}

// TestInspectorsSeeBfSay runs the standalone commands with their inspectors, the connector server's behind a
// token: after a bf say, the portal's inspector lists the receivingMessage it took and the server's the push,
// each with the customer's text in DATA; neither answers without loopback or its token.
func TestInspectorsSeeBfSay(t *testing.T) {
	dir := t.TempDir()
	key := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}
	bf, _ := startBackground(t, nil, bfControlRE, "bf", "serve", "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0")
	bfURL := bfReadyRE.FindStringSubmatch(bf.err.String())[1]
	via := bfControlRE.FindStringSubmatch(bf.err.String())[1]
	cbg, cm := startBackground(t, key, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0",
		"--db", filepath.Join(dir, "connector.db"), "--bf-fake", bfURL, "--log-level", "error",
		"--inspect", "127.0.0.1:0", "--inspect-token", "s3cret-token")
	serverPage := connectorInspectorRE.FindStringSubmatch(cbg.err.String())[1]
	env := map[string]string{"OLCTL_SERVER": cm[1], "OLCTL_LICENCE_KEY": testLicenceKey}
	pbg, pm := startBackground(t, env, portalReadyRE, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--log-level", "error", "--inspect", "127.0.0.1:0")
	portalPage := portalInspectorRE.FindStringSubmatch(pbg.err.String())[1]
	env["OLCTL_DOMAIN"] = pm[1]
	env["OLCTL_LINE"] = "4"
	var rep connectReport
	run(t, runOpts{env: env}, "connect", "--json", "--connector", "botframework", "--bot-handle", "inspect-bot",
		"--app-id", bftest.DefaultAppID, "--app-secret", bftest.DefaultAppSecret, "--db", filepath.Join(dir, "portal.db")).
		wantCode(t, 0).decodeJSON(t, &rep)
	run(t, runOpts{}, "bf", "say", "--via", via, "--webhook", rep.WebhookURL, "--conversation", "conv-inspect",
		"--replies", "0", "--wait", "20s", "seen by the inspector").wantCode(t, 0)

	find := func(page, token, direction string) map[string]any {
		t.Helper()
		var found map[string]any
		id := 1
		eventually.True(t, 20*time.Second, fmt.Sprintf("an %s receivingMessage at %s", direction, page), func() bool {
			for ; ; id++ { // each packet once: a 404 is one not recorded yet
				code, body := inspectorGet(t, page+"/api/packets/"+strconv.Itoa(id), token, "")
				switch {
				case code == 404:
					return false
				case code != 200:
					t.Fatalf("GET packet %d: %d %s", id, code, body)
				}
				var p map[string]any
				if err := json.Unmarshal([]byte(body), &p); err != nil {
					t.Fatal(err)
				}
				if p["command"] == "receivingMessage" && p["direction"] == direction {
					found = p
					return true
				}
			}
		})
		return found
	}
	for _, p := range []map[string]any{find(portalPage, "", "in"), find(serverPage, "s3cret-token", "out")} {
		data, _ := json.Marshal(p["data"])
		if !strings.Contains(string(data), `"text":"seen by the inspector"`) || p["code"] != "OK" {
			t.Errorf("packet %v", p)
		}
	}
	if _, body := inspectorGet(t, portalPage+"/", "", ""); !strings.Contains(body, "<title>Portal receiver · olctl inspector</title>") {
		t.Errorf("portal page %s", body)
	}
	if code, _ := inspectorGet(t, portalPage+"/api/state", "", "portal.example.com"); code != 403 {
		t.Errorf("another host name: %d, want 403", code)
	}
	if code, _ := inspectorGet(t, serverPage+"/api/state", "", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _ := inspectorGet(t, serverPage+"/api/state", "wrong", ""); code != 401 {
		t.Errorf("a wrong token: %d, want 401", code)
	}
}

func inspectorGet(t *testing.T, url, token, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
