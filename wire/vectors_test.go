package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
)

// vector is one packet of packets.json, computed by real PHP (docs/protocol.md §12).
type vector struct {
	LicenceKey string          `json:"licence_key"`
	Secret     string          `json:"secret"`
	DataPHP    json.RawMessage `json:"data_php"`
	Fields     json.RawMessage `json:"fields"`
	Serialized string          `json:"serialized"`
	Profile    string          `json:"profile"` // "" is legacy: the first vectors predate the current profile
}

// profile returns the vector's profile.
func (v vector) profile(t testing.TB) Profile {
	if v.Profile == "" {
		return Legacy
	}
	p, err := ParseProfile(v.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadVectors reads the project's copy of the vectors and, when the shared ones are beside the checkout,
// checks that the copy is still the same.
func loadVectors(t testing.TB) map[string]vector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", "packets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if shared, err := os.ReadFile(filepath.Join("..", "..", "shared", "vectors", "packets.json")); err == nil && !bytes.Equal(shared, b) {
		t.Fatalf("testdata/vectors/packets.json differs from ../shared/vectors/packets.json: copy the new vectors in")
	}
	var vs map[string]vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 4 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

// orderedJSON decodes JSON keeping object key order: objects become *Map, arrays []any, integers int64.
func orderedJSON(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var read func() any
	read = func() any {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch x := tok.(type) {
		case json.Delim:
			if x == '[' {
				out := []any{}
				for dec.More() {
					out = append(out, read())
				}
				_, _ = dec.Token()
				return out
			}
			m := &Map{}
			for dec.More() {
				k, _ := dec.Token()
				m.Entries = append(m.Entries, Entry{Key: normalizeKey(k.(string)), Value: read()})
			}
			_, _ = dec.Token()
			return m
		case json.Number:
			if n, err := x.Int64(); err == nil {
				return n
			}
			f, _ := x.Float64()
			return f
		}
		return tok
	}
	return read()
}

func vectorFields(t testing.TB, v vector) Fields {
	m := orderedJSON(t, v.Fields).(*Map)
	out := make(Fields, len(m.Entries))
	for i, e := range m.Entries {
		out[i] = Field{Name: e.Key.(string), Value: e.Value.(string)}
	}
	return out
}

// fixedReader yields the given bytes, for a reproducible nonce.
type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) { n := copy(p, r.b); r.b = r.b[n:]; return n, nil }

func TestVectorsReproducedByteForByte(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	for name, v := range vs {
		t.Run(name, func(t *testing.T) {
			want := vectorFields(t, v)
			profile := v.profile(t)
			p := &Packet{
				Profile:   profile,
				Region:    want.Get(fieldRegion),
				Command:   UnstubField(want.Get(fieldCommand)),
				Licence:   UnstubField(want.Get(fieldLicence)),
				Domain:    UnstubField(want.Get(fieldDomain)),
				Type:      want.Get(fieldType),
				Version:   want.Get(fieldVersion),
				Connector: want.Get(fieldConnector),
				Line:      UnstubField(want.Get(fieldLine)),
				Data:      []any{},
			}
			if len(v.DataPHP) > 0 {
				p.Data = orderedJSON(t, v.DataPHP)
			}
			dir := ToServer
			if strings.HasPrefix(name, "server_to_portal") {
				dir = ToPortal
			}
			if v.Serialized != "" {
				got, err := SerializeStubbed(p.Data, profile)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != v.Serialized {
					t.Fatalf("serialize:\n got %s\nwant %s", got, v.Serialized)
				}
			}
			fields, err := p.Encode(dir)
			if err != nil {
				t.Fatal(err)
			}
			var creds Credentials
			var clk clock.Clock
			var nonce []byte
			var guard *ReplayGuard
			if v.Secret != "" {
				creds = Credentials{Mode: HMACSHA256, Secrets: []string{"old-secret-rotated-out", v.Secret}}
				ts := want.Get(fieldTimestamp)
				tsu, _ := time.Parse(time.RFC3339, "1970-01-01T00:00:00Z")
				var sec int64
				for _, c := range ts {
					sec = sec*10 + int64(c-'0')
				}
				fake := clock.NewFake(tsu.Add(time.Duration(sec) * time.Second))
				nonce, _ = hex.DecodeString(want.Get(fieldNonce))
				clk = fake
				guard = NewReplayGuard(fake, 0)
			} else {
				creds = Credentials{Mode: MD5, LicenceKey: v.LicenceKey}
			}
			signCreds := creds
			if creds.Mode == HMACSHA256 {
				signCreds.Secrets = []string{v.Secret}
			}
			signer, err := NewSigner(signCreds, clk)
			if err != nil {
				t.Fatal(err)
			}
			if nonce != nil {
				signer.rand = &fixedReader{b: nonce}
			}
			signed, err := signer.Sign(fields)
			if err != nil {
				t.Fatal(err)
			}
			if len(signed) != len(want) {
				t.Fatalf("fields %v, want %v", signed.Names(), want.Names())
			}
			for i := range want {
				if signed[i] != want[i] {
					t.Errorf("field %d: got %s=%q, want %s=%q", i, signed[i].Name, signed[i].Value, want[i].Name, want[i].Value)
				}
			}
			if err := Verify(want, creds, guard); err != nil {
				t.Fatalf("PHP's packet does not verify: %v", err)
			}
			// Flipping any byte of any field breaks the signature.
			for i := range want {
				for j := 0; j < len(want[i].Value); j++ {
					bad := append(Fields(nil), want...)
					b := []byte(bad[i].Value)
					b[j] ^= 0x01
					bad[i].Value = string(b)
					err := Verify(bad, creds, NewReplayGuard(clock.NewFake(time.Unix(1732412345, 0)), 0))
					if err == nil {
						t.Fatalf("flipping byte %d of %s still verifies", j, want[i].Name)
					}
				}
			}
			// And the packet parses and decodes back to the same data.
			pp, err := Parse(want, dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := pp.DecodeData(); err != nil {
				t.Fatal(err)
			}
			if len(v.DataPHP) > 0 && !reflect.DeepEqual(normalizeForCompare(pp.Data), normalizeForCompare(p.Data)) {
				t.Fatalf("decoded DATA with the stubs undone:\n got %#v\nwant %#v", pp.Data, p.Data)
			}
			reser, _ := SerializeStubbed(pp.Data, profile)
			raw, _ := base64.StdEncoding.DecodeString(want.Get(fieldData))
			if !bytes.Equal(reser, raw) {
				t.Fatalf("decode → encode changed DATA:\n got %s\nwant %s", reser, raw)
			}
		})
	}
}

func TestVectorHashOverReorderedFieldsFails(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)["portal_to_server_saveSettings"]
	f := vectorFields(t, v)
	f[0], f[1] = f[1], f[0]
	if err := Verify(f, Credentials{Mode: MD5, LicenceKey: v.LicenceKey}, nil); !errorsIs(err, CodeLicence) {
		t.Fatalf("reordered fields: err = %v, want LICENCE_ERROR", err)
	}
}

// normalizeForCompare turns decoded and JSON-read values into one form: integers as int64, maps as *Map.
func normalizeForCompare(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = normalizeForCompare(el)
		}
		return out
	case *Map:
		m := &Map{Entries: make([]Entry, len(x.Entries))}
		for i, e := range x.Entries {
			m.Entries[i] = Entry{Key: e.Key, Value: normalizeForCompare(e.Value)}
		}
		return m
	}
	return v
}

func TestVectorsOfBothProfiles(t *testing.T) {
	t.Parallel()
	counts := map[Profile]int{}
	for _, v := range loadVectors(t) {
		counts[v.profile(t)]++
	}
	if counts[Legacy] < 4 || counts[Current] < 8 {
		t.Fatalf("vectors per profile: %v, want at least 4 legacy and 8 current", counts)
	}
}
