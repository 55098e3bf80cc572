package bftest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/httpserve"
)

// Defaults of Config.
const (
	// DefaultAppID is the bot's Microsoft app id when Config.AppID is empty.
	DefaultAppID = "b0f7e5a1-0000-4000-8000-00000000b0f7"
	// DefaultAppSecret is the bot's app password when Config.AppSecret is empty.
	DefaultAppSecret = "bftest-secret"
	// DefaultChannelID is the channelId of the activities the fake sends when Config.ChannelID is empty.
	DefaultChannelID = "webchat"
	// DefaultTokenLifetime is the lifetime of the tokens the fake issues when Config.TokenLifetime is zero.
	DefaultTokenLifetime = time.Hour
)

// DefaultEndorsements are the channel ids the fake's signing keys endorse when Config.Endorsements is nil, as
// the real service's keys do.
var DefaultEndorsements = []string{"msteams", "skype", "webchat", "emulator", "directline", "slack", "telegram",
	"facebook", "email", "sms", "kik", "groupme", "line", "test"}

// Paths the fake serves. The Connector REST API lives under /v3/conversations/.
const (
	OpenIDPath    = "/v1/.well-known/openidconfiguration"
	KeysPath      = "/v1/.well-known/keys"
	TokenPath     = "/botframework.com/oauth2/v2.0/token"
	AADOpenIDPath = "/botframework.com/v2.0/.well-known/openid-configuration"
	aadKeysPath   = "/botframework.com/discovery/v2.0/keys"
)

// aadIssuer is the issuer of the access tokens the fake's token endpoint issues (the Bot Framework tenant).
const aadIssuer = "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/"

// Config configures a fake service. The zero value is usable.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:0" (a free port on the loopback interface).
	Addr string
	// NoAuth turns authentication off, as the Bot Framework Emulator allows: the Connector REST API accepts calls
	// without an Authorization header (an empty "Bearer" counts as none; a present but invalid token is still
	// 401), and activities are sent to the webhook without a token. Default false.
	NoAuth bool
	// AppID and AppSecret are the bot's credentials: the token endpoint issues tokens for them only, and the
	// tokens the fake sends to the webhook have AppID as audience. Defaults DefaultAppID, DefaultAppSecret.
	AppID, AppSecret string
	// ChannelID is the channelId of sent activities unless the activity sets one. Default DefaultChannelID.
	ChannelID string
	// Bot is the bot account: the recipient of sent activities. Default {ID: "28:"+AppID, Name: "bftest bot"}.
	Bot schema.ChannelAccount
	// Endorsements are the channel ids the signing keys endorse. Default DefaultEndorsements plus ChannelID.
	Endorsements []string
	// TokenLifetime is the lifetime of issued and minted tokens. Default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// TLS serves HTTPS with a self-signed certificate for 127.0.0.1 (see Server.CertificatePEM and
	// Server.Client); some SDKs insist on an https token authority. Default false.
	TLS bool
	// Logger receives one debug line per request. Default: discard.
	Logger *slog.Logger
	// Clock dates tokens and activities and times Failure.Delay. Default clock.System().
	Clock clock.Clock
	// HTTPClient posts activities to webhooks. Default: a client with a 30 s timeout (trusting the fake's own
	// certificate when TLS is set).
	HTTPClient *http.Client
	// Wrap, when set, wraps the service's handler: a recorder of the calls made to it (olctl bf serve
	// --trace), say. The server's limits stay outside it. Default: none.
	Wrap func(http.Handler) http.Handler
}

// Option changes the Config of NewServer.
type Option func(*Config)

// WithNoAuth turns authentication off (Config.NoAuth).
func WithNoAuth() Option { return func(c *Config) { c.NoAuth = true } }

// WithApp sets the bot's app id and secret (Config.AppID, Config.AppSecret).
func WithApp(id, secret string) Option {
	return func(c *Config) { c.AppID, c.AppSecret = id, secret }
}

// WithChannelID sets the channelId of sent activities (Config.ChannelID).
func WithChannelID(id string) Option { return func(c *Config) { c.ChannelID = id } }

// WithClock sets the clock (Config.Clock).
func WithClock(cl clock.Clock) Option { return func(c *Config) { c.Clock = cl } }

// WithLogger sets the logger (Config.Logger).
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithTLS serves HTTPS (Config.TLS).
func WithTLS() Option { return func(c *Config) { c.TLS = true } }

// WithConfig replaces the whole Config with cfg (options after it still apply).
func WithConfig(cfg Config) Option { return func(c *Config) { *c = cfg } }

