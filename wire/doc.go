// Package wire is the one place that knows the Open Lines packet format (docs/protocol.md §2–6): the ordered
// form fields of a packet, the empty-value stubs of both profiles, the PHP serialize codec of DATA, the md5
// and hmac-sha256 signatures with their replay window, and the JSON answer envelope. The client, the router,
// the portal and the connector server build and read packets only through it.
//
// Sending a packet:
//
//	signer, err := wire.NewSigner(creds, clk) // clk nil: the system clock
//	p := &wire.Packet{Command: "receivingMessage", Data: items, Profile: wire.Legacy}
//	fields, err := p.Encode(wire.ToPortal)
//	signed, err := signer.Sign(fields)
//	body := signed.Encode() // application/x-www-form-urlencoded, in order
//
// Receiving one:
//
//	guard := wire.NewReplayGuard(clk, 0) // one per receiver: the hmac-sha256 nonces it has seen
//	fields, err := wire.ReadForm(r, wire.DefaultMaxBody)
//	p, err := wire.Parse(fields, wire.ToPortal)
//	err = wire.Verify(fields, creds, guard)
//	items, itemErrs, err := wire.DecodeItems[openlines.MessageItem](p) // typed items, or
//	err = p.DecodeData()                                              // the tree of Go values in p.Data
//
// DATA has one parser. It checks the whole input: objects, enums, references, repeated keys, trailing bytes,
// nesting past MaxDepth and more than 100 000 elements are refused with a *SyntaxError at the byte where the
// problem is (BAD_PACKET). The tree (Unserialize, DecodeData: []any, *Map, string, int64, float64, bool,
// nil) and the typed items (DecodeItems) are both built from its output, so they accept and refuse the same
// inputs. Bind binds a tree into Go values the way PHP code reads it; DecodeItems binds each item exactly as
// Bind binds the items of DecodeData's tree.
//
// Errors carry a protocol Code, and a Code is what errors.Is matches: errors.Is(err, wire.CodeLicence).
package wire
