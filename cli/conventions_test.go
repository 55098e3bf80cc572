package cli

import (
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
