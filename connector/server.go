package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is a running connector server: the portal-facing endpoint, the messenger webhooks, the records and
// the durable queue with its dispatcher. NewServer listens at once (so URL is known); Start serves and
// dispatches; Close stops everything.
type Server struct {
	cfg      Config
	store    *Store
	ownDB    bool
	tmpDir   string
	log      *slog.Logger
	channels map[string]Channel
	methods  map[string]map[string]Method // real id → lower-case method → handler
	guard    *wire.ReplayGuard
	enq      *committer
	m        *metrics
	instance string    // this process among those sharing the database (see instanceName)
	lock     io.Closer // the SQLite database's lock (see lockSQLite); nil on MySQL and PostgreSQL

	ln      net.Listener
	httpSrv *http.Server
	url     string
	mux     *http.ServeMux
	handler http.Handler      // mux, recorded when inspected
	rec     *inspect.Recorder // nil: not inspected

	// metricsLn and metricsSrv serve /metrics on Config.MetricsAddr (nil: on the main listener, to
	// loopback clients).
	metricsLn  net.Listener
	metricsSrv *http.Server

	tokens       chan struct{} // wake-ups for idle workers, one per event (see wake)
	searches     searches      // refused packets being narrowed to their item, per lane (fit.go)
	queuedBodies [][]byte      // webhook answers by number of items queued (see queuedBody)

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	started   atomic.Bool
	dispatch  atomic.Bool
	closeOnce sync.Once
	waiting   atomic.Int32 // dispatcher workers waiting for work (tests use it to know the server is settled)
	rounds    atomic.Int64 // dispatch rounds so far
	lastPrune atomic.Int64
}

// NewServer opens the database (creating and migrating the schema), stores the configured sites, builds the
// channels and listens on cfg.Addr. It does not serve until Start.
func NewServer(cfg Config) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c, log: c.Logger, tokens: make(chan struct{}, c.Workers)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.startInspect(&c)
	s.cfg.HTTPClient = c.HTTPClient
	ok := false
	defer func() {
		if !ok {
			s.cleanup()
		}
	}()
	db := c.DB
	if db == nil {
		dsn := c.DSN
		if dsn == "" {
			if s.tmpDir, err = os.MkdirTemp("", "olctl-connector-"); err != nil {
				return nil, fmt.Errorf("connector: temporary database: %w", err)
			}
			dsn = "sqlite:" + filepath.Join(s.tmpDir, "connector.db")
		}
		if db, err = sqldb.Open(s.ctx, dsn); err != nil {
			return nil, err
		}
		s.ownDB = true
	}
	if db.Dialect == sqldb.SQLite {
		if s.lock, err = lockSQLite(s.ctx, db); err != nil {
			if s.ownDB {
				_ = db.Close()
			}
			return nil, err
		}
	}
	if s.store, err = newStore(s.ctx, db, c.Clock); err != nil {
		if s.ownDB {
			_ = db.Close()
		}
		return nil, err
	}
	s.store.own = s.ownDB
	s.store.pol = c.Queue
	for _, site := range c.Sites {
		if _, err := s.store.upsertSite(s.ctx, site); err != nil {
			return nil, err
		}
	}
	if s.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return nil, fmt.Errorf("connector: listen: %w", err)
	}
	// Only once the address is this process's: a previous incarnation's leases are freed at once (every
	// lease on SQLite, whose lock says no other process serves the queue).
	s.instance = instanceName(c.Addr, s.ln)
	release := func() error { return s.store.releaseLeases(s.ctx, s.instance) }
	if s.store.sqlite() {
		release = func() error { return s.store.releaseAllLeases(s.ctx) }
	}
	if err := release(); err != nil {
		return nil, fmt.Errorf("connector: release leases: %w", err)
	}
	s.url = "http://" + s.ln.Addr().String()
	public := strings.TrimRight(c.PublicURL, "/")
	if public == "" {
		public = s.url
	}
	s.cfg.PublicURL = public
	env := Env{HTTPClient: c.HTTPClient, Logger: c.Logger, Clock: c.Clock, PublicURL: public, AllowPrivateNetworks: c.AllowPrivateNetworks}
	if s.channels, err = c.Channels.build(env); err != nil {
		return nil, err
	}
	s.methods = map[string]map[string]Method{}
	for id, ch := range s.channels {
		if mp, ok := ch.(MethodProvider); ok {
			ms := map[string]Method{}
			for name, fn := range mp.Methods() {
				if fn != nil {
					ms[strings.ToLower(name)] = fn
				}
			}
			s.methods[id] = ms
		}
	}
	for n := 0; n <= 64; n++ {
		body, err := wire.OKBody(map[string]int{"QUEUED": n})
		if err != nil {
			return nil, err
		}
		s.queuedBodies = append(s.queuedBodies, body)
	}
	s.guard = wire.NewReplayGuard(c.Clock, 0)
	s.enq = newCommitter(s.store)
	s.m = newMetrics(s.store)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc(c.ServerPath, s.handlePortal)
	s.mux.HandleFunc("/imwebhook/{real}", s.handleWebhook)
	metrics := promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
	if c.MetricsAddr == "" {
		s.mux.Handle("/metrics", loopbackOnly(metrics))
	}
	s.mux.HandleFunc("/healthz", s.handleHealth)
	s.handler = s.mux
	if s.rec != nil {
		s.handler = s.rec.Incoming(s.mux)
	}
	errLog := slog.NewLogLogger(c.Logger.Handler(), slog.LevelWarn)
	s.httpSrv = c.limits().Server(s.handler, errLog)
	if c.MetricsAddr != "" {
		if s.metricsLn, err = net.Listen("tcp", c.MetricsAddr); err != nil {
			return nil, fmt.Errorf("connector: listen for /metrics: %w", err)
		}
		mm := http.NewServeMux()
		mm.Handle("/metrics", metrics)
		s.metricsSrv = c.limits().Server(mm, errLog)
	}
	ok = true
	return s, nil
}

