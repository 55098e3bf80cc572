package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// connectorServer is a stand-in connector server: it verifies each packet with the portal's licence key and
// answers by method.
func connectorServer(licenceKey string) *httptest.Server {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: licenceKey}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, wire.DefaultMaxBody)
		if err == nil {
			err = wire.Verify(fields, creds, nil)
		}
		if err != nil {
			wire.WriteResponse(w, nil, err)
			return
		}
		switch fields.Get("BX_COMMAND") {
		case openlines.MethodRegister:
			wire.WriteResponse(w, map[string]string{"URL_WEBHOOK": "https://connector.example.com/imwebhook/botframework?h=7f3a"}, nil)
		case openlines.MethodListConnector:
			wire.WriteResponse(w, map[string]string{"botframework": "Microsoft Bot Framework", "vkgroup": "VK"}, nil)
		case openlines.MethodTestConnect:
			wire.WriteResponse(w, map[string]string{"RESULT": "OK"}, nil)
		case "readSettings":
			wire.WriteResponse(w, nil, wire.Errorf(wire.CodeNotActiveLine, "the line is not connected"))
		default:
			wire.WriteResponse(w, []any{}, nil)
		}
	}))
}

func ExampleNew() {
	srv := connectorServer("licence-key-123")
	defer srv.Close()

	c, err := client.New(srv.URL,
		client.WithDomain("https://portal.example.com"),
		client.WithLicenceKey("licence-key-123"),
		client.WithConnector("botframework"), client.WithLine("3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.URL() == srv.URL+client.DefaultPath)
	fmt.Println(c.TestConnect(context.Background()))

	_, err = client.New("connector.example.com")
	fmt.Println(errors.Is(err, client.ErrConfig), err)
	// Output:
	// true
	// <nil>
	// true client: invalid configuration: the portal domain is missing (WithDomain)
}

func ExampleClient_Call() {
	srv := connectorServer("licence-key-123")
	defer srv.Close()
	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("licence-key-123"))
	ctx := context.Background()

	// A connector-less method: CONNECTOR "all", an empty LINE.
	res, err := c.Call(ctx, "listConnector", nil)
	fmt.Println(string(res.Raw), err)

	// A connector-bound method names its connector and line.
	_, err = c.Call(ctx, "readSettings", nil, client.Connector("botframework"), client.Line("3"))
	fmt.Println(wire.CodeOf(err), errors.Is(err, wire.CodeNotActiveLine))

	// Without a connector it is refused before anything is sent.
	_, err = c.Call(ctx, "readSettings", nil)
	fmt.Println(wire.CodeOf(err))
	// Output:
	// {"botframework":"Microsoft Bot Framework","vkgroup":"VK"} <nil>
	// NOT_ACTIVE_LINE true
	// CONNECTOR_ID_NOT_SPECIFIED
}

// memoryStatus is an openlines.LineStatusStore in a map; a portal uses its SQL store.
type memoryStatus map[string]openlines.LineStatus

func (m memoryStatus) LineStatus(_ context.Context, real, line string) (openlines.LineStatus, error) {
	return m[real+"/"+line], nil
}

func (m memoryStatus) SetLineStatus(_ context.Context, real, line string, s openlines.LineStatus) error {
	m[real+"/"+line] = s
	return nil
}

func ExampleClient_Connect() {
	srv := connectorServer("licence-key-123")
	defer srv.Close()
	status := memoryStatus{}
	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("licence-key-123"),
		client.WithLineStatus(status))

	hook, err := c.Connect(context.Background(),
		client.Settings{"bot_handle": "helpdesk-bot", "app_id": "6a4f0c1e", "app_secret": "s3cr3t"},
		client.Connector("botframework.skype"), client.Line("3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(hook.String("URL_WEBHOOK"))
	fmt.Printf("%+v open=%v\n", status["botframework/3"], status["botframework/3"].Open())
	// Output:
	// https://connector.example.com/imwebhook/botframework?h=7f3a
	// {Active:true Connection:true Register:true Error:false} open=true
}
