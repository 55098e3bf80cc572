package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
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

// profiles are the two generations of portal (docs/protocol.md §1), each system runs one.
func profiles() []wire.Profile { return []wire.Profile{wire.Current, wire.Legacy} }

// siteProfile is the connector.Site profile of a site of generation p.
func siteProfile(p wire.Profile) connector.SiteProfile {
	if p == wire.Legacy {
		return connector.ProfileLegacy
	}
	return connector.ProfileCurrent
}

// emptyListData is the DATA (after base64) of a packet without items pushed to a portal of profile p: an
// empty array stubbed as that generation stubs it (docs/protocol.md §3.3). Spelled out here, not computed by
// wire, so that the test does not check wire against itself.
func emptyListData(p wire.Profile) string {
	if p == wire.Current {
		return `s:13:"#EMPTY_ARRAY#";`
	}
	return `s:7:"#EMPTY#";`
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
	readings   []portal.StatusReading
	statuses   []portal.StatusConnector
	errors     []portal.ReceivedError
	blocks     []portal.StatusBlock
	chatNames  []portal.ChatName
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

// subscribe records every event of p.
func (e *events) subscribe(p *portal.Portal) {
	p.OnReceivedMessage(recorder(e, &e.messages))
	p.OnReceivedStatusDelivery(recorder(e, &e.deliveries))
	p.OnReceivedStatusReading(recorder(e, &e.readings))
	p.OnReceivedError(recorder(e, &e.errors))
	p.OnReceivedStatusBlock(recorder(e, &e.blocks))
	p.OnNewChatName(recorder(e, &e.chatNames))
	p.OnUpdateStatusConnector(recorder(e, &e.statuses))
}

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

// fired counts the message events per message id.
func (e *events) fired() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := map[string]int{}
	for _, m := range e.messages {
		n[m.MessageID]++
	}
	return n
}

// message returns the first message event of the message id.
func (e *events) message(id string) (portal.Message, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.messages {
		if m.MessageID == id {
			return m, true
		}
	}
	return portal.Message{}, false
}

// packet is one request through a tap: its fields as sent, DATA base64-decoded (the serialized bytes with
// the stubs as sent), and the answer.
type packet struct {
	command, connector, line, version string
	data                              []byte
	status                            int
	answer                            []byte
}

// ok reports whether the answer was OK:true.
func (p packet) ok() bool {
	var a struct {
		OK any `json:"OK"`
	}
	return json.Unmarshal(p.answer, &a) == nil && a.OK == true
}

// code returns the first error code of the answer ("" if none).
func (p packet) code() string {
	var a struct {
		Error []struct {
			Code string `json:"CODE"`
		} `json:"ERROR"`
	}
	if json.Unmarshal(p.answer, &a) != nil || len(a.Error) == 0 {
		return ""
	}
	return a.Error[0].Code
}

// tap records the protocol packets through an endpoint: server → portal pushes in front of the portal,
// portal → server calls in front of the connector server.
type tap struct {
	mu      sync.Mutex
	packets []packet
	changed chan struct{} // closed and replaced at each packet
}

func newTap() *tap { return &tap{changed: make(chan struct{})} }

func (tp *tap) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		vals, err := url.ParseQuery(string(body))
		if err != nil || vals.Get("BX_COMMAND") == "" {
			return
		}
		data, _ := base64.StdEncoding.DecodeString(vals.Get("DATA"))
		tp.mu.Lock()
		tp.packets = append(tp.packets, packet{command: vals.Get("BX_COMMAND"), connector: vals.Get("CONNECTOR"),
			line: vals.Get("LINE"), version: vals.Get("BX_VERSION"), data: data, status: rec.status, answer: rec.body.Bytes()})
		close(tp.changed)
		tp.changed = make(chan struct{})
		tp.mu.Unlock()
	})
}

