package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"modernc.org/sqlite"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// NewCmdConnector builds `olctl connector`, the group of the connector server's commands.
func NewCmdConnector(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connector",
		Short: "Run the connector server, or inspect its queue",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdConnectorServe(f, nil), NewCmdConnectorQueue(f))
	return requireSubcommand(cmd)
}

// ConnectorServeOptions are the inputs of `olctl connector serve`.
type ConnectorServeOptions struct {
	Context context.Context
	IO      IO
	Config  func() (*Config, error)
	Clock   clock.Clock

	Listen       string        // listen address
	DB           string        // database DSN; "" is a temporary SQLite file
	PublicURL    string        // external base URL of the webhook URLs; "" is http://<listen>
	LicenceKeys  []string      // the portals accepted; none is the global licence key
	LogLevel     string        // log level on stderr
	Batch        int           // items per receivingMessage packet
	Confirm      time.Duration // how long to wait for setStatusDelivered
	Schedule     string        // back-off schedule, comma-separated durations; "" is the default
	BotFramework BFChannelOptions
	Inspect      inspectFlags // the live inspector page (--inspect, --inspect-token)
	// Limits bound what one client can hold of the server (--read-timeout, --request-timeout,
	// --max-concurrent).
	Limits        serverLimitFlags
	PortalMaxBody int64  // the portals' body cap: packets are cut to fit, webhook items that cannot are refused
	MetricsListen string // a listener of its own for /metrics; "" serves it on --listen to loopback clients
	AllowPrivate  bool   // let the server connect to loopback and private addresses (BX_DOMAIN, service URLs)
}

