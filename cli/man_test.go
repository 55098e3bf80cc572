package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	if err := ManPages(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want[strings.ReplaceAll(c.CommandPath(), " ", "-")+".1"] = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdRoot(testFactory(nil)))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		t.Errorf("%d pages, want one per command: %d", len(entries), len(want))
	}
	for name := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("no page for a command: %v", err)
			continue
		}
		page := string(b)
		cmd := strings.TrimSuffix(name, ".1")
		for _, w := range []string{`.TH "OLCTL" "1"`, ".SH NAME", "\n" + cmd + " - ", ".SH SYNOPSIS"} {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "olctl-connect.1")); !strings.Contains(string(b), `\fB--app-secret\fP`) {
		t.Errorf("olctl-connect.1 lacks its flags:\n%s", b)
	}
}
