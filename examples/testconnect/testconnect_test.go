// Package testconnect shows the Output client checking both directions of a portal's link to its connector
// server with testConnect: the server verifies the portal's signed call, then calls the portal's own
// endpoint back with a signed testConnect of its own.
package testconnect

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

const licenceKey = "my-licence-key" // the portal's licence key: it signs every packet (md5, as Bitrix does)

func TestTestConnect(t *testing.T) {
	ctx := context.Background()
	server := startConnectorServer(t)
	endpoint := startPortalEndpoint(t)
	portalURL := endpoint.URL

	// The client: the connector server's URL, this portal's own URL (BX_DOMAIN, where the server calls back),
	// the licence key, and the connector its calls are about (a call option overrides it per call).
	c, err := client.New(server.URL(),
		client.WithDomain(portalURL),
		client.WithLicenceKey(licenceKey),
		client.WithConnector(connector.EchoID), // "botframework", … on a real server
	)
	if err != nil {
		t.Fatal(err) // client.ErrConfig, naming every missing or invalid setting
	}
	if err := c.TestConnect(ctx); err != nil {
		t.Fatalf("testConnect: %v", err)
	}

	// A portal the server does not know (another licence key) is refused with the protocol's code.
	stranger, err := client.New(server.URL(), client.WithDomain(portalURL), client.WithLicenceKey("another-key"),
		client.WithConnector(connector.EchoID))
	if err != nil {
		t.Fatal(err)
	}
	err = stranger.TestConnect(ctx)
	if !errors.Is(err, wire.CodeLicence) {
		t.Fatalf("testConnect with another licence key: %v, want %s", err, wire.CodeLicence)
	}

	// testConnect checks the way back too: with the portal's endpoint down it fails.
	endpoint.Close()
	if err := c.TestConnect(ctx); !errors.Is(err, wire.CodeFailedTestConnector) {
		t.Fatalf("testConnect with the portal's endpoint down: %v, want %s", err, wire.CodeFailedTestConnector)
	}
}

// startConnectorServer runs a connector server in this process (127.0.0.1, a random port, a temporary
// SQLite database) that knows one portal by its licence key.
func startConnectorServer(t *testing.T) *connector.Server {
	t.Helper()
	srv, err := connector.NewServer(connector.Config{Sites: []connector.Site{{LicenceKey: licenceKey}},
		AllowPrivateNetworks: true, // the portal of the test listens on 127.0.0.1
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// startPortalEndpoint serves the portal's endpoint, /pub/imconnector/, where the connector server posts:
// a router.Input answers testConnect by itself once it verifies the packet. (A whole receiver is
// portal.New; see the receiver example.)
func startPortalEndpoint(t *testing.T) *httptest.Server {
	t.Helper()
	in, err := router.NewInput(router.New(),
		router.WithCredentials(wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}))
	if err != nil {
		t.Fatal(err)
	}
	site := httptest.NewServer(in)
	t.Cleanup(site.Close)
	return site
}
