package wire

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func FuzzUnserialize(f *testing.F) {
	for _, v := range loadVectors(f) {
		fields := vectorFields(f, v)
		raw, _ := base64.StdEncoding.DecodeString(fields.Get(fieldData))
		f.Add(raw)
	}
	for _, s := range []string{"N;", "b:1;", "i:-5;", "d:1.0E+25;", `s:3:"abc";`, `a:2:{i:1;N;s:1:"a";a:0:{}}`, `O:1:"A":0:{}`, "a:1:{i:0;r:1;}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unserialize(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes, and reads back to the same encoding.
		once, err := Serialize(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		v2, err := Unserialize(once)
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v\n%s", err, once)
		}
		twice, _ := Serialize(v2)
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
		// Binding into a typed item never panics.
		var it item
		_ = Bind(v, &it)
	})
}

func FuzzParsePacket(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(vectorFields(f, v).Encode())
	}
	f.Add("BX_COMMAND=x&DATA=%zz")
	f.Add("A=1&A=2")
	creds := Credentials{Mode: MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	f.Fuzz(func(t *testing.T, body string) {
		fields, err := ParseForm(body)
		if err != nil {
			return
		}
		for _, dir := range []Direction{ToServer, ToPortal} {
			p, err := Parse(fields, dir)
			if err != nil {
				continue
			}
			_ = Verify(fields, creds, nil)
			if p.DecodeData() == nil {
				_, _ = p.Items()
			}
		}
		// The form encoding round-trips.
		again, err := ParseForm(fields.Encode())
		if err != nil || len(again) != len(fields) {
			t.Fatalf("form round trip: %v %v", again, err)
		}
		for i := range fields {
			if again[i] != fields[i] {
				t.Fatalf("field %d: %+v != %+v", i, again[i], fields[i])
			}
		}
	})
}
