package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/wire"
)

// hostileCase is one file of testdata/hostile: a forged or malformed request and the answer it must get.
//
// The file is a header of "key: value" lines (lines starting with # are comments), then "--- fields" followed by
// one NAME=value line per form field in order, or "--- raw" followed by the body as it is. Values may use
// {{data:<php serialize>}} (base64 of those bytes), {{pad:N}} (N bytes), {{licence}}, {{domain}} and
// {{serviceurl}}.
//
// Header keys: target (portal | server | webhook), mode (md5 | hmac: the receiver's configuration, default md5),
// method (default POST), sign (md5 | hmac: sign the fields with wire's signer), sign-key (the licence key or
// secret to sign with, default the right one), licence-key (for {{licence}}), sign-at (an offset of the signing
// time from now, e.g. -600s), swap-after-sign (two field names to swap after signing), replace-after-sign
// (NAME=value after signing), repeat (send the same request N times; the last answer is checked), auth (webhook:
// none | bad | valid), token-serviceurl (the serviceurl claim of a valid token), webhook-hash (the h= to use,
// default the line's), expect-status (default 200) and expect-code (the protocol code of the JSON answer).
type hostileCase struct {
	name   string
	header map[string]string
	fields [][2]string
	raw    []byte
	isRaw  bool
}

func loadHostile(t *testing.T) []hostileCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.req"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no hostile corpus: %v", err)
	}
	var out []hostileCase
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := hostileCase{name: strings.TrimSuffix(filepath.Base(p), ".req"), header: map[string]string{}}
		head, body, ok := bytes.Cut(b, []byte("\n--- "))
		if !ok {
			t.Fatalf("%s: no --- section", p)
		}
		sc := bufio.NewScanner(bytes.NewReader(head))
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("%s: bad header line %q", p, line)
			}
			c.header[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		kind, rest, _ := bytes.Cut(body, []byte("\n"))
		switch string(kind) {
		case "raw":
			c.isRaw = true
			c.raw = bytes.TrimSuffix(rest, []byte("\n"))
		case "fields":
			for _, line := range strings.Split(strings.TrimSuffix(string(rest), "\n"), "\n") {
				k, v, _ := strings.Cut(line, "=")
				c.fields = append(c.fields, [2]string{k, v})
			}
		default:
			t.Fatalf("%s: unknown section %q", p, kind)
		}
		out = append(out, c)
	}
	return out
}

// TestHostileCorpus sends every file of testdata/hostile to the endpoint it names, on a system of each signing
// mode: each is answered with its code, nothing is stored, and the servers stay healthy.
func TestHostileCorpus(t *testing.T) {
	cases := loadHostile(t)
	if len(cases) < 30 {
		t.Fatalf("the corpus has %d cases, want at least 30", len(cases))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	systems := map[string]*system{}
	for _, m := range modes() {
		key := "md5"
		if m.creds.Mode == wire.HMACSHA256 {
			key = "hmac"
		}
		s := startSystem(t, systemConfig{mode: m, serverDB: testdb.SQLite(t), portalDB: testdb.SQLite(t)})
		s.connect(ctx, t, lineID)
		systems[key] = s
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mode := c.header["mode"]
			if mode == "" {
				mode = "md5"
			}
			s := systems[mode]
			if s == nil {
				t.Fatalf("unknown mode %q", mode)
			}
			req := c.build(t, s)
			repeat := 1
			if r := c.header["repeat"]; r != "" {
				repeat, _ = strconv.Atoi(r)
			}
			var status int
			var body []byte
			for i := 0; i < repeat; i++ {
				status, body = req.send(ctx, t)
			}
			wantStatus := http.StatusOK
			if ws := c.header["expect-status"]; ws != "" {
				wantStatus, _ = strconv.Atoi(ws)
			}
			if status != wantStatus {
				t.Errorf("status %d, want %d (body %.200q)", status, wantStatus, body)
			}
			if code := c.header["expect-code"]; code != "" {
				resp, err := wire.ParseResponse(body)
				if err == nil && resp.OK {
					t.Fatalf("answered OK, want %s: %s", code, body)
				}
				var codes []string
				for _, e := range wire.ErrorItems(err) {
					codes = append(codes, string(e.Code))
				}
				if !contains(codes, code) {
					t.Errorf("codes %v, want %s", codes, code)
				}
			}
		})
	}
	// Nothing was stored anywhere, and both systems still work.
	for name, s := range systems {
		s.events.mu.Lock()
		n, d := len(s.events.messages), len(s.events.deliveries)
		s.events.mu.Unlock()
		if n != 0 || d != 0 {
			t.Errorf("%s: the portal fired %d message and %d delivery events for hostile input", name, n, d)
		}
		st, err := s.server.QueueStats(ctx)
		if err != nil || st.Pending != 0 || st.Dead != 0 {
			t.Errorf("%s: the server queued hostile input: %+v %v", name, st, err)
		}
		if settings, err := s.client.ReadSettings(ctx, client.Connector(botframework.ID), client.Line("9")); err == nil && len(settings) != 0 {
			t.Errorf("%s: forged saveSettings were stored: %v", name, settings)
		}
		for _, u := range []string{s.server.URL() + "/healthz"} {
			resp, err := http.Get(u)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %s not healthy: %v", name, u, err)
			} else {
				_ = resp.Body.Close()
			}
		}
		if err := s.client.TestConnect(ctx, client.Connector(botframework.ID), client.Line(lineID)); err != nil {
			t.Errorf("%s: testConnect after the corpus: %v", name, err)
		}
		// And a real message still goes through.
		if _, err := s.bf.SendUserMessage(ctx, s.webhook, "after-corpus", "29:after", "still alive"); err != nil {
			t.Errorf("%s: a real message after the corpus: %v", name, err)
			continue
		}
		s.events.wait(ctx, t, name+": the message after the corpus", func() bool { return len(s.events.messages) == 1 })
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hostileRequest is a built request, sendable several times.
type hostileRequest struct {
	method, url string
	body        []byte
	header      http.Header
}