// Start serves on the listener and starts the dispatcher (unless Config.NoDispatch). It returns at once.
func (s *Server) Start() {
	if !s.started.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("connector: serve", "err", err)
		}
	}()
	if s.metricsSrv != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.metricsSrv.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("connector: serve /metrics", "err", err)
			}
		}()
	}
	if !s.cfg.NoDispatch {
		s.StartDispatcher()
	}
}

// StartDispatcher starts only the dispatcher, for callers that serve Handler themselves.
func (s *Server) StartDispatcher() {
	if !s.dispatch.CompareAndSwap(false, true) {
		return
	}
	for i := 0; i < s.cfg.Workers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.worker(s.ctx)
		}()
	}
}

// Close stops serving and dispatching, waits for in-flight work, and closes the database it opened (and
// removes the temporary one).
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if s.httpSrv != nil {
			err = s.httpSrv.Shutdown(ctx) // no handler is running after this, so no enqueue is waiting
		}
		if s.metricsSrv != nil {
			_ = s.metricsSrv.Shutdown(ctx)
		}
		s.cancel()
		s.wg.Wait()
		// The batches cut off are sent again: by another process at once rather than when their leases end.
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if rerr := s.store.releaseLeases(rctx, s.instance); rerr != nil && err == nil {
			err = fmt.Errorf("connector: release leases: %w", rerr)
		}
		s.cleanup()
	})
	return err
}

