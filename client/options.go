package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Defaults of a Client.
const (
	// DefaultPath is where the connector server takes portal packets (PROTOCOL.md §1).
	DefaultPath = "/imwebhook/portal.php"
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 30 * time.Second
	// DefaultCacheTTL is how long ListConnector, InfoConnect and InfoConnectLink answers are kept.
	DefaultCacheTTL = 24 * time.Hour
	// DefaultVersion is the BX_VERSION sent when WithVersion is not given.
	DefaultVersion = "olctl-go/1"
	// DefaultUserAgent is the User-Agent header sent when WithUserAgent is not given.
	DefaultUserAgent = "olctl-client/1 (+https://github.com/olctl/olctl)"
	// DefaultConnector is the CONNECTOR sent when neither WithConnector nor Connector is given: the
	// protocol's value for calls not bound to one connector.
	DefaultConnector = "all"
	// DefaultMaxResponse caps the answer body read (8 MiB, as PROTOCOL.md §1 caps packets).
	DefaultMaxResponse = wire.DefaultMaxBody
)

// Retry is the retry policy of idempotent reads (testConnect, readSettings, info*, listConnector and calls
// marked with Idempotent). A read is retried after a transport error, a 5xx or a 429, waiting a capped
// exponential back-off with jitter: attempt n waits a random duration in [d/2, d] where d = min(MaxWait,
// MinWait·2ⁿ⁻¹). A Retry-After header (seconds or HTTP date) replaces the back-off when it asks for more; when
// it asks for more than MaxWait, or more than the context has left, the client gives up at once instead of
// waiting. Writes are never retried.
type Retry struct {
	// MaxRetries is the number of retries after the first attempt; 0 disables retries.
	MaxRetries int
	// MinWait is the first back-off.
	MinWait time.Duration
	// MaxWait caps every wait, Retry-After included.
	MaxWait time.Duration
}

// DefaultRetry returns the policy used when WithRetry is not given: 3 retries, 200 ms doubling up to 10 s.
func DefaultRetry() Retry {
	return Retry{MaxRetries: 3, MinWait: 200 * time.Millisecond, MaxWait: 10 * time.Second}
}

// Option configures a Client. Options are applied in order; New reports the first failing one.
type Option func(*config) error

type config struct {
	domain      string
	licenceKey  string
	mode        wire.Mode
	secrets     []string
	connector   string
	line        string
	httpClient  *http.Client
	timeout     time.Duration
	logger      *slog.Logger
	clock       clock.Clock
	userAgent   string
	path        string
	version     string
	cacheTTL    time.Duration
	retry       Retry
	chatContext bfcontext.Store
	maxResponse int
}

func defaultConfig() config {
	return config{
		mode:        wire.MD5,
		connector:   DefaultConnector,
		timeout:     DefaultTimeout,
		userAgent:   DefaultUserAgent,
		path:        DefaultPath,
		version:     DefaultVersion,
		cacheTTL:    DefaultCacheTTL,
		retry:       DefaultRetry(),
		maxResponse: DefaultMaxResponse,
	}
}

// WithDomain sets BX_DOMAIN, the portal's base URL where the server calls back (scheme and host, e.g.
// "https://portal.example.com"). Required.
func WithDomain(domain string) Option {
	return func(c *config) error {
		c.domain = domain
		return nil
	}
}

// WithLicenceKey sets the portal's licence key: BX_LICENCE is derived from it, and in md5 mode it is the
// shared secret. Required.
func WithLicenceKey(key string) Option {
	return func(c *config) error {
		c.licenceKey = key
		return nil
	}
}

// WithSigning sets the signing scheme (PROTOCOL.md §4). wire.MD5 (the default) signs with the licence key and
// takes no secrets; wire.HMACSHA256 needs at least one secret and signs with the first.
func WithSigning(mode wire.Mode, secrets ...string) Option {
	return func(c *config) error {
		m, err := wire.ParseMode(string(mode))
		if err != nil {
			return fmt.Errorf("client: WithSigning: %w", err)
		}
		c.mode = m
		c.secrets = append([]string(nil), secrets...)
		return nil
	}
}

// WithHMAC is WithSigning(wire.HMACSHA256, secret): the hardened scheme with a timestamp and a nonce.
func WithHMAC(secret string) Option { return WithSigning(wire.HMACSHA256, secret) }

// WithConnector sets the default CONNECTOR of calls (default "all"); the Connector call option overrides it.
func WithConnector(id string) Option {
	return func(c *config) error {
		c.connector = id
		return nil
	}
}

// WithLine sets the default LINE of calls (default empty, sent as #EMPTY#); the Line call option overrides it.
func WithLine(id string) Option {
	return func(c *config) error {
		c.line = id
		return nil
	}
}

// WithHTTPClient sets the HTTP client (default, and when hc is nil: a client with resty's default transport).
// The client is copied, never modified; its Timeout, if any, still applies on top of WithTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		c.httpClient = hc
		return nil
	}
}

// WithTimeout bounds each HTTP attempt (default 30 s; 0 means no bound besides the context).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("client: WithTimeout: negative timeout %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLogger sets the logger (default, and when l is nil: discard everything). Each attempt is logged at
// debug level, each retry at warn level; secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithClock sets the clock for BX_TIMESTAMP, cache lifetimes and retry waits (default, and when clk is nil:
// the system clock).
func WithClock(clk clock.Clock) Option {
	return func(c *config) error {
		c.clock = clk
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		c.userAgent = ua
		return nil
	}
}

// WithPath sets the server path packets are posted to (default "/imwebhook/portal.php").
func WithPath(p string) Option {
	return func(c *config) error {
		c.path = p
		return nil
	}
}

// WithVersion sets BX_VERSION (default DefaultVersion).
func WithVersion(v string) Option {
	return func(c *config) error {
		c.version = v
		return nil
	}
}

// WithCacheTTL sets how long ListConnector, InfoConnect and InfoConnectLink answers are kept (default 24 h;
// 0 disables the cache, while concurrent identical calls still share one request).
func WithCacheTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("client: WithCacheTTL: negative TTL %v", d)
		}
		c.cacheTTL = d
		return nil
	}
}

// WithRetry sets the retry policy of idempotent reads (default DefaultRetry(): 3 retries, 200 ms doubling
// up to 10 s). Retry{} disables retries.
func WithRetry(r Retry) Option {
	return func(c *config) error {
		switch {
		case r.MaxRetries < 0:
			return fmt.Errorf("client: WithRetry: negative MaxRetries %d", r.MaxRetries)
		case r.MinWait < 0 || r.MaxWait < 0:
			return errors.New("client: WithRetry: negative wait")
		case r.MaxWait < r.MinWait:
			return fmt.Errorf("client: WithRetry: MaxWait %v is below MinWait %v", r.MaxWait, r.MinWait)
		}
		c.retry = r
		return nil
	}
}

// WithChatContext sets the Bot Framework chat context store whose `from` and `service_url` are merged into
// outgoing messages of a real botframework connector (default none: such messages must carry them already).
func WithChatContext(s bfcontext.Store) Option {
	return func(c *config) error {
		c.chatContext = s
		return nil
	}
}

// WithMaxResponse caps the answer body read (default 8 MiB).
func WithMaxResponse(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("client: WithMaxResponse: %d is not a positive size", n)
		}
		c.maxResponse = n
		return nil
	}
}
