package bftest

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/eventually"
)

func call(t *testing.T, s *Server, method, path, token, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	tok, err := s.AccessToken()
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithApp("app-1", "s3cret"))
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"ok", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {"s3cret"}, "scope": {schema.Scope}}, 200, ""},
		{"ok with more scopes", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {"s3cret"}, "scope": {"openid " + schema.Scope}}, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {"nope"}, "scope": {schema.Scope}}, 401, "invalid_client"},
		{"unknown app", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-2"}, "client_secret": {"s3cret"}, "scope": {schema.Scope}}, 400, "unauthorized_client"},
		{"wrong scope", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {"s3cret"}, "scope": {"https://graph.microsoft.com/.default"}}, 400, "invalid_scope"},
		{"wrong grant", url.Values{"grant_type": {"password"}, "client_id": {"app-1"}, "client_secret": {"s3cret"}, "scope": {schema.Scope}}, 400, "unsupported_grant_type"},
	}
	issued := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.PostForm(s.TokenURL(), tt.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantError != "" {
				var e schema.TokenError
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error != tt.wantError || e.ErrorDescription == "" {
					t.Fatalf("error body %+v, %v; want %s", e, err, tt.wantError)
				}
				return
			}
			issued++
			var tr schema.TokenResponse
			if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
				t.Fatal(err)
			}
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.AccessToken == "" {
				t.Fatalf("token response %+v", tr)
			}
			// The token opens the Connector API.
			r, body := call(t, s, "POST", "/v3/conversations/c1/activities", "Bearer "+tr.AccessToken, `{"type":"message","text":"x"}`)
			if r.StatusCode != 200 {
				t.Fatalf("connector with issued token: %d %s", r.StatusCode, body)
			}
		})
	}
	if s.TokensIssued() != issued {
		t.Fatalf("TokensIssued = %d, want %d", s.TokensIssued(), issued)
	}
}

