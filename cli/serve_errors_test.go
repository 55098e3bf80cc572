package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestServeErrors(t *testing.T) {
	full := map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1", "OLCTL_LICENCE_KEY": "k"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"missing server", map[string]string{"OLCTL_LICENCE_KEY": "k"}, nil, "--server, OLCTL_SERVER"},
		{"missing licence key", map[string]string{"OLCTL_SERVER": "http://127.0.0.1:1"}, nil, "--licence-key, OLCTL_LICENCE_KEY"},
		{"bad path", full, []string{"--path", "pub"}, "--path"},
		{"bad events file", full, []string{"--events", "/nonexistent/dir/events"}, "--events"},
		{"busy or bad listen", full, []string{"--listen", "127.0.0.1:99999"}, "listen"},
		{"bad log level", full, []string{"--log-level", "chatty"}, "--log-level"},
		{"no concurrency", full, []string{"--max-concurrent", "0"}, "--max-concurrent must be positive"},
		{"extra argument", full, []string{"now"}, `unknown command "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, append([]string{"serve", "--data-dir", t.TempDir()}, tt.args...)...).
				wantCode(t, ExitUsage)
			if !strings.Contains(r.err, tt.want) {
				t.Fatalf("stderr %q lacks %q", r.err, tt.want)
			}
		})
	}
}

func TestNewCmdServeParsing(t *testing.T) {
	limits := serverLimitFlags{readTimeout: 30 * time.Second, requestTimeout: time.Minute, maxConcurrent: 1024}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want ServeOptions
		err  string
	}{
		{name: "defaults", want: ServeOptions{Listen: "127.0.0.1:8090", DataDir: ".", Path: "/pub/imconnector/", LogLevel: "info",
			Icons: true, Smileys: true, HexEscapes: true, Limits: limits}},
		{name: "every flag", args: []string{"--listen", ":9", "--db", "p.db", "--data-dir", "d", "--files-dir", "f", "--events", "e.jsonl",
			"--allow-private-networks", "--path", "/in/", "--log-level", "debug", "--admit-unknown-lines", "--icons=false",
			"--smileys=false", "--hex-escapes=false", "--big-file-warning", "Too big! ",
			"--read-timeout", "1s", "--request-timeout", "2s", "--max-concurrent", "3"},
			want: ServeOptions{Listen: ":9", DB: "p.db", DataDir: "d", FilesDir: "f", Events: "e.jsonl", AllowPrivate: true, Path: "/in/",
				LogLevel: "debug", AdmitUnknownLines: true, BigFileWarning: "Too big! ",
				Limits: serverLimitFlags{readTimeout: time.Second, requestTimeout: 2 * time.Second, maxConcurrent: 3}}},
		{name: "db from the environment", env: map[string]string{envPortalDB: "mysql://p"},
			want: ServeOptions{Listen: "127.0.0.1:8090", DB: "mysql://p", DataDir: ".", Path: "/pub/imconnector/", LogLevel: "info",
				Icons: true, Smileys: true, HexEscapes: true, Limits: limits}},
		{name: "relative path", args: []string{"--path", "pub"}, err: `--path "pub" must start with /`},
		{name: "argument", args: []string{"now"}, err: `unknown command "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *ServeOptions
			err := parse(NewCmdServe(testFactory(tt.env), func(o *ServeOptions) error { got = o; return nil }), tt.args...)
			if tt.err != "" {
				wantParseError(t, err, tt.err, got != nil)
				return
			}
			if err != nil || got == nil || got.Config == nil || got.HTTPClient == nil || got.Clock == nil {
				t.Fatalf("err %v, options %+v", err, got)
			}
			g := *got
			g.Context, g.IO, g.Config, g.HTTPClient, g.Clock = nil, IO{}, nil, nil, nil
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", g, tt.want)
			}
		})
	}
}
