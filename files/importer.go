package files

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Defaults of an Importer.
const (
	DefaultMaxSize        = 100 << 20 // 100 MiB
	DefaultConnectTimeout = 10 * time.Second
	DefaultTimeout        = 2 * time.Minute
	DefaultMaxConcurrent  = 8
	DefaultMaxPerMessage  = 2
	DefaultMessageTimeout = 2 * time.Minute
	DefaultUserAgent      = "Bitrix Connector Client" // what Bitrix sends (docs/protocol.md §8.3)
)

// Option configures an Importer.
type Option func(*Importer)

// WithMaxSize sets the largest file accepted, in bytes; a download is cut off there and reported as
// failed_big_file. Default DefaultMaxSize (100 MiB); n <= 0 keeps the default.
func WithMaxSize(n int64) Option {
	return func(i *Importer) {
		if n > 0 {
			i.maxSize = n
		}
	}
}

// WithConnectTimeout bounds establishing each connection (TCP and TLS handshakes). Default
// DefaultConnectTimeout (10 s); d <= 0 keeps the default.
func WithConnectTimeout(d time.Duration) Option {
	return func(i *Importer) {
		if d > 0 {
			i.connectTimeout = d
		}
	}
}

// WithTimeout bounds each download as a whole, redirects and body included, measured on the importer's
// clock. Default DefaultTimeout (2 min); d <= 0 keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(i *Importer) {
		if d > 0 {
			i.timeout = d
		}
	}
}

// WithMaxConcurrent bounds how many downloads run at once, over all Import calls of the importer. Default
// DefaultMaxConcurrent (8); n <= 0 keeps the default.
func WithMaxConcurrent(n int) Option {
	return func(i *Importer) {
		if n > 0 {
			i.maxConcurrent = n
		}
	}
}

// WithMaxPerMessage bounds how many downloads of one Import call (one message's files) run at once, so that
// a message with many slow files leaves the other slots of WithMaxConcurrent to other messages. Default
// DefaultMaxPerMessage (2), never more than WithMaxConcurrent; n <= 0 keeps the default.
func WithMaxPerMessage(n int) Option {
	return func(i *Importer) {
		if n > 0 {
			i.maxPerMessage = n
		}
	}
}

// WithMessageTimeout bounds one Import call as a whole, measured on the importer's clock: when it passes,
// the files still waiting or downloading fail with failed_message_timeout (not Temporary: the message goes
// on with the files that arrived), and their slots go to other messages. Default DefaultMessageTimeout
// (2 min); d <= 0 keeps the default.
func WithMessageTimeout(d time.Duration) Option {
	return func(i *Importer) {
		if d > 0 {
			i.messageTimeout = d
		}
	}
}

// WithAllowPrivateNetworks lets downloads connect to loopback, private, link-local and other non-public
// addresses. Default false: such connections are refused (failed_blocked_address). Only tests and closed
// networks should allow them.
func WithAllowPrivateNetworks(allow bool) Option {
	return func(i *Importer) { i.allowPrivate = allow }
}

// WithLogger sets the logger failures are reported to (at Warn, URLs without query or credentials).
// Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(i *Importer) {
		if l != nil {
			i.log = l
		}
	}
}

// WithClock sets the clock of the total timeout and of the files' Created time. Default clock.System().
func WithClock(c clock.Clock) Option {
	return func(i *Importer) { i.clock = clock.Or(c) }
}

// WithProfile sets the generation whose naming rules the importer follows (docs/protocol.md §8.3). Current
// (the default) keeps the last 50 characters of a given name and reads a missing one from the answer's
// Content-Disposition; legacy does neither.
func WithProfile(p wire.Profile) Option {
	return func(i *Importer) { i.profile = p }
}

// WithUserAgent sets the User-Agent sent unless an attachment's headers carry one. Default DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(i *Importer) {
		if ua != "" {
			i.userAgent = ua
		}
	}
}

// Importer downloads attachments into a Store. It owns its HTTP transport (no proxy from the environment,
// the dial-time address guard, the connect timeout); safe for concurrent use.
type Importer struct {
	store          Store
	maxSize        int64
	connectTimeout time.Duration
	timeout        time.Duration
	messageTimeout time.Duration
	maxConcurrent  int
	maxPerMessage  int
	allowPrivate   bool
	log            *slog.Logger
	clock          clock.Clock
	userAgent      string
	profile        wire.Profile

	client *http.Client
	sem    chan struct{}

	allowAddr func(netip.Addr) bool // tests only: replaces the public-address rule
}

