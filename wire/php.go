// PHP serialize codec.
//
// Why hand-written: github.com/elliotchance/phpserialize (the only maintained Go codec) decodes arrays into Go
// maps, which loses the key order that PHP keeps and that signed packets and typed messages depend on; it has
// no bound on nesting or element counts (a hostile "a:999999999:{" allocates before it fails), it accepts
// objects, and it reports errors without a byte offset. The wire format is small and fully specified
// (docs/protocol.md §4), so a strict codec of a few hundred lines is simpler to trust than a wrapper around a
// library that would have to be re-checked on every input. The benchmarks compare against that library.

package wire

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Limits of the decoder. A packet that goes past them is refused with BAD_PACKET.
const (
	// MaxDepth is the deepest nesting of arrays the decoder accepts.
	MaxDepth = 64
	// maxElements is the most array elements, summed over the whole value, that the decoder accepts.
	maxElements = 100_000
)

// Map is a PHP array that is not a plain list: its entries keep the order they were written in. Keys are
// int64 or string, as in PHP (a string key that reads as a canonical decimal integer becomes an int64 key,
// exactly as PHP does).
type Map struct {
	Entries []Entry
}

// Entry is one key/value pair of a Map. Key is int64 or string.
type Entry struct {
	Key   any
	Value any
}

// NewMap builds a Map from alternating keys and values: NewMap("a", 1, "b", 2).
func NewMap(kv ...any) *Map {
	m := &Map{Entries: make([]Entry, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}

// Len returns the number of entries.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.Entries)
}

// Get returns the value under key (a string or an integer, compared as PHP would) and whether it exists.
func (m *Map) Get(key any) (any, bool) {
	if m == nil {
		return nil, false
	}
	k := normalizeKey(key)
	for _, e := range m.Entries {
		if e.Key == k {
			return e.Value, true
		}
	}
	return nil, false
}

// String returns the value under key when it is a string, else "".
func (m *Map) String(key any) string {
	v, _ := m.Get(key)
	s, _ := v.(string)
	return s
}

// Set replaces the value under key, or appends the entry when the key is new.
func (m *Map) Set(key, value any) {
	k := normalizeKey(key)
	for i := range m.Entries {
		if m.Entries[i].Key == k {
			m.Entries[i].Value = value
			return
		}
	}
	m.Entries = append(m.Entries, Entry{Key: k, Value: value})
}

// normalizeKey turns any Go integer into int64 and a canonical decimal string into int64, as PHP does.
func normalizeKey(key any) any {
	switch k := key.(type) {
	case string:
		if n, ok := phpIntKey(k); ok {
			return n
		}
		return k
	case int:
		return int64(k)
	case int8:
		return int64(k)
	case int16:
		return int64(k)
	case int32:
		return int64(k)
	case int64:
		return k
	case uint:
		return int64(k)
	case uint8:
		return int64(k)
	case uint16:
		return int64(k)
	case uint32:
		return int64(k)
	case uint64:
		return int64(k)
	case bool:
		if k {
			return int64(1)
		}
		return int64(0)
	}
	return fmt.Sprint(key)
}

// phpIntKey reports whether s is a string PHP stores as an integer array key: "0", or an optional "-"
// followed by a non-zero digit and more digits, within int64.
func phpIntKey(s string) (int64, bool) {
	if s == "" || len(s) > 20 || (s[0] > '9' || s[0] < '0') && s[0] != '-' {
		return 0, false
	}
	i := 0
	if s[0] == '-' {
		i = 1
		if len(s) == 1 {
			return 0, false
		}
	}
	if s[i] == '0' && len(s) > i+1 || (s[i] == '0' && i == 1) {
		return 0, false
	}
	for j := i; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// SyntaxError is a malformed or refused PHP serialized value. Offset is the byte where the problem is.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("php unserialize: %s at byte %d", e.Msg, e.Offset)
}

// Is makes every SyntaxError match CodeBadPacket.
func (e *SyntaxError) Is(target error) bool { return isCode(target, CodeBadPacket) }

// Unserialize decodes one PHP serialized value. Lists (arrays whose keys are 0..n-1 in order) become []any,
// other arrays *Map; integers int64, floats float64, strings string, null nil; the stubs are left as they
// are (Packet.DecodeData undoes them). Objects, enums, references, repeated keys, trailing bytes, lengths
// past the input, nesting beyond MaxDepth and more than 100 000 elements in all are refused with a
// *SyntaxError. Strings share memory with a single copy of data.
func Unserialize(data []byte) (any, error) { return unserialize(string(data)) }

// unserialize is Unserialize on a string, whose memory the decoded strings share.
func unserialize(s string) (any, error) {
	ns, err := parse(s)
	if err != nil {
		return nil, err
	}
	return (&tree{nodes: ns}).value(0), nil
}

func parsePHPFloat(s string) (float64, bool) {
	switch s {
	case "INF":
		return math.Inf(1), true
	case "-INF":
		return math.Inf(-1), true
	case "NAN":
		return math.NaN(), true
	case "":
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// appendPHPFloat writes f as PHP's serialize() does with serialize_precision=-1: the shortest digits that
// read back to f, in fixed notation when the decimal exponent is in [-4, 17), else "d.dddE+x".
func appendPHPFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "INF"...)
	case math.IsInf(f, -1):
		return append(dst, "-INF"...)
	case math.IsNaN(f):
		return append(dst, "NAN"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±xx
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp := 0
	for _, c := range e[i+2:] { // e[i+1] is the exponent's sign
		exp = exp*10 + int(c-'0')
	}
	if e[i+1] == '-' {
		exp = -exp
	}
	decpt := exp + 1
	if decpt < -3 || decpt > 17 {
		dst = append(dst, digits[0], '.')
		if nd > 1 {
			dst = append(dst, digits[1:nd]...)
		} else {
			dst = append(dst, '0')
		}
		dst = append(dst, 'E')
		if exp >= 0 {
			dst = append(dst, '+')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	if decpt <= 0 {
		dst = append(dst, '0', '.')
		for j := 0; j < -decpt; j++ {
			dst = append(dst, '0')
		}
		return append(dst, digits[:nd]...)
	}
	if nd <= decpt {
		dst = append(dst, digits[:nd]...)
		for j := nd; j < decpt; j++ {
			dst = append(dst, '0')
		}
		return dst
	}
	dst = append(dst, digits[:decpt]...)
	dst = append(dst, '.')
	return append(dst, digits[decpt:nd]...)
}
