package connector

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/inspect"
	"github.com/olctl/olctl/internal/httpserve"
	"github.com/olctl/olctl/internal/netguard"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

// DefaultSchedule is the default back-off schedule of a line whose portal fails (docs/protocol.md §11): the n-th
// consecutive failure blocks the line for the n-th period; when the last block ends the line's items go to
// the dead-letter table. The last attempt is 12 h after the first, the last block ends 24 h after it.
var DefaultSchedule = []time.Duration{
	time.Minute, 4 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 5 * time.Hour, 12 * time.Hour,
}

// DefaultRetryAlone are the waits before the further attempts of an item a portal refused alone by a
// transient answer (docs/protocol.md §11): 20 s, then 40 s, three attempts over a minute.
var DefaultRetryAlone = []time.Duration{20 * time.Second, 40 * time.Second}

// Defaults of Config.
const (
	DefaultBatch          = 50
	DefaultLinger         = 10 * time.Millisecond
	DefaultConfirmTimeout = 30 * time.Second
	DefaultSendTimeout    = 30 * time.Second
	DefaultWorkers        = 16
	DefaultPollInterval   = time.Second
	DefaultLeaseTTL       = 10 * time.Second
	DefaultDedupRetention = 48 * time.Hour
	DefaultPortalPath     = "/pub/imconnector/"
	DefaultServerPath     = "/imwebhook/portal.php"
	DefaultVersion        = "olctl-connector/1"
)

// Site is a portal the server knows: its licence key (which gives its public identity BX_LICENCE) and how
// it signs.
type Site struct {
	// LicenceKey is the portal's licence key. BX_LICENCE is md5hex("BITRIX"+LicenceKey+"LICENCE"); in md5
	// mode the shared secret is md5hex(LicenceKey).
	LicenceKey string
	// Licence is BX_LICENCE; empty means computed from LicenceKey. Give it alone (with Mode hmac-sha256 and
	// Secrets) when the licence key itself must not be on the server.
	Licence string
	// Mode is the signing scheme, wire.MD5 when empty.
	Mode wire.Mode
	// Secrets are the HMAC secrets of hmac-sha256 mode: the first signs, any verifies.
	Secrets []string
	// Domain is the portal's base URL; empty means learned from the BX_DOMAIN of its first verified packet.
	Domain string
	// Profile is the portal's generation, which decides the stubs of the packets it gets and how it
	// acknowledges them (docs/protocol.md §11). Empty means ProfileAuto.
	Profile SiteProfile
}

// SiteProfile says how the server tells a site's generation.
type SiteProfile string

const (
	// ProfileAuto: current when the site's last verified packet had a BX_VERSION of 22.800.0 or later
	// (wire.ProfileOf), else legacy.
	ProfileAuto SiteProfile = "auto"
	// ProfileLegacy: pushes stub every empty value as #EMPTY#, receivingMessage items are acknowledged by
	// setStatusDelivered within Policy.ConfirmTimeout, setChatName is not sent.
	ProfileLegacy SiteProfile = "legacy"
	// ProfileCurrent: empty arrays are stubbed #EMPTY_ARRAY#, a packet is acknowledged by its OK answer.
	ProfileCurrent SiteProfile = "current"
)

// ParseSiteProfile reads "auto", "legacy" or "current" (any case; "" is ProfileAuto).
func ParseSiteProfile(s string) (SiteProfile, error) {
	switch p := SiteProfile(strings.ToLower(strings.TrimSpace(s))); p {
	case "", ProfileAuto:
		return ProfileAuto, nil
	case ProfileLegacy, ProfileCurrent:
		return p, nil
	}
	return "", fmt.Errorf("unknown site profile %q (want auto, legacy or current)", s)
}

func (s Site) profile() SiteProfile {
	if s.Profile == "" {
		return ProfileAuto
	}
	return s.Profile
}

func (s Site) licence() string {
	if s.Licence != "" {
		return strings.ToLower(s.Licence)
	}
	return wire.Licence(s.LicenceKey)
}

