//go:build race

package wire

// raceEnabled: the race detector slows the parser about tenfold.
const raceEnabled = true
