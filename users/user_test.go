package users_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/users"
	"github.com/olctl/olctl/wire"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		u    openlines.User
		want string
	}{
		{"id only", openlines.User{ID: "7"}, `{"id":"7"}`},
		{"named fields sorted", openlines.User{ID: "7", Name: "Ann Lee", Phone: "+1", Email: "a@x", Gender: "female", Title: "Dr", URL: "https://x/u/7", LastName: "L"},
			`{"email":"a@x","gender":"female","id":"7","last_name":"L","name":"Ann Lee","phone":"+1","title":"Dr","url":"https://x/u/7"}`},
		{"picture", openlines.User{ID: "7", Picture: openlines.Picture{URL: "https://x/a.png", Headers: []openlines.Header{{Name: "Authorization", Value: "Bearer t"}, {}}}},
			`{"id":"7","picture":{"headers":[{"name":"Authorization","value":"Bearer t"},""],"url":"https://x/a.png"}}`},
		{"the skip flag is a named key", openlines.User{ID: "7", SkipPhoneValidate: "Y", Other: map[string]any{"skip_phone_validate": "N"}}, `{"id":"7","skip_phone_validate":"Y"}`},
		{"empty picture left out", openlines.User{ID: "7", Picture: openlines.Picture{Other: map[string]any{"x": ""}}}, `{"id":"7"}`},
		{"extras merged in order", openlines.User{ID: "7", Name: "A", Other: map[string]any{"zeta": int64(5), "alpha": true, "mid": 1.5, "no": false, "nil": nil, "empty": []any{}}},
			`{"alpha":"1","id":"7","mid":"1.5","name":"A","zeta":"5"}`},
		{"extra under a named key is ignored", openlines.User{ID: "7", Other: map[string]any{"name": "shadow", "id": "8"}}, `{"id":"7"}`},
		{"nested extras sorted, empties dropped, list positions kept", openlines.User{ID: "7", Other: map[string]any{
			"profile": wire.NewMap("b", "2", "a", wire.NewMap("y", "", "x", int64(1)), "c", []any{"", nil, "z"}),
		}}, `{"id":"7","profile":{"a":{"x":"1"},"b":"2","c":["","","z"]}}`},
		{"picture extras", openlines.User{ID: "7", Picture: openlines.Picture{URL: "u", Other: map[string]any{"width": int64(64), "url": "shadow"}}},
			`{"id":"7","picture":{"url":"u","width":"64"}}`},
		{"escaping", openlines.User{ID: "q\"\\\n\t\x01\u2028<&>é\xff"}, `{"id":"q\"\\\n\t\u0001\u2028<&>é\ufffd"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(users.CanonicalJSON(&tt.u)); got != tt.want {
				t.Fatalf("CanonicalJSON =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(users.CanonicalJSON(&tt.u)) {
				t.Fatal("not valid JSON")
			}
		})
	}
}

// reference builds the canonical value with plain maps and lists, for encoding/json to serialize.
func reference(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return nil
		}
		return x
	case bool:
		if !x {
			return nil
		}
		return "1"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		if len(x) == 0 {
			return nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			if out[i] = reference(e); out[i] == nil {
				out[i] = ""
			}
		}
		return out
	case *wire.Map:
		m := map[string]any{}
		for _, e := range x.Entries {
			m[fmt.Sprint(e.Key)] = e.Value
		}
		return reference(m)
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if r := reference(e); r != nil {
				out[k] = r
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	panic(fmt.Sprintf("reference: %T", v))
}

func referenceJSON(t testing.TB, u openlines.User) []byte {
	m := map[string]any{}
	for k, v := range u.Other {
		m[k] = v
	}
	pic := map[string]any{}
	for k, v := range u.Picture.Other {
		pic[k] = v
	}
	pic["url"] = u.Picture.URL
	var hs []any
	for _, h := range u.Picture.Headers {
		hs = append(hs, map[string]any{"name": h.Name, "value": h.Value})
	}
	pic["headers"] = hs
	for k, v := range map[string]any{"id": u.ID, "name": u.Name, "last_name": u.LastName, "title": u.Title, "url": u.URL,
		"gender": u.Gender, "email": u.Email, "phone": u.Phone, "skip_phone_validate": u.SkipPhoneValidate, "picture": pic} {
		m[k] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(reference(m)); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// randomUser makes a user with random strings (control characters, invalid UTF-8, U+2028 …) and extras.
func randomUser(r *rand.Rand) openlines.User {
	alphabet := []string{"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\b", "\f", "\x00", "\x1f", "\x7f", "<", "&", "é", "😀", "\u2028", "\u2029", "\xff", "\xc3", "|", "#EMPTY#"}
	str := func() string {
		n := r.IntN(6)
		s := ""
		for range n {
			s += alphabet[r.IntN(len(alphabet))]
		}
		return s
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(8); {
		case k < 3 || depth > 3:
			return str()
		case k == 3:
			return int64(r.IntN(2000) - 1000)
		case k == 4:
			return r.Float64() * 100
		case k == 5:
			return r.IntN(2) == 0
		case k == 6:
			l := make([]any, r.IntN(3))
			for i := range l {
				l[i] = value(depth + 1)
			}
			return l
		default:
			m := &wire.Map{}
			for range r.IntN(4) {
				m.Set(str()+"k", value(depth+1))
			}
			return m
		}
	}
	u := openlines.User{ID: str() + "id", Name: str(), LastName: str(), Title: str(), URL: str(), Gender: str(), Email: str(), Phone: str(),
		Picture: openlines.Picture{URL: str()}}
	for range r.IntN(3) {
		u.Picture.Headers = append(u.Picture.Headers, openlines.Header{Name: str(), Value: str()})
	}
	for range r.IntN(4) {
		if u.Other == nil {
			u.Other = map[string]any{}
		}
		u.Other["x_"+str()] = value(0)
	}
	if r.IntN(3) == 0 {
		u.Picture.Other = map[string]any{"w_" + str(): value(0)}
	}
	return u
}

// TestCanonicalJSONMatchesEncodingJSON: the hand-written encoder writes exactly what encoding/json writes for
// the same canonical value.
func TestCanonicalJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		u := randomUser(r)
		got, want := users.CanonicalJSON(&u), referenceJSON(t, u)
		if !bytes.Equal(got, want) {
			t.Fatalf("user %d %#v:\ngot  %s\nwant %s", i, u, got, want)
		}
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	f.Add("7", "Ann Lee", "", "https://x/a.png", "k", "v")
	f.Add("\xff", "\u2028", "\x00", "", "", "\"")
	f.Fuzz(func(t *testing.T, id, name, last, pic, ek, ev string) {
		u := openlines.User{ID: id, Name: name, LastName: last, Picture: openlines.Picture{URL: pic}, Other: map[string]any{"x" + ek: ev}}
		if got, want := users.CanonicalJSON(&u), referenceJSON(t, u); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	})
}

// TestHashKeyOrderIndependent: the same user with its keys (and nested keys) in any order has one hash, and a
// change to any field, named or not, at any depth, changes it.
func TestHashKeyOrderIndependent(t *testing.T) {
	t.Parallel()
	entries := []wire.Entry{
		{Key: "id", Value: "29:1A2b3C"},
		{Key: "name", Value: "Ann Lee"},
		{Key: "email", Value: "ann@example.com"},
		{Key: "picture", Value: wire.NewMap("url", "https://cdn.example.com/a.png", "headers", []any{wire.NewMap("name", "Authorization", "value", "Bearer t")})},
		{Key: "locale", Value: "en-US"},
		{Key: "tenant", Value: wire.NewMap("id", "t1", "region", "eu")},
		{Key: "age", Value: int64(33)},
		{Key: "phone", Value: ""},
	}
	base, err := users.FromMap(&wire.Map{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	want := users.Hash(&base)
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		shuffled := slices.Clone(entries)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i := range shuffled {
			if shuffled[i].Key == "tenant" {
				shuffled[i].Value = wire.NewMap("region", "eu", "id", "t1") // nested keys reordered too
			}
		}
		u, err := users.FromMap(&wire.Map{Entries: shuffled})
		if err != nil {
			t.Fatal(err)
		}
		if users.Hash(&u) != want {
			t.Fatalf("order %v changes the hash", shuffled)
		}
	}
	// Absent and empty are the same; an integer and its string are the same.
	same := []func(m *wire.Map){
		func(m *wire.Map) { m.Set("phone", nil) },
		func(m *wire.Map) { m.Set("title", "") },
		func(m *wire.Map) { m.Set("extra_empty", []any{}) },
		func(m *wire.Map) { m.Set("age", "33") },
	}
	for i, f := range same {
		m := &wire.Map{Entries: slices.Clone(entries)}
		f(m)
		u, _ := users.FromMap(m)
		if users.Hash(&u) != want {
			t.Errorf("equivalent change %d altered the hash: %s", i, users.CanonicalJSON(&u))
		}
	}
	different := map[string]func(m *wire.Map){
		"name":                  func(m *wire.Map) { m.Set("name", "Ann Leigh") },
		"phone":                 func(m *wire.Map) { m.Set("phone", "+1") },
		"gender":                func(m *wire.Map) { m.Set("gender", "female") },
		"last_name":             func(m *wire.Map) { m.Set("last_name", "Lee") },
		"title":                 func(m *wire.Map) { m.Set("title", "Dr") },
		"url":                   func(m *wire.Map) { m.Set("url", "https://x") },
		"id":                    func(m *wire.Map) { m.Set("id", "29:other") },
		"picture.url":           func(m *wire.Map) { m.Set("picture", wire.NewMap("url", "https://cdn.example.com/b.png")) },
		"picture.headers":       func(m *wire.Map) { m.Set("picture", wire.NewMap("url", "https://cdn.example.com/a.png")) },
		"unknown key":           func(m *wire.Map) { m.Set("locale", "ru-RU") },
		"new unknown key":       func(m *wire.Map) { m.Set("nickname", "annie") },
		"nested unknown key":    func(m *wire.Map) { m.Set("tenant", wire.NewMap("id", "t1", "region", "us")) },
		"unknown key's integer": func(m *wire.Map) { m.Set("age", int64(34)) },
	}
	for name, f := range different {
		m := &wire.Map{Entries: slices.Clone(entries)}
		f(m)
		u, err := users.FromMap(m)
		if err != nil {
			t.Fatal(err)
		}
		if users.Hash(&u) == want {
			t.Errorf("changing %s did not change the hash", name)
		}
	}
}

func TestFromMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want openlines.User
		code wire.Code
	}{
		{"protocol fields", wire.NewMap("id", "29:1", "name", "Ann", "last_name", "Lee", "title", "Dr", "url", "https://x", "gender", "female",
			"picture", wire.NewMap("url", "https://x/a.png", "headers", []any{wire.NewMap("name", "A", "value", "B")}), "email", "a@x", "phone", "+1"),
			openlines.User{ID: "29:1", Name: "Ann", LastName: "Lee", Title: "Dr", URL: "https://x", Gender: "female",
				Picture: openlines.Picture{URL: "https://x/a.png", Headers: []openlines.Header{{Name: "A", Value: "B"}}}, Email: "a@x", Phone: "+1"}, ""},
		{"integer id", wire.NewMap("id", int64(123456)), openlines.User{ID: "123456"}, ""},
		{"unknown keys kept", wire.NewMap("id", "1", "locale", "en", "tenant", wire.NewMap("id", "t")),
			openlines.User{ID: "1", Other: map[string]any{"locale": "en", "tenant": wire.NewMap("id", "t")}}, ""},
		{"picture as a plain URL", wire.NewMap("id", "1", "picture", "https://x/a.png"), openlines.User{ID: "1", Picture: openlines.Picture{URL: "https://x/a.png"}}, ""},
		{"picture headers as a map", wire.NewMap("id", "1", "picture", wire.NewMap("url", "u", "headers", wire.NewMap("Authorization", "Bearer t"))),
			openlines.User{ID: "1", Picture: openlines.Picture{URL: "u", Headers: []openlines.Header{{Name: "Authorization", Value: "Bearer t"}}}}, ""},
		{"Go map", map[string]any{"id": "1", "name": "Ann"}, openlines.User{ID: "1", Name: "Ann"}, ""},
		{"no id", wire.NewMap("name", "Ann"), openlines.User{}, wire.CodeNoUserIM},
		{"empty id", wire.NewMap("id", ""), openlines.User{}, wire.CodeNoUserIM},
		{"no user", "", openlines.User{}, wire.CodeNoUserIM},
		{"nil user", nil, openlines.User{}, wire.CodeNoUserIM},
		{"a string user", "bob", openlines.User{}, wire.CodeBadPacket},
		{"an id array", wire.NewMap("id", []any{"x"}), openlines.User{}, wire.CodeBadPacket},
		{"a number", int64(5), openlines.User{}, wire.CodeBadPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := users.FromMap(tt.in)
			if tt.code != "" {
				if wire.CodeOf(err) != tt.code {
					t.Fatalf("err %v (code %s), want code %s", err, wire.CodeOf(err), tt.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(users.CanonicalJSON(&got)) != string(users.CanonicalJSON(&tt.want)) || got.Picture.URL != tt.want.Picture.URL || len(got.Other) != len(tt.want.Other) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// FromMap does not change its input.
	in := wire.NewMap("id", "1", "picture", "https://x/a.png")
	if _, err := users.FromMap(in); err != nil {
		t.Fatal(err)
	}
	if in.String("picture") != "https://x/a.png" {
		t.Fatal("FromMap changed its input")
	}
	if _, err := users.FromMap(wire.NewMap("name", "x")); !errors.Is(err, wire.CodeNoUserIM) {
		t.Fatalf("errors.Is(%v, ErrNoUserIM) is false", err)
	}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	for o, want := range map[users.Outcome]string{users.Created: "created", users.Updated: "updated", users.Unchanged: "unchanged", 0: "Outcome(0)"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