// NewImporter returns an Importer that stores into store.
func NewImporter(store Store, opts ...Option) *Importer {
	i := &Importer{
		store:          store,
		maxSize:        DefaultMaxSize,
		connectTimeout: DefaultConnectTimeout,
		timeout:        DefaultTimeout,
		messageTimeout: DefaultMessageTimeout,
		maxConcurrent:  DefaultMaxConcurrent,
		maxPerMessage:  DefaultMaxPerMessage,
		log:            slog.New(slog.DiscardHandler),
		clock:          clock.System(),
		userAgent:      DefaultUserAgent,
	}
	for _, o := range opts {
		o(i)
	}
	i.maxPerMessage = min(i.maxPerMessage, i.maxConcurrent)
	dialer := &net.Dialer{Timeout: i.connectTimeout, KeepAlive: 30 * time.Second}
	switch {
	case i.allowAddr != nil:
		dialer.Control = guardWith(i.allowAddr)
	case !i.allowPrivate:
		dialer.Control = dialGuard
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and escape the guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   i.connectTimeout,
		ResponseHeaderTimeout: i.timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   i.maxConcurrent,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // store the bytes as served; no transparent gunzip (and no gzip bombs)
	}
	i.client = &http.Client{Transport: transport, CheckRedirect: checkRedirect}
	i.sem = make(chan struct{}, i.maxConcurrent)
	return i
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("%w: more than %d", ErrTooManyRedirects, MaxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: redirect to a %q URL", ErrBadAttachment, req.URL.Scheme)
	}
	return nil
}

// Import downloads the attachments of one message (WithMaxPerMessage of them at once, within the importer's
// WithMaxConcurrent) and registers them in the store. It returns the ids of the files that were imported, in
// the order of atts, and a Failure for each one that was not (its Index says which). It never fails as a
// whole: ctx ending or the message timeout passing turns the remaining attachments into failures.
func (i *Importer) Import(ctx context.Context, atts []openlines.File) ([]FileID, []Failure) {
	type result struct {
		id  FileID
		err *Failure
	}
	results := make([]result, len(atts))
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	timer := i.clock.After(i.messageTimeout)
	go func() {
		select {
		case <-timer:
			cancel(fmt.Errorf("%w: over %s", ErrMessageTimeout, i.messageTimeout))
		case <-done:
		}
	}()
	slots := make(chan struct{}, i.maxPerMessage)
	var wg sync.WaitGroup
	for n := range atts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, f := i.importOne(mctx, slots, n, atts[n])
			results[n] = result{id, f}
		}()
	}
	wg.Wait()
	close(done)
	var ids []FileID
	var fails []Failure
	for _, r := range results {
		if r.err != nil {
			fails = append(fails, *r.err)
			continue
		}
		ids = append(ids, r.id)
	}
	return ids, fails
}

// importOne imports attachment n once it holds one of the message's slots and one of the importer's.
func (i *Importer) importOne(ctx context.Context, slots chan struct{}, n int, a openlines.File) (FileID, *Failure) {
	fail := func(code string, err error) (FileID, *Failure) {
		i.log.WarnContext(ctx, "files: attachment not imported", "index", n, "url", redact(a.URL), "code", code, "err", err)
		return 0, &Failure{Index: n, URL: a.URL, Code: code, Err: err}
	}
	if i.store == nil {
		return fail(CodeStore, errors.New("files: the importer has no store"))
	}
	req, err := i.request(a)
	if err != nil {
		return fail(CodeBadAttachment, err)
	}
	for _, sem := range []chan struct{}{slots, i.sem} {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-ctx.Done():
			if cause := context.Cause(ctx); timeoutCode(cause) != "" {
				return fail(timeoutCode(cause), cause)
			}
			return fail(CodeDownload, ctx.Err())
		}
	}
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	timer := i.clock.After(i.timeout)
	go func() {
		select {
		case <-timer:
			cancel(fmt.Errorf("%w after %s", ErrTimeout, i.timeout))
		case <-done:
		}
	}()
	id, code, err := i.download(dctx, req.WithContext(dctx), a)
	if err != nil {
		if cause := context.Cause(dctx); timeoutCode(cause) != "" {
			return fail(timeoutCode(cause), cause)
		}
		return fail(code, err)
	}
	return id, nil
}

