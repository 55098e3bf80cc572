package wire_test

import (
	"fmt"

	"github.com/olctl/olctl/wire"
)

// A Doc reads a PHP serialized value without building Go values for it: lookups chain, and a missing key
// gives an invalid Value whose accessors return zero results.
func ExampleParseDoc() {
	doc, err := wire.ParseDoc(`a:2:{i:0;a:2:{s:7:"message";a:2:{s:2:"id";i:7;s:4:"text";s:2:"hi";}s:4:"chat";a:1:{s:2:"id";s:3:"c-1";}}i:1;a:1:{s:7:"message";a:2:{s:2:"id";i:8;s:4:"text";s:7:"#EMPTY#";}}}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, item := range doc.Root().Entries() {
		msg := item.Get("message")
		id, _ := msg.Get("id").Int()
		fmt.Printf("%d %q chat=%q\n", id, msg.Get("text").Text(), item.Get("chat").Get("id").Text())
	}
	// Output:
	// 7 "hi" chat="c-1"
	// 8 "" chat=""
}

// Packet.DecodeDoc reads DATA into a Doc that can be parsed again for the next packet, allocating nothing
// but the base64-decoded bytes.
func ExamplePacket_DecodeDoc() {
	p := &wire.Packet{RawData: "YToxOntpOjA7YToxOntzOjQ6InRleHQiO3M6NToiaGVsbG8iO319"} // a:1:{i:0;a:1:{s:4:"text";s:5:"hello";}}
	var doc wire.Doc
	if err := p.DecodeDoc(&doc); err != nil {
		fmt.Println(err)
		return
	}
	type item struct {
		Text string `php:"text"`
	}
	var it item
	err := doc.Root().Index(0).Decode(&it)
	fmt.Println(doc.Root().Len(), it.Text, err)
	// Output:
	// 1 hello <nil>
}