// Server is a running fake Bot Framework service. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	clock clock.Clock
	log   *slog.Logger
	srv   *httptest.Server
	http  *http.Client
	done  chan struct{}
	once  sync.Once

	aadKey *rsa.PrivateKey // signs the access tokens of the token endpoint

	mu           sync.Mutex
	keys         []signingKey // published; the last one signs
	records      []Record
	changed      chan struct{} // closed and replaced when records or counts grow
	failures     map[Endpoint][]*Failure
	activities   map[string]map[string]bool // conversation id -> activity ids created
	attachments  map[string]attachment
	seq          int
	counts       map[Endpoint]int
	tokensIssued int
	bots         map[string]string          // app id → app secret: the configured bot and AddBot's
	hookTokens   map[hookTokenKey]hookToken // webhook tokens of SendActivity, reused (see webhookToken)
}

// NewServer starts a fake service for a test and closes it when the test ends. It fails the test if the server
// cannot start.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("bftest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake service with cfg. Close stops it.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.AppID == "" {
		cfg.AppID = DefaultAppID
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = DefaultAppSecret
	}
	if cfg.ChannelID == "" {
		cfg.ChannelID = DefaultChannelID
	}
	if cfg.Bot.ID == "" {
		cfg.Bot = schema.ChannelAccount{ID: "28:" + cfg.AppID, Name: "bftest bot"}
	}
	if cfg.Endorsements == nil {
		cfg.Endorsements = append([]string(nil), DefaultEndorsements...)
		found := false
		for _, e := range cfg.Endorsements {
			found = found || e == cfg.ChannelID
		}
		if !found {
			cfg.Endorsements = append(cfg.Endorsements, cfg.ChannelID)
		}
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	s := &Server{
		cfg:         cfg,
		clock:       clock.Or(cfg.Clock),
		log:         cfg.Logger,
		done:        make(chan struct{}),
		changed:     make(chan struct{}),
		failures:    map[Endpoint][]*Failure{},
		activities:  map[string]map[string]bool{},
		attachments: map[string]attachment{},
		counts:      map[Endpoint]int{},
		bots:        map[string]string{cfg.AppID: cfg.AppSecret},
		hookTokens:  map[hookTokenKey]hookToken{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.aadKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if _, err := s.RotateKey(); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// The limits of the module's real servers: `olctl bf serve` is a server users run.
	h := s.handler()
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	s.srv = &httptest.Server{Listener: l, Config: httpserve.Limits{}.Server(h, nil)}
	if cfg.TLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.http = cfg.HTTPClient
	if s.http == nil {
		s.http = &http.Client{Timeout: 30 * time.Second}
		if cfg.TLS {
			s.http = s.srv.Client()
			s.http.Timeout = 30 * time.Second
		}
	}
	return s, nil
}

// URL returns the base URL of the fake, e.g. http://127.0.0.1:41234 (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// ServiceURL returns the serviceUrl the fake puts in activities: URL with a trailing slash, as the real service
// writes it.
func (s *Server) ServiceURL() string { return s.srv.URL + "/" }

// OpenIDMetadataURL returns the URL of the OpenID metadata that lists the keys signing webhook tokens.
func (s *Server) OpenIDMetadataURL() string { return s.srv.URL + OpenIDPath }

// TokenURL returns the URL of the OAuth client-credentials endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + TokenPath }

// AuthorityURL returns the OAuth authority (for MSAL-based SDKs): URL + "/botframework.com".
func (s *Server) AuthorityURL() string { return s.srv.URL + "/botframework.com" }

// AppID returns the bot's app id.
func (s *Server) AppID() string { return s.cfg.AppID }

// AppSecret returns the bot's app secret.
func (s *Server) AppSecret() string { return s.cfg.AppSecret }

// Bot returns the bot account (the recipient of sent activities).
func (s *Server) Bot() schema.ChannelAccount { return s.cfg.Bot }

// ChannelID returns the default channelId of sent activities.
func (s *Server) ChannelID() string { return s.cfg.ChannelID }

// NoAuth reports whether authentication is off.
func (s *Server) NoAuth() bool { return s.cfg.NoAuth }

// Client returns an HTTP client that trusts the fake's certificate (with TLS) or a plain one.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// CertificatePEM returns the fake's TLS certificate in PEM, or nil without TLS (for NODE_EXTRA_CA_CERTS and the
// like).
func (s *Server) CertificatePEM() []byte {
	c := s.srv.Certificate()
	if c == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// Close stops the server. Held and delayed answers are released. Calling it again does nothing.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Endpoint names a group of the fake's endpoints, for Failure and Count.
type Endpoint string

// Endpoints.
const (
	// EndpointConnector is the Connector REST API (/v3/conversations/...). The default of Failure.Endpoint.
	EndpointConnector Endpoint = "connector"
	// EndpointToken is the OAuth token endpoint.
	EndpointToken Endpoint = "token"
	// EndpointOpenID is the OpenID metadata document.
	EndpointOpenID Endpoint = "openid"
	// EndpointKeys is the JWKS document.
	EndpointKeys Endpoint = "keys"
	// EndpointAttachments is the attachment download of the Connector service (GET /v3/attachments/...).
	EndpointAttachments Endpoint = "attachments"
)

// Failure makes the fake answer the next request(s) to an endpoint badly.
type Failure struct {
	// Endpoint is where the failure applies. Default EndpointConnector.
	Endpoint Endpoint
	// Status is the status to answer, e.g. 500 or 429. Zero answers normally (after Delay or Hold).
	Status int
	// RetryAfter is the Retry-After header of the answer, e.g. "2" (seconds) or an HTTP date. Default none.
	RetryAfter string
	// Code and Message fill the {error:{code,message}} body. Defaults from Status.
	Code, Message string
	// Delay waits this long on the server's clock before answering. The request's cancellation and Close end
	// the wait.
	Delay time.Duration
	// Hold waits until the channel is closed before answering. The request's cancellation and Close end the
	// wait.
	Hold <-chan struct{}
	// Times is how many requests the failure applies to. Default 1.
	Times int
}

// Fail queues f: the next f.Times requests to f.Endpoint are answered as f says, in the order failures were
// queued.
func (s *Server) Fail(f Failure) {
	if f.Endpoint == "" {
		f.Endpoint = EndpointConnector
	}
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[f.Endpoint] = append(s.failures[f.Endpoint], &f)
}

// takeFailure pops the next failure of e, counting the request.
func (s *Server) takeFailure(e Endpoint) *Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[e]++
	close(s.changed)
	s.changed = make(chan struct{})
	q := s.failures[e]
	if len(q) == 0 {
		return nil
	}
	f := *q[0]
	q[0].Times--
	if q[0].Times == 0 {
		s.failures[e] = q[1:]
	}
	return &f
}

// Count returns how many requests reached endpoint e (failed ones included).
func (s *Server) Count(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[e]
}

// WaitCount waits until at least n requests have reached endpoint e (see Count), or ctx ends.
func (s *Server) WaitCount(ctx context.Context, e Endpoint, n int) error {
	for {
		s.mu.Lock()
		have, ch := s.counts[e], s.changed
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("bftest: %d of %d requests to %s arrived: %w", have, n, e, ctx.Err())
		case <-s.done:
			return errors.New("bftest: server closed while waiting for requests")
		}
	}
}

// TokensIssued returns how many access tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensIssued
}

