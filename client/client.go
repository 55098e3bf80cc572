package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Client calls the connector server's remote methods for one portal (PROTOCOL.md §6). It is safe for
// concurrent use; make one per portal and share it.
type Client struct {
	cfg     config
	url     string
	licence string // BX_LICENCE
	signer  *wire.Signer
	rc      *resty.Client
	log     *slog.Logger
	clock   clock.Clock
	cache   *cache
}

// New returns a Client that posts to serverURL + path (default "/imwebhook/portal.php"). serverURL is the
// connector server's base URL (http or https). WithDomain and WithLicenceKey are required, and
// WithSigning(wire.HMACSHA256, …) needs a secret; every missing or invalid setting is named in one error
// matching ErrConfig.
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
	var problems []string
	u, err := url.Parse(serverURL)
	switch {
	case serverURL == "":
		problems = append(problems, "the server URL is missing")
	case err != nil:
		problems = append(problems, fmt.Sprintf("the server URL %q does not parse: %v", serverURL, err))
	case u.Scheme != "http" && u.Scheme != "https":
		problems = append(problems, fmt.Sprintf("the server URL %q is not http or https", serverURL))
	case u.Host == "":
		problems = append(problems, fmt.Sprintf("the server URL %q has no host", serverURL))
	case u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, fmt.Sprintf("the server URL %q must not carry a query or fragment", serverURL))
	}
	if cfg.domain == "" {
		problems = append(problems, "the portal domain is missing (WithDomain)")
	} else if d, err := url.Parse(cfg.domain); err != nil || (d.Scheme != "http" && d.Scheme != "https") || d.Host == "" {
		problems = append(problems, fmt.Sprintf("the portal domain %q is not an http(s) base URL (WithDomain)", cfg.domain))
	}
	if cfg.licenceKey == "" {
		problems = append(problems, "the licence key is missing (WithLicenceKey)")
	}
	if cfg.mode == wire.HMACSHA256 {
		if len(cfg.secrets) == 0 {
			problems = append(problems, "signing mode hmac-sha256 needs a secret (WithSigning or WithHMAC)")
		}
		for i, s := range cfg.secrets {
			if s == "" {
				problems = append(problems, fmt.Sprintf("HMAC secret #%d is empty", i+1))
			}
		}
	} else if len(cfg.secrets) > 0 {
		problems = append(problems, "signing mode md5 signs with the licence key and takes no secrets (WithSigning)")
	}
	if !strings.HasPrefix(cfg.path, "/") {
		problems = append(problems, fmt.Sprintf("the path %q must start with / (WithPath)", cfg.path))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}

	clk := clock.Or(cfg.clock)
	signer, err := wire.NewSigner(wire.Credentials{Mode: cfg.mode, LicenceKey: cfg.licenceKey, Secrets: cfg.secrets},
		wire.WithSignerClock(clk))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var hc http.Client // copied: resty sets fields on the client it is given
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	}
	c := &Client{
		cfg:     cfg,
		url:     strings.TrimRight(serverURL, "/") + cfg.path,
		licence: wire.Licence(cfg.licenceKey),
		signer:  signer,
		log:     logger,
		clock:   clk,
	}
	c.cache = newCache(clk, cfg.cacheTTL)
	c.rc = resty.NewWithClient(&hc).
		SetLogger(restyLogger{logger}).
		SetRetryCount(0). // retries are ours: they wait on the injected clock
		SetHeader("User-Agent", cfg.userAgent).
		SetHeader("Accept", "application/json").
		OnBeforeRequest(c.signRequest)
	return c, nil
}

// URL returns the address packets are posted to.
func (c *Client) URL() string { return c.url }

// CallOption changes one call.
type CallOption func(*callConfig)

type callConfig struct {
	connector     string
	line          string
	idempotent    bool
	fireAndForget bool
	fresh         bool
}

// Connector sends the call for connector id instead of the client's default (WithConnector). The portal
// answers for whichever connector a packet came from, so one Client serves every connector of a portal.
func Connector(id string) CallOption { return func(cc *callConfig) { cc.connector = id } }

// Line sends the call for line id instead of the client's default (WithLine).
func Line(id string) CallOption { return func(cc *callConfig) { cc.line = id } }

// Idempotent marks a call as a read that may be retried (see Retry). The methods of PROTOCOL.md §6 that
// are reads are marked already.
func Idempotent() CallOption { return func(cc *callConfig) { cc.idempotent = true } }

// FireAndForget makes the call return as soon as the answer's status is known: the body is neither waited
// for nor parsed, so the Result has no Data. A transport error or a status outside 2xx is still an error.
// The fire-and-forget methods of PROTOCOL.md §6 (sendMessage, …) are marked already.
func FireAndForget() CallOption { return func(cc *callConfig) { cc.fireAndForget = true } }

