package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Defaults of a Client.
const (
	// DefaultPath is where a connector server takes portal packets (docs/protocol.md §2).
	DefaultPath = "/imwebhook/portal.php"
	// DefaultTimeout bounds one HTTP attempt: Bitrix's 20 s to connect plus 60 s to read (docs/protocol.md §2).
	DefaultTimeout = 80 * time.Second
	// DefaultConnectTimeout bounds opening a connection when the client makes its own transport.
	DefaultConnectTimeout = 20 * time.Second
	// DefaultCacheTTL is how long the answers of the info… and list… methods are kept.
	DefaultCacheTTL = 24 * time.Hour
	// DefaultMaxResponse caps the answer body read (8 MiB, the packet cap of docs/protocol.md §2).
	DefaultMaxResponse = wire.DefaultMaxBody
)

// Retry is the retry policy of the read-only methods (openlines.IsReadOnly: testConnect, readSettings, info…,
// list…); no other method is ever retried. A read is retried after NETWORK_ERROR (no connection, an attempt
// that timed out), a 5xx or a 429, waiting a capped exponential back-off with jitter: attempt n waits a
// random duration in [d/2, d] where d = min(MaxWait, MinWait·2ⁿ⁻¹). A Retry-After header (seconds or an HTTP
// date) replaces the back-off when it asks for more; when it asks for more than MaxWait, or for more than
// the context has left, the client gives up at once instead of waiting.
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

// Option configures a Client. Options are applied in order; New reports the first one that fails.
type Option func(*config) error

type config struct {
	domain      string
	licenceKey  string
	mode        wire.Mode
	secrets     []string
	profile     wire.Profile
	version     string
	region      string
	connector   string
	line        string
	httpClient  *http.Client
	timeout     time.Duration
	logger      *slog.Logger
	clock       clock.Clock
	path        string
	cacheTTL    time.Duration
	retry       Retry
	chatContext bfcontext.Store
	lineStatus  openlines.LineStatusStore
	reading     []string // real connectors that take setStatusReading, lower-cased
	maxResponse int
}

func defaultConfig() config {
	return config{
		mode:        wire.MD5,
		timeout:     DefaultTimeout,
		path:        DefaultPath,
		cacheTTL:    DefaultCacheTTL,
		retry:       DefaultRetry(),
		reading:     openlines.ReadingConnectors(),
		maxResponse: DefaultMaxResponse,
	}
}

// WithDomain sets BX_DOMAIN, the portal's public base URL where the server calls back (scheme, host,
// optional port, e.g. "https://portal.example.com"); the current profile also sends it as Referer. Required.
func WithDomain(domain string) Option {
	return func(c *config) error {
		c.domain = domain
		return nil
	}
}

// WithLicenceKey sets the portal's licence key K: BX_LICENCE is md5hex("BITRIX"+K+"LICENCE") and, in md5
// mode, md5hex(K) is the shared secret. An empty key or "demo" in any case is the demo licence, K = "DEMO"
// (docs/protocol.md §3.1), in both profiles; that is the default.
func WithLicenceKey(key string) Option {
	return func(c *config) error {
		c.licenceKey = key
		return nil
	}
}

// WithSigning sets the signing scheme (docs/protocol.md §6). wire.MD5 (the default, Bitrix's) signs with
// the licence key and takes no secrets; wire.HMACSHA256 (this project's) needs at least one secret and signs
// with the first.
func WithSigning(mode wire.Mode, secrets ...string) Option {
	return func(c *config) error {
		m, err := wire.ParseMode(string(mode))
		if err != nil {
			return fmt.Errorf("WithSigning: %w", err)
		}
		c.mode = m
		c.secrets = append([]string(nil), secrets...)
		return nil
	}
}

// WithProfile sets the protocol generation the client speaks (docs/protocol.md §1; default wire.Current).
// It governs the wire: the empty-value stubs, BX_REGION, the ?connector=&command= query, the headers and
// the default BX_VERSION.
//
//	current: User-Agent "Bitrix Connector Client CP", Referer BX_DOMAIN, Connection: close, an empty
//	         Expect, BX_REGION (when set) after BX_TYPE, the query, BX_VERSION 22.800.0, [] as #EMPTY_ARRAY#
//	legacy:  User-Agent "Bitrix Connector Client", none of the rest, BX_VERSION 21.1100.0, every empty
//	         value as #EMPTY#
//
// Both send x-bitrix-licence.
func WithProfile(p wire.Profile) Option {
	return func(c *config) error {
		if p != wire.Current && p != wire.Legacy {
			return fmt.Errorf("WithProfile: unknown profile %d", p)
		}
		c.profile = p
		return nil
	}
}

// WithVersion sets BX_VERSION, the imconnector module version the portal reports (default the profile's:
// 22.800.0 current, 21.1100.0 legacy). It must be dotted decimal and of the client's profile (below
// 22.800.0 for legacy), since a server tells a portal's profile by it.
func WithVersion(v string) Option {
	return func(c *config) error {
		c.version = v
		return nil
	}
}

// WithRegion sets BX_REGION, the portal's licence region ("ru", "eu", …), sent by the current profile after
// BX_TYPE (default none: the field is left out). The legacy profile has no such field.
func WithRegion(region string) Option {
	return func(c *config) error {
		c.region = region
		return nil
	}
}

// WithConnector sets the default CONNECTOR of connector-bound calls (default none: each call names its
// connector with the Connector call option). Connector-less methods always go out with "all".
func WithConnector(id string) Option {
	return func(c *config) error {
		c.connector = id
		return nil
	}
}