func (s Site) credentials() wire.Credentials {
	m := s.Mode
	if m == "" {
		m = wire.MD5
	}
	return wire.Credentials{Mode: m, LicenceKey: s.LicenceKey, Secrets: s.Secrets}
}

func (s Site) validate() error {
	if s.LicenceKey == "" && s.Licence == "" {
		return errors.New("a site needs LicenceKey or Licence")
	}
	c := s.credentials()
	if c.Mode == wire.MD5 && s.LicenceKey == "" {
		return fmt.Errorf("site %s: md5 mode needs the licence key", s.licence())
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("site %s: %w", s.licence(), err)
	}
	switch s.profile() {
	case ProfileAuto, ProfileLegacy, ProfileCurrent:
	default:
		return fmt.Errorf("site %s: unknown profile %q (want auto, legacy or current)", s.licence(), s.Profile)
	}
	return nil
}

// Config configures a Server. The zero value (plus at least one Site) gives a working server on a temporary
// SQLite file on 127.0.0.1 with the echo channel.
type Config struct {
	// DSN names the database (see sqldb.Open): a SQLite path ("sqlite:/var/lib/olctl/connector.db"),
	// MySQL/MariaDB ("root@tcp(127.0.0.1:3306)/olctl") or PostgreSQL ("postgres://olctl@db:5432/olctl").
	// Several servers may share one MySQL or PostgreSQL database. Default: a SQLite file in a new temporary
	// directory that Close removes. An in-memory SQLite database (":memory:") cannot hold the queue:
	// NewServer fails with ErrInMemory. Ignored when DB is set.
	DSN string
	// DB is an open database to use instead of DSN; the server migrates it and does not close it.
	DB *sqldb.DB

	// Sites are the portals the server accepts packets from. Sites stored in the database by earlier runs
	// or other processes are known too; a Site here overrides the stored one with the same licence.
	Sites []Site

	// Channels is the channel registry. Default: NewChannels() (the echo channel only).
	Channels *Channels

	// Addr is the listen address of Start. Default "127.0.0.1:0" (a random port).
	Addr string
	// PublicURL is the external base URL of the server, used in webhook URLs. Default: http://<listen address>.
	PublicURL string
	// ServerPath is the portal-facing endpoint. Default "/imwebhook/portal.php".
	ServerPath string
	// PortalPath is the path of the portal's endpoint under its domain. Default "/pub/imconnector/".
	PortalPath string
	// Version is the BX_VERSION of packets to portals. Default "olctl-connector/1".
	Version string
	// MaxBody caps request bodies on both endpoints. Default wire.DefaultMaxBody (8 MiB).
	MaxBody int64
	// PortalMaxBody is the body cap of the portals' receivers: a packet to a portal is never larger (a batch
	// is cut to fit, down to one item), and a webhook item that would make a larger packet on its own is
	// refused (413). Default wire.DefaultMaxBody (8 MiB), what this project's portal and Bitrix's accept.
	PortalMaxBody int64

	// ReadTimeout is how long a client may take to send a whole request, headers and body; a body that
	// trickles in fails when it passes. Default 30 s.
	ReadTimeout time.Duration
	// RequestTimeout is the deadline of a request's handling (its context), from the moment its handler
	// starts. Default 60 s.
	RequestTimeout time.Duration
	// MaxConcurrent is how many requests the server handles at once; one more is answered 503 with
	// Retry-After at once (a portal or messenger sends it again). Default 1024.
	MaxConcurrent int
	// MetricsAddr is the listen address of a listener of its own for /metrics (e.g. "127.0.0.1:9464").
	// Default "": /metrics is served on the main listener to loopback clients only (others get 403), since
	// its labels name the portals the server serves.
	MetricsAddr string
	// AllowPrivateNetworks lets the server's own HTTP client connect to loopback, private, link-local and
	// other non-public addresses: the BX_DOMAIN a signed packet names (testConnect and every push go
	// there) and a channel's callbacks (the Bot Framework service URL the bot's token is sent to). Default
	// false: such connections are refused before a byte is sent, so that a portal cannot make the server
	// probe its own network. Tests and closed networks set it. A caller's HTTPClient is guarded too, by
	// the addresses its transport reports (guard.go).
	AllowPrivateNetworks bool

	// Queue is how the dispatcher sends a line's items: batch, linger, confirmation wait, back-off, lease.
	Queue Policy
	// SendTimeout bounds one packet to a portal. Default 30 s.
	SendTimeout time.Duration
	// Workers is the number of lines dispatched concurrently by this process. Default DefaultWorkers (16): a
	// worker mostly waits for its portal's answer, and a portal across a network takes tens of milliseconds,
	// so the lines of a busy process wait for a free worker unless there are more workers than cores (with
	// a portal taking 20 ms a packet, 16 workers against 4 cut the p50 at 2 000 messages/s from 224 to 70 ms).
	Workers int
	// PollInterval is how often the dispatcher looks for work that another process made ready (MySQL
	// only, on Clock), and how long a worker waits after a database error before it looks again (real
	// time). Default 1 s.
	PollInterval time.Duration
	// DedupRetention is how long a webhook item's DedupKey is remembered. Default 48 h.
	DedupRetention time.Duration
	// NoDispatch disables the dispatcher of this server (it still accepts and queues): for inspection
	// tools and tests.
	NoDispatch bool

	// Clock is the time source. Default clock.System().
	Clock clock.Clock
	// Logger receives the server's logs. Default: discarded.
	Logger *slog.Logger
	// HTTPClient makes calls to portals and, through Env, to messengers. Default: a client with a 30 s
	// timeout whose transport keeps up to 64 idle connections per host (the standard 2 would make the
	// workers open a new connection for most packets), no proxy, and whose dialer refuses non-public
	// addresses unless AllowPrivateNetworks.
	HTTPClient *http.Client

	// Inspect, when set, records the packets portals send, the webhooks and the packets pushed to portals,
	// for Inspector (nil: nothing is recorded). The server adds its sites' keys and secrets to
	// Inspect.Secrets and sets Verify, Sign and Clock where they are nil.
	Inspect *inspect.Options
}

