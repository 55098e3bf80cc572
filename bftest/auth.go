package bftest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/olctl/olctl/connector/botframework/schema"
)

// connectorAudience is the audience of the access tokens the token endpoint issues: the resource of
// schema.Scope.
const connectorAudience = "https://api.botframework.com"

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// RotateKey generates a new signing key, publishes it in the JWKS next to the old ones and signs the following
// webhook tokens with it. It returns the new key id. A bot that cached the old key set must fetch it again when it
// sees the new key id.
func (s *Server) RotateKey() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	kid := randomHex(12)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, signingKey{kid: kid, key: k})
	return kid, nil
}

// KeyID returns the id of the key that signs webhook tokens now.
func (s *Server) KeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1].kid
}

// Claims describes a webhook token for MintToken. The zero value mints the token the real service would send
// for the fake's bot; each field changes one thing, so tests can mint every kind of bad token.
type Claims struct {
	// Issuer is the iss claim. Default schema.Issuer.
	Issuer string
	// Audience is the aud claim. Default the app id.
	Audience string
	// ServiceURL is the serviceurl claim. Default Server.ServiceURL().
	ServiceURL string
	// OmitServiceURL leaves the serviceurl claim out.
	OmitServiceURL bool
	// IssuedAt, NotBefore and ExpiresAt date the token. Defaults: now, now, now + TokenLifetime.
	IssuedAt, NotBefore, ExpiresAt time.Time
	// KeyID is the kid header. Default the id of the signing key.
	KeyID string
	// ForeignKey signs with a fresh key the fake never publishes (a bad signature, or with KeyID set to an
	// unknown id, an unknown key).
	ForeignKey bool
	// HS256 signs with HMAC-SHA256 keyed with the app secret instead of RS256 (the algorithm-confusion attack).
	HS256 bool
}

// MintToken returns a webhook bearer token as c describes, signed RS256 with the fake's current key unless c says
// otherwise. Its claims are exactly those of the real service: iss, aud, exp, nbf, iat and the lower-case
// serviceurl.
func (s *Server) MintToken(c Claims) (string, error) {
	now := s.clock.Now()
	if c.Issuer == "" {
		c.Issuer = schema.Issuer
	}
	if c.Audience == "" {
		c.Audience = s.cfg.AppID
	}
	if c.ServiceURL == "" {
		c.ServiceURL = s.ServiceURL()
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(s.cfg.TokenLifetime)
	}
	claims := jwt.MapClaims{
		"iss": c.Issuer,
		"aud": c.Audience,
		"iat": c.IssuedAt.Unix(),
		"nbf": c.NotBefore.Unix(),
		"exp": c.ExpiresAt.Unix(),
	}
	if !c.OmitServiceURL {
		claims[schema.ServiceURLClaim] = c.ServiceURL
	}
	s.mu.Lock()
	cur := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	if c.KeyID == "" {
		c.KeyID = cur.kid
	}
	if c.HS256 {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = c.KeyID
		return tok.SignedString([]byte(s.cfg.AppSecret))
	}
	key := cur.key
	if c.ForeignKey {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return "", fmt.Errorf("generate key: %w", err)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = c.KeyID
	return tok.SignedString(key)
}

func (s *Server) serveOpenID(w http.ResponseWriter, r *http.Request) {
	if s.applyFailure(w, r, s.takeFailure(EndpointOpenID)) {
		return
	}
	writeJSON(w, http.StatusOK, schema.OpenIDMetadata{
		Issuer:                           schema.Issuer,
		AuthorizationEndpoint:            s.URL() + "/v1/.well-known/authorize",
		JWKSURI:                          s.URL() + KeysPath,
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		TokenEndpointAuthMethods:         []string{"private_key_jwt"},
	})
}

func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	if s.applyFailure(w, r, s.takeFailure(EndpointKeys)) {
		return
	}
	s.mu.Lock()
	set := schema.JWKS{Keys: make([]schema.JWK, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jwk(k.kid, &k.key.PublicKey, s.cfg.Endorsements))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

func jwk(kid string, pub *rsa.PublicKey, endorsements []string) schema.JWK {
	return schema.JWK{
		Kty:          "RSA",
		Use:          "sig",
		Kid:          kid,
		N:            base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		Endorsements: endorsements,
	}
}

// serveAADOpenID answers the OpenID configuration of the token authority, which MSAL-based SDKs read to find
// the token endpoint.
func (s *Server) serveAADOpenID(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                aadIssuer,
		"authorization_endpoint":                s.AuthorityURL() + "/oauth2/v2.0/authorize",
		"token_endpoint":                        s.TokenURL(),
		"end_session_endpoint":                  s.AuthorityURL() + "/oauth2/v2.0/logout",
		"jwks_uri":                              s.URL() + aadKeysPath,
		"response_types_supported":              []string{"code", "id_token", "token"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
	})
}

func (s *Server) serveAADKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, schema.JWKS{Keys: []schema.JWK{jwk("aad", &s.aadKey.PublicKey, nil)}})
}

