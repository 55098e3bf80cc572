// Package schema holds the Bot Framework Activity schema v3 types and the constants of the Bot Framework
// Connector service that both sides of olctl's Bot Framework support share: the channel
// (connector/botframework), which receives activities and calls the Connector REST API, and the fake service
// (bftest), which sends activities and implements that API.
//
// The JSON names are those of Microsoft's schema (botframework-schema). Unknown fields are accepted and ignored
// when decoding; zero times and empty values are not serialized.
package schema

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// Constants of the public Bot Framework service.
const (
	// Issuer is the issuer of the tokens the Bot Framework service sends to a bot's webhook.
	Issuer = "https://api.botframework.com"
	// OpenIDMetadataURL is where the service publishes the OpenID metadata whose jwks_uri lists the keys
	// that sign the tokens sent to a bot.
	OpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	// TokenURL is the OAuth 2.0 client-credentials endpoint where a bot obtains the token for calls to the
	// Connector REST API.
	TokenURL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
	// Scope is the scope a bot requests with the client-credentials grant.
	Scope = "https://api.botframework.com/.default"
	// ServiceURLClaim is the name of the JWT claim that carries the activity's serviceUrl. Lower case, as the
	// service sends it.
	ServiceURLClaim = "serviceurl"
	// MaxActivityBytes is the largest activity body the Connector REST API accepts.
	MaxActivityBytes = 262144
	// CorrelationHeader is the response header the Connector service sets for support requests.
	CorrelationHeader = "X-Correlating-OperationId"
)

// Activity types.
const (
	TypeMessage            = "message"
	TypeMessageUpdate      = "messageUpdate"
	TypeMessageDelete      = "messageDelete"
	TypeTyping             = "typing"
	TypeConversationUpdate = "conversationUpdate"
	TypeContactRelation    = "contactRelationUpdate"
	TypeEvent              = "event"
	TypeInvoke             = "invoke"
	TypeEndOfConversation  = "endOfConversation"
)

// Actions of a contactRelationUpdate activity.
const (
	ActionAdd    = "add"    // the user added (or unblocked) the bot
	ActionRemove = "remove" // the user removed (or blocked) the bot
)

// Text formats.
const (
	TextFormatPlain    = "plain"
	TextFormatMarkdown = "markdown"
	TextFormatXML      = "xml"
)

// Activity is a Bot Framework activity (schema v3). Fields this project does not use are kept only when they are
// listed here; unknown fields are ignored when decoding.
type Activity struct {
	Type           string              `json:"type"`
	ID             string              `json:"id,omitempty"`
	Timestamp      time.Time           `json:"timestamp,omitzero"`
	LocalTimestamp time.Time           `json:"localTimestamp,omitzero"`
	LocalTimezone  string              `json:"localTimezone,omitempty"`
	ServiceURL     string              `json:"serviceUrl,omitempty"`
	ChannelID      string              `json:"channelId,omitempty"`
	From           ChannelAccount      `json:"from,omitzero"`
	Conversation   ConversationAccount `json:"conversation,omitzero"`
	Recipient      ChannelAccount      `json:"recipient,omitzero"`
	TextFormat     string              `json:"textFormat,omitempty"`
	Locale         string              `json:"locale,omitempty"`
	Text           string              `json:"text,omitempty"`
	Summary        string              `json:"summary,omitempty"`
	Attachments    []Attachment        `json:"attachments,omitempty"`
	Entities       []json.RawMessage   `json:"entities,omitempty"`
	ChannelData    json.RawMessage     `json:"channelData,omitempty"`
	ReplyToID      string              `json:"replyToId,omitempty"`
	MembersAdded   []ChannelAccount    `json:"membersAdded,omitempty"`
	MembersRemoved []ChannelAccount    `json:"membersRemoved,omitempty"`
	Name           string              `json:"name,omitempty"`
	Value          json.RawMessage     `json:"value,omitempty"`
	Action         string              `json:"action,omitempty"`
}

// ChannelAccount is a user or bot on a channel.
type ChannelAccount struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	Role        string `json:"role,omitempty"`
}

// ConversationAccount is a conversation (chat).
type ConversationAccount struct {
	ID               string `json:"id"`
	Name             string `json:"name,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

// Attachment is a file or card in an activity. Files travel as links in ContentURL.
type Attachment struct {
	ContentType  string          `json:"contentType"`
	ContentURL   string          `json:"contentUrl,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	Name         string          `json:"name,omitempty"`
	ThumbnailURL string          `json:"thumbnailUrl,omitempty"`
}

// ResourceResponse is the Connector REST API's answer to a created or updated activity.
type ResourceResponse struct {
	ID string `json:"id"`
}

// ErrorResponse is the body of a Connector REST API error.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is the code and message of an ErrorResponse.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TokenResponse is the answer of the OAuth token endpoint to a client-credentials grant.
type TokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in,omitempty"`
	AccessToken  string `json:"access_token"`
}

// TokenError is the answer of the OAuth token endpoint to a refused grant.
type TokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// OpenIDMetadata is the part of an OpenID provider configuration a bot reads.
type OpenIDMetadata struct {
	Issuer                           string   `json:"issuer"`
	AuthorizationEndpoint            string   `json:"authorization_endpoint,omitempty"`
	JWKSURI                          string   `json:"jwks_uri"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one RSA signing key of a JWKS. Bot Framework keys carry endorsements: the channel ids the key may sign
// activities for.
type JWK struct {
	Kty          string   `json:"kty"`
	Use          string   `json:"use,omitempty"`
	Kid          string   `json:"kid"`
	N            string   `json:"n"`
	E            string   `json:"e"`
	X5t          string   `json:"x5t,omitempty"`
	X5c          []string `json:"x5c,omitempty"`
	Endorsements []string `json:"endorsements,omitempty"`
}

// EscapeSegment escapes s for use as one path segment, as JavaScript's encodeURIComponent does (and so the
// Bot Framework SDKs): everything but letters, digits and -_.!~*'() is percent-encoded, including '/', ':' and
// ';'. url.PathEscape leaves ':' alone and path.Join or url.JoinPath would split an id at '/'.
func EscapeSegment(s string) string {
	const upper = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upper[c>>4], upper[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}

// ActivitiesURL returns {serviceURL}/v3/conversations/{conversationID}/activities, or with a non-empty
// activityID …/activities/{activityID}, each id escaped as one path segment. serviceURL may have a path of its
// own (e.g. https://smba.trafficmanager.net/emea/); a trailing slash is dropped.
func ActivitiesURL(serviceURL, conversationID, activityID string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", &url.Error{Op: "parse", URL: serviceURL, Err: errNotHTTP}
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(u.EscapedPath(), "/"))
	b.WriteString("/v3/conversations/")
	b.WriteString(EscapeSegment(conversationID))
	b.WriteString("/activities")
	if activityID != "" {
		b.WriteByte('/')
		b.WriteString(EscapeSegment(activityID))
	}
	raw := b.String()
	u.Path, err = url.PathUnescape(raw)
	if err != nil {
		return "", err
	}
	u.RawPath = raw
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errNotHTTP = constError("service URL is not an absolute http(s) URL")
