//go:build !race

package emoji

const raceEnabled = false
