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

// StubField returns a top-level field value as sent: "#EMPTY#" for "", the value otherwise.
func StubField(s string) string {
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

// Unstub undoes both stubs in a decoded value, at any depth and whatever the sender's profile: "#EMPTY#"
// becomes "" and "#EMPTY_ARRAY#" an empty list. Lists and maps are changed in place; the (possibly new) value
// is returned.
func Unstub(v any) any {
	switch x := v.(type) {
	case string:
		switch x {
		case EmptyStub:
			return ""
		case EmptyArrayStub:
			return []any{}
		}
	case []any:
		for i, el := range x {
			x[i] = Unstub(el)
		}
	case *Map:
		if x != nil {
			for i := range x.Entries {
				x.Entries[i].Value = Unstub(x.Entries[i].Value)
			}
		}
	}
	return v
}
