package wire

// For the external benchmarks (package wire_test), which bind into openlines' item types: openlines imports
// wire, so they cannot live in package wire.
var TenItemPacket = tenItemPacket

// UnserializeString and UnserializeItems decode serialized bytes before base64, as PHP's unserialize does
// in the benchmarks beside them.
func UnserializeString(s string) (any, error) { return unserialize(s) }

// DecodeTree is DecodeData's tree of serialized bytes, before base64: both stubs undone.
func DecodeTree(s string) (any, error) {
	ns, err := parse(s)
	if err != nil {
		return nil, err
	}
	return (&tree{nodes: ns, unstub: true}).value(0), nil
}

func UnserializeItems[T any](s string) ([]T, []error, error) { return unserializeItems[T](s) }
