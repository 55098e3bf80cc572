package openlines

import (
	"encoding/json"
	"testing"
)

func TestTestConnectAnswer(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(TestConnectAnswer{Result: "OK"})
	if err != nil || string(b) != `{"RESULT":"OK"}` {
		t.Fatalf("%s, %v", b, err)
	}
}
