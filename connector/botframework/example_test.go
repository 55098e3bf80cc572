package botframework_test

import (
	"fmt"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework"
)

// The channel is registered with the connector server's registry under its real id; virtual connectors such
// as botframework.skype resolve to it.
func ExampleNew() {
	chs := connector.NewChannels()
	if err := chs.Register(botframework.ID, botframework.New(
		// Defaults are Microsoft's endpoints; a test points them at a bftest fake.
		botframework.WithOpenIDMetadataURL("https://login.botframework.com/v1/.well-known/openidconfiguration"),
	)); err != nil {
		panic(err)
	}
	real, _, err := chs.Lookup("botframework.skype")
	fmt.Println(chs.IDs(), real, err)
	// Output: [botframework echo] botframework <nil>
}
