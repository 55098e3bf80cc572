package wire

import (
	"encoding/base64"
	"fmt"
)

// Names of the packet fields (docs/protocol.md §3).
const (
	fieldCommand   = "BX_COMMAND"
	fieldLicence   = "BX_LICENCE"
	fieldDomain    = "BX_DOMAIN"
	fieldType      = "BX_TYPE"
	fieldRegion    = "BX_REGION"
	fieldVersion   = "BX_VERSION"
	fieldConnector = "CONNECTOR"
	fieldLine      = "LINE"
	fieldData      = "DATA"
)

// typeCP is the BX_TYPE of self-hosted portals.
const typeCP = "CP"

// Direction says which way a packet goes; it decides the field order and the shape of DATA.
type Direction int

const (
	// ToServer is portal → connector server: DATA is the list of the call's positional arguments.
	ToServer Direction = iota
	// ToPortal is connector server → portal: DATA is the list of items itself.
	ToPortal
)

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
		typ = typeCP
	}
	if p.Command == "" {
		return nil, fmt.Errorf("wire: packet has no command")
	}
	if dir == ToPortal {
		return Fields{
			{fieldCommand, stubField(p.Command)},
			{fieldType, stubField(typ)},
			{fieldLine, stubField(p.Line)},
			{fieldConnector, stubField(p.Connector)},
			{fieldVersion, stubField(p.Version)},
			{fieldData, data},
		}, nil
	}
	fields := make(Fields, 0, 9)
	fields = append(fields,
		Field{fieldCommand, stubField(p.Command)},
		Field{fieldLicence, stubField(p.Licence)},
		Field{fieldDomain, stubField(p.Domain)},
		Field{fieldType, stubField(typ)})
	if p.Profile == Current && p.Region != "" {
		fields = append(fields, Field{fieldRegion, p.Region})
	}
	return append(fields,
		Field{fieldVersion, stubField(p.Version)},
		Field{fieldConnector, stubField(p.Connector)},
		Field{fieldLine, stubField(p.Line)},
		Field{fieldData, data}), nil
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
		case fieldCommand:
			p.Command = v
		case fieldLicence:
			p.Licence = v
		case fieldDomain:
			p.Domain = v
		case fieldType:
			p.Type = v
		case fieldRegion:
			p.Region = v
		case fieldVersion:
			p.Version = v
		case fieldConnector:
			p.Connector = v
		case fieldLine:
			p.Line = v
		case fieldData:
			p.RawData = f.Value
		case fieldTimestamp:
			p.Timestamp = f.Value
		case fieldNonce:
			p.Nonce = f.Value
		case fieldSign:
			p.Sign = f.Value
		case fieldHash:
			p.Hash = f.Value
		}
	}
	p.Profile = ProfileOf(p.Version)
	if p.Command == "" {
		return p, Errorf(CodeBadPacket, "the packet has no %s", fieldCommand)
	}
	if _, ok := fields.Lookup(fieldData); !ok {
		return p, Errorf(CodeBadPacket, "the packet has no %s", fieldData)
	}
	if dir == ToServer {
		if p.Licence == "" {
			return p, Errorf(CodeBadPacket, "the packet has no %s", fieldLicence)
		}
		if p.Domain == "" {
			return p, Errorf(CodeBadPacket, "the packet has no %s", fieldDomain)
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
