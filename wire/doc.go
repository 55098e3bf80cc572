// Package wire is the one place that knows the Open Lines packet format (PROTOCOL.md §1–4): the ordered
// form fields of a packet, the #EMPTY# stubs, the PHP serialize codec of DATA, the legacy md5 and hardened
// hmac-sha256 signatures with their replay window, and the JSON answer envelope. The client, the router and
// the connector server build and read packets only through it.
//
// Sending a packet:
//
//	fields, _ := (&wire.Packet{Command: "testConnect", ...}).Encode(wire.ToServer)
//	signed, _ := signer.Sign(fields)
//	body := signed.Encode() // application/x-www-form-urlencoded, in order
//
// Receiving one:
//
//	fields, err := wire.ReadForm(r, wire.DefaultMaxBody)
//	p, err := wire.Parse(fields, wire.ToPortal)
//	err = wire.Verify(fields, creds, guard)
//	err = p.DecodeData()                                  // the tree of Go values, or
//	items, itemErrs, err := wire.DecodeItems[MyItem](p)   // typed items
package wire
