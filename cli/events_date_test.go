package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/portal"
)

// TestEventDates: every date the decoder accepts (unix seconds, any positive int64) is written, with its
// seconds in date_unix and, for a year JSON can hold, as RFC 3339 in date; none fails its event.
func TestEventDates(t *testing.T) {
	for _, tc := range []struct {
		secs    int64
		rfc3339 string
	}{
		{1700000000, "2023-11-14T22:13:20Z"},
		{253402300799, "9999-12-31T23:59:59Z"},
		{253402300800, ""}, // 10000-01-01
		{1 << 40, ""},
		{math.MaxInt64, ""},
	} {
		var out bytes.Buffer
		e := &eventWriter{w: &out, clock: clock.NewFake(time.Unix(1700000000, 0))}
		m := portal.Message{Connector: "echo", Line: "1", MessageID: "m1", Date: time.Unix(tc.secs, 0).UTC()}
		if err := e.emit(messageEvent(EvReceivedMessage, m)); err != nil {
			t.Fatalf("date %d: %v", tc.secs, err)
		}
		var got map[string]any
		dec := json.NewDecoder(&out)
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("date %d: %v", tc.secs, err)
		}
		if n, _ := got["date_unix"].(json.Number); n.String() != strconv.FormatInt(tc.secs, 10) {
			t.Errorf("date %d: date_unix %v", tc.secs, got["date_unix"])
		}
		if d, _ := got["date"].(string); d != tc.rfc3339 {
			t.Errorf("date %d: date %q, want %q", tc.secs, d, tc.rfc3339)
		}
	}
}
