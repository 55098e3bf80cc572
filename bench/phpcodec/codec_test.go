package phpcodec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/elliotchance/phpserialize"

	"github.com/olctl/olctl/wire"
)

// tenItemPacket is the serialized DATA of a receivingMessage packet with 10 items, each the PHP vector's
// item with its own message id, stubbed as a legacy connector server writes it: the bytes of package wire's
// BenchmarkDecode10Items.
func tenItemPacket(tb testing.TB) (raw []byte, items []any) {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "wire", "testdata", "vectors", "packets.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var vs map[string]struct {
		Serialized string `json:"serialized"`
	}
	if err := json.Unmarshal(b, &vs); err != nil {
		tb.Fatal(err)
	}
	v, err := wire.Unserialize([]byte(vs["server_to_portal_receivingMessage"].Serialized))
	if err != nil {
		tb.Fatal(err)
	}
	item, err := wire.Serialize(v.([]any)[0])
	if err != nil {
		tb.Fatal(err)
	}
	items = make([]any, 10)
	for i := range items {
		c, err := wire.Unserialize(item)
		if err != nil {
			tb.Fatal(err)
		}
		msg, _ := c.(*wire.Map).Get("message")
		msg.(*wire.Map).Set("id", "17000000000"+strconv.Itoa(10+i))
		items[i] = c
	}
	if raw, err = wire.SerializeStubbed(items, wire.Legacy); err != nil {
		tb.Fatal(err)
	}
	return raw, items
}

// TestCodecsAgree checks both codecs read the benchmark's bytes, and that each writes back what it read.
func TestCodecsAgree(t *testing.T) {
	raw, _ := tenItemPacket(t)
	v, err := wire.Unserialize(raw)
	if err != nil {
		t.Fatal(err)
	}
	if items, ok := v.([]any); !ok || len(items) != 10 {
		t.Fatalf("wire: %T of %d items", v, len(items))
	}
	again, err := wire.SerializeStubbed(v, wire.Legacy)
	if err != nil || !bytes.Equal(again, raw) {
		t.Fatalf("wire round trip: %v, equal %v", err, bytes.Equal(again, raw))
	}
	ev, err := phpserialize.UnmarshalIndexedArray(raw)
	if err != nil || len(ev) != 10 {
		t.Fatalf("elliotchance: %d items, %v", len(ev), err)
	}
	if _, err := phpserialize.Marshal(ev, nil); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDecode10Items(b *testing.B) {
	raw, _ := tenItemPacket(b)
	// olctl builds the tree of Go values ([]any, *wire.Map) that keeps PHP's key order; elliotchance builds
	// Go maps.
	b.Run("olctl", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.Unserialize(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("elliotchance", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := phpserialize.UnmarshalIndexedArray(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode10Items(b *testing.B) {
	raw, items := tenItemPacket(b)
	b.Run("olctl", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := wire.SerializeStubbed(items, wire.Legacy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("elliotchance", func(b *testing.B) {
		ev, err := phpserialize.UnmarshalIndexedArray(raw)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := phpserialize.Marshal(ev, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
