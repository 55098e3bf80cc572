package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Channel is one real messenger channel (docs/protocol.md §11): it saves and tests a line's connection settings,
// registers the line with the messenger, turns the messenger's webhooks into items for the portal and sends
// the portal's messages to the messenger. A Channel is built once per server by its Factory and is called
// concurrently for many lines: everything about a line comes in the *Line argument.
//
// Errors a channel returns reach the portal in the answer's ERROR list: return a *wire.Error (for example
// wire.Errorf(wire.CodeFailedRegister, "...")) to choose the code; any other error is answered with the
// method's default code (FAILED_TO_SAVE_SETTINGS_CONNECTOR, FAILED_TO_TEST_CONNECTOR,
// FAILED_REGISTER_CONNECTOR, or INTERNAL_ERROR).
type Channel interface {
	// ID returns the real connector id, e.g. "botframework" (lower case, no '.').
	ID() string

	// SaveSettings validates the connection parameters the portal sent with saveSettings and returns the
	// parameters to store (it may normalise, drop or add keys). l.Settings holds the parameters stored
	// before, so a channel can keep a secret the portal sent back masked. Nothing is stored on error.
	SaveSettings(ctx context.Context, l *Line, in map[string]string) (map[string]string, error)

	// TestConnect checks that the stored settings work with the messenger (credentials, reachability).
	TestConnect(ctx context.Context, l *Line) error

	// Register connects the line to the messenger (e.g. sets the webhook to l.WebhookURL) and names the
	// external entity it now owns (Registration.EntityKey, e.g. the bot's app_id). The server enforces
	// that one entity belongs to one line: registering it elsewhere moves it (docs/protocol.md §11).
	Register(ctx context.Context, l *Line) (Registration, error)

	// Unregister disconnects the line from the messenger. It is also called before a line's data is
	// deleted; an error is logged but does not keep the data.
	Unregister(ctx context.Context, l *Line) error

	// Receive turns one webhook request of the messenger (its body already read, at most the server's body
	// cap) into items for the portal. An error is answered to the messenger and nothing is queued: return a
	// *StatusError to choose the HTTP status (e.g. 401 for a bad token), else 400 is used for *wire.Error
	// and 500 for anything else.
	Receive(ctx context.Context, l *Line, r *http.Request, body []byte) ([]Incoming, error)

	// Send delivers the portal's sendMessage, updateMessage or deleteMessage items (as decoded from DATA,
	// docs/protocol.md §10: *wire.Map values) to the messenger. It returns what the portal must learn about them,
	// typically one receivingStatusDelivery per delivered item and one receivingError per failed one; the
	// server queues these to the portal. An error means nothing could be sent (the portal gets it in the
	// answer and nothing is queued).
	Send(ctx context.Context, l *Line, method string, items []any) ([]Incoming, error)

	// Info returns what infoConnect answers for the line (e.g. the bot's name and links); the server adds
	// the line's status flags. It must not return secrets.
	Info(l *Line) map[string]any

	// SecretKeys names the settings that are secrets: readSettings answers them masked and they are never
	// logged.
	SecretKeys() []string
}

// MethodProvider is implemented by a channel that answers remote methods beyond the standard set
// (docs/protocol.md §11: a channel may add methods of its own). The server looks a method up here, case-insensitively,
// before answering METHOD_NOT_FOUND.
type MethodProvider interface {
	// Methods maps method names (matched case-insensitively) to their handlers.
	Methods() map[string]Method
}

// Method handles one extra remote method of a channel. args are the call's positional arguments as decoded
// from DATA. The returned value (any value wire.OKBody accepts) is the answer's DATA.
type Method func(ctx context.Context, l *Line, args []any) (any, error)

// Line is the line connector a channel call is about: one connector of one line of one portal.
type Line struct {
	// SiteDomain is the portal's base URL (BX_DOMAIN), e.g. "https://portal.example.com".
	SiteDomain string
	// SiteLicence is the portal's public identity (BX_LICENCE).
	SiteLicence string
	// LineID is the open line's id, e.g. "3".
	LineID string
	// Connector is the connector id as the portal names it: real ("botframework") or virtual
	// ("botframework.skype").
	Connector string
	// Hash is the line connector's random hash, the h= parameter of its webhook URL.
	Hash string
	// Settings are the stored connection parameters (secrets in clear). Channels must not modify the map.
	Settings map[string]string
	// WebhookURL is where the messenger must post this line's updates: {public}/imwebhook/{real}?h={Hash}.
	WebhookURL string
}

// Real returns the real connector id of the line (the lower-cased part of Connector before the first '.').
func (l *Line) Real() string { return openlines.RealConnector(l.Connector) }

// Registration is what Register reports.
type Registration struct {
	// EntityKey names the external entity the line now owns (e.g. the bot's app_id). Empty means the
	// channel has no entity to keep unique. Keys are compared per real channel.
	EntityKey string
	// Info is extra data answered to the portal's register call (DATA), e.g. the bot's name.
	Info map[string]any
}

