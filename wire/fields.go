package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"unsafe"
)

// Field is one form field of a packet.
type Field struct {
	Name  string
	Value string
}

// Fields is a packet's form fields in the order they are sent. The order is part of the signature, which is
// why packets are never held in url.Values.
type Fields []Field

// Lookup returns the value of the field called name.
func (f Fields) Lookup(name string) (string, bool) {
	for _, x := range f {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

// Get returns the value of the field called name, or "".
func (f Fields) Get(name string) string {
	v, _ := f.Lookup(name)
	return v
}

// Names returns the field names in order.
func (f Fields) Names() []string {
	out := make([]string, len(f))
	for i, x := range f {
		out[i] = x.Name
	}
	return out
}

// Encode returns the fields as an application/x-www-form-urlencoded body, in order.
func (f Fields) Encode() string {
	// Room for the fields, their separators and the escapes of a base64 DATA ('+', '/' and '=' take three
	// bytes each); the buffer is never written again once it is the string.
	n := 0
	for _, x := range f {
		n += len(x.Name) + len(x.Value) + 2
	}
	dst := make([]byte, 0, n+n/8+16)
	for i, x := range f {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendQueryEscape(dst, x.Name)
		dst = append(dst, '=')
		dst = appendQueryEscape(dst, x.Value)
	}
	return bytesString(dst)
}

// appendQueryEscape is url.QueryEscape without the intermediate string. Runs of unreserved bytes (all of a
// base64 DATA but its + / =) are copied in one append.
func appendQueryEscape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		start = i + 1
		if c == ' ' {
			dst = append(dst, '+')
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return append(dst, s[start:]...)
}

// unreserved marks the bytes that QueryEscape leaves as they are.
var unreserved = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
	}
	return t
}()

// ParseForm decodes an application/x-www-form-urlencoded body into fields, keeping their order. A field
// that appears twice, a bad escape or more than 64 fields is BAD_PACKET.
func ParseForm(body string) (Fields, error) {
	return parseFormInPlace([]byte(body))
}

// DefaultMaxBody is the default cap of a packet body (8 MiB).
const DefaultMaxBody = 8 << 20

// maxFields is the most form fields a packet may have. A packet has thirteen at most (docs/protocol.md §3);
// the cap leaves room for the fields a sender adds and keeps a body of many tiny fields from costing more
// than its bytes before the signature is checked.
const maxFields = 64

// startBuffer is the most of an announced Content-Length that is reserved before any of it arrives: a
// packet of a few messages is read with one allocation, and a client that announces megabytes and sends a
// trickle holds only what it sent (500 such clients cost a portal receiver 16 MiB of RSS, not 8 GiB; at
// 64 KiB, 37 MiB).
const startBuffer = 16 << 10

// ReadForm reads a packet from an HTTP request: it must be a POST (else METHOD_NOT_ALLOWED), form-encoded,
// no larger than maxBody bytes (else REQUEST_ENTITY_TOO_LARGE; 0 means DefaultMaxBody) and parse as
// ParseForm does. The body buffer grows with the bytes that arrive, whatever Content-Length says. WriteResponse
// answers these two with HTTP 405 and 413 (docs/protocol.md §2).
func ReadForm(r *http.Request, maxBody int64) (Fields, error) {
	if r.Method != http.MethodPost {
		return nil, Errorf(CodeMethodNotAllowed, "method %s is not allowed, use POST", r.Method)
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, Errorf(CodeBadPacket, "content type %q is not application/x-www-form-urlencoded", ct)
		}
	}
	if r.ContentLength > maxBody {
		return nil, Errorf(CodeRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, maxBody)
	}
	// Read straight into one buffer of the announced size up to startBuffer (io.Copy into a
	// strings.Builder would allocate a 32 KiB copy buffer per request); a larger body grows it by doubling.
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, startBuffer)) + bytes.MinRead) // + MinRead: the read that sees EOF needs no growth
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &Error{Code: CodeBadPacket, Message: "reading the body", Err: err}
	}
	if n > maxBody {
		return nil, Errorf(CodeRequestEntityTooLarge, "body is over the limit of %d bytes", maxBody)
	}
	return parseFormInPlace(buf.Bytes())
}