// wait waits until cond holds for the packets of command ("": all), or fails t when ctx ends. A packet is
// recorded once it is answered, which is after the portal fired its events.
func (tp *tap) wait(ctx context.Context, t testing.TB, what, command string, cond func([]packet) bool) []packet {
	t.Helper()
	for {
		tp.mu.Lock()
		ch := tp.changed
		tp.mu.Unlock()
		if l := tp.list(command); cond(l) {
			return l
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// list returns the packets of a command ("": all), in the order they were answered.
func (tp *tap) list(command string) []packet {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []packet
	for _, p := range tp.packets {
		if command == "" || p.command == command {
			out = append(out, p)
		}
	}
	return out
}

func (tp *tap) count(command string) int { return len(tp.list(command)) }

// answerRecorder passes an answer through and keeps a copy of it.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) WriteHeader(code int) {
	a.status = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.body.Len() < 1<<16 {
		a.body.Write(b)
	}
	return a.ResponseWriter.Write(b)
}

// system is one running chain: bftest ↔ connector server ↔ portal.
type system struct {
	bf        *bftest.Server
	server    *connector.Server
	serverURL string // the connector server's portal-facing URL, behind the calls tap
	portal    *portal.Portal
	portalURL string
	client    *client.Client
	events    *events
	webhook   string
	profile   wire.Profile
	pushes    *tap // server → portal
	calls     *tap // portal → server
}

type systemConfig struct {
	mode     mode
	serverDB *sqldb.DB
	portalDB *sqldb.DB
	// profile is the portal's generation (its pipeline, its acknowledgement, its clients' BX_VERSION);
	// explicitSite gives the connector's site that profile in its record (connector.Site.Profile), where
	// otherwise the server tells it by the BX_VERSION of the portal's packets (auto).
	profile      wire.Profile
	explicitSite bool
	clock        clock.Clock
	batch        int
	confirm      time.Duration
	sendTO       time.Duration
	schedule     []time.Duration
	bfOptions    []bftest.Option
	portalRetry  portal.RetryPolicy
	answerWithin time.Duration  // the portal's Config.AnswerWithin (0: its default)
	fileOptions  []files.Option // after the loopback allowance the portal's importer gets
	// portalWrap wraps the portal's handler and confirmWrap its confirmations (fault injection; the
	// confirmations of a legacy portal).
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
	s := &system{events: newEvents(), profile: cfg.profile, pushes: newTap(), calls: newTap()}
	s.bf = bftest.NewServer(t, cfg.bfOptions...)

	// The portal's endpoint exists before the portal, so that the server knows where to call.
	var handler http.Handler = http.NotFoundHandler()
	var hmu sync.RWMutex
	portalHTTP := httptest.NewServer(s.pushes.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		h := handler
		hmu.RUnlock()
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(portalHTTP.Close)
	s.portalURL = portalHTTP.URL

	site := cfg.mode.site
	site.Domain = s.portalURL
	if cfg.explicitSite {
		site.Profile = siteProfile(cfg.profile)
	}
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
		// The portal and the fake Bot Framework listen on 127.0.0.1.
		AllowPrivateNetworks: true,
	})
	if err != nil {
		t.Fatalf("connector.NewServer: %v", err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	s.server = srv
	// The portal's calls reach the server through the calls tap (the messenger's webhooks go to srv.URL()).
	serverHTTP := httptest.NewServer(s.calls.wrap(srv.Handler()))
	t.Cleanup(serverHTTP.Close)
	s.serverURL = serverHTTP.URL

	// The operator's client, as a portal backend makes it (the portal makes its own for confirmations). Its
	// BX_VERSION is its profile's, by which the server tells the site's generation unless it is explicit.
	opts := []client.Option{client.WithDomain(s.portalURL), client.WithLicenceKey(licenceKey), client.WithProfile(cfg.profile)}
	if cfg.clock != nil {
		opts = append(opts, client.WithClock(cfg.clock))
	}
	if cfg.mode.creds.Mode == wire.HMACSHA256 {
		opts = append(opts, client.WithSigning(wire.HMACSHA256, cfg.mode.creds.Secrets...))
	}
	var confirmer portal.Confirmer
	if cfg.confirmWrap != nil {
		c, err := client.New(s.serverURL, opts...)
		if err != nil {
			t.Fatalf("client.New: %v", err)
		}
		confirmer = cfg.confirmWrap(portal.NewConfirmer(c))
	}
	p, err := portal.New(ctx, portal.Config{
		Confirmer:    confirmer,
		Credentials:  cfg.mode.creds,
		ServerURL:    s.serverURL,
		Domain:       s.portalURL,
		DB:           cfg.portalDB,
		DataDir:      t.TempDir(),
		Clock:        cfg.clock,
		Logger:       logger,
		Profile:      cfg.profile,
		Retry:        cfg.portalRetry,
		AnswerWithin: cfg.answerWithin,
		FileOptions:  append([]files.Option{files.WithAllowPrivateNetworks(true)}, cfg.fileOptions...),
	})
	if err != nil {
		t.Fatalf("portal.New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s.portal = p
	s.events.subscribe(p)
	h := p.Handler()
	if cfg.portalWrap != nil {
		h = cfg.portalWrap(h)
	}
	hmu.Lock()
	handler = h
	hmu.Unlock()
	// The operator's client connects the lines: it writes their status where the portal's gate reads it.
	c, err := client.New(s.serverURL, append(opts, client.WithChatContext(p.ChatContexts()), client.WithLineStatus(p.LineStatuses()))...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	s.client = c
	return s
}

// connect runs the connect flow for the Bot Framework line and returns the bot's webhook URL.
func (s *system) connect(ctx context.Context, t *testing.T, line string) string {
	t.Helper()
	data, err := s.client.Connect(ctx, s.botSettings(), client.Connector(botframework.ID), client.Line(line))
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

// botSettings are the settings of the Bot Framework line: the fake's bot.
func (s *system) botSettings() client.Settings {
	return client.Settings{"bot_handle": botHandle, "app_id": s.bf.AppID(), "app_secret": s.bf.AppSecret()}
}

// queueEmpty waits until the server's queue holds nothing.
func (s *system) queueEmpty(ctx context.Context, t *testing.T) {
	t.Helper()
	eventually.True(t, left(ctx), "the server's queue to empty", func() bool {
		st, err := s.server.QueueStats(ctx)
		if err != nil {
			t.Fatalf("QueueStats: %v", err)
		}
		return st.Pending == 0
	})
}

// left is the time ctx has before its deadline (a minute without one): the bound of a wait within the
// test's context.
func left(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return time.Minute
}

// drained checks that the server's queue is empty with no dead letters.
func (s *system) drained(ctx context.Context, t *testing.T) {
	t.Helper()
	s.queueEmpty(ctx, t)
	st, err := s.server.QueueStats(ctx)
	if err != nil || st.Dead != 0 || st.Pending != 0 {
		t.Errorf("queue at the end: %+v %v, want empty with no dead letters", st, err)
	}
}

// confirmed returns the items of setStatusDelivered calls, as "<chat.id> <message.id>".
func confirmed(t testing.TB, calls []packet) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range calls {
		var args [][]openlines.StatusItem
		v, err := wire.Unserialize(p.data)
		if err == nil {
			err = wire.Bind(unstub(v), &args)
		}
		if err != nil || len(args) != 1 {
			t.Fatalf("setStatusDelivered DATA %q: %v", p.data, err)
		}
		for _, it := range args[0] {
			out[it.Chat.ID+" "+it.Message.ID]++
		}
	}
	return out
}

// unstub undoes both stubs of a decoded value (docs/protocol.md §3.3), as a receiver does.
func unstub(v any) any {
	switch x := v.(type) {
	case string:
		switch x {
		case wire.EmptyStub:
			return ""
		case wire.EmptyArrayStub:
			return []any{}
		}
	case []any:
		for i := range x {
			x[i] = unstub(x[i])
		}
	case *wire.Map:
		for i := range x.Entries {
			x.Entries[i].Value = unstub(x.Entries[i].Value)
		}
	}
	return v
}

// checkAcknowledgement checks how the portal acknowledged the receivingMessage packets (docs/protocol.md
// §11): a current portal by its OK answer alone, never calling setStatusDelivered; a legacy portal by
// setStatusDelivered naming each message of want ("<chat.id> <message.id>").
func (s *system) checkAcknowledgement(ctx context.Context, t *testing.T, want ...string) {
	t.Helper()
	if s.profile == wire.Current {
		if n := s.calls.count(openlines.MethodSetStatusDelivered); n != 0 {
			t.Errorf("a current portal called setStatusDelivered %d times", n)
		}
		return
	}
	s.calls.wait(ctx, t, fmt.Sprintf("setStatusDelivered of %q", want), openlines.MethodSetStatusDelivered, func(l []packet) bool {
		got := confirmed(t, l)
		for _, w := range want {
			if got[w] == 0 {
				return false
			}
		}
		return len(l) > 0
	})
}

// checkStubs checks the DATA of every push to the portal: #EMPTY_ARRAY# only to a current portal, and each
// packet without items (testConnect, deactivateConnector) as its profile stubs an empty list.
func (s *system) checkStubs(t *testing.T) {
	t.Helper()
	for _, p := range s.pushes.list("") {
		if s.profile == wire.Legacy && bytes.Contains(p.data, []byte(wire.EmptyArrayStub)) {
			t.Errorf("%s to a legacy portal carries %s: %s", p.command, wire.EmptyArrayStub, p.data)
		}
		switch p.command {
		case openlines.CommandTestConnect, openlines.CommandDeactivateConnector:
			if string(p.data) != emptyListData(s.profile) {
				t.Errorf("%s DATA %s, want %s", p.command, p.data, emptyListData(s.profile))
			}
		}
	}
}