// Incoming is one item a channel hands to the server for the portal. The server queues it for the line
// and the dispatcher sends it in a server → portal packet (docs/protocol.md §7).
type Incoming struct {
	// Command is the server → portal command, e.g. "receivingMessage", "receivingStatusDelivery",
	// "receivingError", "receivingStatusReading", "receivingStatusBlock", "setChatName". Empty means
	// "receivingMessage".
	Command string
	// Connector is the CONNECTOR of the packet, typically the virtual id ("botframework.skype"); empty means
	// the line's connector.
	Connector string
	// Item is the item as wire.Serialize takes it (a *wire.Map, a map, or a tagged struct) in the shape of
	// docs/protocol.md §7.
	Item any
	// DedupKey, when not empty, makes the item idempotent per line connector: an item whose key was already
	// queued for the same line (e.g. a messenger retrying a webhook with the same activity id) is dropped.
	DedupKey string
}

// Env is what a channel gets from the server that builds it.
type Env struct {
	// HTTPClient is the client for calls to the messenger (never nil).
	HTTPClient *http.Client
	// Logger is the server's logger (never nil).
	Logger *slog.Logger
	// Clock is the server's clock (never nil).
	Clock clock.Clock
	// PublicURL is the server's external base URL, e.g. "https://connector.example.com" (no trailing '/').
	PublicURL string
	// AllowPrivateNetworks is the server's Config.AllowPrivateNetworks: without it GuardClient holds a
	// channel's own client to the server's address guard.
	AllowPrivateNetworks bool
}

// Factory builds a channel for one server.
type Factory func(Env) (Channel, error)

// Channels is a registry of channel factories by real connector id. The zero value is empty and ready to
// use; a Channels is safe for concurrent use. It holds no instances: a Server builds its channels from it
// with its own Env.
type Channels struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// NewChannels returns a registry holding the echo channel (see Echo); add others with Register.
func NewChannels() *Channels {
	c := &Channels{}
	_ = c.Register(EchoID, NewEcho)
	return c
}

// Register adds (or replaces) the factory of a real connector id. The id is lower-cased; it must be
// non-empty and contain no '.'.
func (c *Channels) Register(realID string, f Factory) error {
	id := strings.ToLower(strings.TrimSpace(realID))
	if id == "" || strings.ContainsAny(id, "./?# ") {
		return fmt.Errorf("connector: channel id %q: want a non-empty real id without '.', '/', '?', '#' or spaces", realID)
	}
	if f == nil {
		return fmt.Errorf("connector: channel %q: nil factory", id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.factories == nil {
		c.factories = map[string]Factory{}
	}
	c.factories[id] = f
	return nil
}

// Lookup returns the real id and factory a connector id (real or virtual) resolves to, or an
// ErrUnknownConnector error.
func (c *Channels) Lookup(connector string) (string, Factory, error) {
	id := openlines.RealConnector(connector)
	c.mu.RLock()
	f, ok := c.factories[id]
	c.mu.RUnlock()
	if !ok || id == "" {
		return "", nil, &wire.Error{Code: wire.CodeUnknownConnector, Message: fmt.Sprintf("no channel for connector %q", connector)}
	}
	return id, f, nil
}

// IDs returns the registered real ids, sorted.
func (c *Channels) IDs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make([]string, 0, len(c.factories))
	for id := range c.factories {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// build instantiates every registered channel with env.
func (c *Channels) build(env Env) (map[string]Channel, error) {
	out := map[string]Channel{}
	for _, id := range c.IDs() {
		c.mu.RLock()
		f := c.factories[id]
		c.mu.RUnlock()
		ch, err := f(env)
		if err != nil {
			return nil, fmt.Errorf("connector: channel %q: %w", id, err)
		}
		if ch == nil || ch.ID() != id {
			return nil, fmt.Errorf("connector: channel %q: factory returned a channel with id %q", id, chID(ch))
		}
		out[id] = ch
	}
	return out, nil
}

func chID(ch Channel) string {
	if ch == nil {
		return "<nil>"
	}
	return ch.ID()
}

// ErrUnknownConnector matches (errors.Is) the error of a packet or webhook that names a connector no channel
// serves: wire.CodeUnknownConnector.
var ErrUnknownConnector = &wire.Error{Code: wire.CodeUnknownConnector}

// StatusError is a webhook error with the HTTP status to answer the messenger with.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err) }

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

// webhookStatus is the HTTP status a webhook error is answered with.
func webhookStatus(err error) int {
	var se *StatusError
	if errors.As(err, &se) && se.Status >= 400 && se.Status < 600 {
		return se.Status
	}
	var we *wire.Error
	if errors.As(err, &we) {
		switch we.Code {
		case wire.CodeMethodNotAllowed:
			return http.StatusMethodNotAllowed
		case wire.CodeRequestEntityTooLarge:
			return http.StatusRequestEntityTooLarge
		case wire.CodeInternal:
			return http.StatusInternalServerError
		case wire.CodeNotActiveLine, wire.CodeUnknownConnector:
			return http.StatusNotFound
		}
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}
