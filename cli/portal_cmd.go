package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
)

// NewCmdPortal builds `olctl portal`, the group of the portal database's commands.
func NewCmdPortal(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "portal dead|redrive",
		Short: "List the portal database's dead letters, and redrive them",
		Long: `Work on the portal database of 'olctl serve' (--db, env OLCTL_PORTAL_DB, default portal.db: the same
default as serve's): dead lists the items that failed their last retry, redrive makes them pending again.
Both are safe while 'olctl serve' runs on the database; its retrier tries the redriven items at its next
look at the store (within a minute), in the order they were received.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdPortalDead(f, nil), NewCmdPortalRedrive(f, nil))
	return requireSubcommand(cmd)
}

// deadFilter selects dead letters: by real connector (any of its virtual ids) and line; "" is any.
type deadFilter struct {
	Connector string
	Line      string
}

func (d deadFilter) match(l portal.DeadLetter) bool {
	return (d.Connector == "" || openlines.RealConnector(l.Connector) == openlines.RealConnector(d.Connector)) &&
		(d.Line == "" || l.Line == d.Line)
}

// filterFlags reads the selection of --connector and --line from the root's flags, only when given on the
// command line (an OLCTL_LINE in the environment selects nothing).
func filterFlags(cmd *cobra.Command) deadFilter {
	var d deadFilter
	if f := cmd.Flags().Lookup(lookupKey(KeyConnector).Flag()); f != nil && f.Changed {
		d.Connector = strings.TrimSpace(f.Value.String())
	}
	if f := cmd.Flags().Lookup(lookupKey(KeyLine).Flag()); f != nil && f.Changed {
		d.Line = strings.TrimSpace(f.Value.String())
	}
	return d
}

// PortalDeadOptions are the inputs of `olctl portal dead`.
type PortalDeadOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)

	DB     string     // the portal database
	Filter deadFilter // --connector, --line
	After  int64      // only dead letters with a greater id
	Limit  int        // most dead letters listed, without All
	All    bool       // every dead letter, page by page
}

// NewCmdPortalDead builds `olctl portal dead`.
func NewCmdPortalDead(f *Factory, runF func(*PortalDeadOptions) error) *cobra.Command {
	opts := &PortalDeadOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "dead",
		Short: "List the items that failed their last retry (the dead letters), in order",
		Long: `List the dead letters of the portal database: the items the portal took but whose processing failed its
last retry, in the order received, with the last error. --connector and --line select; --limit (100) bounds
the list and says so when more follow (--after ID pages on, --all lists every one). The database is opened
read-only.`,
		Example: "  olctl portal dead\n  olctl portal dead --db portal.db --line 3 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context, opts.Filter = cmd.Context(), filterFlags(cmd)
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			if opts.Limit <= 0 {
				return usageErrorf("--limit must be positive")
			}
			if runF != nil {
				return runF(opts)
			}
			return portalDeadRun(opts)
		},
	}
	portalInspectFlag(cmd, &opts.DB)
	fl := cmd.Flags()
	fl.Int64Var(&opts.After, "after", 0, "only dead letters with a greater id (paging)")
	fl.IntVar(&opts.Limit, "limit", 100, "most dead letters to list")
	fl.BoolVar(&opts.All, "all", false, "list every dead letter, page by page")
	return cmd
}

// portalInspectFlag adds --db, the portal database that must be there, to cmd.
func portalInspectFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "db", defaultPortalDB, "the portal database of 'olctl serve' (SQLite path, mysql://… or postgres://…; env "+
		envPortalDB+")")
}

// openItems opens the item store of the portal database dsn, which must be there; read-only unless write.
func openItems(ctx context.Context, dsn string, write bool, clk clock.Clock) (*portal.Items, func(), error) {
	mode := portalInspect
	if write {
		mode = portalExisting
	}
	db, err := openPortalDB(ctx, dsn, mode)
	if err != nil {
		return nil, nil, err
	}
	items, err := portal.OpenItems(ctx, db, clk)
	if errors.Is(err, portal.ErrNotPortalDB) {
		_ = db.Close()
		return nil, nil, usageErrorf("--db %s: %s: give the portal database of 'olctl serve'", dsn, strings.TrimPrefix(err.Error(), "portal: "))
	}
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	return items, func() { _ = items.Close(); _ = db.Close() }, nil
}

// deadPage reads dead letters after after that filter selects: up to limit (and whether more follow), or
// every one with all.
func deadPage(ctx context.Context, items *portal.Items, filter deadFilter, after int64, limit int, all bool) ([]portal.DeadLetter, bool, error) {
	var out []portal.DeadLetter
	const page = 500
	for {
		got, err := items.DeadLetters(ctx, after, page)
		if err != nil {
			return nil, false, err
		}
		for _, d := range got {
			if !filter.match(d) {
				continue
			}
			if !all && len(out) == limit {
				return out, true, nil
			}
			out = append(out, d)
		}
		if len(got) < page {
			return out, false, nil
		}
		after = got[len(got)-1].ID
	}
}

func portalDeadRun(opts *PortalDeadOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	items, closeItems, err := openItems(opts.Context, opts.DB, false, nil)
	if err != nil {
		return err
	}
	defer closeItems()
	dead, more, err := deadPage(opts.Context, items, opts.Filter, opts.After, opts.Limit, opts.All)
	if err != nil {
		return err
	}
	if more {
		fmt.Fprintf(opts.IO.ErrOut, "the first %d dead letters; more follow: --after %d for the next page, --all for every one\n",
			len(dead), dead[len(dead)-1].ID)
	}
	if dead == nil {
		dead = []portal.DeadLetter{}
	}
	return newPrinter(opts.IO, cfg).print(dead, func() *Table {
		t := &Table{Header: []string{"ID", "COMMAND", "CONNECTOR", "LINE", "ATTEMPTS", "RECEIVED", "DIED", "LAST ERROR"}}
		for _, d := range dead {
			t.Append(strconv.FormatInt(d.ID, 10), d.Command, d.Connector, d.Line, strconv.Itoa(d.Attempts), formatTime(d.Received),
				formatTime(d.Died), d.LastError)
		}
		return t
	})
}

// PortalRedriveOptions are the inputs of `olctl portal redrive`.
type PortalRedriveOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	Clock   clock.Clock

	DB     string     // the portal database
	IDs    []int64    // the dead letters to redrive; none: those Filter selects
	Filter deadFilter // --connector, --line
	All    bool       // every dead letter
}

// redriveJSON is the document of `olctl portal redrive --json`.
type redriveJSON struct {
	Redriven int     `json:"redriven"`
	IDs      []int64 `json:"ids"`
}

// NewCmdPortalRedrive builds `olctl portal redrive`.
func NewCmdPortalRedrive(f *Factory, runF func(*PortalRedriveOptions) error) *cobra.Command {
	opts := &PortalRedriveOptions{IO: f.IO, Config: f.Config, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "redrive [ID ...] [--line N] [--connector C] [--all]",
		Short: "Make dead letters pending again, for the portal to try them in order",
		Long: `Make dead letters of the portal database pending again, due at once with a fresh retry schedule: the
given ids, those of --connector and --line, or with --all every one. The 'olctl serve' running on the database
tries them at its next look at the store (within a minute), in the order they were received, and the next
one to start does when none runs. On SQLite the write waits for the running server's writer.`,
		Example: "  olctl portal redrive 17 18\n  olctl portal redrive --line 3\n  olctl portal redrive --all --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Filter = cmd.Context(), filterFlags(cmd)
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return usageErrorf("%q is not a dead letter id (olctl portal dead lists them)", a)
				}
				opts.IDs = append(opts.IDs, id)
			}
			switch {
			case len(opts.IDs) > 0 && (opts.All || opts.Filter != deadFilter{}):
				return usageErrorf("give dead letter ids, or select them with --line, --connector or --all, not both")
			case len(opts.IDs) == 0 && !opts.All && opts.Filter == deadFilter{}:
				return usageErrorf("redrive what? give dead letter ids, --line, --connector or --all")
			}
			if runF != nil {
				return runF(opts)
			}
			return portalRedriveRun(opts)
		},
	}
	portalInspectFlag(cmd, &opts.DB)
	cmd.Flags().BoolVar(&opts.All, "all", false, "redrive every dead letter")
	return cmd
}

