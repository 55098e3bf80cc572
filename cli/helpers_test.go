package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is the outcome of one in-process olctl run.
type result struct {
	code int
	out  string
	err  string
}

// runOpts configure an in-process run.
type runOpts struct {
	env    map[string]string
	stdin  string
	outTTY bool
	inTTY  bool
	ctx    context.Context
	mutate func(f *Factory)
}

// run runs olctl in-process with buffers (no terminal), an environment of only env plus HOME set to a temporary
// directory (so no real config file is read) and OLCTL_PORTAL_DB to a database there (so that no portal.db is
// written where the tests run), and returns the exit code and outputs.
func run(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{"HOME": home, envPortalDB: filepath.Join(home, defaultPortalDB)}
	for k, v := range o.env {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	f := &Factory{
		IO:        IO{In: strings.NewReader(o.stdin), Out: &out, ErrOut: &errOut, OutTTY: o.outTTY, InTTY: o.inTTY},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		// The wizard looks for no running servers: what runs on the machine (a bf serve left running) does
		// not change what a test sees. A test that wants hints sets them (mutate).
		WizardHints: func() (WizardHints, error) { return WizardHints{}, nil },
	}
	if o.mutate != nil {
		o.mutate(f)
	}
	ctx := o.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
	}
	code := Run(ctx, f, args)
	return result{code: code, out: out.String(), err: errOut.String()}
}

// olctl runs olctl with no environment but HOME.
func olctl(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, runOpts{}, args...)
}

func (r result) wantCode(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.out, r.err)
	}
	return r
}

// decodeJSON parses the run's stdout as one JSON document into v.
func (r result) decodeJSON(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r.out)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.out)
	}
}

// golden compares got with testdata/<name>.golden, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got,
			want)
	}
}

// writeFile writes content into a new file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeAt writes content at path, making its directory.
func writeAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testFactory returns a Factory on empty streams and env, completed as NewCmdRoot completes it but without
// the root's persistent flags: for the tests that build one command with NewCmd… and a runF.
func testFactory(env map[string]string) *Factory {
	f := &Factory{
		IO:        IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
	f.complete(pflag.NewFlagSet("olctl", pflag.ContinueOnError))
	return f
}

// parse runs cmd with args; its runF (which records the options) runs instead of the command's own run.
func parse(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	_, err := cmd.ExecuteC()
	return err
}

// wantParseError checks that err is a parse error mentioning want and that runF did not run (ran false).
func wantParseError(t *testing.T, err error, want string, ran bool) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one mentioning %q", err, want)
	}
	if ran {
		t.Fatal("runF ran after a parse error")
	}
}