// timeoutCode is the code of a cancellation by one of the importer's timers: failed_message_timeout for the
// message's, failed_timeout for a download's; "" for any other cause.
func timeoutCode(cause error) string {
	switch {
	case errors.Is(cause, ErrMessageTimeout):
		return CodeMessageTimeout
	case errors.Is(cause, ErrTimeout):
		return CodeTimeout
	}
	return ""
}

// request builds the GET of an attachment, refusing what cannot be fetched.
func (i *Importer) request(a openlines.File) (*http.Request, error) {
	raw := strings.TrimSpace(a.URL)
	if raw == "" {
		return nil, fmt.Errorf("%w: url is empty", ErrBadAttachment)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %v", ErrBadAttachment, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: url scheme %q, want http or https", ErrBadAttachment, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: url has no host", ErrBadAttachment)
	}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAttachment, err)
	}
	req.Header.Set("User-Agent", i.userAgent)
	given := map[string]bool{}
	for k, h := range a.Headers {
		name := strings.TrimSpace(h.Name)
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%w: headers[%d].name %q is not a valid header name", ErrBadAttachment, k, h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, fmt.Errorf("%w: headers[%d].value (%s) contains a line break or NUL", ErrBadAttachment, k, name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Te", "Upgrade", "Trailer", "Keep-Alive", "Proxy-Connection":
			return nil, fmt.Errorf("%w: headers[%d].name %s may not be set", ErrBadAttachment, k, name)
		}
		if ck := http.CanonicalHeaderKey(name); given[ck] {
			req.Header.Add(ck, h.Value)
		} else {
			given[ck] = true
			req.Header.Set(ck, h.Value) // the attachment's own header replaces a default (User-Agent)
		}
	}
	return req, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// download fetches one attachment and streams it into the store. code classifies err.
func (i *Importer) download(ctx context.Context, req *http.Request, a openlines.File) (FileID, string, error) {
	resp, err := i.client.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, ErrBlockedAddress):
			return 0, CodeBlocked, err
		case errors.Is(err, ErrBadAttachment):
			return 0, CodeBadAttachment, err
		}
		return 0, CodeDownload, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, CodeStatus, &StatusError{StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > i.maxSize {
		return 0, CodeBigFile, fmt.Errorf("%w: Content-Length %d, the maximum is %d", ErrTooBig, resp.ContentLength, i.maxSize)
	}
	body := bufio.NewReaderSize(&limitReader{r: resp.Body, left: i.maxSize, max: i.maxSize}, 4096)
	head, err := body.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, ErrTooBig) {
			return 0, CodeBigFile, err
		}
		return 0, CodeDownload, err
	}
	mt := chooseType(a.Type, resp.Header.Get("Content-Type"), http.DetectContentType(head))
	meta := Meta{
		Name:    fileName(a.Name, resp.Header.Get("Content-Disposition"), resp.Request.URL, a.URL, mt, i.profile),
		Type:    mt,
		Created: i.clock.Now(),
	}
	id, err := i.store.Put(ctx, meta, body)
	switch {
	case err == nil:
		return id, "", nil
	case errors.Is(err, ErrTooBig):
		return 0, CodeBigFile, err
	case ctx.Err() != nil:
		return 0, CodeDownload, err
	case errors.Is(err, errBody):
		return 0, CodeDownload, err
	}
	return 0, CodeStore, err
}

// errBody marks an error of reading the response body, as opposed to an error of the store.
var errBody = errors.New("reading the response body")

// limitReader yields at most max bytes and fails with ErrTooBig, without consuming more than one extra byte,
// when there are more.
type limitReader struct {
	r    io.Reader
	left int64
	max  int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooBig, l.max)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - 1, fmt.Errorf("%w: more than %d bytes", ErrTooBig, l.max)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("files: %w: %w", errBody, err)
	}
	return n, err
}
