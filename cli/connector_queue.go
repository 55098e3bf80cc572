package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/connector"
)

// envConnectorDB is the default of the queue commands' --db: the connector server's database.
const envConnectorDB = envPrefix + "CONNECTOR_DB"

// NewCmdConnectorQueue builds `olctl connector queue`, the group of the queue inspection commands.
func NewCmdConnectorQueue(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue stats|ls|dead|redrive|retry",
		Short: "Inspect the connector server's queue (table or JSON), redrive its dead letters, lift a block",
		Long: `Inspect the queue of a connector server's database (--db, the same DSN as 'olctl connector serve --db';
env OLCTL_CONNECTOR_DB): stats, ls and dead only read, safe while the server runs. redrive queues dead
letters again and retry lifts a line's block.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdConnectorQueueStats(f, nil), NewCmdConnectorQueueList(f, false, nil), NewCmdConnectorQueueList(f, true, nil),
		NewCmdConnectorQueueRedrive(f, nil), NewCmdConnectorQueueRetry(f, nil))
	return requireSubcommand(cmd)
}

// connectorDBFlag adds --db, the connector database, to cmd, kept in dst (OLCTL_CONNECTOR_DB when not given,
// see envDefault).
func connectorDBFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVar(dst, "db", "", "connector database: SQLite path, MySQL DSN or postgres://… (env "+envConnectorDB+")")
}

// openQueue opens the connector database dsn, which must exist, read-only to inspect its queue.
func openQueue(ctx context.Context, dsn string) (*connector.Store, error) {
	return openConnectorStore(ctx, dsn, false)
}

// QueueStatsOptions are the inputs of `olctl connector queue stats`.
type QueueStatsOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	DB      string // the connector database
}

// NewCmdConnectorQueueStats builds `olctl connector queue stats`.
func NewCmdConnectorQueueStats(f *Factory, runF func(*QueueStatsOptions) error) *cobra.Command {
	opts := &QueueStatsOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:     "stats",
		Short:   "Show the queue of every line: pending items, state, attempts, dead letters",
		Example: "  olctl connector queue stats --db connector.db\n  olctl connector queue stats --db connector.db --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envConnectorDB, &opts.DB, f.LookupEnv)
			if runF != nil {
				return runF(opts)
			}
			return queueStatsRun(opts)
		},
	}
	connectorDBFlag(cmd, &opts.DB)
	return cmd
}

func queueStatsRun(opts *QueueStatsOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	st, err := openQueue(opts.Context, opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	qs, err := st.QueueStats(opts.Context)
	if err != nil {
		return err
	}
	if qs.Lines == nil {
		qs.Lines = []connector.LaneStats{}
	}
	return newPrinter(opts.IO, cfg).print(qs, func() *Table {
		t := &Table{Header: []string{"SITE", "LINE", "PENDING", "STATE", "ATTEMPTS", "NEXT", "DEAD"}}
		for _, l := range qs.Lines {
			t.Append(l.Site, l.Line, strconv.Itoa(l.Pending), l.State, strconv.Itoa(l.Attempts), formatTime(l.NextAt),
				strconv.Itoa(l.Dead))
		}
		t.Append("total", "", strconv.Itoa(qs.Pending), fmt.Sprintf("%d blocked", qs.Blocked), "", "", strconv.Itoa(qs.Dead))
		return t
	})
}

// QueueListOptions are the inputs of `olctl connector queue ls` and `olctl connector queue dead`.
type QueueListOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	DB      string // the connector database

	Dead   bool                  // list the dead letters instead of the queued items
	Filter connector.QueueFilter // site, line, after and limit
	All    bool                  // every item, page by page
}

// NewCmdConnectorQueueList builds `olctl connector queue ls`, or with dead `olctl connector queue dead`.
func NewCmdConnectorQueueList(f *Factory, dead bool, runF func(*QueueListOptions) error) *cobra.Command {
	opts := &QueueListOptions{IO: f.IO, Config: f.Config, Dead: dead}
	use, short := "ls", "List queued items in order"
	if dead {
		use, short = "dead", "List dead-lettered items in order"
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: fmt.Sprintf("  olctl connector queue %s --db connector.db --line 3\n  olctl connector queue %s --db connector.db --all --json", use, use),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envConnectorDB, &opts.DB, f.LookupEnv)
			if err := listSelect.check(opts.Filter); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return queueListRun(opts)
		},
	}
	connectorDBFlag(cmd, &opts.DB)
	listSelect.add(cmd, &opts.Filter, &opts.All)
	return cmd
}

// listSelect are the flags of queue ls and queue dead.
var listSelect = queueSelect{Items: "items", Limit: 100, LimitUse: "most items to list",
	AllUse: "list every item, page by page (progress on a terminal)"}

func queueListRun(opts *QueueListOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	st, err := openQueue(opts.Context, opts.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	fetch := st.QueueList
	if opts.Dead {
		fetch = st.DeadLetters
	}
	items, err := pageItems(opts.Context, opts.IO, fetch, opts.Filter, opts.All)
	if err != nil {
		return err
	}
	return printItems(newPrinter(opts.IO, cfg), items, opts.Dead)
}

// queueItemJSON is one item of `connector queue ls|dead --json`.
type queueItemJSON struct {
	ID           int64     `json:"id"`
	Site         string    `json:"site"`
	Line         string    `json:"line"`
	Command      string    `json:"command"`
	Connector    string    `json:"connector"`
	ChatID       string    `json:"chat_id"`
	MessageID    string    `json:"message_id"`
	Created      time.Time `json:"created"`
	DeadAt       time.Time `json:"dead_at,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	Item         any       `json:"item"`
}

