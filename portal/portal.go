// Package portal is the receive side of a portal (PROTOCOL.md §5): an http.Handler for the packets the
// connector server pushes, and the pipeline behind receivingMessage. For every item, in order, it converts
// emoji to icon tags (emoji), imports the files (files), syncs the external user to an internal one
// (users), keeps the Bot Framework chat context of real botframework connectors (bfcontext), and fires the
// event for the item's type to the subscribers registered in Go. After the packet it confirms the items
// that succeeded with one setStatusDelivered call (client). An item that was processed before is confirmed
// again without firing twice: the record of processed items is in SQL and survives restarts. The other
// commands (delivery and reading status, errors, block, deactivateConnector, setChatName) fire their events;
// deactivateConnector also marks the connector ERROR in the status store.
//
//	p, err := portal.New(ctx, portal.Config{
//		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: key},
//		ServerURL:   "https://connector.example.com",
//		Domain:      "https://portal.example.com",
//		DataDir:     "/var/lib/portal", // SQLite file and imported files; or DSN: "mysql://..."
//	})
//	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error { ... })
//	http.Handle("/pub/imconnector/", p.Handler())
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/users"
	"github.com/olctl/olctl/wire"
)

// Config configures a Portal. The zero value of every optional field is a documented default; the fields
// under "Replacements" swap a step of the pipeline for another implementation (tests pass fakes there).
type Config struct {
	// Credentials verify the connector server's packets and sign the portal's calls: md5 with LicenceKey,
	// or hmac-sha256 with Secrets (any verifies, the first signs). LicenceKey is needed in both modes for
	// the calls' BX_LICENCE unless Confirmer is replaced. Required.
	Credentials wire.Credentials
	// ServerURL is the connector server's base URL, where setStatusDelivered goes. Required unless Confirmer
	// is replaced.
	ServerURL string
	// Domain is this portal's base URL (BX_DOMAIN), where the server calls back. Required unless Confirmer
	// is replaced.
	Domain string

	// DB is an open database to keep the portal's state in; Close does not close it. Default: the database
	// DSN names.
	DB *sqldb.DB
	// DSN names the database when DB is nil: a SQLite path or "mysql://…" (see sqldb.Open). Default: the
	// SQLite file portal.db in DataDir.
	DSN string
	// DataDir holds the default SQLite file and, under files/, the imported files. Needed when DB and DSN
	// are empty or Files is not replaced.
	DataDir string
	// FilesDir is where imported files are kept (default: DataDir/files).
	FilesDir string

	// HTTPClient makes the calls to the connector server (default: a new client on http.DefaultTransport).
	// File downloads use the files package's own guarded transport.
	HTTPClient *http.Client
	// Logger receives refused packets, failed items and files (default: discard).
	Logger *slog.Logger
	// Clock is the time of records, the replay window and timings (default: the system clock).
	Clock clock.Clock
	// MaxBody caps a packet's body (default 8 MiB).
	MaxBody int64
	// ReplayGuard refuses replayed hardened packets (default: one on Clock with a 300 s window).
	ReplayGuard *wire.ReplayGuard
	// ChatContextTTL is how long a written Bot Framework chat context is trusted without reading the store
	// again (default DefaultChatContextTTL; negative: always read). Another process sharing the database
	// may change a context meanwhile; within the TTL this portal does not notice and skips rewriting it.
	ChatContextTTL time.Duration
	// RecordDelay is how long the record of processed items may trail their confirmation: the records of
	// the packets processed within it are written together, in one transaction (default DefaultRecordDelay;
	// negative: each packet's record is durable before its items are confirmed). Items waiting for their
	// record are known to this process at once. A crash within the delay can fire the items of the last
	// moments again after the restart if the server did not get their confirmation. Close and Flush write
	// what is waiting.
	RecordDelay time.Duration

	// EmojiOptions, FileOptions, UserOptions and ClientOptions are passed to the default emoji converter, file
	// importer, user syncer and client (after the options New derives from this Config).
	EmojiOptions  []emoji.Option
	FileOptions   []files.Option
	UserOptions   []users.Option // e.g. users.WithAvatars to import pictures
	ClientOptions []client.Option

	// Replacements (nil: the real implementation).
	Converter    TextConverter   // emoji.New(EmojiOptions...)
	Files        FileImporter    // files.NewImporter on a DiskStore in FilesDir
	Users        UserSyncer      // users.NewSyncer on the SQL store in the database
	Confirmer    Confirmer       // client.New(ServerURL, …).SetStatusDelivered
	ChatContexts bfcontext.Store // bfcontext.NewSQLStore in the database
	Processed    ProcessedStore  // NewSQLProcessedStore in the database
	Status       StatusStore     // NewSQLStatusStore in the database
}