// NewCmdConnectorServe builds `olctl connector serve`.
func NewCmdConnectorServe(f *Factory, runF func(*ConnectorServeOptions) error) *cobra.Command {
	opts := &ConnectorServeOptions{IO: f.IO, Config: f.Config, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR [--db DSN] [--licence-key K ...]",
		Short: "Run the connector server (portal endpoint, webhooks, durable queue, dispatcher)",
		Long: `Run the connector server until interrupted: the portal endpoint POST /imwebhook/portal.php, messenger
webhooks POST /imwebhook/{connector}?h={hash}, /metrics and /healthz, the durable queue and its dispatcher.

The portals it accepts are given by --licence-key (repeatable; else the global licence_key from the
environment or config file), signing with --signing and --secret. Their profile is the global --profile when
it is set (flag, OLCTL_PROFILE or the config file), else auto: each portal is current when its last packet
had a BX_VERSION of 22.800.0 or later, else legacy. Portals stored in the database by earlier runs are known
too. Logs go to stderr.

The server connects only to public addresses: a BX_DOMAIN or a Bot Framework service URL on loopback or a
private network is refused unless --allow-private-networks is given (a portal on the same host or network).
/metrics names the portals served, so it answers loopback clients only, or listens on --metrics-listen.
Packets to portals are cut to fit --portal-max-body; a webhook item that alone would not fit is refused
(413). Clients that send slowly or in floods are bounded by --read-timeout, --request-timeout and
--max-concurrent.`,
		Example: `  olctl connector serve --listen 127.0.0.1:8080 --db connector.db --licence-key "$PORTAL_KEY"
  olctl connector serve --listen :8080 --db 'root@tcp(127.0.0.1:3306)/olctl' --public-url https://connector.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			if opts.Batch <= 0 || opts.Confirm <= 0 {
				return usageErrorf("--batch and --confirm-timeout must be positive")
			}
			if opts.PortalMaxBody <= 0 {
				return usageErrorf("--portal-max-body must be positive")
			}
			if _, err := opts.Limits.limits(); err != nil {
				return err
			}
			if err := opts.Inspect.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return connectorServeRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8080", "listen address")
	fl.StringVar(&opts.DB, "db", "", "database: SQLite path, MySQL DSN or postgres://… (default: a temporary SQLite file)")
	fl.StringVar(&opts.PublicURL, "public-url", "", "external base URL used in webhook URLs (default http://<listen>)")
	fl.StringArrayVar(&opts.LicenceKeys, "licence-key", nil, "licence key of a portal to accept (repeatable)")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.IntVar(&opts.Batch, "batch", connector.DefaultBatch, "items per receivingMessage packet")
	fl.DurationVar(&opts.Confirm, "confirm-timeout", connector.DefaultConfirmTimeout, "wait for setStatusDelivered")
	fl.StringVar(&opts.Schedule, "schedule", "", "back-off schedule, comma-separated durations (default 1m,4m,10m,15m,30m,1h,2h,3h,5h,12h)")
	fl.Int64Var(&opts.PortalMaxBody, "portal-max-body", wire.DefaultMaxBody, "body cap of the portals' receivers in bytes: packets are cut to fit")
	fl.StringVar(&opts.MetricsListen, "metrics-listen", "", "listen address of /metrics (default: on --listen, loopback clients only)")
	fl.BoolVar(&opts.AllowPrivate, "allow-private-networks", false, "allow connections to loopback and private addresses (portals' BX_DOMAIN, service URLs)")
	opts.Limits.addFlags(cmd)
	opts.BotFramework.addFlags(cmd)
	opts.Inspect.addFlags(cmd)
	return cmd
}

// sites returns the portals the server accepts.
func (o *ConnectorServeOptions) sites(cfg *Config) ([]connector.Site, error) {
	keys := o.LicenceKeys
	if len(keys) == 0 && cfg.LicenceKey != "" {
		keys = []string{cfg.LicenceKey}
	}
	if len(keys) == 0 {
		return nil, cfg.configError(KeyLicenceKey, "")
	}
	if cfg.Signing == wire.HMACSHA256 && len(cfg.Secrets) == 0 {
		return nil, cfg.configError(KeySecret, "")
	}
	profile := connector.ProfileAuto
	if cfg.Sources[KeyProfile] != SourceDefault {
		var err error
		if profile, err = connector.ParseSiteProfile(cfg.Profile.String()); err != nil {
			return nil, cfg.configError(KeyProfile, err.Error())
		}
	}
	sites := make([]connector.Site, 0, len(keys))
	for _, k := range keys {
		s := connector.Site{LicenceKey: k, Mode: cfg.Signing, Profile: profile}
		if cfg.Signing == wire.HMACSHA256 {
			s.Secrets = cfg.Secrets
		}
		sites = append(sites, s)
	}
	return sites, nil
}

// describeSites says which portals the server accepts: their licence keys (masked), signing and profile.
func describeSites(sites []connector.Site) string {
	keys := make([]string, len(sites))
	for i, s := range sites {
		keys[i] = mask(s.LicenceKey)
	}
	profile := string(sites[0].Profile)
	if sites[0].Profile == connector.ProfileAuto {
		profile = "auto (told by each portal's BX_VERSION)"
	}
	return fmt.Sprintf("%s %s, signing %s, profile %s; and those stored by earlier runs", plural(len(sites), "licence key"),
		strings.Join(keys, ", "), sites[0].Mode, profile)
}

// redactDSN hides the password of a database DSN (postgres://u:p@h/db, u:p@tcp(h)/db) for printing.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil && strings.Contains(dsn, "://") {
		return u.Redacted()
	}
	if at := strings.Index(dsn, "@"); at > 0 {
		if colon := strings.Index(dsn[:at], ":"); colon >= 0 {
			return dsn[:colon+1] + "xxxxx" + dsn[at:]
		}
	}
	return dsn
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

// serveError names the flag behind a connector server that did not start: a listen address that is bad or
// taken (--listen, --metrics-listen), a DSN that is not one or a SQLite file that cannot be opened (--db):
// usage errors (exit 2). Anything else is the server's own failure.
func serveError(err error, opts *ConnectorServeOptions) error {
	var oe *net.OpError
	var se *sqlite.Error
	switch {
	case errors.As(err, &oe) && oe.Op == "listen" && opts.MetricsListen != "":
		return fmt.Errorf("--listen %s or --metrics-listen %s: %w", opts.Listen, opts.MetricsListen, err)
	case errors.As(err, &oe) && oe.Op == "listen":
		return fmt.Errorf("--listen %s: %w", opts.Listen, err)
	case errors.Is(err, sqldb.ErrBadDSN), errors.Is(err, sqldb.ErrBadDialect):
		return &UsageError{Err: fmt.Errorf("--db %s: %w", redactDSN(opts.DB), err)}
	case errors.As(err, &se) && se.Code() == sqliteCantOpen:
		return usageErrorf("--db %s: the SQLite file cannot be opened or created there (does its directory exist, may olctl write in it?)",
			opts.DB)
	}
	return fmt.Errorf("connector serve: %w", err)
}

// sqliteCantOpen is SQLITE_CANTOPEN, the code of a file that cannot be opened.
const sqliteCantOpen = 14

func connectorServeRun(opts *ConnectorServeOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	sites, err := opts.sites(cfg)
	if err != nil {
		return err
	}
	schedule, err := parseSchedule(opts.Schedule)
	if err != nil {
		return err
	}
	logger, err := newLogger(opts.IO.ErrOut, opts.LogLevel)
	if err != nil {
		return err
	}
	channels, err := opts.BotFramework.channels(logger, opts.Clock)
	if err != nil {
		return err
	}
	dsn, database := opts.DB, redactDSN(opts.DB)
	if dsn == "" {
		dir, err := os.MkdirTemp("", "olctl-connector-")
		if err != nil {
			return fmt.Errorf("connector serve: a temporary database: %w", err)
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "connector.db")
		dsn, database = "sqlite:"+path, path+", temporary: deleted when the server stops (--db FILE keeps it)"
	}
	srv, err := connector.NewServer(connector.Config{
		DSN: dsn, Sites: sites, Channels: channels, Addr: opts.Listen, PublicURL: strings.TrimRight(opts.PublicURL, "/"),
		Queue:  connector.Policy{Batch: opts.Batch, ConfirmTimeout: opts.Confirm, Schedule: schedule},
		Logger: logger, Clock: opts.Clock, Inspect: serverInspect(opts.Inspect, cfg),
		ReadTimeout: opts.Limits.readTimeout, RequestTimeout: opts.Limits.requestTimeout, MaxConcurrent: opts.Limits.maxConcurrent,
		PortalMaxBody: opts.PortalMaxBody, MetricsAddr: opts.MetricsListen, AllowPrivateNetworks: opts.AllowPrivate,
	})
	if errors.Is(err, connector.ErrQueueInUse) {
		return usageErrorf("--db %s: another connector server serves this SQLite file: stop it, or give this one a --db of its own "+
			"(on MySQL and PostgreSQL several servers may share a database)", opts.DB)
	}
	if err != nil {
		return serveError(err, opts)
	}
	stopInspector, err := opts.Inspect.start(opts.IO.ErrOut, srv.Inspector(), "connector server")
	if err != nil {
		_ = srv.Close()
		return err
	}
	defer stopInspector()
	srv.Start()
	fmt.Fprintf(opts.IO.ErrOut, "connector server listening on %s\nportal endpoint: %s\nmetrics: %s\nchannels: %s\ndatabase: %s\n"+
		"portals: %s\nBot Framework: %s\n", srv.URL(), srv.PortalEndpoint(), srv.MetricsURL(), strings.Join(channels.IDs(), ", "),
		database, describeSites(sites), opts.BotFramework.describe())
	<-opts.Context.Done()
	fmt.Fprintln(opts.IO.ErrOut, "connector server stopping")
	return srv.Close()
}
