// PHP serialize codec.
//
// Why hand-written: github.com/elliotchance/phpserialize (the only maintained Go codec) decodes arrays into Go
// maps, which loses the key order that PHP keeps and that signed packets and typed messages depend on; it has
// no bound on nesting or element counts (a hostile "a:999999999:{" allocates before it fails), it accepts
// objects, and it reports errors without a byte offset. The wire format is small and fully specified
// (PROTOCOL.md §2.2), so a strict codec of a few hundred lines is simpler to trust than a wrapper around a
// library that would have to be re-checked on every input. The benchmarks compare against that library.

package wire

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// Limits of the decoder. A packet that goes past them is refused with BAD_PACKET.
const (
	// MaxDepth is the deepest nesting of arrays the decoder accepts.
	MaxDepth = 64
	// MaxElements is the most array elements, summed over the whole value, that the decoder accepts.
	MaxElements = 100_000
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

// intKey is phpIntKey behind a test small enough to be inlined where the decoders call it: most keys start
// with a letter, and only a key starting with one of "-./0123456789" can be an integer.
func intKey(s string) (n int64, ok bool) {
	if len(s) > 0 && s[0]-'-' <= '9'-'-' {
		n, ok = phpIntKey(s)
	}
	return n, ok
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

// Is makes every SyntaxError match ErrBadPacket.
func (e *SyntaxError) Is(target error) bool { return target == ErrBadPacket }

// Unserialize decodes one PHP serialized value. Lists (arrays whose keys are 0..n-1 in order) become []any,
// other arrays *Map; integers int64, floats float64, strings string, null nil. Objects, references, custom
// serialization, trailing bytes, lengths past the input, nesting beyond MaxDepth and more than MaxElements
// elements are refused with a *SyntaxError. Strings share memory with a single copy of data.
func Unserialize(data []byte) (any, error) {
	return UnserializeString(string(data))
}

// UnserializeString is Unserialize on a string; decoded strings share its memory.
func UnserializeString(s string) (any, error) {
	d := decoder{scanner: scanner{s: s}}
	d.presize()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.s) {
		return nil, d.errf("trailing bytes after the value")
	}
	return v, nil
}

// scanner reads the PHP serialize format: the position in the input, the elements counted against
// MaxElements, and the readers and errors every decoder of the package shares (decoder builds the tree, into
// binds typed values, docParser builds a Doc).
type scanner struct {
	s     string
	pos   int
	elems int
}

type decoder struct {
	scanner

	// Slabs: decoded values are carved out of a few large allocations instead of one allocation per
	// string, integer, list and map (boxing a string into an interface allocates; these box in place).
	strs    []string
	ints    []int64
	lists   [][]any
	anys    []any
	entries []Entry
	maps    []Map

	// keyStrs and keyBoxes remember recently boxed string keys: the items of a packet repeat the same keys
	// ("id", "name", …), which then share one boxed string instead of one each.
	keyStrs  [64]string
	keyBoxes [64]any
}

// internKey returns k boxed, reusing the box of an equal key seen before when the cache still holds it, and
// k's digest bit for the duplicate check (its slot).
func (d *decoder) internKey(k string) (any, uint64) {
	if len(k) == 0 {
		return "", 1
	}
	i := strSlot(k)
	if d.keyStrs[i] == k && d.keyBoxes[i] != nil {
		return d.keyBoxes[i], 1 << i
	}
	v := d.boxString(k)
	d.keyStrs[i], d.keyBoxes[i] = k, v
	return v, 1 << i
}

// strSlot is a 6-bit digest of a non-empty string key: its bucket in the intern cache and its digest bit.
func strSlot(k string) uint {
	return (uint(len(k))*31 + uint(k[0])*7 + uint(k[len(k)-1])) & 63
}

// Keys have a one-bit digest (one of 64 buckets): a small map compares a new key with its earlier keys only
// when their bits collide, which for the few keys of a protocol map is almost never. A string key's bit is its
// intern slot (internKey), the empty key's is bit 0, an integer key's is intKeyBit.

// intKeyBit is the bit of an integer key.
func intKeyBit(k int64) uint64 { return 1 << (uint64(k) * 0x9E3779B97F4A7C15 >> 58) }

const slabSize = 128

// presize sizes the first slabs from the input, so that a typical packet is decoded with a handful of
// allocations. Every string costs at least two ':' of the input, every integer one, every array two; a map
// entry needs a key and a value. Keys are interned and list slots are taken only by real lists, so the string
// and list slabs are sized for values. The estimates are close for protocol packets (measured on the 10-item
// receivingMessage: 123 boxed strings of 183, 210 entries of 254, 20 list slots of 39, 70 maps of 73 for
// 1 012 colons) and a slab that runs out is followed by small ones, so that hostile input cannot make them
// large.
func (d *decoder) presize() {
	colons := strings.Count(d.s, ":")
	if colons > 4*MaxElements {
		colons = 4 * MaxElements
	}
	d.strs = make([]string, 0, colons*3/20+min(32, colons/8+2)) // room for the distinct keys; little for a small value
	d.entries = make([]Entry, 0, colons/4+1)
	d.anys = make([]any, 0, colons/32+8)
	d.maps = make([]Map, 0, colons/14+1)
}

// boxString returns s as an interface whose data lives in the decoder's string slab.
func (d *decoder) boxString(s string) any {
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, slabSize)
	}
	d.strs = append(d.strs, s)
	return boxed(stringType, unsafe.Pointer(&d.strs[len(d.strs)-1]))
}

