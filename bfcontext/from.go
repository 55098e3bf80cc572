package bfcontext

import (
	"encoding/json"
	"fmt"

	"github.com/olctl/olctl/wire"
)

// encodeFrom writes a recipient map as a JSON object in its key order: the stored form of Context.From. A
// nil map is "null".
func encodeFrom(m *wire.Map) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("bfcontext: the recipient map: %w", err)
	}
	return string(b), nil
}

// decodeFrom reads what encodeFrom wrote, as wire.ParseJSON reads it: objects as *wire.Map in their order,
// arrays as []any, integers as int64, other numbers as float64, as wire.Unserialize gives them.
func decodeFrom(s string) (*wire.Map, error) {
	v, err := wire.ParseJSON([]byte(s))
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
