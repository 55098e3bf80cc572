package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/wire"
)

func ExampleNew() {
	// A stand-in connector server that verifies the md5 signature of each packet and answers testConnect.
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "my-licence-key"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		if err == nil {
			err = wire.Verify(fields, creds, nil)
		}
		wire.WriteResponse(w, map[string]string{"RESULT": "OK"}, err)
	}))
	defer srv.Close()

	// Every missing setting is named.
	_, err := client.New(srv.URL)
	fmt.Println(errors.Is(err, client.ErrConfig), err)

	c, err := client.New(srv.URL,
		client.WithDomain("https://portal.example.com"),
		client.WithLicenceKey("my-licence-key"),
		client.WithConnector("botframework.skype"),
		client.WithLine("3"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("testConnect:", c.TestConnect(context.Background()))
	// Output:
	// true client: invalid configuration: the portal domain is missing (WithDomain); the licence key is missing (WithLicenceKey)
	// testConnect: <nil>
}

func ExampleClient_Call() {
	// The server answers any method with its name and arguments, and refuses unknown methods.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, _ := wire.ReadForm(r, 0)
		p, _ := wire.Parse(fields, wire.ToServer)
		_ = p.DecodeData()
		args, _ := p.Items()
		if p.Command == "noSuchMethod" {
			wire.WriteResponse(w, nil, wire.Errorf(wire.CodeMethodNotFound, "unknown method %s", p.Command))
			return
		}
		wire.WriteResponse(w, map[string]any{"method": p.Command, "args": len(args), "line": p.Line}, nil)
	}))
	defer srv.Close()

	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("k"))
	ctx := context.Background()

	// Any method, its positional arguments, per-call connector and line.
	res, err := c.CallWith(ctx, "infoConnectorsLine", []any{"5"}, client.Connector("telegrambot"), client.Line("5"))
	if err != nil {
		fmt.Println(err)
		return
	}
	var out struct {
		Method string
		Args   int
		Line   string
	}
	_ = res.Decode(&out)
	fmt.Printf("%s with %d argument(s) for line %s\n", out.Method, out.Args, out.Line)

	// OK:false is an *Error that matches the protocol sentinels.
	_, err = c.Call(ctx, "noSuchMethod", "x")
	fmt.Println(errors.Is(err, client.ErrMethodNotFound), client.CodeOf(err))
	// Output:
	// infoConnectorsLine with 1 argument(s) for line 5
	// true METHOD_NOT_FOUND
}

func ExampleClient_Connect() {
	// The server accepts the settings and the test, then refuses to register on the second try.
	registered := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, _ := wire.ReadForm(r, 0)
		p, _ := wire.Parse(fields, wire.ToServer)
		fmt.Println("server:", p.Command)
		switch p.Command {
		case "testConnect":
			wire.WriteResponse(w, map[string]string{"RESULT": "OK"}, nil)
		case "register":
			if registered++; registered > 1 {
				wire.WriteResponse(w, nil, wire.Errorf(wire.CodeFailedRegister, "app_id already registered"))
				return
			}
			wire.WriteResponse(w, map[string]string{"URL": "https://connector.example.com/imwebhook/botframework?h=abc"}, nil)
		default:
			wire.WriteResponse(w, true, nil)
		}
	}))
	defer srv.Close()

	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("k"),
		client.WithConnector("botframework"), client.WithLine("3"))
	settings := client.Settings{"bot_handle": "helpdesk", "app_id": "0000-1111", "app_secret": "secret"}

	d, err := c.Connect(context.Background(), settings)
	fmt.Println("webhook:", d.String("url"), err)

	_, err = c.Connect(context.Background(), settings)
	var ce *client.ConnectError
	if errors.As(err, &ce) {
		fmt.Println("failed at", ce.Step, ce.Code, errors.Is(err, client.ErrFailedRegister))
	}
	// Output:
	// server: saveSettings
	// server: testConnect
	// server: register
	// webhook: https://connector.example.com/imwebhook/botframework?h=abc <nil>
	// server: saveSettings
	// server: testConnect
	// server: register
	// failed at register FAILED_REGISTER_CONNECTOR true
}

func ExampleClient_SendMessage() {
	// The server prints what a Bot Framework channel would need from each message; hardened signing.
	creds := wire.Credentials{Mode: wire.HMACSHA256, LicenceKey: "k", Secrets: []string{"hmac-secret"}}
	guard := wire.NewReplayGuard(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := wire.ReadForm(r, 0)
		if err == nil {
			err = wire.Verify(fields, creds, guard)
		}
		if err != nil {
			fmt.Println("server refused:", err)
			wire.WriteResponse(w, nil, err)
			return
		}
		p, _ := wire.Parse(fields, wire.ToServer)
		_ = p.DecodeData()
		args, _ := p.Items()
		for _, it := range args[0].([]any) {
			m := it.(*wire.Map)
			from, _ := m.Get("from")
			msg, _ := m.Get("message")
			chat, _ := m.Get("chat")
			fmt.Printf("%s to chat %s via %s as %s: %q\n", p.Command, chat.(*wire.Map).String("id"),
				m.String("service_url"), from.(*wire.Map).String("id"), msg.(*wire.Map).String("text"))
		}
		wire.WriteResponse(w, nil, nil)
	}))
	defer srv.Close()

	// The portal's receive pipeline stored the chat's context when the customer wrote.
	store := bfcontext.NewMemoryStore()
	_, _ = store.Put(context.Background(), bfcontext.Context{ChatID: "29:1A2b3C", Connector: "botframework.skype",
		From: bfcontext.Account{ID: "28:helpdesk-bot", Name: "Helpdesk"}, ServiceURL: "https://smba.example.com/"})

	c, _ := client.New(srv.URL, client.WithDomain("https://portal.example.com"), client.WithLicenceKey("k"),
		client.WithHMAC("hmac-secret"), client.WithChatContext(store), client.WithLine("3"))
	err := c.SendMessage(context.Background(), []client.OutgoingMessage{{
		IM:      client.IMRef{ChatID: "17", MessageID: "901"},
		Message: client.OutgoingContent{UserID: "1", Text: "Hello! How can we help?"},
		Chat:    client.ChatRef{ID: "29:1A2b3C"},
	}}, client.Connector("botframework.skype"))
	fmt.Println("sent:", err)
	// Output:
	// sendMessage to chat 29:1A2b3C via https://smba.example.com/ as 28:helpdesk-bot: "Hello! How can we help?"
	// sent: <nil>
}
