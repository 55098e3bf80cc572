package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

// ServeOptions are the inputs of `olctl serve`.
type ServeOptions struct {
	Context    context.Context
	IO         IO
	Config     func() (*Config, error)
	HTTPClient func() (*http.Client, error)
	Clock      clock.Clock

	Listen       string // listen address
	DB           string // database DSN; "" is portal.db in DataDir
	DataDir      string // directory of the default database and files
	FilesDir     string // where imported files are kept; "" is files/ in DataDir
	Events       string // file the events are appended to; "" is stdout
	AllowPrivate bool   // allow attachment downloads from loopback and private addresses
	Path         string // path of the portal endpoint
	LogLevel     string // log level on stderr
	// Limits bound what one client can hold of the server (--read-timeout, --request-timeout,
	// --max-concurrent).
	Limits serverLimitFlags
	// Inspect serves the live inspector page (--inspect, --inspect-token).
	Inspect inspectFlags

	// AdmitUnknownLines lets messages in for a line with no stored status (its gate stays shut for a line
	// whose status is not ACTIVE, CONNECTION and REGISTER without ERROR).
	AdmitUnknownLines bool
	Icons             bool   // turn emoji into icon tags (docs/protocol.md §9.2)
	Smileys           bool   // turn ASCII smileys into icon tags too
	HexEscapes        bool   // decode hex escapes such as :F09F918D: (docs/protocol.md §9.1)
	BigFileWarning    string // the text put before a message whose file was too big; "" is Bitrix's
}

// NewCmdServe builds `olctl serve`, the portal receiver.
func NewCmdServe(f *Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{IO: f.IO, Config: f.Config, HTTPClient: f.HTTPClient, Clock: f.Clock}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR",
		Short: "Run a ready portal receiver that prints every event, readable or as JSON lines",
		Long: `Run a portal receiver (portal.New) until interrupted: it takes the connector server's packets at
--path, runs the receive pipeline (emoji, files, users, Bot Framework context) with SQLite stores (--db) and a
file store directory (--files-dir), and prints every event on stdout: one readable line on a terminal, as
'stripe listen' does, and one JSON line when piped or with --json (--events FILE appends the JSON lines to a
file instead). It acts as a portal of the global --profile: current (the default) acknowledges each
packet by its OK answer; legacy also confirms the items to --server with setStatusDelivered.

Messages are let in only for lines connected through this portal database: 'olctl connect' writes their
status there (its --db defaults to portal.db, as this command's does); others get NOT_ACTIVE_LINE.
--admit-unknown-lines lets in the lines that have no status at all (those some other system connects).

Text goes through the emoji steps of the pipeline: hex escapes decoded (--hex-escapes), then emoji, shortnames
and (--smileys) ASCII smileys turned into the portal's icon tags (--icons=false keeps Unicode emoji, as a
current Bitrix portal does). A message whose file was too big for the connector server starts with
--big-file-warning.

It signs and verifies with the global --licence-key, --signing and --secret; --domain is this receiver's
public base URL (default http://ADDR). Downloads of attachments from loopback and private addresses are
refused unless --allow-private-networks is given. Clients that send slowly or in floods are bounded by
--read-timeout, --request-timeout and --max-concurrent.

Each message event has the message's date as RFC 3339 in "date" (for the years 0 to 9999) and as unix
seconds in "date_unix".`,
		Example: `  olctl serve --listen 127.0.0.1:8090 --server http://127.0.0.1:8080 --licence-key "$KEY" --db portal.db
  olctl serve --listen :8090 --events events.jsonl --files-dir /var/lib/olctl/files`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Context = cmd.Context()
			envDefault(cmd, "db", envPortalDB, &opts.DB, f.LookupEnv)
			if !strings.HasPrefix(opts.Path, "/") {
				return usageErrorf("--path %q must start with /", opts.Path)
			}
			if err := opts.Inspect.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1:8090", "listen address")
	fl.StringVar(&opts.DB, "db", "", "portal database: SQLite path, mysql://… or postgres://… (env "+envPortalDB+
		"; default portal.db in --data-dir)")
	fl.StringVar(&opts.DataDir, "data-dir", ".", "directory of the default database and files")
	fl.StringVar(&opts.FilesDir, "files-dir", "", "where imported files are kept (default files/ in --data-dir)")
	fl.StringVar(&opts.Events, "events", "", "append events to this file instead of stdout")
	fl.BoolVar(&opts.AllowPrivate, "allow-private-networks", false, "allow attachment downloads from loopback and private addresses")
	fl.StringVar(&opts.Path, "path", "/pub/imconnector/", "path of the portal endpoint")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	opts.Limits.addFlags(cmd)
	opts.Inspect.addFlags(cmd)
	fl.BoolVar(&opts.AdmitUnknownLines, "admit-unknown-lines", false, "let in the messages of lines that have no status (never connected here)")
	fl.BoolVar(&opts.Icons, "icons", true, "turn emoji into icon tags; --icons=false keeps Unicode emoji, as a current portal does")
	fl.BoolVar(&opts.Smileys, "smileys", true, "turn ASCII smileys such as :) into icon tags too")
	fl.BoolVar(&opts.HexEscapes, "hex-escapes", true, "decode hex escapes such as :F09F918D: into emoji")
	fl.StringVar(&opts.BigFileWarning, "big-file-warning", "", "text put before a message whose file was too big for the connector server (default Bitrix's English warning)")
	return cmd
}

