package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Client calls a connector server's remote methods for one portal (docs/protocol.md §10). It is safe for
// concurrent use; make one per portal and share it: the connector and line are per call.
type Client struct {
	cfg     config
	url     string // server URL and path, without the query
	licence string // BX_LICENCE
	version string // BX_VERSION
	signer  *wire.Signer
	http    *http.Client
	log     *slog.Logger
	clock   clock.Clock
	cache   *cache
}

// New returns a Client that posts to serverURL + WithPath (default "/imwebhook/portal.php"). serverURL is the
// connector server's base URL; without a scheme it is https:// (as Bitrix reads it). WithDomain is required;
// every missing or invalid setting is named in one error matching ErrConfig.
func New(serverURL string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	base, problem := serverBase(serverURL)
	problems := cfg.problems()
	if problem != "" {
		problems = append([]string{problem}, problems...)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	clk := clock.Or(cfg.clock)
	key := licenceKey(cfg.licenceKey)
	signer, err := wire.NewSigner(wire.Credentials{Mode: cfg.mode, LicenceKey: key, Secrets: cfg.secrets}, clk)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c := &Client{
		cfg:     cfg,
		url:     base + cfg.path,
		licence: wire.Licence(key),
		version: orDefault(cfg.version, cfg.profile.Version()),
		signer:  signer,
		http:    cfg.httpClient,
		log:     cfg.logger,
		clock:   clk,
		cache:   newCache(clk, cfg.cacheTTL),
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// licenceKey returns K of docs/protocol.md §3.1: the key, or DEMO when it is empty or "demo" in any case.
func licenceKey(k string) string {
	if k == "" || strings.EqualFold(k, "demo") {
		return "DEMO"
	}
	return k
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// serverBase checks the server URL and returns it without a trailing slash; a URL without a scheme gets
// https://.
func serverBase(s string) (string, string) {
	if s == "" {
		return "", "the server URL is missing"
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Sprintf("the server URL %q does not parse: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Sprintf("the server URL %q is not http or https", s)
	case u.Host == "":
		return "", fmt.Sprintf("the server URL %q has no host", s)
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Sprintf("the server URL %q must not carry a query or fragment", s)
	}
	return strings.TrimRight(s, "/"), ""
}

func isBaseURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// defaultHTTPClient is http.DefaultTransport's settings with Bitrix's 20 s to connect.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: t}
}

// URL returns the address packets are posted to, without the current profile's query.
func (c *Client) URL() string { return c.url }

// CallOption changes one call.
type CallOption func(*callConfig)

type callConfig struct {
	connector     string
	line          string
	fireAndForget bool
	fresh         bool
}

// Connector sends a connector-bound call for connector id instead of the client's default (WithConnector).
// The portal answers for whichever connector a packet came from, so one Client serves every connector of a
// portal. Connector-less methods ignore it.
func Connector(id string) CallOption { return func(cc *callConfig) { cc.connector = id } }

// Line sends a connector-bound call for line id instead of the client's default (WithLine). Connector-less
// methods ignore it: they name their line in the arguments.
func Line(id string) CallOption { return func(cc *callConfig) { cc.line = id } }

// FireAndForget decides whether the call reads the answer body. The default is openlines.IsFireAndForget
// (sendMessage, updateMessage, deleteMessage, setStatusDelivered, setStatusReading,
// initializeReceiveMessages: Bitrix never reads their answer). A fire-and-forget call checks the connection
// and the HTTP status, reports a non-empty x-bitrix-error response header as the error code, and never fails
// on the body, which it does not read. FireAndForget(false) makes such a method read its answer like any
// other, so that an OK-false answer (LICENCE_ERROR, NOT_ACTIVE_LINE, …) is an error: tools that report the
// outcome to a person use it.
func FireAndForget(on bool) CallOption { return func(cc *callConfig) { cc.fireAndForget = on } }

// Fresh makes a cached method (info…, list…) ask the server instead of the cache; the answer still refreshes
// the cache.
func Fresh() CallOption { return func(cc *callConfig) { cc.fresh = true } }

func (c *Client) callConfig(method string, opts []CallOption) callConfig {
	cc := callConfig{connector: c.cfg.connector, line: c.cfg.line, fireAndForget: openlines.IsFireAndForget(method)}
	for _, o := range opts {
		if o != nil {
			o(&cc)
		}
	}
	if openlines.IsConnectorLess(method) {
		cc.connector, cc.line = openlines.ConnectorAll, ""
	}
	return cc
}

// Call calls any remote method with args as its positional argument list (saveSettings(s) is
// Call(ctx, "saveSettings", []any{s}); testConnect() is Call(ctx, "testConnect", nil)). Names the client
// does not know are sent as they are.
//
// Connector-less methods (openlines.IsConnectorLess: listConnector, deleteLine, infoConnectorsLine,
// saveDomainSite) always go out with CONNECTOR "all" and an empty LINE. Every other method needs a
// connector (WithConnector or Connector) other than "all": without one it is refused here, before anything
// is sent, with CONNECTOR_ID_NOT_SPECIFIED.
//
// Per method, as Bitrix's portal does: the read-only methods are retried (WithRetry) and their info… and
// list… answers cached (WithCacheTTL, Fresh); the methods that change a connector drop their line's cached
// answers (see ForgetLine); the fire-and-forget methods do not read the answer body (FireAndForget);
// setStatusReading is sent only to the connectors that take it (WithReadingConnectors) and counts as done
// for the others; sendMessage, updateMessage and deleteMessage of a real botframework connector whose
// message list is a []openlines.OutgoingMessage get the chat's Bot Framework context (WithChatContext).
//
// The answer is read by the rules of docs/protocol.md §5. Every failure is an *Error carrying protocol codes:
// the server's, or the reader's (ANSWER_MALFORMED, EMPTY_SERVER_RESPONSE, NETWORK_ERROR).
func (c *Client) Call(ctx context.Context, method string, args []any, opts ...CallOption) (*Result, error) {
	cc := c.callConfig(method, opts)
	if err := c.refuse(ctx, method, cc); err != nil {
		return nil, err
	}
	if strings.EqualFold(method, openlines.MethodSetStatusReading) && !slices.Contains(c.cfg.reading, openlines.RealConnector(cc.connector)) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "olctl client: setStatusReading not sent: the connector does not take it",
			slog.String("connector", cc.connector), slog.String("line", cc.line))
		return &Result{}, nil
	}
	args, err := c.withChatContext(ctx, method, cc, args)
	if err != nil {
		return nil, err
	}
	if openlines.ChangesConnector(method) {
		// Dropped before and after: no answer fetched while the call runs survives it.
		defer c.ForgetLine(cc.connector, subjectLine(method, cc, args))
		c.ForgetLine(cc.connector, subjectLine(method, cc, args))
	}
	if cachedMethod(method) {
		return c.cache.get(cacheKey(method, cc, args), subjectLine(method, cc, args), cc, func() (*Result, error) {
			return c.call(ctx, method, args, cc)
		})
	}
	return c.call(ctx, method, args, cc)
}

// refuse checks what Bitrix's portal checks before it sends: a call that needs a connector has one.
func (c *Client) refuse(ctx context.Context, method string, cc callConfig) error {
	e := &Error{Method: method, Connector: cc.connector, Line: cc.line}
	switch {
	case ctx == nil:
		e.Errors = []*wire.Error{wire.Errorf(wire.CodeBadPacket, "nil context")}
	case method == "":
		e.Errors = []*wire.Error{wire.Errorf(wire.CodeBadPacket, "the method name is empty")}
	case openlines.IsConnectorLess(method):
		return nil
	case cc.connector == "" || strings.EqualFold(cc.connector, openlines.ConnectorAll):
		e.Errors = []*wire.Error{wire.Errorf(wire.CodeNoConnector,
			"%s names a connector: give one (WithConnector or Connector), not %q", method, cc.connector)}
	default:
		return nil
	}
	return e
}

// ForgetLine drops the cached answers of a line: those of connector's real id (any of its virtual ids) and
// the connector-less ones (infoConnectorsLine(line), …). Call and Connect do it on every method that changes
// a connector (saveSettings, register, unregister, deleteConnector, deleteLine, whether or not it succeeds);
// a receiving portal calls it when the server sends deactivateConnector. connector "all" drops every
// connector's answers of the line.
func (c *Client) ForgetLine(connector, line string) { c.cache.forget(connector, line) }

// packet builds the unsigned fields of a call.
func (c *Client) packet(method string, args []any, cc callConfig) (wire.Fields, error) {
	if args == nil {
		args = []any{}
	}
	p := wire.Packet{
		Command:   method,
		Licence:   c.licence,
		Domain:    c.cfg.domain,
		Region:    c.cfg.region,
		Version:   c.version,
		Connector: cc.connector,
		Line:      cc.line,
		Data:      args,
		Profile:   c.cfg.profile,
	}
	return p.Encode(wire.ToServer)
}

// call sends one call, retrying a read-only method after a transient failure.
func (c *Client) call(ctx context.Context, method string, args []any, cc callConfig) (*Result, error) {
	fields, err := c.packet(method, args, cc)
	if err != nil {
		return nil, &Error{Method: method, Connector: cc.connector, Line: cc.line,
			Errors: []*wire.Error{{Code: wire.CodeBadPacket, Message: "encoding the arguments", Err: err}}}
	}
	maxRetries := 0
	if openlines.IsReadOnly(method) {
		maxRetries = c.cfg.retry.MaxRetries
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res, fail := c.attempt(ctx, method, fields, cc)
		c.logAttempt(ctx, method, cc, attempt, time.Since(start), res, fail)
		if fail == nil {
			res.Attempts = attempt
			return res, nil
		}
		e := fail.err
		e.Method, e.Connector, e.Line, e.Attempts = method, cc.connector, cc.line, attempt
		if !fail.retryable || attempt > maxRetries {
			return nil, e
		}
		wait, ok := c.backoff(ctx, attempt, fail.retryAfter)
		if !ok {
			c.log.LogAttrs(ctx, slog.LevelWarn, "olctl client: not retrying: the wait asked for exceeds MaxWait or the context's deadline",
				slog.String("method", method), slog.Duration("retry_after", fail.retryAfter), slog.Any("error", e))
			return nil, e
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "olctl client: retrying", slog.String("method", method),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.Any("error", e))
		select {
		case <-c.clock.After(wait):
		case <-ctx.Done():
			e.Errors = append(e.Errors, networkError("the context ended during the retry wait", ctx.Err()))
			return nil, e
		}
	}
}

func (c *Client) logAttempt(ctx context.Context, method string, cc callConfig, attempt int, took time.Duration, res *Result, fail *failure) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("method", method), slog.String("connector", cc.connector),
		slog.String("line", cc.line), slog.Int("attempt", attempt), slog.Duration("took", took)}
	if fail != nil {
		attrs = append(attrs, slog.Int("status", fail.err.StatusCode), slog.Any("error", fail.err))
	} else {
		attrs = append(attrs, slog.Int("status", res.StatusCode))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "olctl client: call", attrs...)
}

