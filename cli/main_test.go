package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/olctl/olctl/wire"
)

func TestVersion(t *testing.T) {
	r := olctl(t, "version").wantCode(t, 0)
	if !strings.HasPrefix(r.out, "olctl "+Version+" (commit ") || !strings.HasSuffix(r.out, ", go"+strings.TrimPrefix(runtime.Version(), "go")+")\n") {
		t.Fatalf("output %q", r.out)
	}
	var v buildInfo
	olctl(t, "version", "--json").wantCode(t, 0).decodeJSON(t, &v)
	if v.Version != Version || !strings.HasPrefix(v.Go, "go") {
		t.Fatalf("version JSON %+v", v)
	}
	// --version prints what the command prints: the line, or under --json (in any of its spellings, or
	// OLCTL_OUTPUT) the same JSON document.
	if got := olctl(t, "--version").wantCode(t, 0).out; got != r.out {
		t.Fatalf("--version %q, version %q", got, r.out)
	}
	j := olctl(t, "version", "--json").wantCode(t, 0).out
	for _, args := range [][]string{{"--version", "--json"}, {"--json", "-v"}, {"--version", "-o", "json"}, {"--version", "--output=json"}} {
		if got := olctl(t, args...).wantCode(t, 0); got.out != j || got.err != "" {
			t.Errorf("%v: %q (stderr %q), want %q", args, got.out, got.err, j)
		}
	}
	if got := run(t, runOpts{env: map[string]string{"OLCTL_OUTPUT": "json"}}, "--version").wantCode(t, 0).out; got != j {
		t.Errorf("OLCTL_OUTPUT=json --version: %q", got)
	}
	// Without --version the root prints its help; an argument is an unknown command (exit 2).
	if got := olctl(t).wantCode(t, 0).out; !strings.HasPrefix(got, "olctl calls the Open Lines") {
		t.Errorf("olctl alone: %q", got)
	}
	if got := olctl(t, "--version", "extra").wantCode(t, ExitUsage); !strings.Contains(got.err, `unknown command "extra"`) {
		t.Errorf("--version extra: %q", got.err)
	}
	// A configuration that cannot be read does not hide the version.
	bad := map[string]string{"OLCTL_SERVER": "connector.example.com", "OLCTL_TIMEOUT": "soon"}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if got := run(t, runOpts{env: bad}, args...).wantCode(t, 0).out; got != r.out {
			t.Errorf("%v with a bad configuration: %q", args, got)
		}
		if got := run(t, runOpts{env: bad}, append(args, "--json")...).wantCode(t, 0).out; got != j {
			t.Errorf("%v --json with a bad configuration: %q", args, got)
		}
	}
}

