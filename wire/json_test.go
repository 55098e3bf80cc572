package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMapJSON(t *testing.T) {
	t.Parallel()
	v := []any{NewMap("b", int64(1), "a", NewMap(), "7", "x", "list", []any{"y", true, nil, 1.5}), (*Map)(nil)}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"b":1,"a":{},"7":"x","list":["y",true,null,1.5]},null]`
	if string(b) != want {
		t.Fatalf("json.Marshal = %s, want %s", b, want)
	}
	back, err := ParseJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, []any{NewMap("b", int64(1), "a", &Map{}, int64(7), "x", "list", []any{"y", true, nil, 1.5}), nil}) {
		t.Fatalf("ParseJSON = %#v", back)
	}
}

func TestParseJSONRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "{", `{"a":1} {}`, "[1,", strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)} {
		if v, err := ParseJSON([]byte(bad)); err == nil {
			t.Errorf("ParseJSON(%.20q) = %v, want an error", bad, v)
		}
	}
}
