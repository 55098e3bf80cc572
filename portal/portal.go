package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/emoji"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/inspect"
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
	// ServerURL is the connector server's base URL, where the portal's calls go. Required unless Confirmer
	// is replaced.
	ServerURL string
	// Domain is this portal's base URL (BX_DOMAIN), where the server calls back. Required unless Confirmer
	// is replaced.
	Domain string
	// Profile is the generation of Bitrix the portal acts as (docs/protocol.md §1): the order of the
	// pipeline's steps and the acknowledgement. Current (the default): the OK answer acknowledges a packet.
	// Legacy: the portal also confirms the packet's items with setStatusDelivered. Both generations' packets
	// are read either way.
	Profile wire.Profile
	// AdmitUnknownLines lets receivingMessage and setChatName through the line gate for a line with no
	// stored status, for a receiver whose lines some other system connects. Default false: such a line is
	// refused with NOT_ACTIVE_LINE, as is any line not ACTIVE, CONNECTION and REGISTER without ERROR.
	AdmitUnknownLines bool
	// Connectors are the real connector ids the portal serves ("botframework", …): a packet for another is
	// refused with IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR. Default: every connector.
	Connectors []string

	// DB is an open database to keep the portal's state in; Close does not close it. Default: the database
	// DSN names.
	DB *sqldb.DB
	// DSN names the database when DB is nil: a SQLite path, "mysql://…" or "postgres://…" (see sqldb.Open).
	// Default: the SQLite file portal.db in DataDir.
	DSN string
	// DataDir holds the default SQLite file and, under files/, the imported files. Needed when DB and DSN
	// are empty or Files is not replaced.
	DataDir string
	// FilesDir is where imported files are kept (default: DataDir/files).
	FilesDir string

	// HTTPClient makes the calls to the connector server (default: a new client on http.DefaultTransport).
	// File downloads use the files package's own guarded transport.
	HTTPClient *http.Client
	// Logger receives refused packets, rejected and failed items, retries and dead letters (default:
	// discard).
	Logger *slog.Logger
	// Clock is the time of the retry schedule, leases, the replay window and timings (default: the system
	// clock).
	Clock clock.Clock
	// MaxBody caps a packet's body (default 8 MiB).
	MaxBody int64
	// ReplayGuard refuses replayed hardened packets (default: one on Clock with a 300 s window).
	ReplayGuard *wire.ReplayGuard
	// ChatContextTTL is how long a written Bot Framework chat context is trusted without reading the store
	// again (default DefaultChatContextTTL; negative: always read). Another process sharing the database
	// may change a context meanwhile; within the TTL this portal does not notice and skips rewriting it.
	ChatContextTTL time.Duration
	// Locale is the text the pipeline writes: the failed_big_file warning, the rendering of attachments, the
	// chat description, the notices of receivingError (default DefaultLocale, Bitrix's English; an empty
	// field keeps its default).
	Locale Locale
	// AnswerWithin is how long a receivingMessage packet waits for its items' pipelines before the portal
	// answers it (default DefaultAnswerWithin, 250 ms). The items of different chats run at once, those of one
	// chat in order; an item still running then (slow downloads) finishes after the answer, the chat's later
	// items behind it, so that the line's next packet is not held up by one chat. The items are stored
	// before either happens. Negative: every packet waits for all its items.
	AnswerWithin time.Duration
	// Retry is how items that failed for now are retried (default: DefaultRetrySchedule, DefaultLease).
	Retry RetryPolicy
	// Inspect, when set, records the packets the portal takes and sends and what it did with their items,
	// for Inspector (nil: nothing is recorded). The portal adds its credentials to Inspect.Secrets and sets
	// Verify, Sign and Clock where they are nil.
	Inspect *inspect.Options

	// EmojiOptions, FileOptions, UserOptions and ClientOptions are passed to the default emoji converter, file
	// importer, user syncer and client (after the options New derives from this Config). The converter
	// decodes hex escapes and makes icon tags by default, in both profiles; emoji.WithIcons(false) keeps
	// Unicode emoji, as a current Bitrix portal does.
	EmojiOptions  []emoji.Option
	FileOptions   []files.Option
	UserOptions   []users.Option // e.g. users.WithAvatars to import pictures
	ClientOptions []client.Option

	// Replacements (nil: the real implementation).
	Converter    TextConverter             // emoji.New(EmojiOptions...)
	Files        FileImporter              // files.NewImporter on a DiskStore in FilesDir
	Users        UserSyncer                // users.NewSyncer on the SQL store in the database
	Confirmer    Confirmer                 // client.New(ServerURL, …).SetStatusDelivered
	ChatContexts bfcontext.Store           // bfcontext.NewSQLStore in the database
	Status       openlines.LineStatusStore // NewSQLStatusStore in the database
}

