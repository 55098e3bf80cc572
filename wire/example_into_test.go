package wire_test

import (
	"fmt"

	"github.com/olctl/olctl/wire"
)

// UnserializeInto decodes PHP serialized bytes straight into typed Go values, with Bind's rules and without
// the decoded tree; "#EMPTY#" becomes "".
func ExampleUnserializeInto() {
	type message struct {
		ID   string `php:"id"`
		Date int64  `php:"date"`
		Text string `php:"text"`
	}
	var msgs []message
	err := wire.UnserializeInto(`a:2:{i:0;a:3:{s:2:"id";i:7;s:4:"date";i:1700000000;s:4:"text";s:2:"hi";}i:1;a:2:{s:2:"id";s:1:"8";s:4:"text";s:7:"#EMPTY#";}}`, &msgs)
	fmt.Printf("%+v %v\n", msgs, err)
	// Output:
	// [{ID:7 Date:1700000000 Text:hi} {ID:8 Date:0 Text:}] <nil>
}