// boxList returns l as an interface whose slice header lives in the decoder's list slab (boxing a slice
// allocates its header otherwise).
func (d *decoder) boxList(l []any) any {
	if len(d.lists) == cap(d.lists) {
		d.lists = make([][]any, 0, nextSlab(cap(d.lists)))
	}
	d.lists = append(d.lists, l)
	return boxed(listType, unsafe.Pointer(&d.lists[len(d.lists)-1]))
}

// nextSlab is the size of the slab that follows one of size prev, for values a packet has few of (large
// integers such as dates, lists): small at first, growing to slabSize.
func nextSlab(prev int) int { return min(slabSize, 2*prev+16) }

// boxInt returns n as an interface whose data lives in the decoder's integer slab.
func (d *decoder) boxInt(n int64) any {
	if n >= 0 && n < 256 {
		return n // the runtime boxes small integers without allocating
	}
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int64, 0, nextSlab(cap(d.ints)))
	}
	d.ints = append(d.ints, n)
	return boxed(int64Type, unsafe.Pointer(&d.ints[len(d.ints)-1]))
}

// takeAnys returns an empty slice with room for n values, cut from the slab.
func (d *decoder) takeAnys(n int) []any {
	if n > slabSize {
		return make([]any, 0, n)
	}
	if cap(d.anys)-len(d.anys) < n {
		d.anys = make([]any, 0, slabSize*2)
	}
	start := len(d.anys)
	d.anys = d.anys[:start+n]
	return d.anys[start : start : start+n]
}

func (d *decoder) takeEntries(n int) []Entry {
	if n > slabSize {
		return make([]Entry, 0, n)
	}
	if cap(d.entries)-len(d.entries) < n {
		d.entries = make([]Entry, 0, slabSize)
	}
	start := len(d.entries)
	d.entries = d.entries[:start+n]
	return d.entries[start : start : start+n]
}

func (d *decoder) newMap(n int) *Map {
	if len(d.maps) == cap(d.maps) {
		d.maps = make([]Map, 0, 32)
	}
	d.maps = append(d.maps, Map{Entries: d.takeEntries(n)})
	return &d.maps[len(d.maps)-1]
}

// eface is the runtime layout of an empty interface.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

var (
	stringType = typeOf("")
	int64Type  = typeOf(int64(0))
	listType   = typeOf([]any(nil))
)

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

// boxed builds an interface of type typ whose value is at data. data must point at a value of that type
// that is never written again (interfaces of non-pointer types share their data).
func boxed(typ, data unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, data
	return v
}

func (d *scanner) errf(format string, args ...any) error {
	return &SyntaxError{Offset: d.pos, Msg: fmt.Sprintf(format, args...)}
}

