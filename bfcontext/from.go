package bfcontext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/olctl/olctl/wire"
)

// encodeFrom writes a recipient map as a JSON object in its key order: the stored form of Context.From. A
// nil map is "null".
func encodeFrom(m *wire.Map) (string, error) {
	if m == nil {
		return "null", nil
	}
	var b bytes.Buffer
	if err := appendJSON(&b, m, 0); err != nil {
		return "", fmt.Errorf("bfcontext: the recipient map: %w", err)
	}
	return b.String(), nil
}

func appendJSON(b *bytes.Buffer, v any, depth int) error {
	if depth > wire.MaxDepth {
		return fmt.Errorf("nested deeper than %d", wire.MaxDepth)
	}
	switch x := v.(type) {
	case *wire.Map:
		if x == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteByte('{')
		for i, e := range x.Entries {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(wire.KeyString(e.Key))
			b.Write(k)
			b.WriteByte(':')
			if err := appendJSON(b, e.Value, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSON(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(j)
	}
	return nil
}

// decodeFrom reads what encodeFrom wrote: objects as *wire.Map in their order, arrays as []any, integers as
// int64, other numbers as float64, as wire.Unserialize gives them.
func decodeFrom(s string) (*wire.Map, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	v, err := readJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(*wire.Map)
	if !ok {
		return nil, fmt.Errorf("a %T, not an object", v)
	}
	return m, nil
}

func readJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > wire.MaxDepth {
		return nil, fmt.Errorf("nested deeper than %d", wire.MaxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &wire.Map{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m.Set(k.(string), v)
			}
			_, err := dec.Token()
			return m, err
		case '[':
			l := []any{}
			for dec.More() {
				v, err := readJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if n, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return n, nil
		}
		return t.Float64()
	}
	return tok, nil // string, bool, nil
}
