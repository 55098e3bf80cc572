package wire

// For the external benchmarks (package wire_test), which bind into router's item types: router imports
// wire, so they cannot live in package wire.
var TenItemPacket = tenItemPacket