// pageItems fetches items page by page: one page of filter.Limit (saying on stderr when more follow), or with
// all every page, showing progress on a terminal's stderr.
func pageItems(ctx context.Context, ios IO, fetch func(context.Context, connector.QueueFilter) ([]connector.QueuedItem, error),
	filter connector.QueueFilter, all bool) ([]connector.QueuedItem, error) {
	if !all {
		limit := filter.Limit
		filter.Limit++ // one more tells whether more follow
		items, err := fetch(ctx, filter)
		if err != nil || len(items) <= limit {
			return items, err
		}
		items = items[:limit]
		fmt.Fprintf(ios.ErrOut, "the first %d items (--limit); more follow: --after %d for the next page, --all for every one\n",
			limit, items[limit-1].ID)
		return items, nil
	}
	filter.Limit = 1000
	prog := newProgress(ios.ErrOut, ios.ErrTTY, "listing", 0)
	defer prog.done()
	var out []connector.QueuedItem
	for {
		page, err := fetch(ctx, filter)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		prog.set(len(out))
		if len(page) < filter.Limit {
			return out, nil
		}
		filter.AfterID = page[len(page)-1].ID
	}
}

func printItems(p printer, items []connector.QueuedItem, dead bool) error {
	docs := make([]queueItemJSON, len(items))
	for i, it := range items {
		docs[i] = queueItemJSON{ID: it.ID, Site: it.Site, Line: it.Line, Command: it.Command, Connector: it.Connector,
			ChatID: it.ChatID, MessageID: it.MessageID, Created: it.Created.UTC(), DeadAt: it.DeadAt.UTC(),
			Attempts: it.Attempts, FirstFailure: it.FirstFailure.UTC(), Item: it.Item}
	}
	return p.print(docs, func() *Table {
		h := []string{"ID", "SITE", "LINE", "COMMAND", "CONNECTOR", "CHAT", "MESSAGE", "CREATED"}
		if dead {
			h = append(h, "DEAD AT", "ATTEMPTS")
		}
		t := &Table{Header: h}
		for _, it := range items {
			row := []string{strconv.FormatInt(it.ID, 10), it.Site, it.Line, it.Command, it.Connector, it.ChatID, it.MessageID,
				formatTime(it.Created)}
			if dead {
				row = append(row, formatTime(it.DeadAt), strconv.Itoa(it.Attempts))
			}
			t.Append(row...)
		}
		return t
	})
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
