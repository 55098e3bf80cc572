package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/wire"
)

func newConnectorCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector",
		Short: "Run the connector server, or inspect its queue",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConnectorServeCmd(f), newConnectorQueueCmd(f))
	return requireSubcommand(cmd)
}

type connectorServeOptions struct {
	listen      string
	db          string
	publicURL   string
	licenceKeys []string
	logLevel    string
	batch       int
	confirm     time.Duration
	schedule    string
	bf          bfChannelOptions
}

func newConnectorServeCmd(f *Factory) *cobra.Command {
	o := &connectorServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR [--db DSN] [--licence-key K ...]",
		Short: "Run the connector server (portal endpoint, webhooks, durable queue, dispatcher)",
		Long: `Run the connector server until interrupted: the portal endpoint POST /imwebhook/portal.php, messenger
webhooks POST /imwebhook/{connector}?h={hash}, /metrics and /healthz, the durable queue and its dispatcher.

The portals it accepts are given by --licence-key (repeatable; else the global licence_key from the
environment or config file), signing with --signing and --secret. Portals stored in the database by earlier
runs are known too. Logs go to stderr.`,
		Example: `  olctl connector serve --listen 127.0.0.1:8080 --db connector.db --licence-key "$PORTAL_KEY"
  olctl connector serve --listen :8080 --db 'root@tcp(127.0.0.1:3306)/olctl' --public-url https://connector.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.connectorServe(cmd.Context(), o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", "127.0.0.1:8080", "listen address")
	fl.StringVar(&o.db, "db", "", "database: SQLite path or MySQL DSN (default: a temporary SQLite file)")
	fl.StringVar(&o.publicURL, "public-url", "", "external base URL used in webhook URLs (default http://<listen>)")
	fl.StringArrayVar(&o.licenceKeys, "licence-key", nil, "licence key of a portal to accept (repeatable)")
	fl.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.IntVar(&o.batch, "batch", connector.DefaultBatch, "items per receivingMessage packet")
	fl.DurationVar(&o.confirm, "confirm-timeout", connector.DefaultConfirmTimeout, "wait for setStatusDelivered")
	fl.StringVar(&o.schedule, "schedule", "", "back-off schedule, comma-separated durations (default 1m,4m,10m,15m,30m,1h,2h,3h,5h,12h)")
	o.bf.addFlags(cmd)
	return cmd
}

// sites returns the portals the server accepts.
func (o *connectorServeOptions) sites(cfg *Config) ([]connector.Site, error) {
	keys := o.licenceKeys
	if len(keys) == 0 && cfg.LicenceKey != "" {
		keys = []string{cfg.LicenceKey}
	}
	if len(keys) == 0 {
		return nil, cfg.configError(KeyLicenceKey, "")
	}
	if cfg.Signing == wire.HMACSHA256 && len(cfg.Secrets) == 0 {
		return nil, cfg.configError(KeySecret, "")
	}
	sites := make([]connector.Site, 0, len(keys))
	for _, k := range keys {
		s := connector.Site{LicenceKey: k, Mode: cfg.Signing}
		if cfg.Signing == wire.HMACSHA256 {
			s.Secrets = cfg.Secrets
		}
		sites = append(sites, s)
	}
	return sites, nil
}

func parseSchedule(s string) ([]time.Duration, error) {
	if s == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 {
			return nil, usageErrorf("--schedule: %q is not a positive duration", p)
		}
		out = append(out, d)
	}
	return out, nil
}

func (f *Factory) connectorServe(ctx context.Context, o *connectorServeOptions) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	sites, err := o.sites(cfg)
	if err != nil {
		return err
	}
	schedule, err := parseSchedule(o.schedule)
	if err != nil {
		return err
	}
	if o.batch <= 0 || o.confirm <= 0 {
		return usageErrorf("--batch and --confirm-timeout must be positive")
	}
	logger, err := newLogger(f.IO.ErrOut, o.logLevel)
	if err != nil {
		return err
	}
	channels, err := o.bf.channels(logger, f.Clock)
	if err != nil {
		return err
	}
	srv, err := connector.NewServer(connector.Config{
		DSN: o.db, Sites: sites, Channels: channels, Addr: o.listen, PublicURL: strings.TrimRight(o.publicURL, "/"),
		Queue: connector.Policy{Batch: o.batch, ConfirmTimeout: o.confirm, Schedule: schedule}, Logger: logger, Clock: f.Clock,
	})
	if err != nil {
		return fmt.Errorf("connector serve: %w", err)
	}
	srv.Start()
	fmt.Fprintf(f.IO.ErrOut, "connector server listening on %s\nportal endpoint: %s\nchannels: %s\n", srv.URL(),
		srv.PortalEndpoint(), strings.Join(channels.IDs(), ", "))
	<-ctx.Done()
	fmt.Fprintln(f.IO.ErrOut, "connector server stopping")
	return srv.Close()
}

func newConnectorQueueCmd(f *Factory) *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "queue stats|ls|dead",
		Short: "Inspect the connector server's queue (table or JSON)",
		Long: `Inspect the queue of a connector server's database (--db, the same DSN as 'olctl connector serve --db';
env OLCTL_CONNECTOR_DB). Reading is safe while the server runs.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&db, "db", "", "connector database: SQLite path or MySQL DSN (env OLCTL_CONNECTOR_DB)")
	open := func(ctx context.Context) (*connector.Store, error) {
		dsn := db
		if dsn == "" {
			dsn, _ = f.LookupEnv("OLCTL_CONNECTOR_DB")
		}
		if dsn == "" {
			return nil, usageErrorf("missing connector database: set --db or OLCTL_CONNECTOR_DB")
		}
		st, err := connector.Open(ctx, dsn)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--db: %w", err)}
		}
		return st, nil
	}

	stats := &cobra.Command{
		Use:     "stats",
		Short:   "Show the queue of every line: pending items, state, attempts, dead letters",
		Example: "  olctl connector queue stats --db connector.db\n  olctl connector queue stats --db connector.db --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			qs, err := st.QueueStats(cmd.Context())
			if err != nil {
				return err
			}
			if qs.Lines == nil {
				qs.Lines = []connector.LaneStats{}
			}
			p, err := f.printer()
			if err != nil {
				return err
			}
			return p.print(qs, func() *Table {
				t := &Table{Header: []string{"SITE", "LINE", "PENDING", "STATE", "ATTEMPTS", "NEXT", "DEAD"}}
				for _, l := range qs.Lines {
					t.Append(l.Site, l.Line, strconv.Itoa(l.Pending), l.State, strconv.Itoa(l.Attempts), formatTime(l.NextAt),
						strconv.Itoa(l.Dead))
				}
				t.Append("total", "", strconv.Itoa(qs.Pending), fmt.Sprintf("%d blocked", qs.Blocked), "", "", strconv.Itoa(qs.Dead))
				return t
			})
		},
	}
	list := func(dead bool) *cobra.Command {
		var (
			filter connector.QueueFilter
			all    bool
		)
		use, short := "ls", "List queued items in order"
		if dead {
			use, short = "dead", "List dead-lettered items in order"
		}
		c := &cobra.Command{
			Use:     use,
			Short:   short,
			Example: fmt.Sprintf("  olctl connector queue %s --db connector.db --line 3\n  olctl connector queue %s --db connector.db --all --json", use, use),
			Args:    cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if filter.Limit < 0 {
					return usageErrorf("--limit must be positive")
				}
				st, err := open(cmd.Context())
				if err != nil {
					return err
				}
				defer st.Close()
				fetch := st.QueueList
				if dead {
					fetch = st.DeadLetters
				}
				items, err := f.pageItems(cmd.Context(), fetch, filter, all)
				if err != nil {
					return err
				}
				return f.printItems(items, dead)
			},
		}
		c.Flags().StringVar(&filter.Site, "site", "", "only this portal (domain or licence)")
		c.Flags().StringVar(&filter.Line, "line", "", "only this line")
		c.Flags().Int64Var(&filter.AfterID, "after", 0, "only items with a greater id (paging)")
		c.Flags().IntVar(&filter.Limit, "limit", 100, "most items to list")
		c.Flags().BoolVar(&all, "all", false, "list every item, page by page (progress on a terminal)")
		return c
	}
	cmd.AddCommand(stats, list(false), list(true))
	return requireSubcommand(cmd)
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

// pageItems fetches items page by page: one page of filter.Limit, or with all every page, showing progress on
// a terminal's stderr.
func (f *Factory) pageItems(ctx context.Context, fetch func(context.Context, connector.QueueFilter) ([]connector.QueuedItem, error),
	filter connector.QueueFilter, all bool) ([]connector.QueuedItem, error) {
	if !all {
		return fetch(ctx, filter)
	}
	filter.Limit = 1000
	prog := newProgress(f.IO.ErrOut, f.IO.ErrTTY, "listing", 0)
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

func (f *Factory) printItems(items []connector.QueuedItem, dead bool) error {
	p, err := f.printer()
	if err != nil {
		return err
	}
	docs := make([]queueItemJSON, len(items))
	for i, it := range items {
		docs[i] = queueItemJSON{ID: it.ID, Site: it.Site, Line: it.Line, Command: it.Command, Connector: it.Connector,
			ChatID: it.ChatID, MessageID: it.MessageID, Created: it.Created.UTC(), DeadAt: it.DeadAt.UTC(),
			Attempts: it.Attempts, FirstFailure: it.FirstFailure.UTC(), Item: phpJSON(it.Item)}
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
