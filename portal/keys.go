package portal

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/olctl/olctl/openlines"
)

// dupKey identifies a receivingMessage item for duplicate suppression (docs/protocol.md §8.1): connector,
// line, chat.id, message.id and a variant, plus the message's date.
//
// The variant is the type, so that message_del or message_update of a message is not taken for the message
// itself; for an edit a digest of its content is added, so that a second edit of a message is not taken for
// the first; for an item without message.id, a digest of the whole item.
//
// The date orders the stored keys: messages arrive roughly in date order, so new keys land on the last
// pages of the index instead of one random page each. It is part of the identity, which is safe because the
// connector server delivers an item again exactly as it stored it.
type dupKey struct {
	Connector, Line, ChatID, MessageID, Variant string
	Date                                        int64 // message.date in unix seconds, 0 when absent
}

// keySize is the size of a stored key: 8 bytes of date, 16 of digest.
const keySize = 24

// sum returns the key's storage id: the date (big-endian, so that keys sort by date) followed by the first
// 16 bytes of the SHA-256 of the length-prefixed text parts (so that no two keys collide by concatenation).
func (k dupKey) sum() [keySize]byte {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{k.Connector, k.Line, k.ChatID, k.MessageID, k.Variant} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var out [keySize]byte
	binary.BigEndian.PutUint64(out[:8], uint64(max(k.Date, 0)))
	copy(out[8:], sum[:16])
	return out
}

// keyOf returns the duplicate key of an item; body is the item as stored (its serialization), whose digest
// keys an item without message.id.
func keyOf(connector, line string, it *openlines.MessageItem, body []byte) dupKey {
	t := it.Type()
	v := string(t)
	id := it.Message.FirstID()
	switch {
	case id == "":
		d := sha256.Sum256(body)
		v += ":item:" + hex.EncodeToString(d[:12])
	case t == openlines.MessageUpdate || t == openlines.MessagePostUpdate:
		h := sha256.New()
		fmt.Fprintf(h, "%d:%s;%d;", len(it.Message.Text), it.Message.Text, it.Message.Date)
		for _, f := range it.Message.Files {
			fmt.Fprintf(h, "%d:%s;", len(f.URL), f.URL)
		}
		v += ":" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	return dupKey{Connector: connector, Line: line, ChatID: it.Chat.ID, MessageID: id, Variant: v, Date: it.Message.Date}
}
