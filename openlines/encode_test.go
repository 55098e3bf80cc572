package openlines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/olctl/olctl/wire"
)

// TestEncodeCompact: a connector server that builds its items with these types writes the shapes Bitrix's
// server sends, byte for byte (the PHP vectors' DATA): optional keys left empty are left out.
func TestEncodeCompact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vector string
		data   any
	}{
		{"server_to_portal_receivingStatusBlock_deny_current", []StatusBlockItem{{
			Chat: Chat{ID: "wc-conv-7Hq2Lx"}, User: User{ID: "wc-7Hq2Lx"}, Message: Message{Type: BlockDeny}}}},
		{"server_to_portal_receivingStatusBlock_allow_current", []StatusBlockItem{{
			Chat: Chat{ID: "wc-conv-7Hq2Lx"}, User: User{ID: "wc-7Hq2Lx"}, Message: Message{Type: BlockAllow}}}},
		{"server_to_portal_setChatName_current", ChatName{Name: "Ivan Sidorov (web chat)", ChatID: "wc-conv-7Hq2Lx", UserID: "wc-7Hq2Lx"}},
	} {
		t.Run(tc.vector, func(t *testing.T) {
			got, err := wire.SerializeStubbed(tc.data, wire.Current)
			if err != nil {
				t.Fatal(err)
			}
			if want := vectorSerialized(t, tc.vector); string(got) != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
	// A message item without the optional keys: user{id, name}, message{id, date, text}, chat{id}.
	got, err := wire.Serialize(MessageItem{User: User{ID: "u", Name: "Ann"}, Message: Message{ID: "m1", Date: 1700000000, Text: "hi"}, Chat: Chat{ID: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	const want = `a:3:{s:4:"user";a:2:{s:2:"id";s:1:"u";s:4:"name";s:3:"Ann";}s:7:"message";a:3:{s:2:"id";s:2:"m1";s:4:"date";i:1700000000;s:4:"text";s:2:"hi";}s:4:"chat";a:1:{s:2:"id";s:1:"c";}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// vectorSerialized returns what a vector's DATA encodes, as PHP serialized it.
func vectorSerialized(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", "vectors", "packets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs map[string]struct {
		Serialized string `json:"serialized"`
	}
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if vs[name].Serialized == "" {
		t.Fatalf("no vector %s", name)
	}
	return vs[name].Serialized
}
