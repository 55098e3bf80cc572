package botframework

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/wire"
)

// ID is the real connector id of the channel.
const ID = "botframework"

// Settings keys.
const (
	SettingBotHandle = "bot_handle"
	SettingAppID     = "app_id"
	SettingAppSecret = "app_secret"
	// SettingLinkPrefix starts the optional per-channel contact links, e.g. link_telegram=https://t.me/mybot,
	// which infoConnect and infoConnectLink answer next to the links derived from the app id.
	SettingLinkPrefix = "link_"
)

type options struct {
	openIDURL   string
	tokenURL    string
	scope       string
	clock       clock.Clock
	httpClient  *http.Client
	ownClient   bool // httpClient came from WithHTTPClient, not from the server
	logger      *slog.Logger
	fromIcons   func(string) string
	anonymous   bool
	maxAttempts int
	baseDelay   time.Duration
	maxDelay    time.Duration
	checkURL    func(*url.URL) error
	random      func() float64
}

// Option configures the channel.
type Option func(*options)

// WithOpenIDMetadataURL sets where the signing keys of webhook tokens are published. Default
// schema.OpenIDMetadataURL (https://login.botframework.com/v1/.well-known/openidconfiguration).
func WithOpenIDMetadataURL(u string) Option { return func(o *options) { o.openIDURL = u } }

// WithTokenURL sets the OAuth client-credentials endpoint. Default schema.TokenURL
// (https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token).
func WithTokenURL(u string) Option { return func(o *options) { o.tokenURL = u } }

// WithScope sets the scope of the client-credentials grant. Default schema.Scope
// (https://api.botframework.com/.default).
func WithScope(s string) Option { return func(o *options) { o.scope = s } }

// WithClock sets the clock for token expiry, JWT validation and retry delays. Default: the server's
// (connector.Env.Clock).
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithHTTPClient sets the client for the token endpoint, the key set and the Connector REST API. Default: the
// server's (connector.Env.HTTPClient). It is held to the server's address guard (connector.Env.GuardClient):
// a service URL or endpoint on a loopback or private address is refused before a byte is sent, unless
// connector.Env.AllowPrivateNetworks.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient, o.ownClient = c, c != nil }
}

// WithLogger sets the logger. Default: the server's (connector.Env.Logger).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithEmoji sets the function that turns the portal's icon tags back into emoji in outgoing text. Default
// emoji.New().FromIcons.
func WithEmoji(fromIcons func(string) string) Option {
	return func(o *options) { o.fromIcons = fromIcons }
}

// WithAnonymous allows lines without app_id and app_secret, as the Bot Framework Emulator does: their webhook
// accepts requests without a token (a present token must still be valid, but any audience is accepted) and
// their outgoing calls carry none. Default off: app_id and app_secret are required.
func WithAnonymous() Option { return func(o *options) { o.anonymous = true } }

// WithRetry sets how many times a Connector REST API call is tried in all (attempts ≥ 1) and the first and
// largest back-off delays. Default 4 attempts, 1 s, 30 s. A Retry-After longer than max ends the retries.
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.baseDelay, o.maxDelay = attempts, base, max }
}

// WithServiceURLCheck sets the check of a chat's service URL before the bot's token is sent there. Default:
// https, or http to a loopback address only (a token never travels in clear over the network).
func WithServiceURLCheck(check func(*url.URL) error) Option {
	return func(o *options) { o.checkURL = check }
}

// withRandom sets the jitter source (tests).
func withRandom(f func() float64) Option { return func(o *options) { o.random = f } }

// Channel is the Bot Framework channel. Build it with New; it is safe for concurrent use.
type Channel struct {
	o        options
	http     *http.Client
	clock    clock.Clock
	log      *slog.Logger
	keys     *keyCache
	verified verifiedTokens // webhook tokens that passed verify
	tokens   sync.Map       // app id -> *tokenSource
	sent     *sentIndex
}

var _ connector.Channel = (*Channel)(nil)

// New returns the Factory of the channel, to register under ID:
//
//	channels.Register(botframework.ID, botframework.New())
func New(opts ...Option) connector.Factory {
	return func(env connector.Env) (connector.Channel, error) { return NewChannel(env, opts...) }
}

