package wire

import "math"

// tree builds the Go values of parsed nodes: nil, bool, int64, float64, string (sharing the input's memory),
// []any for a list and *Map for any other array. With unstub, both stubs are undone on the way: "#EMPTY#"
// becomes "" and "#EMPTY_ARRAY#" an empty list.
type tree struct {
	nodes
	unstub bool
}

// value returns the value of the node at i.
func (t *tree) value(i int) any {
	nd := &t.list[i]
	switch nd.kind {
	case kindBool:
		return nd.n != 0
	case kindInt:
		return nd.n
	case kindFloat:
		return math.Float64frombits(uint64(nd.n))
	case kindString:
		switch s := t.str(nd); {
		case t.unstub && s == EmptyStub:
			return ""
		case t.unstub && s == EmptyArrayStub:
			return []any{}
		case s == EmptyStub:
			return EmptyStub // every empty value of a legacy packet: a constant, which costs no memory of its own
		default:
			return s
		}
	case kindList:
		list := make([]any, 0, nd.n)
		for j := i + 1; j < nd.m; j = t.next(j + 1) {
			list = append(list, t.value(j+1))
		}
		return list
	case kindMap:
		m := &Map{Entries: make([]Entry, 0, nd.n)}
		for j := i + 1; j < nd.m; j = t.next(j + 1) {
			var key any
			if k := &t.list[j]; k.kind == kindInt {
				key = k.n
			} else {
				key = t.str(k)
			}
			m.Entries = append(m.Entries, Entry{Key: key, Value: t.value(j + 1)})
		}
		return m
	}
	return nil
}
