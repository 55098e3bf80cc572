package users

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// FromMap reads an external user from a decoded packet value (a *wire.Map, or a map[string]any), leniently:
// scalars convert as PHP would (an integer id becomes its decimal string), a picture given as a plain URL
// string is taken as {url}, picture headers given as a name → value map are taken as a list, and every other
// key is kept in Other. A user without an id is CONNECTOR_PROXY_NO_USER_IM; a value of the wrong shape is
// BAD_PACKET (the error names the field).
func FromMap(v any) (openlines.User, error) {
	var u openlines.User
	switch m := v.(type) {
	case *wire.Map:
		v = normalizeUser(m)
	case map[string]any:
		wm := &wire.Map{}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			wm.Set(k, m[k])
		}
		v = normalizeUser(wm)
	case nil, string, []any:
		if !wire.IsEmpty(v) {
			return u, wire.Errorf(wire.CodeBadPacket, "users: user must be an array, got %T", v)
		}
		return u, wire.Errorf(wire.CodeNoUserIM, "users: the item has no user")
	default:
		return u, wire.Errorf(wire.CodeBadPacket, "users: user must be an array, got %T", v)
	}
	if err := wire.Bind(v, &u); err != nil {
		return openlines.User{}, fmt.Errorf("users: user: %w", err)
	}
	if u.ID == "" {
		return openlines.User{}, wire.Errorf(wire.CodeNoUserIM, "users: the user has no id")
	}
	return u, nil
}

// normalizeUser returns m with a lenient picture turned into the protocol's shape, without changing m.
func normalizeUser(m *wire.Map) *wire.Map {
	pic, ok := m.Get("picture")
	if !ok {
		return m
	}
	var np any
	switch p := pic.(type) {
	case string:
		if p == "" {
			return m
		}
		np = wire.NewMap("url", p)
	case *wire.Map:
		h, ok := p.Get("headers")
		hm, isMap := h.(*wire.Map)
		if !ok || !isMap || !headerMap(hm) {
			return m
		}
		list := make([]any, 0, hm.Len())
		for _, e := range hm.Entries {
			list = append(list, wire.NewMap("name", fmt.Sprint(e.Key), "value", e.Value))
		}
		c := &wire.Map{Entries: slices.Clone(p.Entries)}
		c.Set("headers", list)
		np = c
	default:
		return m
	}
	c := &wire.Map{Entries: slices.Clone(m.Entries)}
	c.Set("picture", np)
	return c
}

// headerMap reports whether headers are given as name → value (all values scalars) rather than as a list of
// {name, value} arrays.
func headerMap(m *wire.Map) bool {
	for _, e := range m.Entries {
		switch e.Value.(type) {
		case []any, *wire.Map:
			return false
		}
	}
	return m.Len() > 0
}

// Key returns the external key (XML_ID) of a user of connector as received: "<connector>|<id>"
// (docs/protocol.md §8.2).
func Key(connector, id string) string { return connector + "|" + id }

// Hash returns the md5 (lower-case hex) of the user's canonical serialization, CanonicalJSON.
func Hash(u *openlines.User) string {
	s := sum(u)
	return hex.EncodeToString(s[:])
}

func sum(u *openlines.User) [md5.Size]byte {
	bp := getBuf()
	defer putBuf(bp)
	*bp = appendCanonical((*bp)[:0], u)
	return md5.Sum(*bp)
}

// bufs recycles serialization buffers, so that hashing a user does not allocate.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 { // do not keep the buffers of huge users
		bufs.Put(b)
	}
}

// CanonicalJSON returns the serialization the hash is computed over. It covers every field the user
// carries, the named ones and Other, and does not depend on the order keys arrived in:
//
//   - a JSON object (RFC 8259) of all keys, sorted by their bytes, at every level; no whitespace;
//   - every scalar is written as a JSON string: strings as they are, integers in decimal, floats in Go's
//     shortest 'g' form, true as "1" (PHP's string of true);
//   - empty values — "", null, false, arrays or objects with nothing left in them — are left out of objects
//     (so an absent key, an empty string and #EMPTY# are the same); inside lists they are written as "" to
//     keep the positions;
//   - lists keep their order; picture headers are a list of {"name","value"} objects;
//   - strings are escaped as encoding/json does without HTML escaping: \" \\ \b \f \n \r \t, other control
//     characters as \u00XX, U+2028 and U+2029 as \u2028 and \u2029, invalid UTF-8 as \ufffd;
//   - nesting deeper than 64 levels is written as the string "…".
//
// For example {"id":"7","name":"Ann Lee","picture":{"url":"https://x/a.png"}}.
func CanonicalJSON(u *openlines.User) []byte {
	return appendCanonical(nil, u)
}