func portalRedriveRun(opts *PortalRedriveOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	items, closeItems, err := openItems(opts.Context, opts.DB, true, opts.Clock)
	if err != nil {
		return err
	}
	defer closeItems()
	ids := opts.IDs
	if len(ids) == 0 {
		dead, _, err := deadPage(opts.Context, items, opts.Filter, 0, 0, true)
		if err != nil {
			return err
		}
		for _, d := range dead {
			ids = append(ids, d.ID)
		}
	}
	n := 0
	if len(ids) > 0 {
		if n, err = items.Redrive(opts.Context, ids...); err != nil {
			return err
		}
	}
	if len(opts.IDs) > 0 && n < len(ids) {
		if n == 0 {
			return &ExitError{Code: ExitFailed, Err: errors.New("none of the ids is a dead letter (olctl portal dead lists them)")}
		}
		fmt.Fprintf(opts.IO.ErrOut, "%d of the ids are not dead letters (olctl portal dead lists them)\n", len(ids)-n)
	}
	if cfg.JSON() {
		return writeJSON(opts.IO.Out, redriveJSON{Redriven: n, IDs: append([]int64{}, ids...)})
	}
	if n == 0 {
		_, err = fmt.Fprintln(opts.IO.Out, "no dead letters to redrive")
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "redrove %s; a running 'olctl serve' tries them within %v, in order (else the next to start)\n",
		plural(n, "dead letter"), portal.DefaultPoll.Round(time.Second))
	return err
}
