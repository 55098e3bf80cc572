//go:build race

package emoji

// raceEnabled: the race detector slows the scanner about tenfold.
const raceEnabled = true