// serveToken is the OAuth 2.0 client-credentials grant, answering as Microsoft Entra ID does.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if s.applyFailure(w, r, s.takeFailure(EndpointToken)) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, schema.TokenError{Error: "invalid_request", ErrorDescription: "AADSTS900144: bad form: " + err.Error()})
		return
	}
	f := r.PostForm
	id, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok && id == "" {
		id, secret = u, p
	}
	s.mu.Lock()
	want, known := s.bots[id]
	s.mu.Unlock()
	switch {
	case f.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, schema.TokenError{Error: "unsupported_grant_type",
			ErrorDescription: "AADSTS70003: the grant_type must be client_credentials, got " + quote(f.Get("grant_type"))})
	case !hasScope(f.Get("scope")):
		writeJSON(w, http.StatusBadRequest, schema.TokenError{Error: "invalid_scope",
			ErrorDescription: "AADSTS70011: the scope must be " + schema.Scope + ", got " + quote(f.Get("scope"))})
	case !known:
		writeJSON(w, http.StatusBadRequest, schema.TokenError{Error: "unauthorized_client",
			ErrorDescription: "AADSTS700016: application " + quote(id) + " was not found in the directory"})
	case secret != want:
		writeJSON(w, http.StatusUnauthorized, schema.TokenError{Error: "invalid_client",
			ErrorDescription: "AADSTS7000215: invalid client secret provided"})
	default:
		tok, err := s.accessToken(id)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, schema.TokenError{Error: "server_error", ErrorDescription: err.Error()})
			return
		}
		s.mu.Lock()
		s.tokensIssued++
		s.mu.Unlock()
		secs := int64(s.cfg.TokenLifetime / time.Second)
		writeJSON(w, http.StatusOK, schema.TokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok})
	}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func hasScope(scopes string) bool {
	for _, sc := range strings.Fields(scopes) {
		if sc == schema.Scope {
			return true
		}
	}
	return false
}

func (s *Server) accessToken(appID string) (string, error) {
	now := s.clock.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   aadIssuer,
		"aud":   connectorAudience,
		"appid": appID,
		"ver":   "1.0",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(s.cfg.TokenLifetime).Unix(),
		"jti":   randomHex(8),
	})
	tok.Header["kid"] = "aad"
	return tok.SignedString(s.aadKey)
}

// AccessToken returns a valid access token for the Connector REST API, as the token endpoint would issue it
// (for tests that call the API directly).
func (s *Server) AccessToken() (string, error) { return s.accessToken(s.cfg.AppID) }

var errBadAccessToken = errors.New("bad access token")

// checkAccess validates an access token issued by the token endpoint and returns its app id.
func (s *Server) checkAccess(raw string) (string, error) {
	tok, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) { return &s.aadKey.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(aadIssuer),
		jwt.WithAudience(connectorAudience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.clock.Now))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errBadAccessToken, err)
	}
	claims, _ := tok.Claims.(jwt.MapClaims)
	appID, _ := claims["appid"].(string)
	s.mu.Lock()
	_, known := s.bots[appID]
	s.mu.Unlock()
	if !known {
		return "", fmt.Errorf("%w: unknown appid %q", errBadAccessToken, appID)
	}
	return appID, nil
}