// WaitForAnswer makes a fire-and-forget method (sendMessage, …) wait for the answer and parse it like any other
// call, so that an OK:false answer (LICENCE_ERROR, NOT_ACTIVE_LINE, …) is returned as an error. Tools that
// report the outcome to a person (olctl send) use it.
func WaitForAnswer() CallOption { return func(cc *callConfig) { cc.fireAndForget = false } }

// Fresh makes a cached method (ListConnector, InfoConnect, InfoConnectLink) ask the server instead of the
// cache; the answer still refreshes the cache.
func Fresh() CallOption { return func(cc *callConfig) { cc.fresh = true } }

// Kinds of the §6 methods, by lower-cased name (the server matches names case-insensitively).
var (
	readMethods = map[string]bool{
		"testconnect": true, "readsettings": true, "infoconnect": true, "infoconnectlink": true,
		"infoconnectorsline": true, "listconnector": true,
	}
	fireAndForgetMethods = map[string]bool{
		"sendmessage": true, "updatemessage": true, "deletemessage": true, "setstatusdelivered": true,
		"setstatusreading": true, "initializereceivemessages": true,
	}
	invalidatingMethods = map[string]bool{
		"savesettings": true, "register": true, "unregister": true, "deleteconnector": true, "deleteline": true,
	}
)

// methodKind returns the kinds of a method: a read (retried), fire-and-forget, or one that drops the cache.
func methodKind(method string) (read, fireAndForget, invalidating bool) {
	if k, ok := methodKinds[method]; ok { // the names as written in §6, without lower-casing
		return k.read, k.fireAndForget, k.invalidating
	}
	lower := strings.ToLower(method)
	return readMethods[lower], fireAndForgetMethods[lower], invalidatingMethods[lower]
}

type kind struct{ read, fireAndForget, invalidating bool }

var methodKinds = func() map[string]kind {
	m := map[string]kind{}
	for _, name := range []string{"saveSettings", "testConnect", "register", "unregister", "deleteConnector",
		"readSettings", "infoConnect", "infoConnectLink", "listConnector", "infoConnectorsLine", "deleteLine",
		"sendMessage", "updateMessage", "deleteMessage", "setStatusDelivered", "setStatusReading",
		"initializeReceiveMessages"} {
		lower := strings.ToLower(name)
		m[name] = kind{readMethods[lower], fireAndForgetMethods[lower], invalidatingMethods[lower]}
	}
	return m
}()

func (c *Client) callConfig(method string, opts []CallOption) callConfig {
	read, ff, _ := methodKind(method)
	cc := callConfig{
		connector:     c.cfg.connector,
		line:          c.cfg.line,
		idempotent:    read,
		fireAndForget: ff,
	}
	for _, o := range opts {
		if o != nil {
			o(&cc)
		}
	}
	return cc
}

// Call calls any remote method with args as its positional argument list (PROTOCOL.md §2: saveSettings(s) is
// Call(ctx, "saveSettings", s); testConnect() is Call(ctx, "testConnect")), signed and sent for the default
// connector and line. The client keeps no list of methods: unknown names are sent as they are, and the
// server answers METHOD_NOT_FOUND. An OK:false answer is an *Error carrying every code and message.
func (c *Client) Call(ctx context.Context, method string, args ...any) (*Result, error) {
	return c.CallWith(ctx, method, args, nil...)
}

// CallWith is Call with call options (Connector, Line, Idempotent, FireAndForget). Reads are retried
// (WithRetry), fire-and-forget methods do not read the answer body, and the methods that change a connector
// (saveSettings, register, unregister, deleteConnector, deleteLine) drop the cache of ListConnector,
// InfoConnect and InfoConnectLink.
func (c *Client) CallWith(ctx context.Context, method string, args []any, opts ...CallOption) (*Result, error) {
	cc := c.callConfig(method, opts)
	res, err := c.call(ctx, method, args, cc)
	if _, _, inv := methodKind(method); inv {
		c.cache.invalidate()
	}
	return res, err
}

type packetKey struct{}

// signError marks a failure of signRequest, which happens before anything is sent.
type signError struct{ err error }

func (e *signError) Error() string { return e.err.Error() }
func (e *signError) Unwrap() error { return e.err }

// signRequest is the resty OnBeforeRequest hook: resty runs it before every attempt, so each attempt is
// signed afresh (in hardened mode with a new timestamp and nonce).
func (c *Client) signRequest(_ *resty.Client, r *resty.Request) error {
	fields, ok := r.Context().Value(packetKey{}).(wire.Fields)
	if !ok {
		return nil
	}
	signed, err := c.signer.Sign(fields)
	if err != nil {
		return &signError{fmt.Errorf("signing: %w", err)}
	}
	body := signed.AppendEncode(make([]byte, 0, signed.EncodedSizeHint()))
	r.SetBody(bytes.NewReader(body))
	r.SetHeader("Content-Type", "application/x-www-form-urlencoded")
	return nil
}