func TestConnectorAPI(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	tok := token(t, s)
	teams := "19:abc@thread.skype;messageid=1520/x"
	escTeams := schema.EscapeSegment(teams)

	// Send, then reply, update and delete the activity the fake created.
	resp, body := call(t, s, "POST", "/v3/conversations/"+escTeams+"/activities", tok,
		`{"type":"message","text":"hello","from":{"id":"28:bot"},"unknownField":[1,2]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	var rr schema.ResourceResponse
	if err := json.Unmarshal(body, &rr); err != nil || !strings.HasPrefix(rr.ID, teams+"|") {
		t.Fatalf("send answer %s, %v", body, err)
	}
	actPath := "/v3/conversations/" + escTeams + "/activities/" + schema.EscapeSegment(rr.ID)

	tests := []struct {
		name, method, path, token, body string
		wantStatus                      int
		wantCode                        string
		wantOp                          Op
	}{
		{"reply", "POST", actPath, tok, `{"type":"message","text":"re"}`, 200, "", OpReply},
		{"update", "PUT", actPath, tok, `{"type":"message","text":"edited"}`, 200, "", OpUpdate},
		{"update unknown", "PUT", "/v3/conversations/c/activities/nope", tok, `{"type":"message"}`, 404, "ActivityNotFound", OpUpdate},
		{"no token", "POST", "/v3/conversations/c/activities", "", `{"type":"message"}`, 401, "Unauthorized", OpSend},
		{"empty bearer", "POST", "/v3/conversations/c/activities", "Bearer ", `{"type":"message"}`, 401, "Unauthorized", OpSend},
		{"bad token", "POST", "/v3/conversations/c/activities", "Bearer abc.def.ghi", `{"type":"message"}`, 401, "Unauthorized", OpSend},
		{"bad json", "POST", "/v3/conversations/c/activities", tok, `{"type":`, 400, "BadArgument", OpSend},
		{"no type", "POST", "/v3/conversations/c/activities", tok, `{"text":"x"}`, 400, "BadArgument", OpSend},
		{"too big", "POST", "/v3/conversations/c/activities", tok,
			`{"type":"message","text":"` + strings.Repeat("a", schema.MaxActivityBytes) + `"}`, 413, "MessageSizeTooBig", OpSend},
		{"not allowed", "PUT", "/v3/conversations/c/activities", tok, `{}`, 405, "MethodNotAllowed", ""},
		{"no such path", "POST", "/v3/conversations/c/members", tok, `{}`, 404, "NotFound", ""},
		{"delete", "DELETE", actPath, tok, ``, 200, "", OpDelete},
		{"delete again", "DELETE", actPath, tok, ``, 404, "ActivityNotFound", OpDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(s.Records())
			resp, body := call(t, s, tt.method, tt.path, tt.token, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			corr := resp.Header.Get(schema.CorrelationHeader)
			if corr == "" {
				t.Fatal("no correlation header")
			}
			if tt.wantCode != "" {
				var e schema.ErrorResponse
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tt.wantCode || e.Error.Message == "" {
					t.Fatalf("error body %s, %v; want code %s", body, err, tt.wantCode)
				}
			}
			recs := s.Records()
			if len(recs) != n+1 {
				t.Fatalf("%d records, want %d", len(recs), n+1)
			}
			r := recs[n]
			if r.Status != tt.wantStatus || r.Op != tt.wantOp || r.RawPath != tt.path || r.CorrelationID != corr {
				t.Fatalf("record %+v", r)
			}
		})
	}
	acts := s.Activities()
	if len(acts) != 4 {
		t.Fatalf("%d accepted, want 4 (send, reply, update, delete)", len(acts))
	}
	if acts[0].ConversationID != teams || acts[0].RawPath != "/v3/conversations/19%3Aabc%40thread.skype%3Bmessageid%3D1520%2Fx/activities" ||
		acts[0].Activity.Text != "hello" || acts[0].AppID != s.AppID() || acts[0].ID != rr.ID {
		t.Fatalf("send record %+v", acts[0])
	}
	if acts[1].ActivityID != rr.ID || acts[1].Activity.Text != "re" || acts[2].ID != rr.ID || acts[2].Activity.Text != "edited" {
		t.Fatalf("reply/update records %+v %+v", acts[1], acts[2])
	}
}

func TestNoAuth(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithNoAuth())
	tests := []struct {
		name, header string
		want         int
	}{
		{"no header", "", 200},
		{"empty bearer", "Bearer", 200},
		{"empty bearer with space", "Bearer   ", 200},
		{"invalid bearer", "Bearer not-a-token", 401},
		{"other scheme", "Basic dXNlcjpwYXNz", 401},
		{"valid bearer", token(t, s), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, s, "POST", "/v3/conversations/c/activities", tt.header, `{"type":"message"}`)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
		})
	}
	// The webhook gets no token.
	got := make(chan *http.Request, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	defer hook.Close()
	if _, err := s.SendUserMessage(context.Background(), hook.URL, "c", "u", "hi"); err != nil {
		t.Fatal(err)
	}
	if h := (<-got).Header.Get("Authorization"); h != "" {
		t.Fatalf("NoAuth sent Authorization %q", h)
	}
}

// fetchKeys reads the fake's OpenID metadata and JWKS as a bot would.
func fetchKeys(t *testing.T, s *Server) map[string]schema.JWK {
	t.Helper()
	var md schema.OpenIDMetadata
	getJSON(t, s.OpenIDMetadataURL(), &md)
	if md.Issuer != schema.Issuer || md.JWKSURI == "" {
		t.Fatalf("metadata %+v", md)
	}
	var set schema.JWKS
	getJSON(t, md.JWKSURI, &set)
	keys := map[string]schema.JWK{}
	for _, k := range set.Keys {
		keys[k.Kid] = k
	}
	return keys
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func publicKey(t *testing.T, k schema.JWK) *rsa.PublicKey {
	t.Helper()
	n, err1 := base64.RawURLEncoding.DecodeString(k.N)
	e, err2 := base64.RawURLEncoding.DecodeString(k.E)
	if err1 != nil || err2 != nil || k.Kty != "RSA" {
		t.Fatalf("bad jwk %+v", k)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

func TestSendUserMessage(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewServer(t, WithClock(fake), WithChannelID("skype"))
	type got struct {
		auth string
		body []byte
	}
	ch := make(chan got, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- got{r.Header.Get("Authorization"), b}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()

	att := schema.Attachment{ContentType: "image/png", ContentURL: "https://files.example/cat.png", Name: "cat.png"}
	id, err := s.SendUserMessage(context.Background(), hook.URL, "conv/1", "29:user", "hi :smile:", att)
	if err != nil {
		t.Fatal(err)
	}
	g := <-ch
	var a schema.Activity
	if err := json.Unmarshal(g.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != id || a.Type != "message" || a.Text != "hi :smile:" || a.Conversation.ID != "conv/1" || a.From.ID != "29:user" ||
		a.Recipient != s.Bot() || a.ChannelID != "skype" || a.ServiceURL != s.ServiceURL() || a.TextFormat != "plain" ||
		!a.Timestamp.Equal(fake.Now()) || len(a.Attachments) != 1 || a.Attachments[0].ContentURL != att.ContentURL || a.Attachments[0].Name != att.Name {
		t.Fatalf("activity %+v", a)
	}
	// The token: RS256 by a published key that endorses the channel, with exactly the real claim names.
	keys := fetchKeys(t, s)
	raw := strings.TrimPrefix(g.auth, "Bearer ")
	var claims jwt.MapClaims
	tok, err := jwt.ParseWithClaims(raw, &claims, func(tk *jwt.Token) (any, error) {
		k, ok := keys[tk.Header["kid"].(string)]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		found := false
		for _, e := range k.Endorsements {
			found = found || e == "skype"
		}
		if !found {
			return nil, errors.New("not endorsed")
		}
		return publicKey(t, k), nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(fake.Now))
	if err != nil || !tok.Valid {
		t.Fatalf("token: %v", err)
	}
	want := map[string]any{"iss": schema.Issuer, "aud": s.AppID(), "serviceurl": s.ServiceURL(),
		"exp": float64(fake.Now().Add(time.Hour).Unix()), "nbf": float64(fake.Now().Unix()), "iat": float64(fake.Now().Unix())}
	if len(claims) != len(want) {
		t.Fatalf("claims %v, want %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Fatalf("claim %s = %v, want %v", k, claims[k], v)
		}
	}

	// A webhook error is a *WebhookError; a missing conversation is refused before sending.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusUnauthorized)
	}))
	defer bad.Close()
	_, err = s.SendUserMessage(context.Background(), bad.URL, "c", "u", "x")
	var we *WebhookError
	if !errors.As(err, &we) || we.StatusCode != 401 || !strings.Contains(we.Body, "nope") {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.SendActivity(context.Background(), bad.URL, schema.Activity{}); !errors.Is(err, ErrNoConversation) {
		t.Fatalf("err = %v", err)
	}
}

// TestSendContactRelationAndName: the fake plays block, unblock and a named group conversation with the
// activities the service sends for them.
func TestSendContactRelationAndName(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithChannelID("skype"))
	got := make(chan schema.Activity, 3)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a schema.Activity
		_ = json.NewDecoder(r.Body).Decode(&a)
		got <- a
	}))
	defer hook.Close()
	ctx := context.Background()
	for _, action := range []string{schema.ActionRemove, schema.ActionAdd} {
		id, err := s.SendContactRelation(ctx, hook.URL, "conv/2", "29:ann", action)
		if err != nil {
			t.Fatal(err)
		}
		if a := <-got; a.ID != id || a.Type != schema.TypeContactRelation || a.Action != action || a.From.ID != "29:ann" ||
			a.Conversation.ID != "conv/2" || a.Recipient != s.Bot() || a.ServiceURL != s.ServiceURL() || a.TextFormat != "" {
			t.Fatalf("%s: activity %+v", action, a)
		}
	}
	if _, err := s.SendConversationName(ctx, hook.URL, "19:group", "Support team", "29:ann"); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a.Type != schema.TypeConversationUpdate || a.Conversation.Name != "Support team" || !a.Conversation.IsGroup || a.From.ID != "29:ann" {
		t.Fatalf("conversationUpdate %+v", a)
	}
}

func TestMintTokenVariants(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewServer(t, WithClock(fake))
	keys := fetchKeys(t, s)
	verify := func(raw string) (jwt.MapClaims, error) {
		var c jwt.MapClaims
		_, err := jwt.ParseWithClaims(raw, &c, func(tk *jwt.Token) (any, error) {
			kid, _ := tk.Header["kid"].(string)
			k, ok := keys[kid]
			if !ok {
				return nil, errors.New("unknown kid " + kid)
			}
			return publicKey(t, k), nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(fake.Now), jwt.WithExpirationRequired())
		return c, err
	}
	tests := []struct {
		name    string
		c       Claims
		wantErr bool
		check   func(jwt.MapClaims) bool
	}{
		{"default", Claims{}, false, func(c jwt.MapClaims) bool { return c["serviceurl"] == s.ServiceURL() }},
		{"issuer", Claims{Issuer: "https://evil.example"}, false, func(c jwt.MapClaims) bool { return c["iss"] == "https://evil.example" }},
		{"audience", Claims{Audience: "other"}, false, func(c jwt.MapClaims) bool { return c["aud"] == "other" }},
		{"no serviceurl", Claims{OmitServiceURL: true}, false, func(c jwt.MapClaims) bool { _, ok := c["serviceurl"]; return !ok }},
		{"expired", Claims{ExpiresAt: fake.Now().Add(-time.Minute)}, true, nil},
		{"foreign key", Claims{ForeignKey: true}, true, nil},
		{"unknown kid", Claims{ForeignKey: true, KeyID: "nope"}, true, nil},
		{"hs256", Claims{HS256: true}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := s.MintToken(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			c, err := verify(raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("verify err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.check != nil && !tt.check(c) {
				t.Fatalf("claims %v", c)
			}
		})
	}

	// After a rotation both keys are published and new tokens use the new one.
	old := s.KeyID()
	kid, err := s.RotateKey()
	if err != nil || kid == old || s.KeyID() != kid {
		t.Fatalf("rotate: %q %v", kid, err)
	}
	keys = fetchKeys(t, s)
	if _, ok := keys[old]; !ok || len(keys) != 2 {
		t.Fatalf("keys after rotation: %v", keys)
	}
	raw, _ := s.MintToken(Claims{})
	tok, _, _ := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if tok.Header["kid"] != kid {
		t.Fatalf("kid %v, want %s", tok.Header["kid"], kid)
	}
	if _, err := verify(raw); err != nil {
		t.Fatal(err)
	}
}

func TestFailures(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewServer(t, WithNoAuth(), WithClock(fake))
	s.Fail(Failure{Status: 429, RetryAfter: "3", Times: 2})
	s.Fail(Failure{Status: 500, Code: "Boom", Message: "kaput"})
	for i, want := range []int{429, 429, 500, 200} {
		resp, body := call(t, s, "POST", "/v3/conversations/c/activities", "", `{"type":"message"}`)
		if resp.StatusCode != want {
			t.Fatalf("call %d: %d, want %d", i, resp.StatusCode, want)
		}
		if want == 429 && resp.Header.Get("Retry-After") != "3" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		if want == 500 && !strings.Contains(string(body), `"code":"Boom","message":"kaput"`) {
			t.Fatalf("body %s", body)
		}
	}
	if s.Count(EndpointConnector) != 4 || len(s.Records()) != 4 || len(s.Activities()) != 1 {
		t.Fatalf("count %d, records %d", s.Count(EndpointConnector), len(s.Records()))
	}

	// Token endpoint failures answer in OAuth's error shape.
	s.Fail(Failure{Endpoint: EndpointToken, Status: 503})
	resp, err := http.PostForm(s.TokenURL(), url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"error":"ServiceUnavailable"`) {
		t.Fatalf("token failure %d %s", resp.StatusCode, b)
	}

	// Delay waits on the server's clock.
	s.Fail(Failure{Delay: time.Minute})
	done := make(chan int)
	go func() {
		resp, _ := call(t, s, "POST", "/v3/conversations/c/activities", "", `{"type":"message"}`)
		done <- resp.StatusCode
	}()
	eventually.True(t, 10*time.Second, "the delay to wait on the clock", func() bool {
		select {
		case st := <-done:
			t.Fatalf("answered %d before the delay", st)
		default:
		}
		return fake.Waiters() > 0
	})
	fake.Advance(time.Minute)
	if st := <-done; st != 200 {
		t.Fatalf("delayed status %d", st)
	}

	// Hold until released; a client that gives up is not recorded.
	release := make(chan struct{})
	s.Fail(Failure{Hold: release, Status: 502})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.URL()+"/v3/conversations/c/activities", strings.NewReader(`{"type":"message"}`))
	errc := make(chan error)
	go func() {
		_, err := http.DefaultClient.Do(req)
		errc <- err
	}()
	if err := s.WaitCount(context.Background(), EndpointConnector, 6); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("held request: %v", err)
	}
	close(release)
	if n := len(s.Records()); n != 5 {
		t.Fatalf("%d records, want 5", n)
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithNoAuth())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var got Record
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err = s.WaitFor(ctx, All(ByConversation("a/b"), ByOp(OpSend), ByText("two")))
	}()
	for _, text := range []string{"one", "two"} {
		call(t, s, "POST", "/v3/conversations/a%2Fb/activities", "", `{"type":"message","text":"`+text+`"}`)
	}
	wg.Wait()
	if err != nil || got.Activity.Text != "two" {
		t.Fatalf("WaitFor = %+v, %v", got, err)
	}
	recs, err := s.WaitRecords(ctx, 2)
	if err != nil || len(recs) != 2 || recs[0].Activity.Text != "one" {
		t.Fatalf("WaitRecords = %v, %v", recs, err)
	}
	short, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := s.WaitFor(short, ByText("never")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.WaitRecords(short, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if r := s.Expect(t, ByText("one")); r.ConversationID != "a/b" {
		t.Fatalf("Expect = %+v", r)
	}
}

func TestCloseReleasesHold(t *testing.T) {
	t.Parallel()
	s, err := Start(Config{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Fail(Failure{Hold: make(chan struct{}), Status: 500})
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(s.URL()+"/v3/conversations/c/activities", "application/json", strings.NewReader(`{"type":"message"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	if err := s.WaitCount(context.Background(), EndpointConnector, 1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	<-done
	s.Close() // idempotent
}

func TestStartBadAddr(t *testing.T) {
	t.Parallel()
	if _, err := Start(Config{Addr: "256.0.0.1:99999"}); err == nil {
		t.Fatal("want error")
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := NewServer(t, WithTLS())
	if !strings.HasPrefix(s.URL(), "https://") || len(s.CertificatePEM()) == 0 {
		t.Fatalf("url %s", s.URL())
	}
	var md map[string]any
	resp, err := s.Client().Get(s.URL() + AADOpenIDPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || md["token_endpoint"] != s.TokenURL() {
		t.Fatalf("aad metadata %v %v", md, err)
	}
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	s := NewServer(t)
	u := s.AddAttachment("image/png", []byte("\x89PNG..."))
	if !strings.HasPrefix(u, s.ServiceURL()+"v3/attachments/") {
		t.Fatalf("url %s", u)
	}
	path := strings.TrimPrefix(u, s.URL())
	tests := []struct {
		name, path, token string
		want              int
	}{
		{"no token", path, "", 401},
		{"token", path, token(t, s), 200},
		{"unknown", "/v3/attachments/nope/views/original", token(t, s), 404},
		{"other view", strings.Replace(path, "original", "thumbnail", 1), token(t, s), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, s, "GET", tt.path, tt.token, "")
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.want == 200 && (string(body) != "\x89PNG..." || resp.Header.Get("Content-Type") != "image/png") {
				t.Fatalf("body %q type %q", body, resp.Header.Get("Content-Type"))
			}
		})
	}
	if s.Count(EndpointAttachments) != 4 {
		t.Fatalf("count %d", s.Count(EndpointAttachments))
	}
}
