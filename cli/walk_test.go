package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputNamesTheFlag walks bad input as a new user types it: each is refused with the exit code of
// its kind (2 usage, 3 unreachable), a message that names the flag or argument at fault, nothing on
// stdout, and, under --json, the same failure as one JSON document on stderr.
func TestBadInputNamesTheFlag(t *testing.T) {
	key := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey}
	remote := map[string]string{"OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_SERVER": closedURL(t), "OLCTL_DOMAIN": testDomain}
	noDir := filepath.Join(t.TempDir(), "no", "such", "dir", "c.db")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"connector serve --listen", key, []string{"connector", "serve", "--listen", "nope"}, ExitUsage, "--listen nope: "},
		{"connector serve --metrics-listen", key, []string{"connector", "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "nope"},
			ExitUsage, "--metrics-listen nope: "},
		{"connector serve --db in no directory", key, []string{"connector", "serve", "--listen", "127.0.0.1:0", "--db", noDir},
			ExitUsage, "--db " + noDir + ": the SQLite file cannot be opened or created there"},
		{"connector serve --db not a DSN", key, []string{"connector", "serve", "--listen", "127.0.0.1:0", "--db", "mysql://x"},
			ExitUsage, "--db mysql://x: sqldb: bad DSN"},
		{"bf serve --listen", nil, []string{"bf", "serve", "--listen", "nope"}, ExitUsage, "--listen nope: "},
		{"bf serve --control", nil, []string{"bf", "serve", "--listen", "127.0.0.1:0", "--control", "nope"}, ExitUsage, "--control: "},
		{"bf say --via", nil, []string{"bf", "say", "--via", "nope", "--webhook", "http://h/", "hi"}, ExitUsage, `--via "nope" is not`},
		{"bf say --replies", nil, []string{"bf", "say", "--webhook", "http://h/", "--replies", "-1", "hi"}, ExitUsage, "--replies -1"},
		{"bf say unreachable --via", nil, []string{"bf", "say", "--via", closedURL(t), "--webhook", "http://h/", "hi"}, ExitNetwork,
			"no 'olctl bf serve' at --via"},
		{"serve --listen", remote, []string{"serve", "--listen", "nope"}, ExitUsage, "--listen nope: "},
		{"demo --messages", nil, []string{"demo", "--messages", "-1"}, ExitUsage, "--messages -1: want 0 or more"},
		{"demo --concurrency", nil, []string{"demo", "--concurrency", "0"}, ExitUsage, "--concurrency 0: want 1 or more"},
		{"queue ls --after", nil, []string{"connector", "queue", "ls", "--db", "x.db", "--after", "-1"}, ExitUsage, "--after -1"},
		{"queue retry without LINE", nil, []string{"connector", "queue", "retry", "--db", "x.db"}, ExitUsage,
			"olctl connector queue retry needs LINE"},
		{"deleteLine --line", remote, []string{"deleteLine", "--line", "3"}, ExitUsage, "not --line: olctl deleteLine 3"},
		{"call without connector", remote, []string{"call", "saveSettings", "{}"}, ExitUsage, "missing connector: set --connector"},
		{"unreachable server", remote, []string{"listConnector"}, ExitNetwork, "connection refused"},
		{"connect --yes without settings", remote, []string{"connect", "--yes"}, ExitUsage, "--connector and --line"},
		{"OLCTL_CONNECT_PROBE", map[string]string{envConnectProbe: "x"}, []string{"connect"}, ExitUsage, "OLCTL_CONNECT_PROBE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			byEnv := func(f *Factory) { f.WizardHints = nil } // OLCTL_CONNECT_PROBE as a user's run reads it
			r := run(t, runOpts{env: tc.env, mutate: byEnv}, tc.args...).wantCode(t, tc.code)
			if !strings.Contains(r.err, tc.want) || r.out != "" {
				t.Fatalf("stderr %q, want it to contain %q; stdout %q", r.err, tc.want, r.out)
			}
			j := run(t, runOpts{env: tc.env, mutate: byEnv}, append(tc.args, "--json")...).wantCode(t, tc.code)
			var doc errorJSON
			if err := json.Unmarshal([]byte(j.err), &doc); err != nil || doc.Error.ExitCode != tc.code ||
				!strings.Contains(doc.Error.Message, strings.TrimPrefix(tc.want, "olctl ")) || j.out != "" {
				t.Fatalf("--json: stderr %q (%v), stdout %q", j.err, err, j.out)
			}
		})
	}
}

// TestInterruptedCallIsCancelled: a run interrupted (Ctrl-C, SIGTERM: its context canceled) during a call
// exits 130 and says it was cancelled, not that the network failed (3); under --json as a document of
// category "cancelled".
func TestInterruptedCallIsCancelled(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		arrived := make(chan struct{}, 1)
		hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // read: the server then sees the client leave
			select {
			case arrived <- struct{}{}:
			default: // a retry after the cancel
			}
			<-r.Context().Done()
		}))
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			<-arrived
			cancel(errors.New("interrupt signal received"))
		}()
		args := []string{"listConnector"}
		if asJSON {
			args = append(args, "--json")
		}
		env := map[string]string{"OLCTL_SERVER": hang.URL, "OLCTL_LICENCE_KEY": testLicenceKey, "OLCTL_DOMAIN": testDomain}
		r := run(t, runOpts{env: env, ctx: ctx}, args...).wantCode(t, ExitCancelled)
		hang.Close()
		var doc errorJSON
		switch {
		case !asJSON && r.err != "olctl: cancelled (interrupt signal received)\n":
			t.Errorf("stderr %q", r.err)
		case asJSON && (json.Unmarshal([]byte(r.err), &doc) != nil || doc.Error.Category != "cancelled" || doc.Error.ExitCode != ExitCancelled):
			t.Errorf("--json stderr %q", r.err)
		}
	}
}
