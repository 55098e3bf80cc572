package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/connector"
)

// QueueRepairOptions are the inputs of `olctl connector queue redrive` and `olctl connector queue retry`.
type QueueRepairOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	DB      string // the connector database

	Retry  bool                  // lift blocks (retry) instead of queueing dead letters again (redrive)
	Filter connector.QueueFilter // site and line; for redrive also the first --limit after --after
	All    bool                  // every line (redrive without --site or --line)
}

// queueRepairJSON is the document of `connector queue redrive|retry --json`.
type queueRepairJSON struct {
	Action string `json:"action"` // redrive or retry
	Site   string `json:"site"`
	Line   string `json:"line"`
	Count  int    `json:"count"` // dead letters queued again, or lines whose block was lifted
}

// NewCmdConnectorQueueRedrive builds `olctl connector queue redrive`.
func NewCmdConnectorQueueRedrive(f *Factory, runF func(*QueueRepairOptions) error) *cobra.Command {
	opts := &QueueRepairOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "redrive (--line LINE | --site SITE | --all)",
		Short: "Queue dead letters again, in order, at the end of their lines' queues",
		Long: `Queue the dead letters of a line, of a portal, or all of them again: each goes, in the order it first
came, to the end of its line's queue, and the server sends it as it sends any queued item (at once, unless
the line is blocked again). Run it once the cause is fixed, with the server stopped (a SQLite file that a
running server serves is refused: use its inspector) or, on MySQL and PostgreSQL, while it runs.`,
		Example: `  olctl connector queue redrive --db connector.db --line 3
  olctl connector queue redrive --db 'root@tcp(127.0.0.1:3306)/olctl' --site https://portal.example.com --all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envConnectorDB, &opts.DB, f.LookupEnv)
			if opts.Filter.Site == "" && opts.Filter.Line == "" && !opts.All {
				return usageErrorf("say which dead letters: --line LINE, --site SITE or --all")
			}
			if err := redriveSelect.check(opts.Filter); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return queueRepairRun(opts)
		},
	}
	connectorDBFlag(cmd, &opts.DB)
	redriveSelect.add(cmd, &opts.Filter, &opts.All)
	return cmd
}

// redriveSelect are the flags of queue redrive; queue retry has --site only (the line is its argument).
var (
	redriveSelect = queueSelect{Items: "dead letters", LimitUse: "most dead letters to queue again (0: every one)",
		AllUse: "every dead letter (of --site, if given)", LimitZero: true}
	retrySelect = queueSelect{NoLine: true}
)

// NewCmdConnectorQueueRetry builds `olctl connector queue retry`.
func NewCmdConnectorQueueRetry(f *Factory, runF func(*QueueRepairOptions) error) *cobra.Command {
	opts := &QueueRepairOptions{IO: f.IO, Config: f.Config, Retry: true}
	cmd := &cobra.Command{
		Use:   "retry LINE [--site SITE]",
		Short: "Lift a blocked line's block: it is sent at once, its failures forgotten",
		Long: `Lift the block of a line that the portal's failures blocked (of every portal, or of --site): the server
sends its queue at once instead of at the end of the block, and a failure starts the back-off schedule
anew. The server must be stopped on SQLite (or use its inspector); on MySQL and PostgreSQL it may run.`,
		Example: "  olctl connector queue retry 3 --db connector.db",
		Args:    needArgs(1, 1, "LINE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Context, opts.Filter.Line = cmd.Context(), args[0]
			envDefault(cmd, "db", envConnectorDB, &opts.DB, f.LookupEnv)
			if runF != nil {
				return runF(opts)
			}
			return queueRepairRun(opts)
		},
	}
	connectorDBFlag(cmd, &opts.DB)
	retrySelect.add(cmd, &opts.Filter, nil)
	return cmd
}

func queueRepairRun(opts *QueueRepairOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	st, err := openConnectorStore(opts.Context, opts.DB, true)
	if err != nil {
		return err
	}
	defer st.Close()
	doc := queueRepairJSON{Action: "redrive", Site: opts.Filter.Site, Line: opts.Filter.Line}
	if opts.Retry {
		doc.Action = "retry"
		doc.Count, err = st.Retry(opts.Context, opts.Filter)
	} else {
		doc.Count, err = st.RedriveDead(opts.Context, opts.Filter)
	}
	if err != nil {
		return err
	}
	if cfg.JSON() {
		return writeJSON(opts.IO.Out, doc)
	}
	where := "every line"
	switch {
	case doc.Site != "" && doc.Line != "":
		where = fmt.Sprintf("line %s of %s", doc.Line, doc.Site)
	case doc.Line != "":
		where = "line " + doc.Line
	case doc.Site != "":
		where = doc.Site
	}
	var msg string
	switch {
	case opts.Retry && doc.Count == 0:
		msg = fmt.Sprintf("%s is not blocked: nothing to lift", where)
	case opts.Retry:
		msg = fmt.Sprintf("lifted the block of %s (%d): it is sent when the server runs", where, doc.Count)
	case doc.Count == 0:
		msg = fmt.Sprintf("no dead letters of %s", where)
	default:
		msg = fmt.Sprintf("queued %d dead letters of %s again, in order", doc.Count, where)
	}
	_, err = fmt.Fprintln(opts.IO.Out, msg)
	return err
}
