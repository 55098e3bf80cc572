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

	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/wire"
)

type serveOptions struct {
	listen       string
	db           string
	filesDir     string
	dataDir      string
	events       string
	allowPrivate bool
	path         string
	logLevel     string
	profile      string
	limits       serverLimitFlags
}

func newServeCmd(f *Factory) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --listen ADDR",
		Short: "Run a ready portal receiver that prints every event as a JSON line",
		Long: `Run a portal receiver (portal.New) until interrupted: it takes the connector server's packets at
--path, runs the receive pipeline (emoji, files, users, Bot Framework context) with SQLite stores (--db) and a
file store directory (--files-dir), and prints every event as one JSON line on stdout (--events FILE to append
them to a file instead). The OK answer acknowledges each packet; with --profile legacy the receiver also
confirms deliveries to --server with setStatusDelivered. Messages are let in only for lines connected with
'olctl connect --db' on the same database.

It signs and verifies with the global --licence-key, --signing and --secret; --domain is this receiver's
public base URL (default http://ADDR). Downloads of attachments from loopback and private addresses are
refused unless --allow-private-networks is given. Clients that send slowly or in floods are bounded by
--read-timeout, --request-timeout and --max-concurrent.

Each message event has the message's date as RFC 3339 in "date" (for the years 0 to 9999) and as unix
seconds in "date_unix".`,
		Example: `  olctl serve --listen 127.0.0.1:8090 --server http://127.0.0.1:8080 --licence-key "$KEY" --db portal.db
  olctl serve --listen :8090 --events events.jsonl --files-dir /var/lib/olctl/files`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.serveRun(cmd.Context(), o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", "127.0.0.1:8090", "listen address")
	fl.StringVar(&o.db, "db", "", "database: SQLite path or mysql://… DSN (default portal.db in --data-dir)")
	fl.StringVar(&o.dataDir, "data-dir", ".", "directory of the default database and files")
	fl.StringVar(&o.filesDir, "files-dir", "", "where imported files are kept (default files/ in --data-dir)")
	fl.StringVar(&o.events, "events", "", "append events to this file instead of stdout")
	fl.BoolVar(&o.allowPrivate, "allow-private-networks", false, "allow attachment downloads from loopback and private addresses")
	fl.StringVar(&o.path, "path", "/pub/imconnector/", "path of the portal endpoint")
	fl.StringVar(&o.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	fl.StringVar(&o.profile, "profile", "current", "the Bitrix generation to act as: current or legacy (confirms with setStatusDelivered)")
	o.limits.addFlags(cmd)
	return cmd
}

func (f *Factory) serveRun(ctx context.Context, o *serveOptions) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if err := cfg.Require(KeyServer); err != nil {
		return err
	}
	if err := cfg.RequireSigning(); err != nil {
		return err
	}
	if !strings.HasPrefix(o.path, "/") {
		return usageErrorf("--path %q must start with /", o.path)
	}
	limits, err := o.limits.limits()
	if err != nil {
		return err
	}
	logger, err := f.newLogger(o.logLevel)
	if err != nil {
		return err
	}
	var out io.Writer = f.IO.Out
	if o.events != "" {
		file, err := os.OpenFile(o.events, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--events: %w", err)}
		}
		defer file.Close()
		out = file
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	domain := cfg.Domain
	if domain == "" {
		domain = "http://" + ln.Addr().String()
	}
	profile, err := wire.ParseProfile(o.profile)
	if err != nil {
		return usageErrorf("--profile: %v", err)
	}
	creds := cfg.Credentials()
	if creds.Mode != wire.HMACSHA256 {
		creds.Secrets = nil
	}
	p, err := portal.New(ctx, portal.Config{
		Credentials: creds, ServerURL: cfg.Server, Domain: domain, DSN: o.db, DataDir: o.dataDir, FilesDir: o.filesDir, Profile: profile,
		HTTPClient: f.httpClient(), Logger: logger, Clock: f.Clock,
		FileOptions: []files.Option{files.WithAllowPrivateNetworks(o.allowPrivate)},
	})
	if err != nil {
		if errors.Is(err, portal.ErrConfig) {
			return &UsageError{Err: err}
		}
		return err
	}
	defer p.Close()
	ew := &eventWriter{w: out, clock: f.Clock}
	ew.subscribe(p)
	return f.serveHTTP(ctx, ln, limits.Server(portalMux(o.path, p.Handler()), slog.NewLogLogger(logger.Handler(), slog.LevelWarn)), func() {
		fmt.Fprintf(f.IO.ErrOut, "portal receiver listening on http://%s%s (domain %s, server %s)\n", ln.Addr(), o.path,
			domain, cfg.Server)
	})
}

// portalMux mounts the portal handler at path, with /healthz.
func portalMux(path string, h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(path, h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// serveHTTP serves srv on ln until ctx ends, then shuts down gracefully.
func (f *Factory) serveHTTP(ctx context.Context, ln net.Listener, srv *http.Server, ready func()) error {
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
	fmt.Fprintln(f.IO.ErrOut, "stopping")
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}