// ErrBlockedAddress matches (errors.Is) a connection the server's HTTP client refused: its address is not
// public and Config.AllowPrivateNetworks is off.
var ErrBlockedAddress = errors.New("connector: refusing to connect to a non-public address (Config.AllowPrivateNetworks)")

// BlockedError is a connection the address guard refused. It matches ErrBlockedAddress.
type BlockedError struct {
	Addr string // the resolved address, host:port
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("connector: refusing to connect to %s: not a public address (Config.AllowPrivateNetworks)", e.Addr)
}

// Is makes a BlockedError match ErrBlockedAddress.
func (e *BlockedError) Is(target error) bool { return target == ErrBlockedAddress }

// limits are the server's HTTP limits.
func (c *Config) limits() httpserve.Limits {
	return httpserve.Limits{ReadTimeout: c.ReadTimeout, RequestTimeout: c.RequestTimeout, MaxConcurrent: c.MaxConcurrent}
}

// Policy is how the dispatcher sends the queue of a line (docs/protocol.md §11). The zero value gives the
// defaults.
type Policy struct {
	// Batch is the most items per receivingMessage packet. Default 50.
	Batch int
	// Linger is how long the dispatcher may hold the next packet of a busy line for more items: when items
	// for the line arrived while its previous packet (of fewer than Batch items) was out and webhooks are
	// still being queued, the next packet waits until Batch items are there, the webhooks stop (2 ms
	// without one), or Linger has passed. Fewer, fuller packets cost the server and the portal much less
	// than one per item (with one-item webhooks from 8 clients: ~17 items per packet instead of ~5); a
	// lone message is never delayed. Default 10 ms; negative disables.
	Linger time.Duration
	// ConfirmTimeout is how long the dispatcher waits for a legacy portal's setStatusDelivered after it
	// accepted a receivingMessage packet (a current portal acknowledges by its answer). Default 30 s.
	ConfirmTimeout time.Duration
	// Schedule is the back-off schedule. Default DefaultSchedule.
	Schedule []time.Duration
	// RetryAlone are the waits before each further attempt of an item the portal refused alone by a
	// transient answer (a 5xx status, INTERNAL_ERROR, an unreadable answer); the line's items behind it
	// wait meanwhile. Refused each time, it is dead-lettered once the portal takes those items sent without
	// it. A wait is never longer than the schedule's first period. An answer that says the item is bad (a
	// 4xx status, BAD_PACKET) is not retried. Default DefaultRetryAlone.
	RetryAlone []time.Duration
	// LeaseTTL is how long a claimed line stays claimed by the process that sends its batch without word
	// from it: the holder renews the lease every third of it while the packet is out (a packet may take up to
	// Config.SendTimeout), and stops sending when it cannot. A process that dies mid-send frees its lines for
	// the other processes after this long; the same process started again in its place (same host and
	// listen address) frees them at once, and so does a SQLite server at start, as one process owns a SQLite
	// queue. Default 10 s.
	LeaseTTL time.Duration
}

