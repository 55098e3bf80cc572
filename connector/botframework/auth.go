package botframework

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
)

// Token validation parameters of the Bot Framework (as the SDKs apply them).
const (
	// ClockSkew is the tolerance on exp and nbf of webhook tokens.
	ClockSkew = 5 * time.Minute
	// KeysMaxAge is how long the signing keys are used before they are fetched again.
	KeysMaxAge = 24 * time.Hour
	// KeysMinRefresh is the least time between two fetches of the keys caused by an unknown key id, so that a
	// flood of forged tokens cannot turn into a flood of fetches.
	KeysMinRefresh = time.Minute
)

// ErrUnauthorized is matched (errors.Is) by every rejected webhook token.
var ErrUnauthorized = errors.New("botframework: unauthorized")

// ErrKeys is matched by failures to fetch the signing keys.
var ErrKeys = errors.New("botframework: fetching the signing keys failed")

type verifyKey struct {
	pub          *rsa.PublicKey
	endorsements []string
}

// keyCache holds the signing keys of the OpenID metadata, fetched one request at a time.
type keyCache struct {
	url   string
	http  *http.Client
	clock clock.Clock
	log   *slog.Logger

	mu       sync.Mutex
	keys     map[string]verifyKey
	fetched  time.Time // when keys were fetched
	tried    time.Time // when a fetch last started
	inflight chan struct{}
	fetchErr error
	fetches  int
}

// key returns the key kid. The key set is fetched when it is older than KeysMaxAge or lacks kid, at most once
// per KeysMinRefresh (concurrent callers join the fetch in flight). A stale key is still used when its
// refresh fails (the failure is logged).
func (k *keyCache) key(ctx context.Context, kid string) (verifyKey, error) {
	refreshed := false
	for {
		k.mu.Lock()
		now := k.clock.Now()
		key, ok := k.keys[kid]
		fresh := k.keys != nil && now.Sub(k.fetched) < KeysMaxAge
		if ok && fresh {
			k.mu.Unlock()
			return key, nil
		}
		mayStart := k.tried.IsZero() || now.Sub(k.tried) >= KeysMinRefresh
		if refreshed || k.inflight == nil && !mayStart {
			err := k.fetchErr
			k.mu.Unlock()
			switch {
			case ok:
				return key, nil
			case err != nil && (refreshed || k.keys == nil):
				return verifyKey{}, err
			}
			return verifyKey{}, fmt.Errorf("%w: unknown signing key id %q", ErrUnauthorized, kid)
		}
		wait := k.inflight
		if wait == nil {
			wait = make(chan struct{})
			k.inflight, k.tried = wait, now
			go k.refresh(context.WithoutCancel(ctx), wait)
		}
		k.mu.Unlock()
		select {
		case <-wait:
			refreshed = true
		case <-ctx.Done():
			return verifyKey{}, ctx.Err()
		}
	}
}

func (k *keyCache) refresh(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetches++
	k.fetchErr = err
	if err == nil {
		k.keys, k.fetched = keys, k.clock.Now()
	} else {
		k.log.Warn("botframework: fetching the signing keys", "url", k.url, "error", err)
	}
	k.inflight = nil
	close(done)
}

func (k *keyCache) fetch(ctx context.Context) (map[string]verifyKey, error) {
	var md schema.OpenIDMetadata
	if err := k.getJSON(ctx, k.url, &md); err != nil {
		return nil, err
	}
	if md.JWKSURI == "" {
		return nil, fmt.Errorf("%w: %s has no jwks_uri", ErrKeys, k.url)
	}
	var set schema.JWKS
	if err := k.getJSON(ctx, md.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]verifyKey, len(set.Keys))
	for _, j := range set.Keys {
		if j.Kty != "RSA" || j.Kid == "" || j.Use != "" && j.Use != "sig" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.N, "="))
		e, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.E, "="))
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			k.log.Warn("botframework: skipping a malformed signing key", "kid", j.Kid)
			continue
		}
		keys[j.Kid] = verifyKey{
			pub:          &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())},
			endorsements: j.Endorsements,
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s lists no RSA signing key", ErrKeys, md.JWKSURI)
	}
	return keys, nil
}

func (k *keyCache) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeys, err)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeys, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s", ErrKeys, u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrKeys, u, err)
	}
	return nil
}

// Fetches reports how many times the key set was fetched (tests).
func (k *keyCache) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

// bearer extracts the token of an Authorization header; an empty "Bearer" counts as no token.
func bearer(h string) (token string, present bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return h, true // another scheme: present, and invalid
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", false
	}
	return tok, true
}