// Portal receives packets and runs the pipeline. Safe for concurrent use; subscribe before serving.
type Portal struct {
	router  *router.Router
	input   *router.Input
	metrics *router.Metrics
	client  *client.Client

	conv      TextConverter
	files     FileImporter
	users     UserSyncer
	confirm   Confirmer
	chats     bfcontext.Store
	chatCache *chatCache
	processed ProcessedStore
	ownStore  *SQLProcessedStore // closed by Close
	record    *recorder
	status    StatusStore

	logger  *slog.Logger
	clock   clock.Clock
	db      *sqldb.DB
	closeDB bool

	events    *events
	inflight  claims
	slots     sync.Pool // *[]slot of finished packets, cleared
	userLocks keyedMutex
}

// ErrConfig is wrapped by every error New returns for a Config that cannot work.
var ErrConfig = errors.New("portal: bad config")

// New builds a Portal from cfg: it opens (and migrates) the database, builds the steps the Config does not
// replace and registers the handlers of every §5 command. Close releases what it opened.
func New(ctx context.Context, cfg Config) (_ *Portal, err error) {
	p := &Portal{
		logger: cfg.Logger,
		clock:  clock.Or(cfg.Clock),
		events: newEvents(),
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, fmt.Errorf("%w: credentials: %w", ErrConfig, err)
	}
	needDB := cfg.Users == nil || cfg.ChatContexts == nil || cfg.Processed == nil || cfg.Status == nil || cfg.Files == nil
	if needDB {
		if p.db, p.closeDB, err = openDB(ctx, cfg); err != nil {
			return nil, err
		}
	}

	p.conv = cfg.Converter
	if p.conv == nil {
		p.conv = emoji.New(cfg.EmojiOptions...)
	}
	if p.chats = cfg.ChatContexts; p.chats == nil {
		if p.chats, err = bfcontext.NewSQLStore(ctx, p.db); err != nil {
			return nil, err
		}
	}
	ttl := cfg.ChatContextTTL
	if ttl == 0 {
		ttl = DefaultChatContextTTL
	}
	p.chatCache = newChatCache(p.chats, p.clock, ttl, DefaultChatContextSize)
	if p.processed = cfg.Processed; p.processed == nil {
		if p.ownStore, err = NewSQLProcessedStore(ctx, p.db); err != nil {
			return nil, err
		}
		p.processed = p.ownStore
	}
	delay := cfg.RecordDelay
	if delay == 0 {
		delay = DefaultRecordDelay
	}
	p.record = newRecorder(p.processed, p.clock, delay, p.logger)
	if p.ownStore != nil {
		p.record.filter = p.openFilter(ctx, p.ownStore)
		p.record.rebuildFilter()
	}
	if p.status = cfg.Status; p.status == nil {
		if p.status, err = NewSQLStatusStore(ctx, p.db); err != nil {
			return nil, err
		}
	}
	if p.files = cfg.Files; p.files == nil {
		if p.files, err = newFileImporter(ctx, cfg, p.db, p.logger, p.clock); err != nil {
			return nil, err
		}
	}
	if p.users = cfg.Users; p.users == nil {
		if p.users, err = newUserSyncer(ctx, cfg, p.db, p.logger, p.clock); err != nil {
			return nil, err
		}
	}
	if p.confirm = cfg.Confirmer; p.confirm == nil {
		if p.client, err = newClient(cfg, p.chats, p.logger, p.clock); err != nil {
			return nil, err
		}
		p.confirm = clientConfirmer{p.client}
	}

	p.metrics = router.NewMetrics(p.clock)
	p.router = router.New()
	p.router.Use(router.Logging(p.logger, p.clock), p.metrics.Middleware())
	router.Handle(p.router, openlines.CommandReceivingMessage, p.receivingMessage)
	router.Handle(p.router, openlines.CommandReceivingStatusDelivery, p.receivingStatusDelivery)
	router.Handle(p.router, openlines.CommandReceivingStatusReading, p.receivingStatusReading)
	router.Handle(p.router, openlines.CommandReceivingError, p.receivingError)
	router.Handle(p.router, openlines.CommandReceivingStatusBlock, p.receivingStatusBlock)
	router.Handle(p.router, openlines.CommandDeactivateConnector, p.deactivateConnector)
	router.Handle(p.router, openlines.CommandSetChatName, p.setChatName)
	opts := []router.InputOption{
		router.WithCredentials(cfg.Credentials), router.WithClock(p.clock), router.WithMaxBody(cfg.MaxBody),
		router.WithLogger(p.logger), router.WithObserver(p.metrics),
	}
	if cfg.ReplayGuard != nil {
		opts = append(opts, router.WithReplayGuard(cfg.ReplayGuard))
	}
	if p.input, err = router.NewInput(p.router, opts...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return p, nil
}

// openFilter returns the filter of recorded keys for a SQLite database this portal can lock (see
// keyFilter), or nil.
func (p *Portal) openFilter(ctx context.Context, store *SQLProcessedStore) *keyFilter {
	path, err := store.sqlitePath(ctx)
	if err != nil || path == "" {
		return nil
	}
	lock, err := openSoleLock(path + "-portal-lock")
	if err != nil {
		p.logger.Debug("portal: no filter of recorded keys; every item is looked up in the database", "error", err)
		return nil
	}
	return newKeyFilter(store, lock, p.logger)
}

func openDB(ctx context.Context, cfg Config) (*sqldb.DB, bool, error) {
	if cfg.DB != nil {
		return cfg.DB, false, nil
	}
	dsn := cfg.DSN
	if dsn == "" {
		if cfg.DataDir == "" {
			return nil, false, fmt.Errorf("%w: DB, DSN or DataDir is needed for the portal's database", ErrConfig)
		}
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, false, fmt.Errorf("portal: data directory: %w", err)
		}
		dsn = "sqlite:" + filepath.Join(cfg.DataDir, "portal.db")
	}
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return nil, false, fmt.Errorf("portal: opening the database: %w", err)
	}
	return db, true, nil
}

