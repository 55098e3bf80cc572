package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestFoldCommandNames(t *testing.T) {
	root := NewCmdRoot(testFactory(nil))
	tests := []struct {
		in, want string
	}{
		{"testconnect", "testConnect"},
		{"TESTCONNECT --json", "testConnect --json"},
		{"Test-Connect", "testConnect"},
		{"--line 3 REGISTER", "--line 3 register"},
		{"--line=3 -o json infoconnectorsline 7", "--line=3 -o json infoConnectorsLine 7"},
		{"Connector QUEUE Stats --db x", "connector queue stats --db x"},
		{"bf SAY --webhook http://x Hello", "bf say --webhook http://x Hello"},
		{"send --chat Register hi", "send --chat Register hi"}, // arguments of a leaf are left alone
		{"call testconnect", "call testconnect"},               // call sends METHOD as given
		{"testconnec", "testconnec"},                           // no command: cobra reports it
		{"-- testconnect", "-- testconnect"},
	}
	for _, tt := range tests {
		got := strings.Join(foldCommandNames(root, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("foldCommandNames(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMethodNamesInAnyCase(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	for _, name := range []string{"testConnect", "testconnect", "TESTCONNECT", "TestConnect", "test-connect"} {
		r := run(t, runOpts{env: fs.env()}, name).wantCode(t, 0)
		if r.out != "FIELD\tVALUE\nRESULT\tOK\n" {
			t.Errorf("%s: stdout %q", name, r.out)
		}
	}
	for _, c := range fs.received() {
		if c.Method != "testConnect" {
			t.Errorf("sent %q", c.Method)
		}
	}
	r := run(t, runOpts{env: fs.env()}, "testconnec").wantCode(t, ExitUsage)
	if !strings.Contains(r.err, `unknown command "testconnec"`) {
		t.Fatalf("stderr %q", r.err)
	}
}

// complete runs cobra's hidden completion command and returns the offered values (descriptions dropped).
func complete(t *testing.T, env map[string]string, args ...string) []string {
	t.Helper()
	r := run(t, runOpts{env: env}, append([]string{"__complete"}, args...)...).wantCode(t, 0)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if strings.HasPrefix(line, ":") || line == "" {
			continue // the directive
		}
		v, _, _ := strings.Cut(line, "\t")
		out = append(out, v)
	}
	return out
}

func TestCompletionOfValues(t *testing.T) {
	fs := newFakeServer(t, md5Creds())
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"signing", nil, []string{"testConnect", "--signing", ""}, []string{"md5", "hmac-sha256"}},
		{"output", nil, []string{"testConnect", "-o", ""}, []string{"table", "json"}},
		{"output, long", nil, []string{"config", "view", "--output", "j"}, []string{"table", "json"}}, // the shell filters
		{"profile", nil, []string{"connect", "--profile", ""}, []string{"legacy", "current"}},
		{"connectors from listConnector", fs.env(), []string{"send", "--connector", ""}, []string{"botframework", "echo"}},
		{"connectors, prefix", fs.env(), []string{"testConnect", "--connector", "b"}, []string{"botframework"}},
		{"connectors without a server", nil, []string{"testConnect", "--connector", ""}, nil},
		{"kebab aliases", nil, []string{"info-"}, []string{"info-connect", "info-connect-link", "info-connectors-line"}},
		{"names and aliases", nil, []string{"test"}, []string{"testConnect", "test-connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := complete(t, tt.env, tt.args...); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("completions %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFlagErrorsAsJSON(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag, --json after it", nil, []string{"testConnect", "--nope", "--json"}, "unknown flag: --nope"},
		{"unknown flag, --json before it", nil, []string{"--json", "version", "--nope"}, "unknown flag: --nope"},
		{"-o json", nil, []string{"testConnect", "-o", "json", "--nope"}, "unknown flag: --nope"},
		{"-ojson", nil, []string{"-ojson", "version", "extra"}, `unknown command "extra"`},
		{"--output=json", nil, []string{"no-such-command", "--output=json"}, `unknown command "no-such-command"`},
		{"a bad flag value", nil, []string{"check", "--watch", "soon", "--json"}, `invalid argument "soon"`},
		{"OLCTL_OUTPUT=json", map[string]string{"OLCTL_OUTPUT": "json"}, []string{"demo", "--messages", "x"}, `invalid argument "x"`},
		{"an invalid setting", nil, []string{"config", "view", "--timeout", "soon", "--json"}, "invalid timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, tt.args...).wantCode(t, ExitUsage)
			if r.out != "" {
				t.Fatalf("stdout %q", r.out)
			}
			var doc errorJSON
			dec := json.NewDecoder(strings.NewReader(r.err))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("stderr is not one JSON document (%v):\n%s", err, r.err)
			}
			if doc.Error.Category != "usage" || doc.Error.ExitCode != ExitUsage || !strings.Contains(doc.Error.Message, tt.want) {
				t.Fatalf("error %+v, want usage mentioning %q", doc.Error, tt.want)
			}
		})
	}
	// --output table wins over OLCTL_OUTPUT=json, and the text names --help.
	r := run(t, runOpts{env: map[string]string{"OLCTL_OUTPUT": "json"}}, "version", "--nope", "-o", "table").wantCode(t, ExitUsage)
	if r.err != "olctl: unknown flag: --nope\nRun 'olctl version --help' for usage.\n" {
		t.Fatalf("stderr %q", r.err)
	}
}

func TestMissingSettingsInOneError(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"a line method", nil, []string{"register"}, `missing server, domain, licence key, connector and line: set --server, ` +
			`--domain, --licence-key, --connector and --line (or OLCTL_SERVER, OLCTL_DOMAIN, OLCTL_LICENCE_KEY, ` +
			`OLCTL_CONNECTOR and OLCTL_LINE, or "server", "domain", "licence_key", "connector" and "line" in HOME/.config/olctl/config.yaml)`},
		{"hmac needs a secret", map[string]string{"OLCTL_SIGNING": "hmac-sha256", "OLCTL_SERVER": "http://127.0.0.1:1"},
			[]string{"listConnector"}, `missing domain, licence key and secret: set --domain, --licence-key and --secret ` +
				`(or OLCTL_DOMAIN, OLCTL_LICENCE_KEY and OLCTL_SECRET, or "domain", "licence_key" and "secret" in HOME/.config/olctl/config.yaml)`},
		{"one missing", map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1", "OLCTL_DOMAIN": testDomain, "OLCTL_CONNECTOR": "echo",
			"OLCTL_LINE": "1"}, []string{"send", "--chat", "c", "hi"},
			`missing licence key: set --licence-key, OLCTL_LICENCE_KEY or "licence_key" in HOME/.config/olctl/config.yaml`},
		{"connect: settings and the bot's", nil, []string{"connect", "--yes", "--connector", "botframework", "--bot-handle", "b"},
			`missing server, domain, licence key and line: set --server, --domain, --licence-key and --line (or OLCTL_SERVER, ` +
				`OLCTL_DOMAIN, OLCTL_LICENCE_KEY and OLCTL_LINE, or "server", "domain", "licence_key" and "line" in ` +
				"HOME/.config/olctl/config.yaml)\nmissing Bot Framework settings app_id and app_secret: give --app-id and --app-secret"},
		{"serve", nil, []string{"serve"}, `missing server and licence key: set --server and --licence-key (or OLCTL_SERVER and ` +
			`OLCTL_LICENCE_KEY, or "server" and "licence_key" in HOME/.config/olctl/config.yaml)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			env := map[string]string{"HOME": home}
			for k, v := range tt.env {
				env[k] = v
			}
			r := run(t, runOpts{env: env}, tt.args...).wantCode(t, ExitUsage)
			if got := strings.ReplaceAll(r.err, home, "HOME"); got != "olctl: "+tt.want+"\n" {
				t.Fatalf("stderr\n%s\nwant\nolctl: %s", got, tt.want)
			}
		})
	}
}
