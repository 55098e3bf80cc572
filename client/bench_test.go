package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/wire"
)

// benchSettings are the arguments of the saveSettings call every client benchmark makes.
var benchSettings = Settings{"bot_handle": "helpdesk", "app_id": "6f3c2a1e-0000-4b5b-9c1d-2f6a7e8b9c0d",
	"app_secret": "Zx9!mPq2$Lk7#Wr4", "welcome": strings.Repeat("Hello, how can we help? ", 4)}

// BenchmarkCall measures a signed Call round trip (encode + sign + POST + parse the answer + decode DATA)
// against a bare handler that answers OK without verifying, next to the baseline: a plain http.Post of a body
// of the same size to the same handler, reading the answer. Both use http.DefaultClient's transport with
// keep-alive. The client's own overhead is olctl/baseline - 1 (goal: under 15 %).
func BenchmarkCall(b *testing.B) {
	okBody := []byte(`{"OK":true,"DATA":{"RESULT":"OK","ID":"12345","NAME":"Helpdesk bot"}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(okBody)
	}))
	defer srv.Close()
	settings := benchSettings
	ctx := context.Background()

	newClient := func(b *testing.B, opts ...Option) *Client {
		all := append([]Option{WithDomain(testDomain), WithLicenceKey(testLicenceKey), WithConnector("botframework.skype"),
			WithLine("3"), WithHTTPClient(http.DefaultClient)}, opts...)
		c, err := New(srv.URL, all...)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	run := func(b *testing.B, c *Client) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			res, err := c.Call(ctx, "saveSettings", settings)
			if err != nil || len(res.Raw) == 0 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	}
	b.Run("olctl", func(b *testing.B) { run(b, newClient(b)) })
	b.Run("olctl-hmac", func(b *testing.B) { run(b, newClient(b, WithHMAC(testSecret))) })
	b.Run("baseline", func(b *testing.B) {
		// A body of the size the client sends.
		c := newClient(b)
		fields, err := (&wire.Packet{Command: "saveSettings", Licence: c.licence, Domain: testDomain,
			Version: c.cfg.version, Connector: "botframework.skype", Line: "3", Data: []any{settings}}).Encode(wire.ToServer)
		if err != nil {
			b.Fatal(err)
		}
		signed, _ := c.signer.Sign(fields)
		body := []byte(signed.Encode())
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(got) != len(okBody) {
				b.Fatal(err, resp.StatusCode)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	})
}

// BenchmarkEncodeSign is the client's own work per call as issue 3 defines it (encode + sign + decode), with
// no network: the packet's encoding, its signature and form body, and the parsing of a typical answer, as
// Call does them. make bench sets it against BenchmarkCall/olctl (a whole round trip) from the same run; its
// baseline here is building and form-encoding the same fields with no signature and no answer.
func BenchmarkEncodeSign(b *testing.B) {
	c, err := New("http://127.0.0.1:1", WithDomain(testDomain), WithLicenceKey(testLicenceKey))
	if err != nil {
		b.Fatal(err)
	}
	answerBody := []byte(`{"OK":true,"DATA":{"RESULT":"OK","ID":"12345","NAME":"Helpdesk bot"}}`)
	p := wire.Packet{Command: "saveSettings", Licence: c.licence, Domain: testDomain, Version: c.cfg.version,
		Connector: "botframework.skype", Line: "3", Data: []any{benchSettings}}
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fields, err := p.Encode(wire.ToServer)
			if err != nil {
				b.Fatal(err)
			}
			signed, _ := c.signer.Sign(fields)
			_ = signed.AppendEncode(make([]byte, 0, 1024))
			if env, err := parseResponse(answerBody); err != nil || len(env.Data) == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fields, err := p.Encode(wire.ToServer)
			if err != nil {
				b.Fatal(err)
			}
			_ = fields.Encode()
		}
	})
}

// cannedTransport answers every request in memory with the same body: no sockets, no server.
type cannedTransport struct{ body []byte }

func (t cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: int64(len(t.body)),
		Body: io.NopCloser(bytes.NewReader(t.body)), Request: r}, nil
}

// BenchmarkClientCPU isolates the client's own work per call with an in-memory transport: olctl is a signed
// Call (resty, encode, sign, parse, decode); baseline is http.Client.Post of a same-size body reading the
// answer, on the same transport. The difference is what the client adds to every round trip.
func BenchmarkClientCPU(b *testing.B) {
	okBody := []byte(`{"OK":true,"DATA":{"RESULT":"OK","ID":"12345","NAME":"Helpdesk bot"}}`)
	hc := &http.Client{Transport: cannedTransport{okBody}}
	settings := benchSettings
	c, err := New("http://connector.invalid", WithDomain(testDomain), WithLicenceKey(testLicenceKey),
		WithConnector("botframework.skype"), WithLine("3"), WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, "saveSettings", settings); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		fields, _ := (&wire.Packet{Command: "saveSettings", Licence: c.licence, Domain: testDomain,
			Version: c.cfg.version, Connector: "botframework.skype", Line: "3", Data: []any{settings}}).Encode(wire.ToServer)
		signed, _ := c.signer.Sign(fields)
		body := []byte(signed.Encode())
		b.ReportAllocs()
		for b.Loop() {
			resp, err := hc.Post("http://connector.invalid/imwebhook/portal.php", "application/x-www-form-urlencoded",
				bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
}
