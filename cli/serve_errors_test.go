package cli

import (
	"strings"
	"testing"
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
