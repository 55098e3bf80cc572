package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnectWizardCtrlC presses Ctrl-C at each of the wizard's prompts in a real terminal (tmux): the
// wizard stops at once with exit 130, sends nothing, and leaves the terminal echoing again (after the
// hidden prompts too).
func TestConnectWizardCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	requireTmux(t)
	fs := connectServer(t, md5Creds())
	bin := buildOlctl(t)
	prompts := []struct{ prompt, answer string }{
		{"? Licence key (input hidden): ", testLicenceKey},
		{"? Connector [botframework]: ", ""},
		{"? Bot handle: ", "tmuxbot"},
		{"? Microsoft App ID: ", "app-tmux"},
		{"? Microsoft App password (secret) (input hidden): ", "very-secret-password"},
		{"? Connect botframework on line 5 of " + fs.URL + "? [Y/n]: ", "y"},
	}
	for i, at := range prompts {
		t.Run(strings.TrimSpace(strings.TrimPrefix(at.prompt, "?")), func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "run.sh")
			// The shell traps SIGINT (so that it outlives Ctrl-C and reports the exit code) without ignoring it,
			// which olctl would inherit.
			content := fmt.Sprintf(`#!/bin/sh
cd %q || exit 1
trap : INT
export HOME=%q LANG=C.UTF-8 OLCTL_SERVER=%q OLCTL_DOMAIN=%q OLCTL_CONNECT_PROBE=0
%q connect --line 5
echo "EXIT=$?"
read after
echo "READ=$after"
sleep 60
`, dir, dir, fs.URL, testDomain, bin)
			if err := os.WriteFile(script, []byte(content), 0o700); err != nil {
				t.Fatal(err)
			}
			// A server of its own per run: a server killed by the previous run's cleanup may still be exiting.
			s := &tmuxSession{t: t, socket: fmt.Sprintf("olctl-cancel-%d-%d", os.Getpid(), i), name: "wizard"}
			s.tmux("-f", "/dev/null", "new-session", "-d", "-s", s.name, "-x", "200", "-y", "50", "sh", script)
			t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
			for _, p := range prompts[:i] {
				s.waitFor(p.prompt)
				s.typeLine(p.answer)
			}
			s.waitFor(at.prompt)
			s.tmux("send-keys", "-t", s.name, "C-c")
			scr := s.waitFor("EXIT=")
			if !strings.Contains(scr, "EXIT=130") || !strings.Contains(scr, "olctl: cancelled") {
				t.Fatalf("Ctrl-C at %q: want exit 130 and \"olctl: cancelled\"; screen:\n%s", at.prompt, scr)
			}
			for _, p := range prompts[i+1:] {
				if strings.Contains(scr, p.prompt) {
					t.Fatalf("the wizard went on to %q after Ctrl-C:\n%s", p.prompt, scr)
				}
			}
			// The terminal echoes again: what is typed now shows on the screen.
			s.typeLine("typed-after")
			scr = s.waitFor("READ=typed-after")
			if strings.Count(scr, "typed-after") < 2 {
				t.Fatalf("the terminal does not echo after Ctrl-C:\n%s", scr)
			}
			if n := len(fs.received()); n != 0 {
				t.Fatalf("the server received %d calls after Ctrl-C", n)
			}
		})
	}
}