// eat moves past c when it is the next byte.
func (d *scanner) eat(c byte) bool {
	if d.pos < len(d.s) && d.s[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *scanner) expectFail(c byte) error {
	if d.pos >= len(d.s) {
		return d.errf("unexpected end of input, want %q", c)
	}
	if d.s[d.pos] != c {
		return d.errf("want %q, got %q", c, d.s[d.pos])
	}
	return nil
}

// until returns the bytes up to the next c (not included) and moves past c.
func (d *scanner) until(c byte) (string, error) {
	start := d.pos
	for i := d.pos; i < len(d.s); i++ {
		if d.s[i] == c {
			d.pos = i + 1
			return d.s[start:i], nil
		}
	}
	return "", d.errf("unexpected end of input, want %q", c)
}

func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.s) {
		return nil, d.errf("unexpected end of input, want a value")
	}
	switch tag := d.s[d.pos]; tag {
	case 'N':
		return nil, d.null()
	case 'b':
		b, err := d.boolean()
		if err != nil {
			return nil, err
		}
		return b, nil
	case 'i':
		n, _, err := d.integer()
		if err != nil {
			return nil, err
		}
		return d.boxInt(n), nil
	case 'd':
		f, _, err := d.float()
		if err != nil {
			return nil, err
		}
		return f, nil
	case 's':
		return d.strValue()
	case 'a':
		d.pos++
		return d.array(depth)
	default:
		return nil, d.refuse(tag)
	}
}

// null reads `N;` (at its 'N').
func (d *scanner) null() error {
	d.pos++
	if !d.eat(';') {
		return d.expectFail(';')
	}
	return nil
}

// boolean reads `b:0;` or `b:1;` (at its 'b').
func (d *scanner) boolean() (bool, error) {
	d.pos++
	if !d.eat(':') {
		return false, d.expectFail(':')
	}
	start := d.pos
	v, err := d.until(';')
	if err != nil {
		return false, err
	}
	switch v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	d.pos = start
	return false, d.errf("bad boolean %q", v)
}

// integer reads `i:<n>;` (at its 'i'), and says where its decimal text starts.
func (d *scanner) integer() (n int64, start int, err error) {
	d.pos++
	if !d.eat(':') {
		return 0, 0, d.expectFail(':')
	}
	start = d.pos
	n, err = d.int(';')
	return n, start, err
}

// float reads `d:<text>;` (at its 'd'), and says where its text starts.
func (d *scanner) float() (f float64, start int, err error) {
	d.pos++
	if !d.eat(':') {
		return 0, 0, d.expectFail(':')
	}
	start = d.pos
	v, err := d.until(';')
	if err != nil {
		return 0, 0, err
	}
	f, ok := parsePHPFloat(v)
	if !ok {
		d.pos = start
		return 0, 0, d.errf("bad float %q", v)
	}
	return f, start, nil
}

// refuse is the error for a value whose type tag is none of N, b, i, d, s and a.
func (d *scanner) refuse(tag byte) error {
	switch tag {
	case 'O', 'C', 'o':
		return d.errf("objects are refused (%q)", tag)
	case 'r', 'R':
		return d.errf("references are refused (%q)", tag)
	case 'S', 'E':
		return d.errf("unsupported type %q", tag)
	}
	return d.errf("unknown type %q", tag)
}

// arrayKey reads an array key: an integer, or a string (a string that PHP stores as an integer becomes one),
// with a string key's text and the key's digest bit (see intKeyBit).
func (d *scanner) arrayKey() (key akey, text string, bit uint64, err error) {
	if d.pos >= len(d.s) {
		return akey{}, "", 0, d.errf("unexpected end of input, want a key")
	}
	switch d.s[d.pos] {
	case 'i':
		k, _, err := d.integer()
		if err != nil {
			return akey{}, "", 0, err
		}
		return akey{n: k, isInt: true}, "", intKeyBit(k), nil
	case 's':
		k, err := d.sstr()
		if err != nil {
			return akey{}, "", 0, err
		}
		if n, ok := intKey(k); ok {
			return akey{n: n, isInt: true}, k, intKeyBit(n), nil
		}
		if len(k) == 0 {
			return akey{}, "", 1, nil
		}
		return akey{s: k}, k, 1 << strSlot(k), nil
	}
	return akey{}, "", 0, d.errf("array keys must be integers or strings, got %q", d.s[d.pos])
}

// header reads an array's `:<n>:{` (after its 'a') at depth: the count, checked against MaxDepth,
// MaxElements and the bytes left, and counted in elems.
func (d *scanner) header(depth int) (int, error) {
	if depth >= MaxDepth {
		return 0, d.errf("nesting deeper than %d", MaxDepth)
	}
	if !d.eat(':') {
		return 0, d.expectFail(':')
	}
	n, err := d.length()
	if err != nil {
		return 0, err
	}
	if d.elems+n > MaxElements {
		return 0, d.errf("more than %d elements", MaxElements)
	}
	// Each element takes at least 4 bytes ("i:0;" key, "N;" value): refuse counts the input cannot hold
	// before allocating for them.
	if n > (len(d.s)-d.pos)/4 {
		return 0, d.errf("array count %d runs past the end of the input", n)
	}
	d.elems += n
	if !d.eat('{') {
		return 0, d.expectFail('{')
	}
	return n, nil
}