// requestURL is the URL of one call: the current profile appends ?connector=&command= (docs/protocol.md §2).
func (c *Client) requestURL(method string, cc callConfig) string {
	if c.cfg.profile == wire.Legacy {
		return c.url
	}
	return c.url + "?connector=" + url.QueryEscape(cc.connector) + "&command=" + url.QueryEscape(method)
}

// newRequest builds one attempt's request, signed afresh (in hmac-sha256 mode each attempt carries its own
// timestamp and nonce), with the profile's headers.
func (c *Client) newRequest(ctx context.Context, method string, fields wire.Fields, cc callConfig) (*http.Request, error) {
	signed, err := c.signer.Sign(fields)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.requestURL(method, cc), strings.NewReader(signed.Encode()))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	h["X-Bitrix-Licence"] = []string{c.licence}
	if c.cfg.profile == wire.Legacy {
		h["User-Agent"] = []string{"Bitrix Connector Client"}
		return req, nil
	}
	h["User-Agent"] = []string{"Bitrix Connector Client CP"}
	h["Referer"] = []string{c.cfg.domain}
	h["Expect"] = []string{""}
	req.Close = true // Connection: close
	return req, nil
}

// failure is a failed attempt and whether a read may try again.
type failure struct {
	err        *Error
	retryable  bool
	retryAfter time.Duration // from a Retry-After header; 0 when none
}

