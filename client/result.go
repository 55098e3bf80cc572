package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
)

// Result is a successful answer.
type Result struct {
	// Raw is DATA exactly as received; empty when the answer had none or the call was fire-and-forget.
	Raw json.RawMessage
	// StatusCode and Header are those of the HTTP answer.
	StatusCode int
	Header     http.Header
	// Attempts is the number of HTTP attempts the call took.
	Attempts int
}

// Data returns DATA decoded from JSON (numbers as json.Number, objects as map[string]any, arrays as []any);
// nil when the answer had none or the call was fire-and-forget. It is decoded on each call, only when asked
// for: most callers use Decode or Raw.
func (r *Result) Data() any {
	if r == nil || len(r.Raw) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(r.Raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil { // Raw was checked when the answer was parsed
		return nil
	}
	return v
}

// Decode decodes DATA into v with encoding/json (field names match case-insensitively; numbers held in
// interfaces become json.Number). Missing DATA, null,
// false, "" and PHP's empty array [] standing for an empty object leave v unchanged.
func (r *Result) Decode(v any) error {
	if r == nil {
		return fmt.Errorf("client: Decode on a nil Result")
	}
	return decodeData(r.Raw, v)
}

func decodeData(raw json.RawMessage, v any) error {
	t := bytes.TrimSpace(raw)
	switch string(t) {
	case "", "null", "false", `""`:
		return nil
	case "[]":
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer && !rv.IsNil() {
			switch rv.Elem().Kind() {
			case reflect.Slice, reflect.Array, reflect.Interface:
			default:
				return nil // PHP encodes an empty array as [] even where it means an object
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("client: decoding DATA into %T: %w", v, err)
	}
	return nil
}