// NewChannel builds the channel for a server environment.
func NewChannel(env connector.Env, opts ...Option) (*Channel, error) {
	o := options{
		openIDURL:   schema.OpenIDMetadataURL,
		tokenURL:    schema.TokenURL,
		scope:       schema.Scope,
		clock:       env.Clock,
		httpClient:  env.HTTPClient,
		logger:      env.Logger,
		maxAttempts: 4,
		baseDelay:   time.Second,
		maxDelay:    30 * time.Second,
		checkURL:    defaultURLCheck,
		random:      rand.Float64,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxAttempts < 1 {
		return nil, errors.New("botframework: WithRetry needs at least 1 attempt")
	}
	if o.fromIcons == nil {
		o.fromIcons = defaultFromIcons()
	}
	if o.ownClient {
		o.httpClient = env.GuardClient(o.httpClient)
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	for name, u := range map[string]string{"OpenID metadata URL": o.openIDURL, "token URL": o.tokenURL} {
		if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return nil, fmt.Errorf("botframework: the %s %q is not an absolute http(s) URL", name, u)
		}
	}
	c := &Channel{o: o, http: o.httpClient, clock: clock.Or(o.clock), log: o.logger, sent: newSentIndex(10000)}
	c.keys = &keyCache{url: o.openIDURL, http: c.http, clock: c.clock, log: c.log}
	return c, nil
}

// ID returns "botframework".
func (c *Channel) ID() string { return ID }

// SecretKeys returns ["app_secret"].
func (c *Channel) SecretKeys() []string { return []string{SettingAppSecret} }

// SaveSettings validates bot_handle, app_id and app_secret (and link_* links) and returns them trimmed. An
// app_secret that is empty or only '*' (the portal sending back a masked value) keeps the stored one. Other
// keys are dropped.
func (c *Channel) SaveSettings(_ context.Context, l *Line, in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range in {
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch {
		case k == SettingBotHandle || k == SettingAppID || k == SettingAppSecret:
			out[k] = v
		case strings.HasPrefix(k, SettingLinkPrefix) && len(k) > len(SettingLinkPrefix):
			if v == "" {
				continue
			}
			if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %s: %q is not an http(s) URL", k, v)
			}
			out[k] = v
		}
	}
	if strings.Trim(out[SettingAppSecret], "*") == "" { // empty or masked: not a new secret
		out[SettingAppSecret] = ""
		if old := l.Settings[SettingAppSecret]; old != "" && out[SettingAppID] == l.Settings[SettingAppID] {
			out[SettingAppSecret] = old
		}
	}
	if out[SettingBotHandle] == "" {
		return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %s is required", SettingBotHandle)
	}
	id, secret := out[SettingAppID], out[SettingAppSecret]
	switch {
	case id == "" && secret == "" && c.o.anonymous:
	case id == "":
		return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %s is required", SettingAppID)
	case secret == "":
		return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %s is required", SettingAppSecret)
	case len(id) > 128 || strings.ContainsAny(id, " \t\r\n/?#"):
		return nil, wire.Errorf(wire.CodeFailedSaveSettings, "setting %s: %q is not a Microsoft app id", SettingAppID, id)
	}
	if out[SettingAppID] == "" {
		delete(out, SettingAppID)
		delete(out, SettingAppSecret)
	}
	return out, nil
}

// Line is connector.Line (an alias, for shorter signatures).
type Line = connector.Line

// TestConnect obtains a fresh token with the line's app id and secret.
func (c *Channel) TestConnect(ctx context.Context, l *Line) error {
	id, secret := l.Settings[SettingAppID], l.Settings[SettingAppSecret]
	if id == "" {
		if c.o.anonymous && secret == "" {
			return nil
		}
		return wire.Errorf(wire.CodeFailedTestConnector, "setting %s is missing: saveSettings first", SettingAppID)
	}
	if _, err := c.source(id, secret).get(ctx, true); err != nil {
		return &wire.Error{Code: wire.CodeFailedTestConnector, Message: err.Error(), Err: err}
	}
	return nil
}

// Register claims the bot: its entity key is the app id (lower case), so one bot belongs to one line.
// Anonymous lines claim "anonymous:<bot_handle>".
func (c *Channel) Register(_ context.Context, l *Line) (connector.Registration, error) {
	key := strings.ToLower(l.Settings[SettingAppID])
	if key == "" {
		if !c.o.anonymous || l.Settings[SettingBotHandle] == "" {
			return connector.Registration{}, wire.Errorf(wire.CodeFailedRegister, "setting %s is missing: saveSettings first", SettingAppID)
		}
		key = "anonymous:" + strings.ToLower(l.Settings[SettingBotHandle])
	}
	return connector.Registration{EntityKey: key, Info: map[string]any{
		"name":               l.Settings[SettingBotHandle],
		"messaging_endpoint": l.WebhookURL,
	}}, nil
}

// Unregister forgets the line's cached token. The messaging endpoint is set in Azure by hand, so there is
// nothing to call.
func (c *Channel) Unregister(_ context.Context, l *Line) error {
	if id := l.Settings[SettingAppID]; id != "" {
		c.tokens.Delete(id)
	}
	return nil
}

// Info returns the bot's name and app id, its messaging endpoint (to enter in Azure) and its contact links
// ("links", which the server also answers to infoConnectLink).
func (c *Channel) Info(l *Line) map[string]any {
	return map[string]any{
		"name":               l.Settings[SettingBotHandle],
		"app_id":             l.Settings[SettingAppID],
		"messaging_endpoint": l.WebhookURL,
		"links":              Links(l.Settings),
	}
}

// Links returns the contact links of a bot by channel id: skype and msteams derived from app_id, plus every
// link_<channel> setting.
func Links(settings map[string]string) map[string]string {
	out := map[string]string{}
	if id := settings[SettingAppID]; id != "" {
		out["skype"] = "https://join.skype.com/bot/" + url.PathEscape(id)
		out["msteams"] = "https://teams.microsoft.com/l/chat/0/0?users=" + url.QueryEscape("28:"+id)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, SettingLinkPrefix) && len(k) > len(SettingLinkPrefix) && settings[k] != "" {
			out[k[len(SettingLinkPrefix):]] = settings[k]
		}
	}
	return out
}

func defaultURLCheck(u *url.URL) error {
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		if host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" {
			return nil
		}
	}
	return fmt.Errorf("service URL %s: only https (or http to a loopback address) may carry the bot's token", u.Redacted())
}