func (c *Client) call(ctx context.Context, method string, args []any, cc callConfig) (*Result, error) {
	fail := func(err error) *Error {
		return &Error{Method: method, Connector: cc.connector, Line: cc.line, Err: err}
	}
	if ctx == nil {
		return nil, fail(errors.New("nil context"))
	}
	if method == "" {
		return nil, fail(errors.New("the method name is empty"))
	}
	if args == nil {
		args = []any{}
	}
	p := wire.Packet{
		Command:   method,
		Licence:   c.licence,
		Domain:    c.cfg.domain,
		Type:      wire.TypeCP,
		Version:   c.cfg.version,
		Connector: cc.connector,
		Line:      cc.line,
		Data:      args,
	}
	fields, err := p.Encode(wire.ToServer)
	if err != nil {
		return nil, fail(fmt.Errorf("encoding the arguments: %w", err))
	}
	maxRetries := 0
	if cc.idempotent {
		maxRetries = c.cfg.retry.MaxRetries
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		out := c.attempt(ctx, fields, cc)
		if out.err != nil {
			out.err.Method, out.err.Connector, out.err.Line, out.err.Attempts = method, cc.connector, cc.line, attempt
		}
		if c.log.Enabled(ctx, slog.LevelDebug) {
			attrs := []slog.Attr{slog.String("method", method), slog.String("connector", cc.connector),
				slog.String("line", cc.line), slog.Int("attempt", attempt), slog.Duration("took", time.Since(start))}
			if out.err != nil {
				attrs = append(attrs, slog.Int("status", out.err.StatusCode), slog.Any("error", out.err))
			} else {
				attrs = append(attrs, slog.Int("status", out.res.StatusCode))
			}
			c.log.LogAttrs(ctx, slog.LevelDebug, "olctl client: call", attrs...)
		}
		if out.err == nil {
			out.res.Attempts = attempt
			return out.res, nil
		}
		e := out.err
		if !out.retryable || attempt > maxRetries {
			return nil, e
		}
		wait, ok := c.backoff(ctx, attempt, out.retryAfter)
		if !ok {
			c.log.LogAttrs(ctx, slog.LevelWarn, "olctl client: not retrying: the wait asked for exceeds MaxWait or the context's deadline",
				slog.String("method", method), slog.Duration("retry_after", out.retryAfter), slog.Any("error", e))
			return nil, e
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "olctl client: retrying",
			slog.String("method", method), slog.Int("attempt", attempt), slog.Duration("wait", wait),
			slog.Any("error", e))
		select {
		case <-c.clock.After(wait):
		case <-ctx.Done():
			e.Err = errors.Join(e.Err, ctx.Err())
			e.transport = false
			return nil, e
		}
	}
}

type attemptOutcome struct {
	res        *Result
	err        *Error
	retryable  bool
	retryAfter time.Duration // from a Retry-After header; 0 when none
}

func (c *Client) attempt(ctx context.Context, fields wire.Fields, cc callConfig) attemptOutcome {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.cfg.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
	}
	defer cancel()
	// The answer body is read here rather than by resty: a fire-and-forget call must not wait for it, and
	// reading it directly (bounded, into a pooled buffer) skips resty's content-type sniffing.
	req := c.rc.R().SetContext(context.WithValue(actx, packetKey{}, fields)).SetDoNotParseResponse(true)
	resp, err := req.Post(c.url)
	if err != nil {
		if resp != nil && resp.RawResponse != nil {
			_ = resp.RawResponse.Body.Close()
		}
		switch {
		case ctx.Err() != nil:
			return attemptOutcome{err: &Error{Err: err}}
		case actx.Err() != nil:
			return attemptOutcome{err: &Error{Err: fmt.Errorf("%w after %v: %v", errAttemptTimeout, c.cfg.timeout, err),
				transport: true}, retryable: true}
		}
		var se *signError
		if errors.As(err, &se) {
			return attemptOutcome{err: &Error{Err: se.err}}
		}
		return attemptOutcome{err: &Error{Err: err, transport: true}, retryable: true}
	}
	raw := resp.RawResponse
	status := raw.StatusCode
	header := raw.Header
	if cc.fireAndForget {
		discardBody(raw)
		if status >= 200 && status < 300 {
			return attemptOutcome{res: &Result{StatusCode: status, Header: header}}
		}
		return c.statusError(raw, nil)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(raw.Body, int64(c.cfg.maxResponse)+1))
	_ = raw.Body.Close()
	if err != nil { // an answer came but its body could not be read
		if ctx.Err() != nil {
			return attemptOutcome{err: &Error{StatusCode: status, Header: header, Err: err}}
		}
		return attemptOutcome{err: &Error{StatusCode: status, Header: header,
			Err: fmt.Errorf("reading the answer: %w", err)}, retryable: true}
	}
	if buf.Len() > c.cfg.maxResponse {
		err = fmt.Errorf("the answer is larger than %d bytes (WithMaxResponse)", c.cfg.maxResponse)
		return attemptOutcome{err: &Error{StatusCode: status, Header: header, Err: err}}
	}
	body := buf.Bytes()
	if status < 200 || status >= 300 {
		return c.statusError(raw, body)
	}
	env, perr := parseResponse(body)
	if perr != nil {
		e := &Error{StatusCode: status, Header: header}
		var re *wire.ResponseError
		var we *wire.Error
		switch {
		case errors.As(perr, &re):
			e.Errors = re.Errors
		case errors.As(perr, &we):
			e.Errors = []*wire.Error{we}
		default:
			e.Err = perr
		}
		return attemptOutcome{err: e}
	}
	// Unmarshal copied DATA out of the pooled buffer and checked it is valid JSON; Result.Data decodes it
	// only when asked.
	res := &Result{Raw: env.Data, StatusCode: status, Header: header}
	return attemptOutcome{res: res}
}

