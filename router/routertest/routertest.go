// Package routertest helps tests talk to a router.Input the way a connector server does: it builds signed
// server → portal packets with package wire in either profile, posts them over real HTTP, and reads the PHP
// test vectors of docs/protocol.md §12 with their field order kept.
package routertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/wire"
)

// Sender builds signed server → portal packets.
type Sender struct {
	Signer    *wire.Signer
	Connector string // CONNECTOR of every packet
	Line      string // LINE of every packet
	Version   string // BX_VERSION, the server's (default "1.0.0")
	// Profile is the generation of the portal the packets go to: how empty values are stubbed
	// (docs/protocol.md §3.3; default wire.Current).
	Profile wire.Profile
}

// NewSender returns a Sender signing with c on clk (nil: the system clock), for connector and line.
func NewSender(t testing.TB, c wire.Credentials, clk clock.Clock, connector, line string) *Sender {
	t.Helper()
	s, err := wire.NewSigner(c, clk)
	if err != nil {
		t.Fatalf("routertest: signer: %v", err)
	}
	return &Sender{Signer: s, Connector: connector, Line: line, Version: "1.0.0"}
}

// Fields returns the signed fields of a packet with command and items (any value wire.Serialize takes).
func (s *Sender) Fields(t testing.TB, command string, items any) wire.Fields {
	t.Helper()
	f, err := s.Unsigned(command, items)
	if err != nil {
		t.Fatalf("routertest: encode %s: %v", command, err)
	}
	signed, err := s.Signer.Sign(f)
	if err != nil {
		t.Fatalf("routertest: sign %s: %v", command, err)
	}
	return signed
}

// Unsigned returns the fields of a packet before signing, for tests that alter them first.
func (s *Sender) Unsigned(command string, items any) (wire.Fields, error) {
	if items == nil {
		items = []any{}
	}
	p := &wire.Packet{Command: command, Connector: s.Connector, Line: s.Line, Version: s.Version, Data: items,
		Profile: s.Profile}
	return p.Encode(wire.ToPortal)
}

// Body returns the form body of a signed packet.
func (s *Sender) Body(t testing.TB, command string, items any) string {
	t.Helper()
	return s.Fields(t, command, items).Encode()
}

// Answer is what an Input answered.
type Answer struct {
	Status   int
	Response *wire.Response // nil when the body is not the envelope
	Err      error          // ParseResponse's error: nil for OK:true, a *wire.ResponseError for OK:false
	Body     []byte
}

// Codes returns the codes of an OK:false answer in order.
func (a Answer) Codes() []wire.Code {
	if a.Response == nil {
		return nil
	}
	out := make([]wire.Code, len(a.Response.Errors))
	for i, e := range a.Response.Errors {
		out[i] = wire.Code(e.Code)
	}
	return out
}

// Post posts a form body to url with c (nil: http.DefaultClient) and reads the answer.
func Post(t testing.TB, c *http.Client, url, body string) Answer {
	t.Helper()
	return Do(t, c, http.MethodPost, url, body)
}

// Do sends body with method to url and reads the answer. A transport failure is reported with t.Errorf
// (so Do may run in any goroutine) and returned in Err with Status 0.
func Do(t testing.TB, c *http.Client, method, url, body string) Answer {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Errorf("routertest: %v", err)
		return Answer{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("routertest: %s %s: %v", method, url, err)
		return Answer{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("routertest: reading the answer: %v", err)
		return Answer{Status: resp.StatusCode, Err: err}
	}
	a := Answer{Status: resp.StatusCode, Body: b}
	a.Response, a.Err = wire.ParseResponse(b)
	return a
}

// Vector is one packet of the PHP test vectors (docs/protocol.md §12).
type Vector struct {
	Name       string
	LicenceKey string
	Secret     string
	Profile    wire.Profile // the profile the vector was stubbed for (none named: legacy)
	Fields     wire.Fields  // in the order PHP produced them
}

// Credentials returns the credentials the vector was signed with.
func (v Vector) Credentials() wire.Credentials {
	if v.Secret != "" {
		return wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{v.Secret}}
	}
	return wire.Credentials{Mode: wire.MD5, LicenceKey: v.LicenceKey}
}

// LoadVectors reads the vectors file at path (e.g. "../wire/testdata/vectors/packets.json"), keeping the
// order of each packet's fields.
func LoadVectors(t testing.TB, path string) []Vector {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("routertest: %v", err)
	}
	vs, err := parseVectors(b)
	if err != nil {
		t.Fatalf("routertest: %s: %v", path, err)
	}
	return vs
}

func parseVectors(b []byte) ([]Vector, error) {
	var raw map[string]struct {
		LicenceKey string          `json:"licence_key"`
		Secret     string          `json:"secret"`
		Profile    string          `json:"profile"`
		Fields     json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	out := make([]Vector, 0, len(raw))
	for name, r := range raw {
		f, err := orderedFields(r.Fields)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		profile := wire.Legacy
		if r.Profile != "" {
			if profile, err = wire.ParseProfile(r.Profile); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		out = append(out, Vector{Name: name, LicenceKey: r.LicenceKey, Secret: r.Secret, Profile: profile, Fields: f})
	}
	return out, nil
}

// orderedFields reads a JSON object of strings keeping its key order.
func orderedFields(raw json.RawMessage) (wire.Fields, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("fields is not an object")
	}
	var out wire.Fields
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("field %v: %w", k, err)
		}
		out = append(out, wire.Field{Name: k.(string), Value: v})
	}
	return out, nil
}