// Portal receives packets and runs the pipeline. Safe for concurrent use; subscribe before calling Handler.
type Portal struct {
	router  *router.Router
	input   *router.Input
	handler http.Handler      // input, recorded when inspected
	rec     *inspect.Recorder // nil: not inspected
	metrics *router.Metrics
	client  *client.Client

	conv      TextConverter
	files     FileImporter
	users     UserSyncer
	confirm   Confirmer
	chats     bfcontext.Store
	chatCache *chatCache
	items     *itemStore
	status    *lineStatuses
	retrier   *retrier

	profile      wire.Profile
	admitUnknown bool
	steps        []step
	locale       Locale
	retry        RetryPolicy

	logger  *slog.Logger
	clock   clock.Clock
	db      *sqldb.DB
	closeDB bool

	events    *events
	stats     itemCounters
	userLocks keyedMutex
	// sqliteWriter is held by an open event transaction on SQLite, whose file has one writer: the
	// transactions of concurrent items wait here in turn rather than in SQLite's busy loop.
	sqliteWriter sync.Mutex
	lanes        *chatLanes
	answerWithin time.Duration
	background   atomic.Int64 // items left running after their packet was answered
	closeOnce    sync.Once
	closeErr     error
}

// ErrConfig is wrapped by every error New returns for a Config that cannot work.
var ErrConfig = errors.New("portal: bad config")