func (r hostileRequest) send(ctx context.Context, t *testing.T) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

func (c hostileCase) expand(s *system, v string) string {
	if strings.HasPrefix(v, "{{data:") && strings.HasSuffix(v, "}}") {
		return base64.StdEncoding.EncodeToString([]byte(v[len("{{data:") : len(v)-2]))
	}
	if strings.HasPrefix(v, "{{pad:") && strings.HasSuffix(v, "}}") {
		n, _ := strconv.Atoi(v[len("{{pad:") : len(v)-2])
		return strings.Repeat("a", n)
	}
	key := licenceKey
	if k := c.header["licence-key"]; k != "" {
		key = k
	}
	v = strings.ReplaceAll(v, "{{licence}}", wire.Licence(key))
	v = strings.ReplaceAll(v, "{{domain}}", s.portalURL)
	v = strings.ReplaceAll(v, "{{serviceurl}}", s.bf.ServiceURL())
	return v
}

func (c hostileCase) build(t *testing.T, s *system) hostileRequest {
	t.Helper()
	r := hostileRequest{method: http.MethodPost, header: http.Header{}}
	if m := c.header["method"]; m != "" {
		r.method = m
	}
	switch c.header["target"] {
	case "portal":
		r.url = s.portalURL + "/pub/imconnector/"
	case "server":
		r.url = s.server.URL() + "/imwebhook/portal.php"
	case "webhook":
		r.url = s.webhook
		if h, ok := c.header["webhook-hash"]; ok {
			r.url = s.server.URL() + "/imwebhook/" + botframework.ID
			if h != "" {
				r.url += "?h=" + h
			}
		}
	default:
		t.Fatalf("unknown target %q", c.header["target"])
	}
	if c.header["target"] == "webhook" {
		r.header.Set("Content-Type", "application/json")
		switch c.header["auth"] {
		case "valid":
			claims := bftest.Claims{}
			if su := c.header["token-serviceurl"]; su != "" {
				claims.ServiceURL = su
			}
			tok, err := s.bf.MintToken(claims)
			if err != nil {
				t.Fatal(err)
			}
			r.header.Set("Authorization", "Bearer "+tok)
		case "bad":
			r.header.Set("Authorization", "Bearer not.a.jwt")
		}
		r.body = []byte(c.expand(s, string(c.raw)))
		return r
	}
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.isRaw {
		r.body = c.raw
		return r
	}
	var fields wire.Fields
	for _, f := range c.fields {
		fields = append(fields, wire.Field{Name: f[0], Value: c.expand(s, f[1])})
	}
	if sign := c.header["sign"]; sign != "" {
		fields = c.sign(t, sign, fields)
	}
	if sw := c.header["swap-after-sign"]; sw != "" {
		a, b, _ := strings.Cut(sw, ",")
		ia, ib := index(fields, a), index(fields, b)
		if ia < 0 || ib < 0 {
			t.Fatalf("swap-after-sign: no field %s or %s", a, b)
		}
		fields[ia], fields[ib] = fields[ib], fields[ia]
	}
	if rp := c.header["replace-after-sign"]; rp != "" {
		name, v, _ := strings.Cut(rp, "=")
		i := index(fields, name)
		if i < 0 {
			t.Fatalf("replace-after-sign: no field %s", name)
		}
		fields[i].Value = c.expand(s, v)
	}
	r.body = []byte(fields.Encode())
	return r
}

func (c hostileCase) sign(t *testing.T, how string, fields wire.Fields) wire.Fields {
	t.Helper()
	var creds wire.Credentials
	switch how {
	case "md5":
		key := licenceKey
		if k := c.header["sign-key"]; k != "" {
			key = k
		}
		creds = wire.Credentials{Mode: wire.MD5, LicenceKey: key}
	case "hmac":
		secret := hmacSecret
		if k := c.header["sign-key"]; k != "" {
			secret = k
		}
		creds = wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: licenceKey, Secrets: []string{secret}}
	default:
		t.Fatalf("unknown sign %q", how)
	}
	at := time.Now()
	if off := c.header["sign-at"]; off != "" {
		d, err := time.ParseDuration(off)
		if err != nil {
			t.Fatalf("sign-at: %v", err)
		}
		at = at.Add(d)
	}
	signer, err := wire.NewSigner(creds, clock.NewFake(at))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(fields)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return signed
}

func index(fields wire.Fields, name string) int {
	for i, f := range fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}
