package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the olctl version, set at build time with -ldflags "-X github.com/olctl/olctl/cli.Version=…".
// A binary built by `go install …@vX.Y.Z` reports its module version instead of this default.
var Version = "0.1.0-dev"

// buildInfo is what `olctl version` and `olctl --version` report.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`   // the VCS revision, "" when the build did not record one
	Date    string `json:"date"`     // the revision's commit time (RFC 3339), "" when not recorded
	Dirty   bool   `json:"modified"` // the working tree had uncommitted changes
	Go      string `json:"go"`
}

// readBuildInfo returns the build's version, commit and date from Version and the Go build information read
// returns (debug.ReadBuildInfo; go build records the VCS revision, time and state of the checkout).
func readBuildInfo(read func() (*debug.BuildInfo, bool)) buildInfo {
	info := buildInfo{Version: Version, Go: "unknown"}
	bi, ok := read()
	if !ok {
		return info
	}
	info.Go = bi.GoVersion
	if v := bi.Main.Version; Version == "0.1.0-dev" && v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.time":
			info.Date = s.Value
		case "vcs.modified":
			info.Dirty = s.Value == "true"
		}
	}
	return info
}

// String is the one line of `olctl --version`: "olctl 1.2.0 (commit 0123abcd4567, 2025-01-02T03:04:05Z, go1.26.0)".
func (b buildInfo) String() string {
	commit := "unknown"
	if b.Commit != "" {
		commit = b.Commit[:min(12, len(b.Commit))]
		if b.Dirty {
			commit += "+modified"
		}
	}
	s := "olctl " + b.Version + " (commit " + commit
	if b.Date != "" {
		s += ", " + b.Date
	}
	return s + ", " + b.Go + ")"
}

// VersionOptions are the inputs of `olctl version` and `olctl --version`.
type VersionOptions struct {
	Context context.Context // the run's context, set when the command runs
	IO      IO
	JSON    bool // print the JSON document (--json, -o json, OLCTL_OUTPUT or the config file)
}

// NewCmdVersion builds `olctl version`. runF, when not nil, runs instead of the command's own run, with the
// options the flags and arguments set (tests check the parsing so); every NewCmd… takes it.
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the olctl version, its commit and build date",
		Long: `Print the olctl version, the commit it was built from and that commit's date (as the Go toolchain recorded
them in the binary), and the Go version. 'olctl --version' prints the same line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context, opts.JSON = cmd.Context(), versionJSON(cmd, f)
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *VersionOptions) error {
	info := readBuildInfo(debug.ReadBuildInfo)
	if opts.JSON {
		return writeJSON(opts.IO.Out, info)
	}
	_, err := fmt.Fprintln(opts.IO.Out, info.String())
	return err
}

// versionJSON reports whether the run asks for JSON: by the configuration, or, when it cannot be read (the
// version is printed whatever else is wrong, so that a bug report can name it), by --json, --output and
// OLCTL_OUTPUT alone.
func versionJSON(cmd *cobra.Command, f *Factory) bool {
	if cfg, err := f.Config(); err == nil {
		return cfg.JSON()
	}
	fl := cmd.Flags()
	if j := fl.Lookup("json"); j != nil && j.Changed {
		return j.Value.String() == "true"
	}
	if o := fl.Lookup("output"); o != nil && o.Changed {
		return strings.EqualFold(strings.TrimSpace(o.Value.String()), "json")
	}
	v, ok := f.LookupEnv(lookupKey(KeyOutput).Env())
	return ok && strings.EqualFold(strings.TrimSpace(v), "json")
}
