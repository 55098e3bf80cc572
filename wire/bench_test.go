package wire

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// tenItemPacket is the DATA of a receivingMessage packet with 10 items shaped like the PHP vector's.
func tenItemPacket(tb testing.TB) (raw []byte, value any) {
	tb.Helper()
	v := loadVectors(tb)["server_to_portal_receivingMessage"]
	item := orderedJSON(tb, v.DataPHP).([]any)[0].(*Map)
	items := make([]any, 10)
	for i := range items {
		ser, _ := Serialize(item)
		c, _ := Unserialize(ser)
		msg, _ := c.(*Map).Get("message")
		msg.(*Map).Set("id", "17000000000"+strconv.Itoa(10+i))
		items[i] = c
	}
	raw, err := SerializeStubbed(items, Legacy)
	if err != nil {
		tb.Fatal(err)
	}
	return raw, items
}

func BenchmarkDecode10Items(b *testing.B) {
	raw, _ := tenItemPacket(b)
	// DecodeData hands the decoder the base64-decoded bytes as a string without a copy, and PHP's unserialize
	// takes a string: the string form is what both sides decode.
	s := string(raw)
	// tree builds the Go values ([]any, *Map) Unserialize returns. The bench module's phpcodec package sets
	// Unserialize beside elliotchance/phpserialize on these bytes.
	b.Run("tree", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unserialize(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("php", func(b *testing.B) { benchPHP(b, raw, "unserialize_ns") })
}

func BenchmarkEncode10Items(b *testing.B) {
	raw, items := tenItemPacket(b)
	b.Run("olctl", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		buf := make([]byte, 0, len(raw))
		for b.Loop() {
			var err error
			if buf, err = appendSerialize(buf[:0], items, stubLegacy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("php", func(b *testing.B) { benchPHP(b, raw, "serialize_ns") })
}

// benchPHP times PHP's own unserialize/serialize of raw in a php process (started once, outside the timer)
// and reports its per-operation time, so that PHP's C implementation is the baseline of the same run.
func benchPHP(b *testing.B, raw []byte, metric string) {
	php, err := exec.LookPath("php")
	if err != nil {
		b.Skip("SKIPPING the PHP baseline: php is not installed")
	}
	path := filepath.Join(b.TempDir(), "packet.ser")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	n := 20000
	out, err := exec.Command(php, "testdata/interop.php", "bench", path, strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatal(err)
	}
	ns := res[metric].(float64)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ns, "php-ns/op")
	b.ReportMetric(float64(len(raw))/ns*1e3, "php-MB/s")
}

func BenchmarkSign(b *testing.B) {
	v := loadVectors(b)["server_to_portal_receivingMessage"]
	raw, _ := tenItemPacket(b)
	fields := vectorFields(b, v)[:6]
	fields[5].Value = base64.StdEncoding.EncodeToString(raw)
	for _, c := range []Credentials{{Mode: MD5, LicenceKey: v.LicenceKey}, {Mode: HMACSHA256, Secrets: []string{"s"}}} {
		b.Run(string(c.Mode), func(b *testing.B) {
			s, _ := NewSigner(c, nil)
			var buf [64]byte
			b.ReportAllocs()
			for b.Loop() {
				s.appendHash(buf[:0], fields)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	v := loadVectors(b)["server_to_portal_receivingMessage"]
	fields := vectorFields(b, v)
	c := Credentials{Mode: MD5, LicenceKey: v.LicenceKey}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(fields, c, nil); err != nil {
			b.Fatal(err)
		}
	}
}
