package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// postSigned signs a server → portal packet with creds and posts it to url, printing the answer.
func postSigned(url string, creds wire.Credentials, command, connector string, data any) {
	fields, _ := (&wire.Packet{Command: command, Connector: connector, Line: "3", Data: data}).Encode(wire.ToPortal)
	signer, _ := wire.NewSigner(creds, nil)
	signed, _ := signer.Sign(fields)
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(signed.Encode()))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
}

// An Input verifies the connector server's packets, checks them and hands their items, typed, to the
// Router's handlers; it answers as the protocol says.
func ExampleNewInput() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	r := router.New()
	router.Handle(r, openlines.CommandSetChatName,
		func(ctx context.Context, req *router.Request, items []openlines.ChatName, itemErrs []error) error {
			for _, it := range items {
				fmt.Printf("%s/%s: chat %s is now %q\n", req.Connector, req.Line, it.ChatID, it.Name)
			}
			return nil
		})
	in, err := router.NewInput(r, router.WithCredentials(creds), router.WithConnectors(openlines.Botframework))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(in)
	defer srv.Close()

	postSigned(srv.URL, creds, "setChatName", "botframework.skype", wire.NewMap("name", "Ann's order", "chat_id", "a:conv-42", "user_id", "29:ann"))
	postSigned(srv.URL, creds, "testConnect", "botframework", nil)
	postSigned(srv.URL, creds, "sendCoffee", "botframework", nil)
	postSigned(srv.URL, creds, "setChatName", "telegrambot", nil)
	_, err = router.NewInput(r)
	fmt.Println(err)
	// Output:
	// botframework.skype/3: chat a:conv-42 is now "Ann's order"
	// 200 {"OK":true,"DATA":[]}
	// 200 {"OK":true,"DATA":{"RESULT":"OK"}}
	// 200 {"OK":false,"DATA":[],"ERROR":[{"CODE":"IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND","MESSAGE":"unknown command \"sendCoffee\""}]}
	// 200 {"OK":false,"DATA":[],"ERROR":[{"CODE":"IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR","MESSAGE":"this portal does not serve connector \"telegrambot\""}]}
	// router: bad input config: no credentials (use WithCredentials)
}

// Handle has the Input decode a command's items straight into their Go type; an item that does not fit is
// reported on its own and never fails the packet.
func ExampleHandle() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	r := router.New()
	router.Handle(r, openlines.CommandReceivingMessage,
		func(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
			for i, it := range items {
				if itemErrs != nil && itemErrs[i] != nil {
					fmt.Printf("item %d does not fit: %v\n", i, itemErrs[i])
					continue
				}
				fmt.Printf("%s wrote %q in chat %s (%s)\n", it.User.ID, it.Message.Text, it.Chat.ID, it.Type())
			}
			return nil
		})
	in, err := router.NewInput(r, router.WithCredentials(creds))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(in)
	defer srv.Close()

	postSigned(srv.URL, creds, "receivingMessage", "botframework.skype", []any{
		wire.NewMap("user", wire.NewMap("id", "29:ann"), "chat", wire.NewMap("id", "a:conv-42"),
			"message", wire.NewMap("id", "1", "text", "Hello!"), "type_message", "Message"),
		wire.NewMap("user", "ann", "chat", wire.NewMap("id", "a:conv-42")),
	})
	// Output:
	// 29:ann wrote "Hello!" in chat a:conv-42 (message)
	// item 1 does not fit: bind user: want an array, got a string
	// 200 {"OK":true,"DATA":[]}
}

// The line gate is middleware: used after logging and metrics, it refuses a packet with NOT_ACTIVE_LINE
// before any handler runs.
func ExampleRouter_Use() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	open := map[string]bool{"botframework/3": true} // a portal reads its stored line status instead
	r := router.New()
	router.Handle(r, openlines.CommandReceivingMessage,
		func(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
			fmt.Println("processing", len(items), "items of", req.Connector)
			return nil
		})
	r.Use(func(next router.HandlerFunc) router.HandlerFunc {
		return func(ctx context.Context, req *router.Request) error {
			gated := req.Command == openlines.CommandReceivingMessage || req.Command == openlines.CommandSetChatName
			if gated && !open[req.RealConnector+"/"+req.Line] {
				return wire.Errorf(wire.CodeNotActiveLine, "the line is not active")
			}
			return next(ctx, req)
		}
	})
	in, err := router.NewInput(r, router.WithCredentials(creds))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(in)
	defer srv.Close()

	item := wire.NewMap("user", wire.NewMap("id", "29:ann"), "chat", wire.NewMap("id", "a:conv-42"))
	postSigned(srv.URL, creds, "receivingMessage", "botframework.skype", []any{item})
	postSigned(srv.URL, creds, "receivingMessage", "vkgroup", []any{item})
	// Output:
	// processing 1 items of botframework.skype
	// 200 {"OK":true,"DATA":[]}
	// 200 {"OK":false,"DATA":[],"ERROR":[{"CODE":"NOT_ACTIVE_LINE","MESSAGE":"the line is not active"}]}
}
