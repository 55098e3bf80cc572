package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildOlctl builds the olctl binary into a temporary directory.
func buildOlctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "olctl")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/olctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tmuxSession drives a program in a real terminal: a detached tmux session on a private socket.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

// requireTmux skips the test loudly when tmux is missing, and fails it under CI=true, where .ci/run installs
// tmux: the wizard's terminal test must run there.
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed, and CI must run the wizard's terminal test (.ci/run installs tmux)")
		}
		t.Skip("SKIPPED: tmux is not installed; the wizard's terminal test needs it (apt-get install tmux)")
	}
}

// startTmux runs script in a detached tmux session on a private socket (the caller has called requireTmux).
func startTmux(t *testing.T, script string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("olctl-test-%d", os.Getpid()), name: "wizard"}
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", s.name, "-x", "200", "-y", "50", "sh", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-u", "-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen returns the visible pane and its scrollback.
func (s *tmuxSession) screen() string {
	return s.tmux("capture-pane", "-p", "-J", "-S", "-100", "-t", s.name)
}

// waitFor waits until the screen contains want.
func (s *tmuxSession) waitFor(want string) string {
	s.t.Helper()
	var scr string
	waitFor(s.t, func() bool { scr = s.screen(); return strings.Contains(scr, want) },
		func() string { return fmt.Sprintf("the terminal never showed %q; screen:\n%s", want, scr) })
	return scr
}

// typeLine types text and Enter.
func (s *tmuxSession) typeLine(text string) {
	s.t.Helper()
	if text != "" {
		s.tmux("send-keys", "-t", s.name, "-l", text)
	}
	s.tmux("send-keys", "-t", s.name, "Enter")
}

// TestConnectWizardInTerminal runs the real binary in a tmux terminal and answers the wizard's prompts with
// send-keys: the secrets are read without echo, and the steps and webhook URL appear.
func TestConnectWizardInTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	requireTmux(t) // before building the binary
	fs := connectServer(t, md5Creds())
	bin := buildOlctl(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	content := fmt.Sprintf(`#!/bin/sh
cd %q || exit 1
export HOME=%q LANG=C.UTF-8 OLCTL_SERVER=%q OLCTL_DOMAIN=%q OLCTL_CONNECT_PROBE=0
%q connect --line 5
echo "EXIT=$?"
sleep 60
`, dir, dir, fs.URL, testDomain, bin)
	if err := os.WriteFile(script, []byte(content), 0o700); err != nil {
		t.Fatal(err)
	}
	s := startTmux(t, script)

	s.waitFor("? Licence key (input hidden): ")
	s.typeLine(testLicenceKey)
	s.waitFor("? Connector [botframework]: ")
	s.typeLine("")
	s.waitFor("? Bot handle: ")
	s.typeLine("tmuxbot")
	s.waitFor("? Microsoft App ID: ")
	s.typeLine("app-tmux")
	s.waitFor("? Microsoft App password (secret) (input hidden): ")
	s.typeLine("very-secret-password")
	s.waitFor("? Connect botframework on line 5 of " + fs.URL + "? [Y/n]: ")
	s.typeLine("y")
	scr := s.waitFor("EXIT=")

	for _, w := range []string{"✓ saveSettings", "✓ testConnect", "✓ register",
		fs.URL + "/imwebhook/botframework?h=abc123", "EXIT=0"} {
		if !strings.Contains(scr, w) {
			t.Errorf("screen lacks %q:\n%s", w, scr)
		}
	}
	for _, secret := range []string{testLicenceKey, "very-secret-password"} {
		if strings.Contains(scr, secret) {
			t.Errorf("the secret %q was echoed:\n%s", secret, scr)
		}
	}
	calls := fs.received()
	if len(calls) != 3 || calls[0].Line != "5" ||
		describeValue(calls[0].Args[0]) != "{bot_handle=tmuxbot app_id=app-tmux app_secret=very-secret-password}" {
		t.Fatalf("server received %+v", calls)
	}
}