func (s *Server) cleanup() {
	s.cancel()
	if s.ln != nil && !s.started.Load() {
		_ = s.ln.Close()
	}
	if s.metricsLn != nil && !s.started.Load() {
		_ = s.metricsLn.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.lock != nil {
		_ = s.lock.Close()
	}
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

// MetricsURL returns the URL of /metrics: on the listener of Config.MetricsAddr when there is one, else on
// the main one (loopback clients only).
func (s *Server) MetricsURL() string {
	if s.metricsLn != nil {
		return "http://" + s.metricsLn.Addr().String() + "/metrics"
	}
	return s.url + "/metrics"
}

// loopbackOnly serves h to clients on a loopback address that no proxy forwarded, and 403 to the rest.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
			http.Error(w, "/metrics is served to loopback clients only (Config.MetricsAddr gives it a listener of its own)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// URL returns the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// PortalEndpoint returns the URL portals post their packets to.
func (s *Server) PortalEndpoint() string { return s.url + s.cfg.ServerPath }

// Handler returns the server's HTTP handler (portal endpoint, webhooks, /metrics, /healthz).
func (s *Server) Handler() http.Handler { return s.handler }

// Store returns the server's store (queue inspection).
func (s *Server) Store() *Store { return s.store }

// Registry returns the server's Prometheus registry.
func (s *Server) Registry() *prometheus.Registry { return s.m.reg }

// Channel returns the server's channel for a connector id (real or virtual).
func (s *Server) Channel(connector string) (Channel, error) {
	id, _, err := s.cfg.Channels.Lookup(connector)
	if err != nil {
		return nil, err
	}
	ch, ok := s.channels[id]
	if !ok {
		return nil, &wire.Error{Code: wire.CodeUnknownConnector, Message: fmt.Sprintf("no channel for connector %q", connector)}
	}
	return ch, nil
}

// AddSite stores a portal at run time (the same as listing it in Config.Sites).
func (s *Server) AddSite(ctx context.Context, site Site) error {
	if err := site.validate(); err != nil {
		return err
	}
	_, err := s.store.upsertSite(ctx, site)
	return err
}

// QueueStats returns the state of the queue (see Store.QueueStats).
func (s *Server) QueueStats(ctx context.Context) (QueueStats, error) { return s.store.QueueStats(ctx) }

// QueueList lists queued items (see Store.QueueList).
func (s *Server) QueueList(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.store.QueueList(ctx, f)
}

// DeadLetters lists dead-lettered items (see Store.DeadLetters).
func (s *Server) DeadLetters(ctx context.Context, f QueueFilter) ([]QueuedItem, error) {
	return s.store.DeadLetters(ctx, f)
}

// WebhookURL returns the webhook URL of a line connector hash.
func (s *Server) webhookURL(realID, hash string) string {
	return s.cfg.PublicURL + "/imwebhook/" + realID + "?h=" + hash
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.store.db.PingContext(ctx); err != nil {
		http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// wake tells one idle worker that there may be work (an enqueue, an unblocked line). Tokens are buffered,
// so a worker that was about to wait finds it; a worker that claims a line passes a token on, so that
// several ready lines wake several workers.
func (s *Server) wake() {
	select {
	case s.tokens <- struct{}{}:
	default: // every worker has a token already
	}
}

// enqueue queues items for (site, line) through the group committer and wakes the dispatcher; it returns
// the number stored (items whose dedup key was seen are dropped). An item that no packet to the site could
// carry fails the whole call with REQUEST_ENTITY_TOO_LARGE, before anything is stored.
//
// Callers in request handlers call s.enq.begin first (see committer); enqueue always ends it.
func (s *Server) enqueue(ctx context.Context, site *siteRec, line, defConnector string, items []Incoming) (int, error) {
	ps, err := prepare(items, defConnector)
	if err == nil {
		err = s.checkDeliverable(site, line, ps)
	}
	if err != nil {
		s.enq.done()
		return 0, err
	}
	kept, err := s.enq.enqueue(ctx, site.id, line, ps)
	if err != nil {
		return 0, err
	}
	for _, p := range kept {
		s.m.enqueued.WithLabelValues(p.command).Inc()
	}
	s.wake()
	return len(kept), nil
}

// line builds the channel's view of a line connector.
func (s *Server) line(site *siteRec, l *lineRec) *Line {
	return &Line{
		SiteDomain: site.domain, SiteLicence: site.site.licence(), LineID: l.line, Connector: l.connector,
		Hash: l.hash, Settings: l.params, WebhookURL: s.webhookURL(l.realID, l.hash),
	}
}