// New builds a Portal from cfg: it opens (and migrates) the database, builds the steps the Config does not
// replace and registers the handlers of every command; Handler starts the retries of stored items. Close
// stops them and releases what New opened.
func New(ctx context.Context, cfg Config) (_ *Portal, err error) {
	p := &Portal{
		logger:       cfg.Logger,
		clock:        clock.Or(cfg.Clock),
		events:       newEvents(),
		profile:      cfg.Profile,
		admitUnknown: cfg.AdmitUnknownLines,
		locale:       cfg.Locale.orDefault(),
		steps:        currentSteps,
		lanes:        newChatLanes(),
		answerWithin: cfg.AnswerWithin,
	}
	if p.answerWithin == 0 {
		p.answerWithin = DefaultAnswerWithin
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.profile == wire.Legacy {
		p.steps = legacySteps
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, fmt.Errorf("%w: credentials: %w", ErrConfig, err)
	}
	if p.retry, err = cfg.Retry.orDefault(); err != nil {
		return nil, err
	}
	if err := p.startInspect(&cfg); err != nil {
		return nil, err
	}
	if p.db, p.closeDB, err = openDB(ctx, cfg); err != nil {
		return nil, err
	}
	if p.items, err = newItemStore(ctx, p.db); err != nil {
		return nil, err
	}
	if p.conv = cfg.Converter; p.conv == nil {
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
	store := cfg.Status
	if store == nil {
		if store, err = NewSQLStatusStore(ctx, p.db, p.clock); err != nil {
			return nil, err
		}
	}
	p.status = &lineStatuses{store: store, events: p.events, clock: p.clock, logf: p.logger.Warn}
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
		if p.client, err = newClient(cfg, p.chats, p.LineStatuses(), p.logger, p.clock); err != nil {
			return nil, err
		}
		p.confirm = clientConfirmer{p.client}
	}

	p.metrics = router.NewMetrics(p.clock)
	p.router = router.New()
	p.router.Use(router.Logging(p.logger, p.clock), p.metrics.Middleware(), p.gate)
	router.Handle(p.router, openlines.CommandReceivingMessage, p.receivingMessage)
	router.Handle(p.router, openlines.CommandReceivingStatusDelivery, handleEach(p, fireDelivery))
	router.Handle(p.router, openlines.CommandReceivingStatusReading, handleEach(p, fireReading))
	router.Handle(p.router, openlines.CommandReceivingError, handleEach(p, fireError))
	router.Handle(p.router, openlines.CommandReceivingStatusBlock, handleEach(p, fireBlock))
	router.Handle(p.router, openlines.CommandSetChatName, handleEach(p, fireChatName))
	router.Handle(p.router, openlines.CommandDeactivateConnector, p.deactivateConnector)
	opts := []router.InputOption{
		router.WithCredentials(cfg.Credentials), router.WithClock(p.clock), router.WithMaxBody(cfg.MaxBody),
		router.WithLogger(p.logger), router.WithObserver(p.metrics), router.WithProfile(p.profile),
	}
	if cfg.ReplayGuard != nil {
		opts = append(opts, router.WithReplayGuard(cfg.ReplayGuard))
	}
	if len(cfg.Connectors) > 0 {
		opts = append(opts, router.WithConnectors(cfg.Connectors...))
	}
	if p.input, err = router.NewInput(p.router, opts...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p.handler = p.input
	if p.rec != nil {
		p.handler = p.rec.Incoming(p.input)
	}
	p.retrier = newRetrier(p) // started by Handler, once the subscribers are there
	return p, nil
}

// gate is the line gate (docs/protocol.md §7): receivingMessage and setChatName for a line whose status
// (by its real connector id) is not ACTIVE, CONNECTION and REGISTER without ERROR are refused with
// NOT_ACTIVE_LINE before anything is processed; a line with no status passes only with AdmitUnknownLines.
func (p *Portal) gate(next router.HandlerFunc) router.HandlerFunc {
	return func(ctx context.Context, req *router.Request) error {
		if !strings.EqualFold(req.Command, openlines.CommandReceivingMessage) && !strings.EqualFold(req.Command, openlines.CommandSetChatName) {
			return next(ctx, req)
		}
		st, found, err := p.status.lookup(ctx, req.RealConnector, req.Line)
		if err != nil {
			return &wire.Error{Code: wire.CodeInternal, Message: "reading the line's status", Err: err}
		}
		if st.Open() || !found && p.admitUnknown {
			return next(ctx, req)
		}
		return wire.Errorf(wire.CodeNotActiveLine, "line %.64q of %.64q is not active (active %v, connection %v, register %v, error %v)",
			req.Line, req.RealConnector, st.Active, st.Connection, st.Register, st.Error)
	}
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
// The first call starts the retries of the stored items (those another process left too): subscribe
// before it, or an item due then fires on no subscriber and counts as done.
func (p *Portal) Handler() http.Handler {
	p.retrier.start()
	return p.handler
}

// Router returns the Router behind Handler, to add middleware or handle more commands.
func (p *Portal) Router() *router.Router { return p.router }

// Metrics returns the counters of every packet the portal answered, by command and error code. ItemStats
// has the figures of the items.
func (p *Portal) Metrics() *router.Metrics { return p.metrics }

// Client returns the Output client New built, or nil when Confirmer was replaced. Use it to answer
// customers: it shares the portal's Bot Framework chat contexts.
func (p *Portal) Client() *client.Client { return p.client }

// ChatContexts returns the Bot Framework chat context store the pipeline writes.
func (p *Portal) ChatContexts() bfcontext.Store { return p.chats }

// LineStatuses returns the store of the lines' statuses as the connect flow writes it (client.Connect sets
// ACTIVE, CONNECTION and REGISTER there): keyed by the real connector id (a virtual one is stored under its
// real one); changes made through it fire OnAddStatusConnector and OnUpdateStatusConnector.
func (p *Portal) LineStatuses() openlines.LineStatusStore { return statusStore{p.status} }

// LineStatus returns the status of connector (real or virtual) on a line, and whether one is stored.
func (p *Portal) LineStatus(ctx context.Context, connector, line string) (openlines.LineStatus, bool, error) {
	return p.status.lookup(ctx, openlines.RealConnector(connector), line)
}

// SetLineStatus stores the status of connector (real or virtual) on a line, firing OnAddStatusConnector or
// OnUpdateStatusConnector.
func (p *Portal) SetLineStatus(ctx context.Context, connector, line string, s openlines.LineStatus) error {
	return p.status.set(ctx, openlines.RealConnector(connector), line, s)
}

// DeleteLineStatus forgets the status of connector (real or virtual) on a line, firing
// OnDeleteStatusConnector when there was one.
func (p *Portal) DeleteLineStatus(ctx context.Context, connector, line string) error {
	return p.status.delete(ctx, openlines.RealConnector(connector), line)
}

// Close stops the retries (waiting for the one in progress), cancels the items still running after their
// packet's answer (they stay stored, to be tried again) and waits for them, and closes the database New
// opened (not one given as Config.DB). Stop serving first. Close twice is harmless.
func (p *Portal) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		if p.retrier != nil {
			p.retrier.close()
		}
		p.lanes.close()
		if p.items != nil {
			errs = append(errs, p.items.close())
		}
		if p.closeDB && p.db != nil {
			errs = append(errs, p.db.Close())
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// keyedMutex is one mutex per key, dropped when nobody holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