func serveRun(opts *ServeOptions) error {
	ctx := opts.Context
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if err := cfg.RequireSigning(KeyServer); err != nil {
		return err
	}
	hc, err := opts.HTTPClient()
	if err != nil {
		return err
	}
	limits, err := opts.Limits.limits()
	if err != nil {
		return err
	}
	logger, err := newLogger(opts.IO.ErrOut, opts.LogLevel)
	if err != nil {
		return err
	}
	var out io.Writer = opts.IO.Out
	if opts.Events != "" {
		file, err := os.OpenFile(opts.Events, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--events: %w", err)}
		}
		defer file.Close()
		out = file
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", opts.Listen, err)
	}
	defer ln.Close()
	domain := cfg.Domain
	if domain == "" {
		domain = "http://" + ln.Addr().String()
		warnUnreachableDomain(opts.IO.ErrOut, opts.Listen, ln.Addr(), domain)
	}
	creds := cfg.Credentials()
	if creds.Mode != wire.HMACSHA256 {
		creds.Secrets = nil
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials: creds, ServerURL: cfg.Server, Domain: domain, Profile: cfg.Profile, AdmitUnknownLines: opts.AdmitUnknownLines,
		DSN: opts.DB, DataDir: opts.DataDir, FilesDir: opts.FilesDir,
		HTTPClient: hc, Logger: logger, Clock: opts.Clock, Locale: portal.Locale{BigFile: opts.BigFileWarning},
		EmojiOptions: []emoji.Option{emoji.WithIcons(opts.Icons), emoji.WithSmileys(opts.Smileys),
			emoji.WithHexEscapes(opts.HexEscapes)},
		FileOptions:   []files.Option{files.WithAllowPrivateNetworks(opts.AllowPrivate)},
		ClientOptions: []client.Option{client.WithRegion(cfg.Region), client.WithTimeout(cfg.Timeout)},
		Inspect:       serverInspect(opts.Inspect, cfg),
	})
	if err != nil {
		if errors.Is(err, portal.ErrConfig) {
			return &UsageError{Err: err}
		}
		return err
	}
	defer p.Close()
	stopInspector, err := opts.Inspect.start(opts.IO.ErrOut, p.Inspector(), "portal receiver")
	if err != nil {
		return err
	}
	defer stopInspector()
	ew := &eventWriter{w: out, clock: opts.Clock}
	if opts.Events == "" && opts.IO.OutTTY && !cfg.JSON() {
		ew.readable = time.Local
	}
	ew.subscribe(p)
	srv := limits.Server(portalMux(opts.Path, p.Handler()), slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	return serveHTTP(ctx, opts.IO.ErrOut, ln, srv, func() {
		fmt.Fprintf(opts.IO.ErrOut, "portal receiver listening on http://%s%s (domain %s, server %s, profile %s)\n", ln.Addr(),
			opts.Path, domain, cfg.Server, cfg.Profile)
	})
}

// portalMux mounts the portal handler at path, with /healthz.
func portalMux(path string, h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(path, h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// serveHTTP serves srv on ln until ctx ends, then shuts down gracefully, saying so on errOut.
func serveHTTP(ctx context.Context, errOut io.Writer, ln net.Listener, srv *http.Server, ready func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Fprintln(errOut, "stopping")
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

// newLogger returns a text logger on w at level (debug, info, warn, error).
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