// parseFormInPlace parses a body the caller gives away: names and values are unescaped in place (a
// decoded field is never longer than its escaped form, so the writes stay behind the reads) and the fields share
// the buffer's memory, which is never written again. A packet is read with one allocation for its body.
// Past maxFields fields it stops with BAD_PACKET, so the duplicate check, a scan of the fields so far, is
// bounded and the whole parse linear in the body.
func parseFormInPlace(b []byte) (Fields, error) {
	out := make(Fields, 0, min(bytes.Count(b, []byte{'&'})+1, maxFields))
	w := 0
	for r := 0; r < len(b); {
		end := bytes.IndexByte(b[r:], '&')
		if end < 0 {
			end = len(b)
		} else {
			end += r
		}
		if end == r {
			r++
			continue
		}
		if len(out) == maxFields {
			return nil, Errorf(CodeBadPacket, "too many fields (more than %d)", maxFields)
		}
		nameEnd, valStart := end, end
		if eq := bytes.IndexByte(b[r:end], '='); eq >= 0 {
			nameEnd, valStart = r+eq, r+eq+1
		}
		ns := w
		var err error
		if err = checkEscapes(b[r:nameEnd]); err == nil {
			w, err = unescapeTo(b, w, r, nameEnd)
		}
		if err != nil { // checked before any write: the raw name is intact
			return nil, &Error{Code: CodeBadPacket, Message: fmt.Sprintf("bad form field name %.40q", b[r:nameEnd]), Err: err}
		}
		name := sharedString(b, ns, w)
		vs := w
		if w, err = unescapeTo(b, w, valStart, end); err != nil {
			return nil, &Error{Code: CodeBadPacket, Message: fmt.Sprintf("bad form value of field %s", name), Err: err}
		}
		value := sharedString(b, vs, w)
		if _, dup := out.Lookup(name); dup {
			return nil, Errorf(CodeBadPacket, "field %s appears twice", name)
		}
		out = append(out, Field{Name: name, Value: value})
		r = end + 1
	}
	return out, nil
}

// unescapeTo decodes the form escapes of b[r:end] into b[w:] (w <= r) and returns the new end of the written
// part; errors are those of url.QueryUnescape.
func unescapeTo(b []byte, w, r, end int) (int, error) {
	for r < end {
		// Copy the run up to the next escape in one move (IndexByte and copy are vectorised); a DATA field is
		// base64 whose '+', '/' and '=' arrive escaped, so runs are a few dozen bytes long.
		run := b[r:end]
		if p := bytes.IndexByte(run, '%'); p >= 0 {
			run = run[:p]
		}
		if bytes.IndexByte(run, '+') < 0 {
			w += copy(b[w:], run)
		} else {
			for _, c := range run {
				if c == '+' {
					c = ' '
				}
				b[w] = c
				w++
			}
		}
		r += len(run)
		if r == end {
			break
		}
		// b[r] is '%'.
		if r+2 >= end || unhex[b[r+1]] == 0xff || unhex[b[r+2]] == 0xff {
			return w, url.EscapeError(string(b[r:min(r+3, end)]))
		}
		b[w] = unhex[b[r+1]]<<4 | unhex[b[r+2]]
		r += 3
		w++
	}
	return w, nil
}

// checkEscapes reports the first bad escape of b, as url.QueryUnescape would.
func checkEscapes(b []byte) error {
	for i := bytes.IndexByte(b, '%'); i >= 0; {
		if i+2 >= len(b) || unhex[b[i+1]] == 0xff || unhex[b[i+2]] == 0xff {
			return url.EscapeError(string(b[i:min(i+3, len(b))]))
		}
		j := bytes.IndexByte(b[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return nil
}

// sharedString is b[from:to] as a string sharing b's memory.
func sharedString(b []byte, from, to int) string {
	if to <= from {
		return ""
	}
	return bytesString(b[from:to])
}

// bytesString returns b as a string without a copy; b must never be written again. This is the package's one
// use of unsafe: a packet's body and its decoded DATA are read as strings where they lie, so that the fields
// and the decoded strings cost no copy of a body that can be megabytes.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// httpStatus returns the HTTP status an error is answered with: 405 for a wrong method, 413 for an oversize
// body, 200 for every error that is answered in the JSON envelope.
func httpStatus(err error) int {
	var pe *Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case CodeMethodNotAllowed:
			return http.StatusMethodNotAllowed
		case CodeRequestEntityTooLarge:
			return http.StatusRequestEntityTooLarge
		}
	}
	return http.StatusOK
}

// unhex maps a hex digit to its value and anything else to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return t
}()
