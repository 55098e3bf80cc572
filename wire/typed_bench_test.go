package wire_test

import (
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// BenchmarkDecodeTyped10Items decodes the 10-item receivingMessage DATA of BenchmarkDecode10Items into the
// protocol's typed items, []openlines.MessageItem: the way DecodeItems does, from the parser's nodes (olctl),
// and the tree way (DecodeData's tree, then Bind). BenchmarkDecode10Items/php, in the same run, is PHP's
// unserialize of the same bytes into its own arrays.
func BenchmarkDecodeTyped10Items(b *testing.B) {
	raw, _ := wire.TenItemPacket(b)
	s := string(raw)
	b.Run("olctl", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			items, itemErrs, err := wire.UnserializeItems[openlines.MessageItem](s)
			if err != nil || itemErrs != nil || len(items) != 10 {
				b.Fatal(err, itemErrs)
			}
		}
	})
	b.Run("tree", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			v, err := wire.DecodeTree(s)
			if err != nil {
				b.Fatal(err)
			}
			var items []openlines.MessageItem
			if err := wire.Bind(v, &items); err != nil || len(items) != 10 {
				b.Fatal(err)
			}
		}
	})
}