// Handler returns the http.Handler for the connector server's packets (mount it at /pub/imconnector/).
func (p *Portal) Handler() http.Handler { return p.input }

// Router returns the Router behind Handler, to add middleware or handle more commands.
func (p *Portal) Router() *router.Router { return p.router }

// Metrics returns the counters of every packet the portal answered, by command and error code.
func (p *Portal) Metrics() *router.Metrics { return p.metrics }

// Client returns the Output client New built for confirmations, or nil when Confirmer was replaced. Use it
// to answer customers: it shares the portal's Bot Framework chat contexts.
func (p *Portal) Client() *client.Client { return p.client }

// ChatContexts returns the Bot Framework chat context store the pipeline writes.
func (p *Portal) ChatContexts() bfcontext.Store { return p.chats }

// Status returns the status of a connector on a line.
func (p *Portal) Status(ctx context.Context, connector, line string) (ConnectorStatus, error) {
	return p.status.Get(ctx, connector, line)
}

// SetStatus stores the status of a connector on a line (e.g. ACTIVE, CONNECTION and REGISTER after
// client.Connect succeeded).
func (p *Portal) SetStatus(ctx context.Context, s ConnectorStatus) error {
	return p.status.Put(ctx, s, p.clock.Now())
}

// PruneProcessed forgets the processed items recorded more than age ago and returns how many. Run it daily
// with an age of a few days (the connector server stops redelivering an item after 24 h).
func (p *Portal) PruneProcessed(ctx context.Context, age time.Duration) (int64, error) {
	n, err := p.processed.Prune(ctx, p.clock.Now().Add(-age))
	if n > 0 {
		p.record.rebuildFilter() // forget the pruned keys
	}
	return n, err
}

// Flush writes the record of processed items that is waiting (see Config.RecordDelay) and returns once it
// is durable.
func (p *Portal) Flush(ctx context.Context) error {
	return p.record.flush(ctx)
}

// Close writes the record of processed items that is waiting and closes the database New opened (not one
// given as Config.DB). Stop serving first: a packet handled after Close is recorded before it is
// confirmed, but its database may be gone.
func (p *Portal) Close() error {
	var errs []error
	if p.record != nil { // kept: a packet served after Close is recorded at once
		errs = append(errs, p.record.close(context.Background()))
	}
	if p.ownStore != nil {
		errs = append(errs, p.ownStore.Close())
		p.ownStore = nil
	}
	if p.closeDB && p.db != nil {
		errs = append(errs, p.db.Close())
		p.db = nil
	}
	return errors.Join(errs...)
}