func TestBuildInfo(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "olctl " + Version + " (commit unknown, unknown)"},
		{"checkout", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", "0123456789abcdef0123", "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "false")},
			"olctl " + Version + " (commit 0123456789ab, 2025-01-02T03:04:05Z, go1.26.1)"},
		{"modified checkout", &debug.BuildInfo{GoVersion: "go1.26.1",
			Settings: settings("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true")},
			"olctl " + Version + " (commit 0123456789ab+modified, go1.26.1)"},
		{"go install of a tag", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}},
			"olctl v1.4.0 (commit unknown, go1.26.1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readBuildInfo(func() (*debug.BuildInfo, bool) { return tt.bi, tt.bi != nil }).String()
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"no-such-command"}, `unknown command "no-such-command"`},
		{"unknown flag", []string{"version", "--nope"}, "unknown flag: --nope"},
		{"extra argument", []string{"version", "extra"}, `unknown command "extra"`},
		{"bad completion shell", []string{"completion", "tcsh"}, `invalid argument "tcsh"`},
		{"completion without shell", []string{"completion"}, "olctl completion needs SHELL (bash, zsh, fish or powershell)"},
		{"bad output", []string{"config", "view", "--output", "xml"}, `invalid output`},
		{"bad timeout", []string{"config", "view", "--timeout", "soon"}, `invalid timeout`},
		{"missing explicit config file", []string{"config", "view", "--config", "/nonexistent/olctl.yaml"},
			"/nonexistent/olctl.yaml"},
		{"bad server URL", []string{"config", "view", "--server", "connector.example.com"}, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := olctl(t, tt.args...).wantCode(t, ExitUsage)
			if !strings.Contains(r.err, tt.want) {
				t.Fatalf("stderr %q does not contain %q", r.err, tt.want)
			}
			if r.out != "" {
				t.Fatalf("usage error wrote to stdout: %q", r.out)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitFailed},
		{"server code", &wire.ResponseError{Errors: []*wire.Error{wire.Errorf(wire.CodeNotActiveLine, "x")}}, ExitFailed},
		{"server wire error", wire.Errorf(wire.CodeFailedRegister, "no"), ExitFailed},
		{"licence", fmt.Errorf("call: %w", &wire.ResponseError{Errors: []*wire.Error{wire.Errorf(wire.CodeLicence, "bad")}}), ExitAuth},
		{"replay", wire.Errorf(wire.CodeReplay, "stale"), ExitAuth},
		{"hash empty", wire.CodeHashEmpty, ExitAuth},
		{"refused", fmt.Errorf("post: %w", refused), ExitNetwork},
		{"url error", &url.Error{Op: "Post", URL: "http://x", Err: errors.New("eof")}, ExitNetwork},
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid"}, ExitNetwork},
		{"not the envelope", wire.Errorf(wire.CodeEmptyServerResponse, "<html>"), ExitNetwork},
		{"413", wire.CodeRequestEntityTooLarge, ExitNetwork},
		{"usage", usageErrorf("bad"), ExitUsage},
		{"config", &ConfigError{Key: "server"}, ExitUsage},
		{"explicit", &ExitError{Code: 4}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestRootHelpGolden(t *testing.T) {
	r := olctl(t, "--help").wantCode(t, 0)
	golden(t, "help-root", r.out)
	for _, want := range []string{"Exit codes:", "4  signature or licence refused", "OLCTL_SERVER"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestCommandHelpGolden(t *testing.T) {
	for _, args := range [][]string{
		{"check", "--help"}, {"connect", "--help"}, {"saveSettings", "--help"}, {"call", "--help"},
		{"send", "--help"}, {"demo", "--help"}, {"connector", "queue", "ls", "--help"}, {"bf", "say", "--help"},
	} {
		r := olctl(t, args...).wantCode(t, 0)
		golden(t, "help-"+strings.Join(args[:len(args)-1], "-"), r.out)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			r := olctl(t, "completion", shell).wantCode(t, 0)
			if !strings.Contains(r.out, "olctl") || len(r.out) < 500 {
				t.Fatalf("completion script for %s looks wrong:\n%.300s", shell, r.out)
			}
		})
	}
}

func TestNewCmdVersionAndCompletionParsing(t *testing.T) {
	var v *VersionOptions
	if err := parse(NewCmdVersion(testFactory(nil), func(o *VersionOptions) error { v = o; return nil })); err != nil || v == nil ||
		v.JSON || v.Context == nil {
		t.Fatalf("version: err %v, options %+v", err, v)
	}
	v = nil
	if err := parse(NewCmdVersion(testFactory(map[string]string{"OLCTL_OUTPUT": "json"}), func(o *VersionOptions) error { v = o; return nil })); err != nil ||
		v == nil || !v.JSON {
		t.Fatalf("version with OLCTL_OUTPUT=json: err %v, options %+v", err, v)
	}
	v = nil
	wantParseError(t, parse(NewCmdVersion(testFactory(nil), func(o *VersionOptions) error { v = o; return nil }), "x"),
		`unknown command "x"`, v != nil)

	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		var c *CompletionOptions
		if err := parse(NewCmdCompletion(testFactory(nil), func(o *CompletionOptions) error { c = o; return nil }), shell); err != nil ||
			c == nil || c.Shell != shell || c.Root == nil {
			t.Fatalf("completion %s: err %v, options %+v", shell, err, c)
		}
	}
	var c *CompletionOptions
	wantParseError(t, parse(NewCmdCompletion(testFactory(nil), func(o *CompletionOptions) error { c = o; return nil }), "tcsh"),
		`invalid argument "tcsh"`, c != nil)
}