// withDefaults fills the zero fields and checks the rest.
func (p Policy) withDefaults() (Policy, error) {
	if p.Batch <= 0 {
		p.Batch = DefaultBatch
	}
	if p.Linger == 0 {
		p.Linger = DefaultLinger
	}
	if p.ConfirmTimeout <= 0 {
		p.ConfirmTimeout = DefaultConfirmTimeout
	}
	if len(p.Schedule) == 0 {
		p.Schedule = DefaultSchedule
	}
	for i, d := range p.Schedule {
		if d <= 0 {
			return p, fmt.Errorf("connector: Queue.Schedule[%d] = %v: periods must be positive", i, d)
		}
	}
	p.Schedule = append([]time.Duration(nil), p.Schedule...)
	if len(p.RetryAlone) == 0 {
		p.RetryAlone = DefaultRetryAlone
	}
	for i, d := range p.RetryAlone {
		if d <= 0 {
			return p, fmt.Errorf("connector: Queue.RetryAlone[%d] = %v: waits must be positive", i, d)
		}
	}
	p.RetryAlone = append([]time.Duration(nil), p.RetryAlone...)
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = DefaultLeaseTTL
	}
	return p, nil
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Channels == nil {
		out.Channels = NewChannels()
	}
	if out.Addr == "" {
		out.Addr = "127.0.0.1:0"
	}
	if out.ServerPath == "" {
		out.ServerPath = DefaultServerPath
	}
	if out.PortalPath == "" {
		out.PortalPath = DefaultPortalPath
	}
	if out.Version == "" {
		out.Version = DefaultVersion
	}
	if out.MaxBody <= 0 {
		out.MaxBody = wire.DefaultMaxBody
	}
	if out.PortalMaxBody <= 0 {
		out.PortalMaxBody = wire.DefaultMaxBody
	}
	if out.SendTimeout <= 0 {
		out.SendTimeout = DefaultSendTimeout
	}
	var err error
	if out.Queue, err = out.Queue.withDefaults(); err != nil {
		return out, err
	}
	if out.Workers <= 0 {
		out.Workers = DefaultWorkers
	}
	if out.PollInterval <= 0 {
		out.PollInterval = DefaultPollInterval
	}
	if out.DedupRetention <= 0 {
		out.DedupRetention = DefaultDedupRetention
	}
	out.Clock = clock.Or(out.Clock)
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		tr.Proxy = nil // a proxy would dial for the server and escape the address guard
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		if !out.AllowPrivateNetworks {
			dialer.Control = netguard.Control(netguard.Public, func(address string) error {
				return &BlockedError{Addr: address}
			})
		}
		tr.DialContext = dialer.DialContext
		out.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	} else if !out.AllowPrivateNetworks {
		out.HTTPClient = guardClient(out.HTTPClient)
	}
	for i, s := range out.Sites {
		if err := s.validate(); err != nil {
			return out, fmt.Errorf("connector: Sites[%d]: %w", i, err)
		}
	}
	return out, nil
}
