package wire

import (
	"encoding/base64"
	"fmt"
)

// Names of the packet fields (PROTOCOL.md §2).
const (
	FieldCommand   = "BX_COMMAND"
	FieldLicence   = "BX_LICENCE"
	FieldDomain    = "BX_DOMAIN"
	FieldType      = "BX_TYPE"
	FieldRegion    = "BX_REGION"
	FieldVersion   = "BX_VERSION"
	FieldConnector = "CONNECTOR"
	FieldLine      = "LINE"
	FieldData      = "DATA"
)

// TypeCP is the BX_TYPE of self-hosted portals.
const TypeCP = "CP"

// Direction says which way a packet goes; it decides the field order and the shape of DATA.
type Direction int

const (
	// ToServer is portal → connector server: DATA is the list of the call's positional arguments.
	ToServer Direction = iota
	// ToPortal is connector server → portal: DATA is the list of items itself.
	ToPortal
)

func (d Direction) String() string {
	if d == ToPortal {
		return "server→portal"
	}
	return "portal→server"
}

// Packet is one protocol message. Encode turns it into signed-ready fields; Parse and DecodeData read one.
type Packet struct {
	Command   string // BX_COMMAND
	Licence   string // BX_LICENCE (portal → server only)
	Domain    string // BX_DOMAIN (portal → server only)
	Type      string // BX_TYPE, "CP" when empty
	Region    string // BX_REGION (portal → server, current profile, sent when not empty)
	Version   string // BX_VERSION
	Connector string // CONNECTOR
	Line      string // LINE
	// Data is DATA before serialization (any value Serialize takes) or after DecodeData (as Unserialize
	// returns it, with every #EMPTY# turned back into "" and every #EMPTY_ARRAY# into an empty list).
	Data any
	// Profile decides how Encode writes empty values and whether it sends BX_REGION (docs/protocol.md §3).
	Profile Profile

	// Set by Parse.
	Fields    Fields // the fields as received, in order
	RawData   string // DATA as received (base64)
	Timestamp string // BX_TIMESTAMP (hardened)
	Nonce     string // BX_NONCE (hardened)
	Sign      string // BX_SIGN (hardened)
	Hash      string // BX_HASH
}

// Encode returns the packet's unsigned fields in the order of dir, every empty top-level value replaced by
// #EMPTY#, and DATA = base64(serialize(stub(Data))) under the packet's profile. Pass the result to Signer.Sign.
func (p *Packet) Encode(dir Direction) (Fields, error) {
	ser, err := appendSerialize(nil, p.Data, p.Profile.stubs())
	if err != nil {
		return nil, err
	}
	data := base64.StdEncoding.EncodeToString(ser)
	typ := p.Type
	if typ == "" {
		typ = TypeCP
	}
	if p.Command == "" {
		return nil, fmt.Errorf("wire: packet has no command")
	}
	if dir == ToPortal {
		return Fields{
			{FieldCommand, StubField(p.Command)},
			{FieldType, StubField(typ)},
			{FieldLine, StubField(p.Line)},
			{FieldConnector, StubField(p.Connector)},
			{FieldVersion, StubField(p.Version)},
			{FieldData, data},
		}, nil
	}
	fields := make(Fields, 0, 9)
	fields = append(fields,
		Field{FieldCommand, StubField(p.Command)},
		Field{FieldLicence, StubField(p.Licence)},
		Field{FieldDomain, StubField(p.Domain)},
		Field{FieldType, StubField(typ)})
	if p.Profile == Current && p.Region != "" {
		fields = append(fields, Field{FieldRegion, p.Region})
	}
	return append(fields,
		Field{FieldVersion, StubField(p.Version)},
		Field{FieldConnector, StubField(p.Connector)},
		Field{FieldLine, StubField(p.Line)},
		Field{FieldData, data}), nil
}

// Parse reads received fields into a Packet without verifying them and without decoding DATA (verify first,
// then DecodeData). A missing BX_COMMAND or DATA, or a portal → server packet without BX_LICENCE or
// BX_DOMAIN, is BAD_PACKET. Top-level values have both stubs turned back into "". The packet's Profile is
// the one its BX_VERSION names (ProfileOf); a server → portal packet's version is the server's and says
// nothing of the portal, so a caller that knows better sets Profile itself.
func Parse(fields Fields, dir Direction) (*Packet, error) {
	p := &Packet{Fields: fields}
	for _, f := range fields {
		v := UnstubField(f.Value)
		switch f.Name {
		case FieldCommand:
			p.Command = v
		case FieldLicence:
			p.Licence = v
		case FieldDomain:
			p.Domain = v
		case FieldType:
			p.Type = v
		case FieldRegion:
			p.Region = v
		case FieldVersion:
			p.Version = v
		case FieldConnector:
			p.Connector = v
		case FieldLine:
			p.Line = v
		case FieldData:
			p.RawData = f.Value
		case FieldTimestamp:
			p.Timestamp = f.Value
		case FieldNonce:
			p.Nonce = f.Value
		case FieldSign:
			p.Sign = f.Value
		case FieldHash:
			p.Hash = f.Value
		}
	}
	p.Profile = ProfileOf(p.Version)
	if p.Command == "" {
		return p, Errorf(CodeBadPacket, "the packet has no %s", FieldCommand)
	}
	if _, ok := fields.Lookup(FieldData); !ok {
		return p, Errorf(CodeBadPacket, "the packet has no %s", FieldData)
	}
	if dir == ToServer {
		if p.Licence == "" {
			return p, Errorf(CodeBadPacket, "the packet has no %s", FieldLicence)
		}
		if p.Domain == "" {
			return p, Errorf(CodeBadPacket, "the packet has no %s", FieldDomain)
		}
	}
	return p, nil
}

// DecodeData decodes RawData into Data: base64, then PHP unserialize, with both stubs undone (#EMPTY# → "",
// #EMPTY_ARRAY# → an empty list) whatever the profile. Errors are BAD_PACKET and say where the bytes went
// wrong. Strings share the memory of one copy of the decoded bytes.
func (p *Packet) DecodeData() error {
	raw, err := base64.StdEncoding.DecodeString(p.RawData)
	if err != nil {
		return &Error{Code: CodeBadPacket, Message: "DATA is not base64", Err: err}
	}
	ns, err := parse(bytesString(raw)) // raw is ours and never written again
	if err != nil {
		return &Error{Code: CodeBadPacket, Message: "DATA", Err: err}
	}
	p.Data = (&tree{nodes: ns, unstub: true}).value(0)
	return nil
}

// Items returns Data as a list: the items of a server → portal packet or the arguments of a portal → server
// one. An empty DATA ("#EMPTY#" or "#EMPTY_ARRAY#") is an empty list; a *Map is taken in its order.
func (p *Packet) Items() ([]any, error) { return listOf(p.Data) }

// listOf returns a decoded DATA as a list of items, as Packet.Items does.
func listOf(data any) ([]any, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case string:
		if d == "" {
			return nil, nil
		}
	case []any:
		return d, nil
	case *Map:
		out := make([]any, len(d.Entries))
		for i, e := range d.Entries {
			out[i] = e.Value
		}
		return out, nil
	}
	return nil, Errorf(CodeBadPacket, "DATA is a %T, not a list", data)
}