// applyFailure waits as f says and writes its error; it reports whether the request was answered.
func (s *Server) applyFailure(w http.ResponseWriter, r *http.Request, f *Failure) bool {
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		select {
		case <-s.clock.After(f.Delay):
		case <-r.Context().Done():
			return true
		case <-s.done:
		}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-r.Context().Done():
			return true
		case <-s.done:
		}
		if r.Context().Err() != nil { // the client left while held, whichever the select saw first
			return true
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	code, msg := f.Code, f.Message
	if code == "" {
		code = defaultCode(f.Status)
	}
	if msg == "" {
		msg = "bftest: injected " + http.StatusText(f.Status)
	}
	if f.Endpoint == EndpointToken {
		writeJSON(w, f.Status, schema.TokenError{Error: code, ErrorDescription: msg})
		return true
	}
	writeError(w, f.Status, code, msg)
	return true
}

func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadArgument"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusPreconditionFailed:
		return "PreconditionFailed"
	case http.StatusRequestEntityTooLarge:
		return "MessageSizeTooBig"
	case http.StatusTooManyRequests:
		return "Throttled"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	return "ServiceError"
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+OpenIDPath, s.serveOpenID)
	mux.HandleFunc("GET "+KeysPath, s.serveKeys)
	mux.HandleFunc("GET "+AADOpenIDPath, s.serveAADOpenID)
	mux.HandleFunc("GET "+aadKeysPath, s.serveAADKeys)
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("/v3/conversations/", s.serveConnector)
	mux.HandleFunc("GET /v3/attachments/{id}/views/{view}", s.serveAttachment)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Debug("bftest request", "method", r.Method, "path", r.URL.EscapedPath())
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) nextSeq() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand.Read panics on failure instead)
	return hex.EncodeToString(b)
}

func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20)) }

func bearer(h string) (token string, present bool) {
	if h == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return h, true
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false // an empty Bearer counts as none
	}
	return tok, true
}
