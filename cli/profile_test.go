package cli

import (
	"strings"
	"testing"

	"github.com/olctl/olctl/wire"
)

// TestProfileOnTheWire: the profile (--profile, OLCTL_PROFILE, the config file) and the region (--region)
// reach the client: BX_VERSION is the profile's and BX_REGION is sent by the current profile only.
func TestProfileOnTheWire(t *testing.T) {
	file := writeFile(t, "config.yaml", "profile: legacy\n")
	tests := []struct {
		name    string
		env     []string
		args    []string
		version string
		region  string
	}{
		{name: "default current", version: wire.CurrentVersion},
		{name: "legacy by env", env: []string{"OLCTL_PROFILE", "legacy"}, version: wire.LegacyVersion},
		{name: "legacy by file", args: []string{"--config", file}, version: wire.LegacyVersion},
		{name: "flag over file", args: []string{"--config", file, "--profile", "current"}, version: wire.CurrentVersion},
		{name: "region", args: []string{"--region", "eu"}, version: wire.CurrentVersion, region: "eu"},
		{name: "region by env", env: []string{"OLCTL_REGION", "kz"}, version: wire.CurrentVersion, region: "kz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t, md5Creds())
			run(t, runOpts{env: fs.env(tt.env...)}, append([]string{"testConnect"}, tt.args...)...).wantCode(t, 0)
			calls := fs.received()
			if len(calls) != 1 {
				t.Fatalf("calls %+v", calls)
			}
			f := calls[0].Fields
			if got := f.Get("BX_VERSION"); got != tt.version {
				t.Fatalf("BX_VERSION %q, want %q", got, tt.version)
			}
			_, hasRegion := f.Lookup("BX_REGION")
			if got := f.Get("BX_REGION"); got != tt.region || (tt.region != "" && !hasRegion) {
				t.Fatalf("BX_REGION %q (sent %v), want %q", got, hasRegion, tt.region)
			}
		})
	}
}

func TestProfileErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"unknown profile", nil, []string{"--profile", "future"}, []string{`"future": want legacy or current`, "--profile", "OLCTL_PROFILE"}},
		{"unknown profile by env", map[string]string{"OLCTL_PROFILE": "v3"}, nil, []string{`"v3"`, "OLCTL_PROFILE"}},
		{"region of a legacy portal", nil, []string{"--profile", "legacy", "--region", "eu"},
			[]string{"the legacy profile sends no BX_REGION", "--region", "OLCTL_REGION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, runOpts{env: tt.env}, append([]string{"config", "view"}, tt.args...)...).wantCode(t, ExitUsage)
			for _, w := range tt.want {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr %q lacks %q", r.err, w)
				}
			}
		})
	}
}

// TestProfileCompletion: the shell completion offers the values of --profile (and of the other keys with a
// fixed set).
func TestProfileCompletion(t *testing.T) {
	for flag, want := range map[string][]string{"--profile": {"legacy", "current"}, "--signing": {"md5", "hmac-sha256"},
		"--output": {"table", "json"}} {
		r := olctl(t, "__complete", "testConnect", flag, "").wantCode(t, 0)
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if len(lines) != len(want)+1 || strings.Join(lines[:len(want)], " ") != strings.Join(want, " ") || !strings.HasPrefix(lines[len(want)], ":") {
			t.Errorf("completion of %s:\n%s", flag, r.out)
		}
	}
}
