package cli

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "config.yaml", `server: https://file.example.com
domain: https://portal-file.example.com
licence_key: file-licence-key-0001
signing: hmac-sha256
secret: [file-secret-aaaa-1111, file-secret-bbbb-2222]
line: "7"
timeout: 12
`)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		key     string
		value   string
		source  Source
		wantAll func(t *testing.T, doc configViewJSON)
	}{
		{name: "file", args: []string{"--config", file}, key: KeyServer, value: "https://file.example.com", source: SourceFile},
		{name: "env over file", env: map[string]string{"OLCTL_SERVER": "https://env.example.com"},
			args: []string{"--config", file}, key: KeyServer, value: "https://env.example.com", source: SourceEnv},
		{name: "flag over env", env: map[string]string{"OLCTL_SERVER": "https://env.example.com"},
			args: []string{"--config", file, "--server", "https://flag.example.com/"}, key: KeyServer,
			value: "https://flag.example.com", source: SourceFlag},
		{name: "default", key: KeySigning, value: "md5", source: SourceDefault},
		{name: "unset", key: KeyConnector, value: "", source: SourceUnset},
		{name: "timeout seconds in file", args: []string{"--config", file}, key: KeyTimeout, value: "12s", source: SourceFile},
		{name: "OLCTL_CONFIG", env: map[string]string{"OLCTL_CONFIG": file}, key: KeyLine, value: "7", source: SourceFile},
		{name: "json flag", args: []string{"--json"}, key: KeyOutput, value: "json", source: SourceFlag},
		{name: "output env", env: map[string]string{"OLCTL_OUTPUT": "json"}, key: KeyOutput, value: "json", source: SourceEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"OLCTL_OUTPUT": "json"} // every case prints JSON; some override the source
			for k, v := range tt.env {
				env[k] = v
			}
			r := run(t, runOpts{env: env}, append([]string{"config", "view"}, tt.args...)...)
			r.wantCode(t, 0)
			var doc configViewJSON
			r.decodeJSON(t, &doc)
			for _, v := range doc.Values {
				if v.Key != tt.key {
					continue
				}
				if v.Value != tt.value || v.Source != tt.source {
					t.Fatalf("%s = %v from %s, want %q from %s", v.Key, v.Value, v.Source, tt.value, tt.source)
				}
				return
			}
			t.Fatalf("key %s missing from %+v", tt.key, doc)
		})
	}
}

func TestConfigXDGPath(t *testing.T) {
	xdg := t.TempDir()
	path := filepath.Join(xdg, "olctl", "config.yaml")
	writeAt(t, path, "server: https://xdg.example.com\n")
	r := run(t, runOpts{env: map[string]string{"XDG_CONFIG_HOME": xdg}}, "config", "view", "--json").wantCode(t, 0)
	var doc configViewJSON
	r.decodeJSON(t, &doc)
	if doc.File != path || doc.Values[0].Value != "https://xdg.example.com" {
		t.Fatalf("XDG config not read: %+v", doc)
	}
}

func TestConfigViewMasksSecrets(t *testing.T) {
	env := map[string]string{
		"OLCTL_LICENCE_KEY": "licence-key-with-tail-WXYZ",
		"OLCTL_SECRET":      "first-secret-value-1234, short",
		"OLCTL_SIGNING":     "hmac-sha256",
		"OLCTL_SERVER":      "https://connector.example.com",
	}
	r := run(t, runOpts{env: env}, "config", "view").wantCode(t, 0)
	for _, secret := range []string{"licence-key-with-tail", "first-secret-value", "short"} {
		if strings.Contains(r.out, secret) {
			t.Fatalf("config view shows the secret %q:\n%s", secret, r.out)
		}
	}
	golden(t, "config-view-plain", r.out)

	tty := run(t, runOpts{env: env, outTTY: true}, "config", "view").wantCode(t, 0)
	golden(t, "config-view-table", tty.out)

	var doc configViewJSON
	run(t, runOpts{env: env}, "config", "view", "-o", "json").wantCode(t, 0).decodeJSON(t, &doc)
	secrets, ok := doc.Values[4].Value.([]any)
	if doc.Values[4].Key != KeySecret || !ok || len(secrets) != 2 || secrets[0] != "****1234" || secrets[1] != "****" {
		t.Fatalf("secrets not masked as a list: %+v", doc.Values[4])
	}
}

func TestConfigErrors(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "server: [unclosed\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"bad yaml", nil, []string{"--config", bad}, []string{bad}},
		{"bad signing from env", map[string]string{"OLCTL_SIGNING": "sha1"}, nil,
			[]string{`"sha1"`, "--signing", "OLCTL_SIGNING", `"signing"`}},
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

func TestConfigRequireNamesFlagEnvAndKey(t *testing.T) {
	cfg := &Config{FileWanted: "/home/u/.config/olctl/config.yaml", Signing: "hmac-sha256", LicenceKey: "k"}
	err := cfg.RequireSigning()
	want := `missing secret: set --secret, OLCTL_SECRET or "secret" in /home/u/.config/olctl/config.yaml`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if ExitCode(err) != ExitUsage {
		t.Fatalf("exit %d", ExitCode(err))
	}
	// Every missing key is named in the one error, and errors.As finds each one's ConfigError.
	err = (&Config{}).Require(KeyServer, KeyLicenceKey, KeyServer)
	if err == nil || !strings.Contains(err.Error(), "missing server and licence key: set --server and --licence-key "+
		`(or OLCTL_SERVER and OLCTL_LICENCE_KEY, or "server" and "licence_key" in the config file)`) {
		t.Fatalf("got %v", err)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != KeyServer || ExitCode(err) != ExitUsage {
		t.Fatalf("errors.As: %+v, exit %d", ce, ExitCode(err))
	}
}

func TestNewCmdConfigViewParsing(t *testing.T) {
	var got *ConfigViewOptions
	if err := parse(NewCmdConfigView(testFactory(nil), func(o *ConfigViewOptions) error { got = o; return nil })); err != nil ||
		got == nil || got.Config == nil {
		t.Fatalf("err %v, options %+v", err, got)
	}
	got = nil
	wantParseError(t, parse(NewCmdConfigView(testFactory(nil), func(o *ConfigViewOptions) error { got = o; return nil }), "extra"),
		`unknown command "extra"`, got != nil)
}
