package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olctl/olctl/wire"
)

// Masked is what the page shows instead of a secret.
const Masked = "********"

// secretWords are the parts of a key that make its value a secret, in any case: app_secret, password,
// access_token, licence_key, api_key, …
var secretWords = []string{"secret", "password", "passwd", "token", "licence_key", "license_key", "licencekey",
	"licensekey", "private_key", "privatekey", "api_key", "apikey", "credential", "authorization"}

// masker hides secrets: the values of keys that name one, and known secret values wherever they appear.
type masker struct {
	values *strings.Replacer // nil: no known values
	keys   map[string]bool
}

func newMasker(secrets, keys []string) *masker {
	m := &masker{keys: map[string]bool{}}
	vals := slices.DeleteFunc(slices.Clone(secrets), func(s string) bool { return s == "" })
	// Longest first, so that a secret that contains another is masked whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	if len(vals) > 0 {
		pairs := make([]string, 0, 2*len(vals))
		for _, v := range vals {
			pairs = append(pairs, v, Masked)
		}
		m.values = strings.NewReplacer(pairs...)
	}
	for _, k := range keys {
		m.keys[strings.ToLower(k)] = true
	}
	return m
}

// text returns s with every known secret value masked.
func (m *masker) text(s string) string {
	if m.values == nil || s == "" {
		return s
	}
	return m.values.Replace(s)
}

// secretKey reports whether a key's value is a secret.
func (m *masker) secretKey(k string) bool {
	k = strings.ToLower(k)
	if m.keys[k] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// php returns a masked copy of a decoded PHP value (as wire.Unserialize gives it) and whether anything was
// masked: the values of secret keys (unless empty) and known secret values in strings.
func (m *masker) php(v any) (any, bool) {
	switch x := v.(type) {
	case *wire.Map:
		out := &wire.Map{Entries: make([]wire.Entry, len(x.Entries))}
		changed := false
		for i, e := range x.Entries {
			out.Entries[i].Key = e.Key
			if k, ok := e.Key.(string); ok && m.secretKey(k) && !empty(e.Value) {
				out.Entries[i].Value, changed = Masked, true
				continue
			}
			var c bool
			out.Entries[i].Value, c = m.php(e.Value)
			changed = changed || c
		}
		return out, changed
	case []any:
		out := make([]any, len(x))
		changed := false
		for i, e := range x {
			var c bool
			out[i], c = m.php(e)
			changed = changed || c
		}
		return out, changed
	case string:
		s := m.text(x)
		return s, s != x
	}
	return v, false
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" || x == Masked
	case []any:
		return len(x) == 0
	case *wire.Map:
		return x.Len() == 0
	}
	return false
}

// json re-encodes a JSON document with the values of secret keys and known secret values masked, keys in
// their order; ok is false when b is not one JSON document.
func (m *masker) json(b []byte) (out json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var buf bytes.Buffer
	if err := m.jsonValue(dec, &buf, false, 0); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return buf.Bytes(), true
}

// jsonValue copies one value from dec to buf; secret masks it (when it is not empty).
func (m *masker) jsonValue(dec *json.Decoder, buf *bytes.Buffer, secret bool, depth int) error {
	if depth > 64 {
		return fmt.Errorf("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			buf.WriteByte('{')
			for i := 0; dec.More(); i++ {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if i > 0 {
					buf.WriteByte(',')
				}
				kb, _ := json.Marshal(m.text(k))
				buf.Write(kb)
				buf.WriteByte(':')
				if err := m.jsonValue(dec, buf, secret || m.secretKey(k), depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte('}')
		} else {
			buf.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := m.jsonValue(dec, buf, secret, depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		if secret && t != "" {
			t = Masked
		}
		b, _ := json.Marshal(m.text(t))
		buf.Write(b)
	case json.Number:
		if secret {
			buf.WriteString(`"` + Masked + `"`)
		} else {
			buf.WriteString(t.String())
		}
	case bool:
		fmt.Fprint(buf, t)
	case nil:
		buf.WriteString("null")
	}
	return nil
}
