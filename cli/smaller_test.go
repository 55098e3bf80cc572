package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestInfoConnectorsLineOfAnEmptyLine(t *testing.T) {
	creds := md5Creds()
	portal, _ := fakePortal(t, creds)
	_, m := startBackground(t, nil, listeningRE, "connector", "serve", "--listen", "127.0.0.1:0", "--log-level", "error",
		"--licence-key", creds.LicenceKey)
	env := map[string]string{"OLCTL_SERVER": m[1], "OLCTL_DOMAIN": portal.URL, "OLCTL_LICENCE_KEY": creds.LicenceKey}
	r := run(t, runOpts{env: env}, "infoConnectorsLine", "5").wantCode(t, 0)
	if r.out != "infoConnectorsLine: OK, line 5 has no connectors\n" {
		t.Fatalf("stdout %q", r.out)
	}
	var doc callResultJSON
	run(t, runOpts{env: env}, "info-connectors-line", "5", "--json").wantCode(t, 0).decodeJSON(t, &doc)
	if doc.Line != "5" || doc.Connector != "all" || !doc.OK {
		t.Fatalf("JSON %+v (data %s)", doc, doc.Data)
	}

	// A server that answers an empty list of connectors says so too.
	fs := newFakeServer(t, creds)
	fs.answer("listConnector", func(fakeCall) (any, error) { return json.RawMessage(`[]`), nil })
	if r := run(t, runOpts{env: fs.env()}, "listConnector").wantCode(t, 0); r.out != "listConnector: OK, the server offers no connectors\n" {
		t.Fatalf("stdout %q", r.out)
	}
}

var tempDBRE = regexp.MustCompile(`database: (\S+/connector\.db), temporary: deleted when the server stops \(--db FILE keeps it\)\n`)

func TestConnectorServeSaysWhatItServes(t *testing.T) {
	env := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}
	bg, m := startBackground(t, env, tempDBRE, "connector", "serve", "--listen", "127.0.0.1:0", "--log-level", "error",
		"--licence-key", testLicenceKey, "--licence-key", "second-portal-key-000099")
	if _, err := os.Stat(m[1]); err != nil {
		t.Fatalf("the temporary database is not there: %v", err)
	}
	banner := bg.err.String()
	for _, want := range []string{
		"portals: 2 licence keys ****6789, ****0099, signing md5, profile auto (told by each portal's BX_VERSION); and those stored by earlier runs\n",
		"Bot Framework: Microsoft's (tokens from https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token, " +
			"webhook keys from https://login.botframework.com/v1/.well-known/openidconfiguration)\n",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
	if code := bg.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Dir(m[1])); !os.IsNotExist(err) {
		t.Fatalf("the temporary database outlived the server: %v", err)
	}

	// A --db of its own, hmac signing, the fake Bot Framework, a legacy profile.
	db := filepath.Join(t.TempDir(), "c.db")
	env = map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_SIGNING": "hmac-sha256", "OLCTL_SECRET": "s1", "OLCTL_PROFILE": "legacy"}
	bg, _ = startBackground(t, env, regexp.MustCompile(`Bot Framework: .*\n`), "connector", "serve", "--listen", "127.0.0.1:0",
		"--db", db, "--log-level", "error", "--bf-fake", "http://127.0.0.1:3978/")
	banner = bg.err.String()
	for _, want := range []string{"database: " + db + "\n", "portals: 1 licence key ****6789, signing hmac-sha256, profile legacy;",
		"Bot Framework: the fake at http://127.0.0.1:3978 (--bf-fake: olctl bf serve)\n"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"connector.db":                          "connector.db",
		"postgres://olctl:s3cret@db:5432/olctl": "postgres://olctl:xxxxx@db:5432/olctl",
		"root:s3cret@tcp(127.0.0.1:3306)/olctl": "root:xxxxx@tcp(127.0.0.1:3306)/olctl",
		"root@tcp(127.0.0.1:3306)/olctl":        "root@tcp(127.0.0.1:3306)/olctl",
		"postgres://olctl@db/olctl":             "postgres://olctl@db/olctl",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDemoPrintsTheWalkthroughBeforeTheLoad: with --messages the hops are printed as soon as the walkthrough
// ends, then the load runs and its figures follow.
func TestDemoPrintsTheWalkthroughBeforeTheLoad(t *testing.T) {
	r := olctl(t, "demo", "--messages", "20").wantCode(t, 0)
	hops := strings.Index(r.out, "receivingStatusDelivery\tconnector\tportal event")
	sending := strings.Index(r.out, "\nsending 20 customer messages (1 at a time)…\n")
	load := strings.Index(r.out, "LOAD\tVALUE\nmessages\t20\n")
	if hops < 0 || sending < hops || load < sending {
		t.Fatalf("walkthrough at %d, load announced at %d, load figures at %d:\n%s", hops, sending, load, r.out)
	}
}
