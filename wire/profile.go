package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// Profile is a generation of the protocol (docs/protocol.md §1): what a sender writes for empty values, which
// fields and headers it sends, and how a portal acknowledges delivery. Receivers read both generations always.
// The zero Profile is Current.
type Profile uint8

const (
	// Current is imconnector 22.800.0 and later: empty arrays are "#EMPTY_ARRAY#", the OK answer acknowledges a
	// packet, BX_REGION and the ?connector=&command= query are sent.
	Current Profile = iota
	// Legacy is imconnector up to 21.x: every empty value is "#EMPTY#", a portal confirms items with
	// setStatusDelivered.
	Legacy
)

// The BX_VERSION a portal of each profile sends by default, and the first version of the current generation.
const (
	LegacyVersion  = "21.1100.0"
	CurrentVersion = "22.800.0"
)

// String returns "current" or "legacy".
func (p Profile) String() string {
	if p == Legacy {
		return "legacy"
	}
	return "current"
}

// Version returns the default BX_VERSION of a portal of the profile.
func (p Profile) Version() string {
	if p == Legacy {
		return LegacyVersion
	}
	return CurrentVersion
}

func (p Profile) stubs() stubMode {
	if p == Legacy {
		return stubLegacy
	}
	return stubCurrent
}

// ParseProfile reads "legacy" or "current" (any case; "" is Current).
func ParseProfile(s string) (Profile, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "current":
		return Current, nil
	case "legacy":
		return Legacy, nil
	}
	return Current, fmt.Errorf("unknown profile %q (want legacy or current)", s)
}

// ProfileOf returns the profile of a portal that sent BX_VERSION v: Current when v is 22.800.0 or later,
// compared numerically part by part; Legacy otherwise, and for a version that is not dotted decimal.
func ProfileOf(v string) Profile {
	if compareVersions(v, CurrentVersion) >= 0 {
		return Current
	}
	return Legacy
}

// compareVersions compares dotted decimal versions part by part (missing parts are 0); a version with a part
// that is not a decimal number is less than every other.
func compareVersions(a, b string) int {
	pa, okA := versionParts(a)
	pb, okB := versionParts(b)
	switch {
	case !okA && !okB:
		return 0
	case !okA:
		return -1
	case !okB:
		return 1
	}
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y uint64
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionParts(v string) ([]uint64, bool) {
	if v == "" {
		return nil, false
	}
	parts := strings.Split(v, ".")
	out := make([]uint64, len(parts))
	for i, s := range parts {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}