func (c *Client) attempt(ctx context.Context, method string, fields wire.Fields, cc callConfig) (*Result, *failure) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.cfg.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
	}
	defer cancel()
	req, err := c.newRequest(actx, method, fields, cc)
	if err != nil {
		return nil, &failure{err: &Error{Errors: []*wire.Error{{Code: wire.CodeBadPacket, Message: "signing", Err: err}}}}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		werr := networkError("no answer from the connector server", err)
		if ctx.Err() == nil && actx.Err() != nil {
			// The attempt's own deadline, not the caller's: its cause must not match context.DeadlineExceeded.
			werr = networkError(fmt.Sprintf("no answer within %v (WithTimeout)", c.cfg.timeout), errors.New(err.Error()))
		}
		return nil, &failure{err: &Error{Errors: []*wire.Error{werr}}, retryable: ctx.Err() == nil}
	}
	defer resp.Body.Close()
	if cc.fireAndForget {
		return c.readNoBody(resp)
	}
	return c.readAnswer(ctx, resp)
}

func networkError(msg string, err error) *wire.Error {
	return &wire.Error{Code: wire.CodeNetwork, Message: msg, Err: err}
}

// backoff returns the wait before retry number attempt, or false when the server asks for more than the
// policy's MaxWait or the context has not that long left.
func (c *Client) backoff(ctx context.Context, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	r := c.cfg.retry
	d := r.MinWait
	for i := 1; i < attempt && d < r.MaxWait; i++ {
		d *= 2
	}
	d = jitter(min(d, r.MaxWait))
	if retryAfter > 0 {
		if retryAfter > r.MaxWait {
			return 0, false
		}
		d = max(d, retryAfter)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return 0, false
	}
	return d, true
}

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if half := d / 2; half > 0 {
		return half + rand.N(half+1)
	}
	return d
}