// statusError describes an answer whose status is outside 2xx: the protocol errors of its body when it is an
// OK:false envelope (405 and 413 are), and ErrHTTPStatus quoting the status and the body's first bytes.
func (c *Client) statusError(resp *http.Response, body []byte) attemptOutcome {
	status := resp.StatusCode
	e := &Error{StatusCode: status, Header: resp.Header}
	if len(body) > 0 {
		if _, perr := wire.ParseResponse(body); perr != nil {
			var re *wire.ResponseError
			if errors.As(perr, &re) {
				e.Errors = re.Errors
			}
		}
	}
	if len(body) > 0 && len(e.Errors) == 0 {
		e.Err = fmt.Errorf("%w %s: %q", ErrHTTPStatus, resp.Status, quoteStart(body))
	} else {
		e.Err = fmt.Errorf("%w %s", ErrHTTPStatus, resp.Status)
	}
	out := attemptOutcome{err: e, retryable: status >= 500 || status == http.StatusTooManyRequests}
	if out.retryable {
		out.retryAfter = c.parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return out
}

// parseResponse is wire.ParseResponse with a fast path for the common answer: a well-formed OK:true
// envelope is decoded in one json.Unmarshal; anything else goes to wire.ParseResponse for its errors.
func parseResponse(body []byte) (*wire.Response, error) {
	var r wire.Response
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &r) == nil && r.OK {
		return &r, nil
	}
	return wire.ParseResponse(body)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 { // do not keep the memory of a rare large answer
		bufPool.Put(b)
	}
}

// discardBody closes a fire-and-forget answer's body. A short body whose length is announced is read first
// (it has normally arrived with the headers) so that the connection can be reused; anything else is closed
// unread.
func discardBody(r *http.Response) {
	if r == nil || r.Body == nil {
		return
	}
	if r.ContentLength >= 0 && r.ContentLength <= 4096 {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 4096))
	}
	_ = r.Body.Close()
}

func quoteStart(b []byte) string {
	const n = 120
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. 0 means absent or unreadable.
func (c *Client) parseRetryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(365*24*time.Hour/time.Second) {
			s = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(c.clock.Now()); d > 0 {
			return d
		}
	}
	return 0
}

// backoff returns the wait before retry number attempt, or false when the server asks for more than the
// policy's MaxWait or the context has not that long left.
func (c *Client) backoff(ctx context.Context, attempt int, retryAfter time.Duration) (time.Duration, bool) {
	r := c.cfg.retry
	d := r.MinWait
	for i := 1; i < attempt && d < r.MaxWait; i++ {
		d *= 2
	}
	d = min(d, r.MaxWait)
	if half := d / 2; half > 0 {
		d = half + rand.N(half+1)
	}
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

// restyLogger sends resty's own messages to the client's logger (resty would print them to stderr).
type restyLogger struct{ l *slog.Logger }

func (r restyLogger) Errorf(format string, v ...any) {
	r.l.Error("resty: " + fmt.Sprintf(format, v...))
}
func (r restyLogger) Warnf(format string, v ...any) { r.l.Warn("resty: " + fmt.Sprintf(format, v...)) }
func (r restyLogger) Debugf(format string, v ...any) {
	r.l.Debug("resty: " + fmt.Sprintf(format, v...))
}
