package botframework

import (
	"encoding/json"
	"testing"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/wire"
)

// FuzzMap: any activity the JSON decoder accepts maps to items (or a clear error) that wire can serialize;
// never a panic.
func FuzzMap(f *testing.F) {
	f.Add(benchActivity)
	f.Add([]byte(`{"type":"messageUpdate","id":"x","channelId":"c","conversation":{"id":"c"},"from":{"id":"u"},"serviceUrl":"s"}`))
	f.Add([]byte(`{"type":"contactRelationUpdate","action":"remove","channelId":"c","conversation":{"id":"c"},"from":{"id":"u"},"serviceUrl":"s"}`))
	f.Add([]byte(`{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.teams.file.download.info","content":7}]}`))
	ch, err := NewChannel(connector.Env{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var a schema.Activity
		if json.Unmarshal(body, &a) != nil {
			return
		}
		items, err := ch.Map(&a)
		if err != nil {
			if wire.CodeOf(err) != wire.CodeBadPacket {
				t.Fatalf("error without BAD_PACKET: %v", err)
			}
			return
		}
		for _, it := range items {
			if _, err := wire.Serialize(it.Item); err != nil {
				t.Fatalf("item does not serialize: %v", err)
			}
			if it.Connector != VirtualConnector(a.ChannelID) {
				t.Fatalf("connector %q", it.Connector)
			}
		}
	})
}