// strValue reads a string value (at its 's') and boxes it.
func (d *decoder) strValue() (any, error) {
	v, err := d.sstr()
	if err != nil {
		return nil, err
	}
	return d.boxValue(v), nil
}

// boxValue boxes a string value.
func (d *decoder) boxValue(v string) any {
	if len(v) == len(EmptyStub) && v == EmptyStub {
		return EmptyStub // every empty value of a packet: a constant, boxed without memory of its own
	}
	return d.boxString(v)
}

// int reads a decimal int64 ended by end: an optional sign and at least one digit.
func (d *scanner) int(end byte) (int64, error) {
	s, start := d.s, d.pos
	i := start
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := i
	var n int64
	for ; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int64(c) // wraps past 18 digits: parsed again below
	}
	if i == digits {
		return 0, d.errf("want an integer")
	}
	if i >= len(s) || s[i] != end {
		d.pos = i
		return 0, d.errf("want %q after the integer", end)
	}
	if i-digits > 18 {
		var err error
		if n, err = strconv.ParseInt(s[start:i], 10, 64); err != nil {
			return 0, d.errf("integer %s is out of range", s[start:i])
		}
	} else if s[start] == '-' {
		n = -n
	}
	d.pos = i + 1
	return n, nil
}

// length reads a non-negative length ended by ':'.
func (d *scanner) length() (int, error) {
	s, start := d.s, d.pos
	i, n := start, 0
	for ; i < len(s) && i-start <= 10; i++ {
		c := s[i] - '0'
		if c > 9 {
			break
		}
		n = n*10 + int(c)
	}
	if i == start || i-start > 10 {
		return 0, d.errf("want a length")
	}
	if i >= len(s) || s[i] != ':' {
		d.pos = i
		return 0, d.errf("want ':' after the length")
	}
	d.pos = i + 1
	return n, nil
}

// shortStr reads a whole string of fewer than 100 bytes, `s:<1–2 digits>:"<bytes>";`, at d.pos (on its 's'),
// and reports false, reading nothing, for anything else: str then reads it, or says what is wrong.
func (d *scanner) shortStr() (string, bool) {
	s, p := d.s, d.pos
	if p+6 > len(s) || s[p+1] != ':' {
		return "", false
	}
	n, q := int(s[p+2]-'0'), p+3
	if n > 9 {
		return "", false
	}
	if c := s[q] - '0'; c <= 9 {
		n, q = n*10+int(c), q+1
	}
	if q+1 >= len(s) || s[q] != ':' || s[q+1] != '"' {
		return "", false
	}
	start := q + 2
	if n > len(s)-start-2 || s[start+n] != '"' || s[start+n+1] != ';' {
		return "", false
	}
	d.pos = start + n + 2
	return s[start : start+n], true
}

// sstr reads a string at d.pos (on its 's'): shortStr when it can, else str.
func (d *scanner) sstr() (string, error) {
	if v, ok := d.shortStr(); ok {
		return v, nil
	}
	d.pos++
	return d.str()
}

func (d *scanner) str() (string, error) {
	// Fast path for the common shape `:<1–4 digits>:"<n bytes>";`; anything else (and every error) goes the
	// long way below, which says what is wrong and where.
	if s, p := d.s, d.pos; p < len(s) && s[p] == ':' {
		q, n := p+1, 0
		for ; q < len(s) && q-p <= 4; q++ {
			c := s[q] - '0'
			if c > 9 {
				break
			}
			n = n*10 + int(c)
		}
		if q > p+1 && q+1 < len(s) && s[q] == ':' && s[q+1] == '"' {
			if start := q + 2; n <= len(s)-start-2 && s[start+n] == '"' && s[start+n+1] == ';' {
				d.pos = start + n + 2
				return s[start : start+n], nil
			}
		}
	}
	if !d.eat(':') {
		return "", d.expectFail(':')
	}
	n, err := d.length()
	if err != nil {
		return "", err
	}
	if !d.eat('"') {
		return "", d.expectFail('"')
	}
	if n > len(d.s)-d.pos {
		return "", d.errf("string length %d runs past the end of the input", n)
	}
	v := d.s[d.pos : d.pos+n]
	d.pos += n
	if !d.eat('"') {
		return "", d.expectFail('"')
	}
	if !d.eat(';') {
		return "", d.expectFail(';')
	}
	return v, nil
}

