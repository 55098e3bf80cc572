package wire

import "errors"

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// unstub undoes both stubs in a decoded value at any depth, as DecodeData's tree does on the way: "#EMPTY#"
// becomes "" and "#EMPTY_ARRAY#" an empty list. Lists and maps are changed in place; the (possibly new) value
// is returned. It is the tests' reference for the typed decode: unserialize, unstub, Bind.
func unstub(v any) any {
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
			x[i] = unstub(el)
		}
	case *Map:
		if x != nil {
			for i := range x.Entries {
				x.Entries[i].Value = unstub(x.Entries[i].Value)
			}
		}
	}
	return v
}
