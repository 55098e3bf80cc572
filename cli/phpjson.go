package cli

import (
	"bytes"
	"encoding/json"

	"github.com/olctl/olctl/wire"
)

// phpJSON returns a decoded PHP value (as wire.Unserialize gives it) as a value that encodes to JSON with the
// order of PHP arrays kept: a *wire.Map becomes an object in its entry order.
func phpJSON(v any) any {
	switch x := v.(type) {
	case *wire.Map:
		return orderedObject{m: x}
	case wire.Map:
		return orderedObject{m: &x}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = phpJSON(e)
		}
		return out
	}
	return v
}

// orderedObject encodes a *wire.Map as a JSON object in its entry order.
type orderedObject struct{ m *wire.Map }

// MarshalJSON implements json.Marshaler.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o.m.Entries {
		if i > 0 {
			b.WriteByte(',')
		}
		var key string
		switch k := e.Key.(type) {
		case string:
			key = k
		default:
			kb, _ := json.Marshal(k)
			key = string(kb)
		}
		kb, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(phpJSON(e.Value))
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
