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

var benchAnswer = []byte(`{"OK":true,"DATA":{"RESULT":"OK","ID":"12345","NAME":"Helpdesk bot"}}`)

func benchClient(b *testing.B, url string, opts ...Option) *Client {
	all := append([]Option{WithDomain(testDomain), WithLicenceKey(testLicenceKey), WithConnector("botframework.skype"),
		WithLine("3")}, opts...)
	c, err := New(url, all...)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchBody is the signed form body of the benchmarks' saveSettings call, as c sends it.
func benchBody(b *testing.B, c *Client) []byte {
	fields, err := c.packet("saveSettings", []any{benchSettings}, callConfig{connector: "botframework.skype", line: "3"})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := c.signer.Sign(fields)
	if err != nil {
		b.Fatal(err)
	}
	return []byte(signed.Encode())
}

// BenchmarkCall measures a signed Call round trip (encode + sign + POST + read the answer by docs/protocol.md
// §5) to a bare handler that answers OK without verifying, next to the baseline: a plain POST of the same body
// with the same headers to the same handler, reading the answer. The current profile closes the connection
// after each call (Connection: close, as Bitrix does), and so does the baseline; legacy keeps it alive, and
// so does its baseline. The client's own overhead is olctl/baseline - 1.
func BenchmarkCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchAnswer)
	}))
	defer srv.Close()
	ctx := context.Background()
	run := func(b *testing.B, c *Client) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			res, err := c.Call(ctx, "saveSettings", []any{benchSettings})
			if err != nil || len(res.Raw) == 0 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	}
	baseline := func(b *testing.B, c *Client, close bool) {
		body := benchBody(b, c)
		hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, c.URL(), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Close = close
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(got) != len(benchAnswer) {
				b.Fatal(err, resp.StatusCode)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
	}
	b.Run("olctl", func(b *testing.B) { run(b, benchClient(b, srv.URL)) })
	b.Run("olctl-hmac", func(b *testing.B) { run(b, benchClient(b, srv.URL, WithSigning(wire.HMACSHA256, testSecret))) })
	b.Run("baseline", func(b *testing.B) { baseline(b, benchClient(b, srv.URL), true) })
	b.Run("olctl-legacy", func(b *testing.B) { run(b, benchClient(b, srv.URL, WithProfile(wire.Legacy))) })
	b.Run("baseline-keepalive", func(b *testing.B) { baseline(b, benchClient(b, srv.URL, WithProfile(wire.Legacy)), false) })
}

// BenchmarkEncodeSign is the client's own work per call (encode + sign + read the answer), with no network:
// the packet's encoding, its signature and form body, and the reading of a typical answer, as Call does them.
// make bench sets it against BenchmarkCall/olctl (a whole round trip) from the same run; its baseline here
// is building and form-encoding the same fields with no signature and no answer.
func BenchmarkEncodeSign(b *testing.B) {
	c := benchClient(b, "http://127.0.0.1:1")
	cc := callConfig{connector: "botframework.skype", line: "3"}
	args := []any{benchSettings}
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fields, err := c.packet("saveSettings", args, cc)
			if err != nil {
				b.Fatal(err)
			}
			signed, _ := c.signer.Sign(fields)
			_ = signed.Encode()
			if data, errs := readEnvelope(benchAnswer); errs != nil || len(data) == 0 {
				b.Fatal(errs)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fields, err := c.packet("saveSettings", args, cc)
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
// Call (request, encode, sign, read); baseline is http.Client.Do of the same body on the same transport. The
// difference is what the client adds to every round trip.
func BenchmarkClientCPU(b *testing.B) {
	hc := &http.Client{Transport: cannedTransport{benchAnswer}}
	c := benchClient(b, "http://connector.invalid", WithHTTPClient(hc))
	ctx := context.Background()
	b.Run("olctl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Call(ctx, "saveSettings", []any{benchSettings}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		body := benchBody(b, c)
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodPost, c.URL(), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
}
