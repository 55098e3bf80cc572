package cli

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra/doc"
)

// ManPages writes a man page (section 1) for olctl and each of its commands into dir, which it creates:
// olctl.1, olctl-connect.1, olctl-connector-queue-ls.1, …, generated from the same help as --help. The pages
// are dated by the commit the binary was built from, else today.
func ManPages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	info := readBuildInfo(debug.ReadBuildInfo)
	date := time.Now()
	if t, err := time.Parse(time.RFC3339, info.Date); err == nil {
		date = t
	}
	root := NewCmdRoot(&Factory{})
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "OLCTL", Section: "1", Source: "olctl " + info.Version, Manual: "olctl manual", Date: &date}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	return nil
}
