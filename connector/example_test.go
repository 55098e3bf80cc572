package connector_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/olctl/olctl/connector"
)

// A connector server in a test or a program: one portal (by its licence key), the echo channel, a
// temporary SQLite database, 127.0.0.1 on a random port.
func ExampleNewServer() {
	srv, err := connector.NewServer(connector.Config{
		Sites: []connector.Site{{LicenceKey: "my-licence-key"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Close()

	// Portals post their packets here; messengers post to /imwebhook/{channel}?h={line hash}.
	fmt.Println(strings.HasSuffix(srv.PortalEndpoint(), "/imwebhook/portal.php"))
	st, _ := srv.QueueStats(context.Background())
	fmt.Println("queued:", st.Pending)
	// Output:
	// true
	// queued: 0
}

// myChannel is a channel built on the echo channel, under its own id.
type myChannel struct{ connector.Channel }

func (myChannel) ID() string { return "mychannel" }

// A channel is plugged in by its real id; virtual connectors ("mychannel.sub") resolve to it.
func ExampleChannels_Register() {
	chs := connector.NewChannels() // holds "echo"
	if err := chs.Register("mychannel", func(env connector.Env) (connector.Channel, error) {
		echo, err := connector.NewEcho(env) // a real channel would build its messenger client from env
		return myChannel{echo}, err
	}); err != nil {
		log.Fatal(err)
	}
	id, _, err := chs.Lookup("MyChannel.Sub")
	fmt.Println(id, err)
	_, _, err = chs.Lookup("other")
	fmt.Println(err)

	srv, err := connector.NewServer(connector.Config{Channels: chs, Sites: []connector.Site{{LicenceKey: "k"}}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ch, _ := srv.Channel("mychannel.sub")
	fmt.Println(ch.ID())
	// Output:
	// mychannel <nil>
	// IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR: no channel for connector "other"
	// mychannel
}