// WithLine sets the default LINE of connector-bound calls (default empty, sent as #EMPTY#); the Line call
// option overrides it. Connector-less methods always go out with an empty LINE.
func WithLine(id string) Option {
	return func(c *config) error {
		c.line = id
		return nil
	}
}

// WithHTTPClient sets the HTTP client (default, and when hc is nil: one of the client's own whose transport
// connects within DefaultConnectTimeout). It is used as it is, never modified; its Timeout, if any, applies
// on top of WithTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		c.httpClient = hc
		return nil
	}
}

// WithTimeout bounds each HTTP attempt (default DefaultTimeout, 80 s; 0 means no bound besides the
// context). An attempt that runs out of it is NETWORK_ERROR.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithTimeout: negative timeout %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLogger sets the logger (default, and when l is nil: discard everything). Each attempt is logged at
// debug level; retries, setStatusReading left unsent and Bot Framework messages without a stored context
// at info or warn level. Secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithClock sets the clock of BX_TIMESTAMP, cache lifetimes and retry waits (default, and when clk is nil:
// the system clock).
func WithClock(clk clock.Clock) Option {
	return func(c *config) error {
		c.clock = clk
		return nil
	}
}

// WithPath sets the server path packets are posted to (default DefaultPath).
func WithPath(p string) Option {
	return func(c *config) error {
		c.path = p
		return nil
	}
}

// WithCacheTTL sets how long the answers of the info… and list… methods are kept per (method, connector,
// line, arguments) (default 24 h; 0 disables the cache).
func WithCacheTTL(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithCacheTTL: negative TTL %v", d)
		}
		c.cacheTTL = d
		return nil
	}
}

// WithRetry sets the retry policy of the read-only methods (default DefaultRetry()). Retry{} disables
// retries.
func WithRetry(r Retry) Option {
	return func(c *config) error {
		switch {
		case r.MaxRetries < 0:
			return fmt.Errorf("WithRetry: negative MaxRetries %d", r.MaxRetries)
		case r.MinWait < 0 || r.MaxWait < 0:
			return errors.New("WithRetry: negative wait")
		case r.MaxWait < r.MinWait:
			return fmt.Errorf("WithRetry: MaxWait %v is below MinWait %v", r.MaxWait, r.MinWait)
		}
		c.retry = r
		return nil
	}
}

// WithChatContext sets the Bot Framework context store (docs/protocol.md §8.4). For a real botframework
// connector, sendMessage, updateMessage and deleteMessage merge the chat's stored from and service_url over
// each message, and the stored values win; a chat with no stored context is sent unchanged, and logged.
// Default none: such messages are sent unchanged, and logged.
func WithChatContext(s bfcontext.Store) Option {
	return func(c *config) error {
		c.chatContext = s
		return nil
	}
}

// WithLineStatus sets the store of the line statuses that Connect writes (ACTIVE, CONNECTION, REGISTER,
// ERROR per real connector and line, docs/protocol.md §10): the one the receiving portal reads for its line
// gate. Default none: Connect writes no status.
func WithLineStatus(s openlines.LineStatusStore) Option {
	return func(c *config) error {
		c.lineStatus = s
		return nil
	}
}

// WithReadingConnectors sets the real connectors that take setStatusReading (default
// openlines.ReadingConnectors(): vkgroup, avito). To any other connector setStatusReading is not sent and
// counts as done, as Bitrix does. No ids: setStatusReading is never sent.
func WithReadingConnectors(ids ...string) Option {
	return func(c *config) error {
		c.reading = make([]string, len(ids))
		for i, id := range ids {
			c.reading[i] = openlines.RealConnector(id)
		}
		return nil
	}
}

// WithMaxResponse caps the answer body read (default DefaultMaxResponse, 8 MiB); a longer answer is
// ANSWER_MALFORMED.
func WithMaxResponse(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxResponse: %d is not a positive size", n)
		}
		c.maxResponse = n
		return nil
	}
}

// problems lists what is wrong with a configuration, for New's one ErrConfig error.
func (c *config) problems() []string {
	var out []string
	if c.domain == "" {
		out = append(out, "the portal domain is missing (WithDomain)")
	} else if !isBaseURL(c.domain) {
		out = append(out, fmt.Sprintf("the portal domain %q is not an http(s) base URL (WithDomain)", c.domain))
	}
	if c.mode == wire.HMACSHA256 {
		if len(c.secrets) == 0 {
			out = append(out, "signing mode hmac-sha256 needs a secret (WithSigning)")
		}
		for i, s := range c.secrets {
			if s == "" {
				out = append(out, fmt.Sprintf("HMAC secret #%d is empty (WithSigning)", i+1))
			}
		}
	} else if len(c.secrets) > 0 {
		out = append(out, "signing mode md5 signs with the licence key and takes no secrets (WithSigning)")
	}
	if c.version != "" {
		if !dottedDecimal(c.version) {
			out = append(out, fmt.Sprintf("BX_VERSION %q is not a dotted decimal module version (WithVersion)", c.version))
		} else if p := wire.ProfileOf(c.version); p != c.profile {
			out = append(out, fmt.Sprintf("BX_VERSION %q is of the %s profile, the client speaks %s (WithVersion, WithProfile)",
				c.version, p, c.profile))
		}
	}
	if c.region != "" && c.profile == wire.Legacy {
		out = append(out, "the legacy profile sends no BX_REGION (WithRegion)")
	}
	if !strings.HasPrefix(c.path, "/") {
		out = append(out, fmt.Sprintf("the path %q must start with / (WithPath)", c.path))
	}
	return out
}

func dottedDecimal(v string) bool {
	for part := range strings.SplitSeq(v, ".") {
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return false
		}
	}
	return true
}
