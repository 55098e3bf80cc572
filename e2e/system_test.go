// Package e2e proves the whole chain over real HTTP on 127.0.0.1: the fake Bot Framework service (bftest), the
// connector server with the Bot Framework channel, and a portal (router + pipeline + client), on SQLite and on
// MariaDB, in both signing modes.
package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

const (
	licenceKey = "e2e-licence-key-0001"
	hmacSecret = "e2e-hmac-secret-0001"
	lineID     = "1"
	botHandle  = "olctl-e2e-bot"
)

// mode is one signing configuration of the system.
type mode struct {
	name  string
	creds wire.Credentials
	site  connector.Site
}

func modes() []mode {
	return []mode{
		{
			name:  "md5",
			creds: wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey},
			site:  connector.Site{LicenceKey: licenceKey, Mode: wire.MD5},
		},
		{
			name:  "hmac-sha256",
			creds: wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: licenceKey, Secrets: []string{hmacSecret}},
			site:  connector.Site{LicenceKey: licenceKey, Mode: wire.HMACSHA256, Secrets: []string{hmacSecret}},
		},
	}
}

// dbKind opens one database of a dialect for a test.
type dbKind struct {
	name string
	open func(t testing.TB) *sqldb.DB
}

func dbKinds() []dbKind {
	return []dbKind{{"sqlite", testdb.SQLite}, {"mariadb", testdb.MySQL}, {"postgres", testdb.Postgres}}
}

// events collects what the portal fired, for assertions without sleeping.
type events struct {
	mu         sync.Mutex
	messages   []portal.Message
	deliveries []portal.StatusDelivery
	statuses   []portal.StatusConnector
	errors     []portal.ReceivedError
	changed    chan struct{}
}

// recorder returns a subscriber that appends each event to list.
func recorder[T any](e *events, list *[]T) func(context.Context, T) error {
	return func(_ context.Context, v T) error {
		e.mu.Lock()
		*list = append(*list, v)
		e.mu.Unlock()
		e.notify()
		return nil
	}
}

func newEvents() *events { return &events{changed: make(chan struct{}, 1)} }

func (e *events) notify() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// wait polls cond each time an event arrives, until it holds or ctx ends.
func (e *events) wait(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for {
		e.mu.Lock()
		ok := cond()
		e.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-e.changed:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// system is one running chain: bftest ↔ connector server ↔ portal.
type system struct {
	bf        *bftest.Server
	server    *connector.Server
	portal    *portal.Portal
	portalURL string
	client    *client.Client
	events    *events
	webhook   string
}

type systemConfig struct {
	mode      mode
	serverDB  *sqldb.DB
	portalDB  *sqldb.DB
	clock     clock.Clock
	batch     int
	confirm   time.Duration
	sendTO    time.Duration
	schedule  []time.Duration
	bfOptions []bftest.Option
	// portalWrap wraps the portal's handler and confirmWrap its confirmations (fault injection).
	portalWrap  func(http.Handler) http.Handler
	confirmWrap func(portal.Confirmer) portal.Confirmer
}

func startSystem(t *testing.T, cfg systemConfig) *system {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("E2E_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := &system{events: newEvents()}
	s.bf = bftest.NewServer(t, cfg.bfOptions...)

	// The portal's endpoint exists before the portal, so that the server knows where to call.
	var handler http.Handler = http.NotFoundHandler()
	var hmu sync.RWMutex
	portalHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		h := handler
		hmu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(portalHTTP.Close)
	s.portalURL = portalHTTP.URL

	site := cfg.mode.site
	site.Domain = s.portalURL
	channels := connector.NewChannels()
	channels.Register(botframework.ID, botframework.New(
		botframework.WithOpenIDMetadataURL(s.bf.OpenIDMetadataURL()),
		botframework.WithTokenURL(s.bf.TokenURL()),
		botframework.WithRetry(3, 10*time.Millisecond, 100*time.Millisecond),
	))
	srv, err := connector.NewServer(connector.Config{
		DB:          cfg.serverDB,
		Sites:       []connector.Site{site},
		Channels:    channels,
		Queue:       connector.Policy{Batch: cfg.batch, ConfirmTimeout: cfg.confirm, Schedule: cfg.schedule},
		SendTimeout: cfg.sendTO,
		Clock:       cfg.clock,
		Logger:      logger,
	})
	if err != nil {
		t.Fatalf("connector.NewServer: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	s.server = srv

	// The operator's client, as a portal backend makes it (the portal makes its own for confirmations).
	opts := []client.Option{client.WithDomain(s.portalURL), client.WithLicenceKey(licenceKey)}
	if cfg.clock != nil {
		opts = append(opts, client.WithClock(cfg.clock))
	}
	if cfg.mode.creds.Mode == wire.HMACSHA256 {
		opts = append(opts, client.WithSigning(wire.HMACSHA256, cfg.mode.creds.Secrets...))
	}
	// A portal whose confirmations are faulted is a legacy one: only legacy portals confirm
	// (setStatusDelivered); its clients say so in BX_VERSION, by which the server tells the site's profile.
	profile := wire.Current
	if cfg.confirmWrap != nil {
		profile = wire.Legacy
		opts = append(opts, client.WithProfile(wire.Legacy))
	}
	var confirmer portal.Confirmer
	if cfg.confirmWrap != nil {
		c, err := client.New(srv.URL(), opts...)
		if err != nil {
			t.Fatalf("client.New: %v", err)
		}
		confirmer = cfg.confirmWrap(portal.NewConfirmer(c))
	}
	p, err := portal.New(ctx, portal.Config{
		Confirmer:   confirmer,
		Credentials: cfg.mode.creds,
		ServerURL:   srv.URL(),
		Domain:      s.portalURL,
		DB:          cfg.portalDB,
		DataDir:     t.TempDir(),
		Clock:       cfg.clock,
		Logger:      logger,
		Profile:     profile,
		FileOptions: []files.Option{files.WithAllowPrivateNetworks(true)},
	})
	if err != nil {
		t.Fatalf("portal.New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s.portal = p
	p.OnReceivedMessage(recorder(s.events, &s.events.messages))
	p.OnReceivedStatusDelivery(recorder(s.events, &s.events.deliveries))
	p.OnReceivedError(recorder(s.events, &s.events.errors))
	p.OnUpdateStatusConnector(recorder(s.events, &s.events.statuses))
	h := p.Handler()
	if cfg.portalWrap != nil {
		h = cfg.portalWrap(h)
	}
	hmu.Lock()
	handler = h
	hmu.Unlock()
	// The operator's client connects the lines: it writes their status where the portal's gate reads it.
	c, err := client.New(srv.URL(), append(opts, client.WithChatContext(p.ChatContexts()), client.WithLineStatus(p.LineStatuses()))...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	s.client = c
	return s
}

// connect runs the connect flow for the Bot Framework line and returns the bot's webhook URL.
func (s *system) connect(ctx context.Context, t *testing.T, line string) string {
	t.Helper()
	data, err := s.client.Connect(ctx, client.Settings{
		"bot_handle": botHandle,
		"app_id":     s.bf.AppID(),
		"app_secret": s.bf.AppSecret(),
	}, client.Connector(botframework.ID), client.Line(line))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	webhook, _ := data["URL_WEBHOOK"].(string)
	if webhook == "" {
		t.Fatalf("register answered no URL_WEBHOOK: %v", data)
	}
	s.webhook = webhook
	return webhook
}

// queueEmpty waits until the server's queue holds nothing.
func (s *system) queueEmpty(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		st, err := s.server.QueueStats(ctx)
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		if st.Pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("queue not empty: %+v", st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