// validate checks the webhook's bearer token against the activity, as the Bot Framework SDKs do: RS256 by a
// published key that endorses the activity's channel, issuer schema.Issuer, audience appID (any audience when
// appID is empty), exp and nbf with ClockSkew, and the serviceurl claim equal to the activity's serviceUrl. With
// anonymous set, a missing token is accepted. The signature, issuer and audience of a token are checked once
// (see verifiedTokens); the rest, which depends on the activity, the time and the published keys, every time.
func (c *Channel) validate(ctx context.Context, authorization string, a *schema.Activity, appID string, anonymous bool) error {
	raw, present := bearer(authorization)
	if !present {
		if anonymous {
			return nil
		}
		return fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	t, ok := c.verified.get(appID, raw)
	if !ok {
		var err error
		if t, err = c.verify(ctx, raw, appID); err != nil {
			return err
		}
		c.verified.put(appID, raw, t, c.clock.Now())
	}
	now := c.clock.Now()
	switch {
	case now.After(t.exp.Add(ClockSkew)):
		return fmt.Errorf("%w: the token expired at %v", ErrUnauthorized, t.exp)
	case !t.nbf.IsZero() && now.Add(ClockSkew).Before(t.nbf):
		return fmt.Errorf("%w: the token is not valid before %v", ErrUnauthorized, t.nbf)
	}
	k, err := c.keys.key(ctx, t.kid)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrKeys) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if len(k.endorsements) > 0 && !slices.Contains(k.endorsements, a.ChannelID) {
		return fmt.Errorf("%w: key %q does not endorse channel %q", ErrUnauthorized, t.kid, a.ChannelID)
	}
	if t.serviceURL != a.ServiceURL {
		return fmt.Errorf("%w: the token's %s %q is not the activity's serviceUrl %q", ErrUnauthorized,
			schema.ServiceURLClaim, t.serviceURL, a.ServiceURL)
	}
	return nil
}

// verify checks a token's signature by a published key, its algorithm, issuer, audience (appID, any when
// empty), exp and nbf, and returns what the checks of each activity need.
func (c *Channel) verify(ctx context.Context, raw, appID string) (verifiedToken, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(schema.Issuer),
		jwt.WithLeeway(ClockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(c.clock.Now),
	}
	if appID != "" {
		opts = append(opts, jwt.WithAudience(appID))
	}
	var keyErr error
	var t verifiedToken
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		t.kid, _ = tok.Header["kid"].(string)
		if t.kid == "" {
			return nil, errors.New("the token has no kid")
		}
		k, err := c.keys.key(ctx, t.kid)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return k.pub, nil
	}, opts...)
	if err != nil {
		if errors.Is(keyErr, ErrKeys) || errors.Is(keyErr, context.Canceled) || errors.Is(keyErr, context.DeadlineExceeded) {
			return t, keyErr
		}
		return t, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if exp, _ := claims.GetExpirationTime(); exp != nil {
		t.exp = exp.Time
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil {
		t.nbf = nbf.Time
	}
	t.serviceURL, _ = claims[schema.ServiceURLClaim].(string)
	if t.serviceURL == "" {
		return t, fmt.Errorf("%w: the token has no %s claim", ErrUnauthorized, schema.ServiceURLClaim)
	}
	return t, nil
}

// verifiedToken is what a webhook token that passed verify says.
type verifiedToken struct {
	kid        string
	exp, nbf   time.Time
	serviceURL string
}

// verifiedTokens remembers the tokens verified lately, by line app id and token. The service sends one token
// with many activities, and its RSA verification (about 45 µs) was a seventh of the connector's CPU per
// message at 2 000 messages/s; a token is only stored once verified, so nobody without the signing key can
// fill the cache, and it holds at most maxVerified tokens (about a megabyte).
type verifiedTokens struct {
	mu sync.Mutex
	m  map[tokenKey]verifiedToken
}

type tokenKey struct{ appID, raw string }

// maxVerified bounds verifiedTokens.
const maxVerified = 1024

func (v *verifiedTokens) get(appID, raw string) (verifiedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.m[tokenKey{appID, raw}]
	return t, ok
}

// put stores a verified token; when the cache is full it first drops the tokens expired at now, and all of
// them when none has.
func (v *verifiedTokens) put(appID, raw string, t verifiedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[tokenKey]verifiedToken{}
	}
	if len(v.m) >= maxVerified {
		for k, old := range v.m {
			if now.After(old.exp.Add(ClockSkew)) {
				delete(v.m, k)
			}
		}
		if len(v.m) >= maxVerified {
			clear(v.m)
		}
	}
	v.m[tokenKey{appID, raw}] = t
}
