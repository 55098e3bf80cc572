package wire_test

import (
	"encoding/base64"
	"fmt"

	"github.com/olctl/olctl/wire"
)

// DecodeItems reads a packet's DATA straight into typed items with Bind's rules: "#EMPTY#" reads as "", an
// integer fills a string field, and an item that does not fit has its own error while the others are kept.
func ExampleDecodeItems() {
	type message struct {
		ID   string `php:"id"`
		Date int64  `php:"date"`
		Text string `php:"text"`
	}
	data := `a:3:{i:0;a:3:{s:2:"id";i:7;s:4:"date";i:1700000000;s:4:"text";s:2:"hi";}` +
		`i:1;a:2:{s:2:"id";s:1:"8";s:4:"text";s:7:"#EMPTY#";}i:2;a:1:{s:4:"date";s:9:"yesterday";}}`
	p := &wire.Packet{RawData: base64.StdEncoding.EncodeToString([]byte(data))}
	msgs, itemErrs, err := wire.DecodeItems[message](p)
	fmt.Printf("%+v %v\n", msgs[:2], err)
	fmt.Println(itemErrs[2])
	// Output:
	// [{ID:7 Date:1700000000 Text:hi} {ID:8 Date:0 Text:}] <nil>
	// bind date: want an integer, got "yesterday"
}

// DecodeData reads DATA into the tree of Go values, with both stubs undone: lists are []any, other arrays
// *Map in their order.
func ExamplePacket_DecodeData() {
	p := &wire.Packet{RawData: base64.StdEncoding.EncodeToString([]byte(`a:1:{i:0;a:2:{s:4:"text";s:5:"hello";s:5:"files";s:13:"#EMPTY_ARRAY#";}}`))}
	if err := p.DecodeData(); err != nil {
		fmt.Println(err)
		return
	}
	items, _ := p.Items()
	item := items[0].(*wire.Map)
	files, _ := item.Get("files")
	fmt.Printf("%q %#v\n", item.String("text"), files)
	// Output:
	// "hello" []interface {}{}
}
