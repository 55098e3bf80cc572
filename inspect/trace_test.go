package inspect

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// TestTrace: Options.Trace gets each packet, received and sent, as a block of text: the head line, the
// fields in order, DATA decoded, the answer and the notes, every secret masked.
func TestTrace(t *testing.T) {
	t.Parallel()
	const appSecret = "bf-app-secret-value"
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	clk := clock.NewFake(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	signer, err := wire.NewSigner(creds, clk)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rec := NewRecorder(Options{Clock: clk, Secrets: []string{licenceKey}, Trace: &out,
		Verify: func(f wire.Fields) error { return wire.Verify(f, creds, nil) }})
	srv := httptest.NewServer(rec.Incoming(verifying(rec, creds, clk)))
	defer srv.Close()

	settings := wire.NewMap("app_id", "app-1", "app_secret", appSecret, "note", "key "+licenceKey)
	post(t, srv.URL+"/pub/imconnector/", packetBody(t, signer, "receivingMessage", []any{settings}))
	c := &http.Client{Transport: rec.Outgoing(nil)}
	resp, err := c.Post(srv.URL+"/imwebhook/portal.php", "application/x-www-form-urlencoded",
		strings.NewReader(packetBody(t, signer, "testConnect", []any{})))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(out.String(), "HOST")
	for _, secret := range []string{appSecret, licenceKey} {
		if strings.Contains(got, secret) {
			t.Errorf("the trace shows %q:\n%s", secret, got)
		}
	}
	// md5 signatures over a fixed clock are the same every run; DATA is the masked one, encoded again.
	want := `<-- in #1 2030-01-02T03:04:05.000Z receivingMessage connector=botframework.webchat line=3 valid OK 0.0ms
    url         POST http://HOST/pub/imconnector/
    BX_COMMAND  receivingMessage
    BX_TYPE     CP
    LINE        3
    CONNECTOR   botframework.webchat
    BX_VERSION  1
    DATA        YToxOntpOjA7YTozOntzOjY6ImFwcF9pZCI7czo1OiJhcHAtMSI7czoxMDoiYXBwX3NlY3JldCI7czo4OiIqKioqKioqKiI7czo0OiJub3RlIjtzOjEyOiJrZXkgKioqKioqKioiO319
    BX_HASH     9e515ffa31bd4194a6057e4a5379b37f
    data        [{"app_id":"app-1","app_secret":"********","note":"key ********"}]
    answer      HTTP 200 {"OK":true,"DATA":[]}
    note        item 0 id 7 fired OnReceivedMessage
<-- in #2 2030-01-02T03:04:05.000Z testConnect connector=botframework.webchat line=3 valid OK 0.0ms
    url         POST http://HOST/imwebhook/portal.php
    BX_COMMAND  testConnect
    BX_TYPE     CP
    LINE        3
    CONNECTOR   botframework.webchat
    BX_VERSION  1
    DATA        czoxMzoiI0VNUFRZX0FSUkFZIyI7
    BX_HASH     d187594e171ce20cec06aef7519b7555
    data        []
    answer      HTTP 200 {"OK":true,"DATA":[]}
    note        item 0 id 7 fired OnReceivedMessage
--> out #3 2030-01-02T03:04:05.000Z testConnect connector=botframework.webchat line=3 signed OK 0.0ms
    url         POST http://HOST/imwebhook/portal.php
    BX_COMMAND  testConnect
    BX_TYPE     CP
    LINE        3
    CONNECTOR   botframework.webchat
    BX_VERSION  1
    DATA        czoxMzoiI0VNUFRZX0FSUkFZIyI7
    BX_HASH     d187594e171ce20cec06aef7519b7555
    data        []
    answer      HTTP 200 {"OK":true,"DATA":[]}
`
	// The packet sent is received by the same recorder's Incoming (#2), whose block comes first: blocks
	// come in the order of their ids.
	if got != want {
		t.Fatalf("trace\n%s\nwant\n%s", got, want)
	}
}

// TestTraceNetworkFailure: a packet that got no answer says why.
func TestTraceNetworkFailure(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	rec := NewRecorder(Options{Trace: &out})
	srv := httptest.NewServer(http.NotFoundHandler())
	target := srv.URL
	srv.Close()
	c := &http.Client{Transport: rec.Outgoing(nil)}
	body := "BX_COMMAND=listConnector&CONNECTOR=all&LINE=%23EMPTY%23&DATA=czowOiIiOw%3D%3D&BX_HASH=abc"
	if _, err := c.Post(target, "application/x-www-form-urlencoded", strings.NewReader(body)); err == nil {
		t.Fatal("a closed server answered")
	}
	got := out.String()
	if !strings.HasPrefix(got, "--> out #1 ") || !strings.Contains(got, " listConnector connector=all line=- signed NETWORK ") ||
		!regexp.MustCompile(`\n    answer      none: .*connection refused\n`).MatchString(got) {
		t.Fatalf("trace\n%s", got)
	}
}
