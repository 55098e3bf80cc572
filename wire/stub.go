package wire

// IsEmpty reports whether v is empty in the sense of docs/protocol.md §3.3: "", nil, false, or an array with no elements.
// 0, 0.0 and "0" are not empty.
func IsEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case *Map:
		return x == nil || len(x.Entries) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// stubField returns a top-level field value as sent: "#EMPTY#" for "", the value otherwise.
func stubField(s string) string {
	if s == "" {
		return EmptyStub
	}
	return s
}

// UnstubField returns a top-level field value as received: "" for "#EMPTY#" and "#EMPTY_ARRAY#" (a field is
// text, so an empty array reads as "").
func UnstubField(s string) string {
	if s == EmptyStub || s == EmptyArrayStub {
		return ""
	}
	return s
}