func (d *decoder) array(depth int) (any, error) {
	n, err := d.header(depth)
	if err != nil {
		return nil, err
	}
	var list []any
	var m *Map
	var entries []Entry // m's, while it fills
	var seen map[any]struct{}
	var keyBits uint64 // the digest bits of m's keys, while seen is nil
	isList := true
	// The list slots are taken when the first element turns out to be a list element (key 0), so that maps,
	// whose first key is a string, cost no list.
	for i := 0; i < n; i++ {
		var key any
		var bit uint64 // the key's digest bit (see intKeyBit)
		if d.pos >= len(d.s) {
			return nil, d.errf("unexpected end of input, want a key")
		}
		switch d.s[d.pos] {
		case 'i':
			k, _, err := d.integer()
			if err != nil {
				return nil, err
			}
			if isList && k == int64(i) {
				val, err := d.value(depth + 1)
				if err != nil {
					return nil, err
				}
				if list == nil {
					list = d.takeAnys(n)
				}
				list = append(list, val)
				continue
			}
			key, bit = d.boxInt(k), intKeyBit(k)
		case 's':
			k, ok := d.shortStr() // sstr, written out: this is the decoder's hottest loop
			if !ok {
				d.pos++
				if k, err = d.str(); err != nil {
					return nil, err
				}
			}
			if n, ok := intKey(k); ok {
				key, bit = d.boxInt(n), intKeyBit(n)
			} else {
				key, bit = d.internKey(k)
			}
		default:
			return nil, d.errf("array keys must be integers or strings, got %q", d.s[d.pos])
		}
		var val any
		if d.pos < len(d.s) && d.s[d.pos] == 's' { // the most common value: no dispatch
			// strValue, its short case written out: this is the decoder's hottest loop.
			if v, ok := d.shortStr(); ok {
				val = d.boxValue(v)
			} else {
				val, err = d.strValue()
			}
		} else {
			val, err = d.value(depth + 1)
		}
		if err != nil {
			return nil, err
		}
		if isList {
			if k, ok := key.(int64); ok && k == int64(i) {
				if list == nil {
					list = d.takeAnys(n)
				}
				list = append(list, val)
				continue
			}
			isList = false
			m = d.newMap(n)
			entries = m.Entries
			for j, v := range list {
				entries = append(entries, Entry{Key: d.boxInt(int64(j)), Value: v})
				keyBits |= intKeyBit(int64(j))
			}
			list = nil
		}
		// Duplicate keys: a linear look for small arrays, a set once they grow, so that a hostile array of
		// 100 000 distinct keys stays linear.
		if seen == nil && len(entries) >= 16 {
			seen = make(map[any]struct{}, n)
			for _, e := range entries {
				seen[e.Key] = struct{}{}
			}
		}
		if seen != nil {
			if _, dup := seen[key]; dup {
				return nil, d.errf("duplicate array key %v", key)
			}
			seen[key] = struct{}{}
		} else {
			if keyBits&bit != 0 && dupKey(entries, key) {
				return nil, d.errf("duplicate array key %v", key)
			}
			keyBits |= bit
		}
		entries = append(entries, Entry{Key: key, Value: val}) // a local slice: m is written once, below
	}
	if !d.eat('}') {
		return nil, d.expectFail('}')
	}
	if isList {
		if list == nil {
			return d.boxList([]any{}), nil
		}
		return d.boxList(list), nil
	}
	m.Entries = entries
	return m, nil
}

// dupKey reports whether key (int64 or string) is among the keys of entries; it compares strings and integers
// directly instead of through interface equality, which costs a call per comparison.
func dupKey(entries []Entry, key any) bool {
	if ks, ok := key.(string); ok {
		for i := range entries {
			if s, ok := entries[i].Key.(string); ok && len(s) == len(ks) && s == ks {
				return true
			}
		}
		return false
	}
	k := key.(int64)
	for i := range entries {
		if n, ok := entries[i].Key.(int64); ok && n == k {
			return true
		}
	}
	return false
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
	exp, _ := strconv.Atoi(unsafeString(e[i+1:]))
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

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
