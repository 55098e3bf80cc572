package botframework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// ErrToken is matched (errors.Is) by every failure to obtain a token.
var ErrToken = errors.New("botframework: obtaining a token failed")

// TokenError is the token endpoint's refusal (or a transport failure, with Status 0).
type TokenError struct {
	Status      int    // HTTP status, 0 for a transport failure
	Code        string // the OAuth error, e.g. invalid_client
	Description string // the endpoint's error_description, or the transport error
	Err         error  // the transport error, if any
}

func (e *TokenError) Error() string {
	if e.Status == 0 {
		return "botframework: obtaining a token: " + e.Description
	}
	return fmt.Sprintf("botframework: obtaining a token: %d %s: %s", e.Status, e.Code, e.Description)
}

// Is matches ErrToken.
func (e *TokenError) Is(target error) bool { return target == ErrToken }

// Unwrap returns the transport error.
func (e *TokenError) Unwrap() error { return e.Err }

// tokenTimeout bounds one token request; it does not depend on the caller that started it, so one caller
// giving up does not fail the others waiting for the same refresh.
const tokenTimeout = 30 * time.Second

// tokenSource caches the access token of one app and refreshes it one request at a time.
type tokenSource struct {
	c      *Channel
	appID  string
	secret string

	mu       sync.Mutex // guards the fields below
	tok      string
	refresh  time.Time // when the cached token must be replaced (shortly before it expires)
	inflight *tokenCall
}

type tokenCall struct {
	done chan struct{}
	tok  string
	err  error
}

// source returns the token source of an app, replacing it when the secret changed. Concurrent callers get the
// same source.
func (c *Channel) source(appID, secret string) *tokenSource {
	if v, ok := c.tokens.Load(appID); ok && v.(*tokenSource).secret == secret {
		return v.(*tokenSource)
	}
	for {
		fresh := &tokenSource{c: c, appID: appID, secret: secret}
		v, loaded := c.tokens.LoadOrStore(appID, fresh)
		if !loaded {
			return fresh
		}
		if ts := v.(*tokenSource); ts.secret == secret {
			return ts
		} else if c.tokens.CompareAndSwap(appID, ts, fresh) {
			return fresh
		}
	}
}

// get returns a valid token: the cached one unless force, else the result of the refresh in flight or of a
// new one. Concurrent callers share one request.
func (ts *tokenSource) get(ctx context.Context, force bool) (string, error) {
	ts.mu.Lock()
	if !force && ts.tok != "" && ts.c.clock.Now().Before(ts.refresh) {
		tok := ts.tok
		ts.mu.Unlock()
		return tok, nil
	}
	call := ts.inflight
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		ts.inflight = call
		go ts.run(context.WithoutCancel(ctx), call)
	}
	ts.mu.Unlock()
	select {
	case <-call.done:
		return call.tok, call.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: %w", ErrToken, ctx.Err())
	}
}

// invalidate drops the cached token if it is tok (the API refused it).
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	if ts.tok == tok {
		ts.tok = ""
	}
	ts.mu.Unlock()
}

func (ts *tokenSource) run(ctx context.Context, call *tokenCall) {
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tok, lifetime, err := ts.fetch(ctx)
	now := ts.c.clock.Now()
	ts.mu.Lock()
	if err == nil {
		margin := 5 * time.Minute
		if lifetime < 2*margin {
			margin = lifetime / 2
		}
		ts.tok, ts.refresh = tok, now.Add(lifetime-margin)
	}
	ts.inflight = nil
	call.tok, call.err = tok, err
	close(call.done)
	ts.mu.Unlock()
}

func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ts.appID},
		"client_secret": {ts.secret},
		"scope":         {ts.c.o.scope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.c.o.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &TokenError{Description: err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.c.http.Do(req)
	if err != nil {
		return "", 0, &TokenError{Description: err.Error(), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, &TokenError{Status: resp.StatusCode, Description: "reading the answer: " + err.Error(), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		var e schema.TokenError
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error, e.ErrorDescription = http.StatusText(resp.StatusCode), truncate(string(body), 300)
		}
		return "", 0, &TokenError{Status: resp.StatusCode, Code: e.Error, Description: e.ErrorDescription}
	}
	var tr schema.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		return "", 0, &TokenError{Status: resp.StatusCode, Code: "invalid_response",
			Description: "the answer has no access_token and expires_in: " + truncate(string(body), 300)}
	}
	ts.c.log.Debug("botframework: token obtained", "app_id", ts.appID, "expires_in", tr.ExpiresIn)
	return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