// The named keys in sorted order.
var namedKeys = []string{"email", "gender", "id", "last_name", "name", "phone", "picture", "skip_phone_validate", "title", "url"}

func isNamedKey(k string) bool {
	switch k {
	case "email", "gender", "id", "last_name", "name", "phone", "picture", "skip_phone_validate", "title", "url":
		return true
	}
	return false
}

func named(u *openlines.User, k string) string {
	switch k {
	case "skip_phone_validate":
		return u.SkipPhoneValidate
	case "email":
		return u.Email
	case "gender":
		return u.Gender
	case "id":
		return u.ID
	case "last_name":
		return u.LastName
	case "name":
		return u.Name
	case "phone":
		return u.Phone
	case "title":
		return u.Title
	case "url":
		return u.URL
	}
	return ""
}

// object writes the members of one JSON object, leaving out empty ones.
type object struct {
	buf   []byte
	count int
}

func (o *object) open()  { o.buf = append(o.buf, '{') }
func (o *object) close() { o.buf = append(o.buf, '}') }

// str writes "key":"value" unless value is empty.
func (o *object) str(key, value string) {
	if value == "" {
		return
	}
	if o.count > 0 {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendJSONString(o.buf, key)
	o.buf = append(o.buf, ':')
	o.buf = appendJSONString(o.buf, value)
	o.count++
}

// value writes "key":<v> unless v is empty once canonicalized.
func (o *object) value(key string, v any, depth int) {
	mark := len(o.buf)
	if o.count > 0 {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendJSONString(o.buf, key)
	o.buf = append(o.buf, ':')
	var ok bool
	o.buf, ok = appendValue(o.buf, v, depth)
	if !ok {
		o.buf = o.buf[:mark]
		return
	}
	o.count++
}

func appendCanonical(dst []byte, u *openlines.User) []byte {
	o := object{buf: dst}
	o.open()
	if len(u.Other) == 0 {
		for _, k := range namedKeys {
			if k == "picture" {
				o.picture(&u.Picture, 1)
				continue
			}
			o.str(k, named(u, k))
		}
		o.close()
		return o.buf
	}
	var kbuf [16]string
	extra := kbuf[:0]
	for k := range u.Other {
		if !isNamedKey(k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	// Merge the sorted named keys with the sorted extra keys.
	for i, j := 0, 0; i < len(namedKeys) || j < len(extra); {
		if j == len(extra) || (i < len(namedKeys) && namedKeys[i] < extra[j]) {
			if k := namedKeys[i]; k == "picture" {
				o.picture(&u.Picture, 1)
			} else {
				o.str(k, named(u, k))
			}
			i++
			continue
		}
		o.value(extra[j], u.Other[extra[j]], 1)
		j++
	}
	o.close()
	return o.buf
}

// picture writes "picture":{…} unless the picture is empty.
func (o *object) picture(p *openlines.Picture, depth int) {
	if p.URL == "" && len(p.Headers) == 0 && len(p.Other) == 0 {
		return
	}
	mark, count := len(o.buf), o.count
	if o.count > 0 {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendJSONString(o.buf, "picture")
	o.buf = append(o.buf, ':')
	in := object{buf: o.buf}
	in.open()
	keys := []string{"headers", "url"}
	if len(p.Other) > 0 {
		for k := range p.Other {
			if k != "headers" && k != "url" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
	}
	for _, k := range keys {
		switch k {
		case "url":
			in.str("url", p.URL)
		case "headers":
			in.headers(p.Headers, depth+1)
		default:
			in.value(k, p.Other[k], depth+1)
		}
	}
	in.close()
	o.buf = in.buf
	if in.count == 0 {
		o.buf, o.count = o.buf[:mark], count
		return
	}
	o.count++
}

// headers writes "headers":[{"name":…,"value":…},…] unless there are none.
func (o *object) headers(hs []openlines.Header, depth int) {
	if len(hs) == 0 {
		return
	}
	if o.count > 0 {
		o.buf = append(o.buf, ',')
	}
	o.buf = append(o.buf, `"headers":[`...)
	for i := range hs {
		if i > 0 {
			o.buf = append(o.buf, ',')
		}
		if hs[i].Name == "" && hs[i].Value == "" {
			o.buf = append(o.buf, `""`...)
			continue
		}
		h := object{buf: o.buf}
		h.open()
		h.str("name", hs[i].Name)
		h.str("value", hs[i].Value)
		h.close()
		o.buf = h.buf
	}
	o.buf = append(o.buf, ']')
	o.count++
}

const maxDepth = 64

// appendValue writes the canonical form of v and reports whether v was non-empty; when it was empty, dst is
// returned unchanged.
func appendValue(dst []byte, v any, depth int) ([]byte, bool) {
	if depth > maxDepth {
		return appendJSONString(dst, "…"), true
	}
	switch x := v.(type) {
	case nil:
		return dst, false
	case string:
		if x == "" {
			return dst, false
		}
		return appendJSONString(dst, x), true
	case bool:
		if !x {
			return dst, false
		}
		return append(dst, `"1"`...), true
	case int64:
		return appendQuotedInt(dst, x), true
	case int:
		return appendQuotedInt(dst, int64(x)), true
	case int32:
		return appendQuotedInt(dst, int64(x)), true
	case int16:
		return appendQuotedInt(dst, int64(x)), true
	case int8:
		return appendQuotedInt(dst, int64(x)), true
	case uint64:
		return append(strconv.AppendUint(append(dst, '"'), x, 10), '"'), true
	case uint:
		return append(strconv.AppendUint(append(dst, '"'), uint64(x), 10), '"'), true
	case uint32:
		return append(strconv.AppendUint(append(dst, '"'), uint64(x), 10), '"'), true
	case uint16:
		return append(strconv.AppendUint(append(dst, '"'), uint64(x), 10), '"'), true
	case uint8:
		return append(strconv.AppendUint(append(dst, '"'), uint64(x), 10), '"'), true
	case float64:
		return appendQuotedFloat(dst, x), true
	case float32:
		return appendQuotedFloat(dst, float64(x)), true
	case json.Number:
		if x == "" {
			return dst, false
		}
		return appendJSONString(dst, string(x)), true
	case []any:
		return appendList(dst, len(x), func(i int) any { return x[i] }, depth)
	case []string:
		return appendList(dst, len(x), func(i int) any { return x[i] }, depth)
	case []openlines.Header:
		return appendList(dst, len(x), func(i int) any { return x[i] }, depth)
	case openlines.Header:
		return appendObject(dst, []string{"name", "value"}, func(k string) any {
			if k == "name" {
				return x.Name
			}
			return x.Value
		}, depth)
	case *wire.Map:
		if x == nil || x.Len() == 0 {
			return dst, false
		}
		vals := make(map[string]any, x.Len())
		keys := make([]string, 0, x.Len())
		for _, e := range x.Entries {
			k := wire.KeyString(e.Key)
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
			}
			vals[k] = e.Value
		}
		slices.Sort(keys)
		return appendObject(dst, keys, func(k string) any { return vals[k] }, depth)
	case map[string]any:
		if len(x) == 0 {
			return dst, false
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return appendObject(dst, keys, func(k string) any { return x[k] }, depth)
	}
	return appendReflect(dst, v, depth)
}

// appendReflect handles the values the switch does not: other slices, maps with string keys, pointers, and
// as a last resort the value's fmt form.
func appendReflect(dst []byte, v any, depth int) ([]byte, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return dst, false
		}
		return appendValue(dst, rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendValue(dst, string(rv.Bytes()), depth)
		}
		return appendList(dst, rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
	case reflect.Map:
		if rv.Len() == 0 {
			return dst, false
		}
		vals := make(map[string]any, rv.Len())
		keys := make([]string, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := wire.KeyString(it.Key().Interface())
			keys = append(keys, k)
			vals[k] = it.Value().Interface()
		}
		slices.Sort(keys)
		return appendObject(dst, keys, func(k string) any { return vals[k] }, depth)
	case reflect.String:
		return appendValue(dst, rv.String(), depth)
	case reflect.Bool:
		return appendValue(dst, rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendQuotedInt(dst, rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return append(strconv.AppendUint(append(dst, '"'), rv.Uint(), 10), '"'), true
	case reflect.Float32, reflect.Float64:
		return appendQuotedFloat(dst, rv.Float()), true
	}
	return appendValue(dst, fmt.Sprint(v), depth)
}

func appendList(dst []byte, n int, at func(int) any, depth int) ([]byte, bool) {
	if n == 0 {
		return dst, false
	}
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendValue(dst, at(i), depth+1); !ok {
			dst = append(dst, `""`...)
		}
	}
	return append(dst, ']'), true
}

func appendObject(dst []byte, keys []string, at func(string) any, depth int) ([]byte, bool) {
	mark := len(dst)
	o := object{buf: dst}
	o.open()
	for _, k := range keys {
		o.value(k, at(k), depth+1)
	}
	o.close()
	if o.count == 0 {
		return o.buf[:mark], false
	}
	return o.buf, true
}

func appendQuotedInt(dst []byte, n int64) []byte {
	return append(strconv.AppendInt(append(dst, '"'), n, 10), '"')
}

func appendQuotedFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return appendJSONString(dst, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return append(strconv.AppendFloat(append(dst, '"'), f, 'g', -1, 64), '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string exactly as encoding/json does with HTML escaping off.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// clean returns s with invalid UTF-8 replaced by U+FFFD, as the canonical serialization reads it.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
