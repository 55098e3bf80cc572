package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Result is a successful answer.
type Result struct {
	// Raw is DATA as received when it counts (docs/protocol.md §5: a non-empty array or object); nil
	// otherwise, for a fire-and-forget call, and for a call that was not sent (setStatusReading to a
	// connector that does not take it).
	Raw json.RawMessage
	// StatusCode and Header are those of the HTTP answer (0 and nil for a call that was not sent).
	StatusCode int
	Header     http.Header
	// Attempts is the number of HTTP attempts the call took.
	Attempts int
}

// Decode decodes DATA into v with encoding/json (field names match case-insensitively; numbers held in
// interfaces become json.Number). Without DATA v is left unchanged.
func (r *Result) Decode(v any) error {
	if r == nil {
		return errors.New("client: Decode on a nil Result")
	}
	if len(r.Raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.Raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("client: decoding DATA into %T: %w", v, err)
	}
	return nil
}
