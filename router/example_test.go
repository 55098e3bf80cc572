package router_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/wire"
)

// An Input verifies and decodes the connector server's packets and hands them, typed, to the Router.
func ExampleNewInput() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	r := router.New()
	r.Handle(router.CommandSetChatName, func(ctx context.Context, req *router.Request) (any, error) {
		items, err := router.BindItems[router.ChatNameItem](req.Items)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			fmt.Printf("%s/%s: chat %s is now %q\n", req.Connector, req.Line, it.Chat.ID, it.Chat.Name)
		}
		return map[string]string{"RESULT": "OK"}, nil
	})
	srv := httptest.NewServer(router.NewInput(r, router.WithCredentials(creds)))
	defer srv.Close()

	post := func(command string, data any) {
		fields, _ := (&wire.Packet{Command: command, Connector: "botframework", Line: "3", Data: data}).Encode(wire.ToPortal)
		signer, _ := wire.NewSigner(creds)
		signed, _ := signer.Sign(fields)
		resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(signed.Encode()))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	post("setChatName", []any{wire.NewMap("chat", wire.NewMap("id", "a:conv-42", "name", "Ann's order"))})
	post("testConnect", nil)
	post("sendCoffee", nil)
	// Output:
	// botframework/3: chat a:conv-42 is now "Ann's order"
	// 200 {"OK":true,"DATA":{"RESULT":"OK"}}
	// 200 {"OK":true,"DATA":{"RESULT":"OK"}}
	// 200 {"OK":false,"ERROR":[{"CODE":"IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND","MESSAGE":"unknown command \"sendCoffee\""}]}
}

// HandleItems has the Input decode a command's items straight into their Go type: no decoded tree, and an
// item that does not fit is reported on its own.
func ExampleHandleItems() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	r := router.New()
	router.HandleItems(r, router.CommandReceivingMessage,
		func(ctx context.Context, req *router.Request, items []router.MessageItem, itemErrs []error) (any, error) {
			for i, it := range items {
				if itemErrs != nil && itemErrs[i] != nil {
					fmt.Printf("item %d does not fit: %v\n", i, itemErrs[i])
					continue
				}
				fmt.Printf("%s wrote %q in chat %s\n", it.User.ID, it.Message.Text, it.Chat.ID)
			}
			return map[string]string{"RESULT": "OK"}, nil
		})
	srv := httptest.NewServer(router.NewInput(r, router.WithCredentials(creds)))
	defer srv.Close()

	fields, _ := (&wire.Packet{Command: "receivingMessage", Connector: "botframework", Line: "3", Data: []any{
		wire.NewMap("user", wire.NewMap("id", "29:ann"), "chat", wire.NewMap("id", "a:conv-42"),
			"message", wire.NewMap("id", "1", "text", "Hello!")),
		wire.NewMap("user", "ann", "chat", wire.NewMap("id", "a:conv-42")),
	}}).Encode(wire.ToPortal)
	signer, _ := wire.NewSigner(creds)
	signed, _ := signer.Sign(fields)
	resp, err := http.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader(signed.Encode()))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 29:ann wrote "Hello!" in chat a:conv-42
	// item 1 does not fit: bind user: want an array, got a string
	// 200 {"OK":true,"DATA":{"RESULT":"OK"}}
}

// HandleDoc has the Input read a command's DATA into a wire.Doc, the fastest way to read a packet: no Go value
// per item or string, lookups that chain, "#EMPTY#" read as "" by Text.
func ExampleHandleDoc() {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "DEMO-LICENCE-KEY-0001"}
	r := router.New()
	router.HandleDoc(r, router.CommandReceivingMessage,
		func(ctx context.Context, req *router.Request, items wire.Value) (any, error) {
			for _, it := range items.Entries() {
				msg := it.Get("message")
				fmt.Printf("%s wrote %q (file %q)\n", it.Get("user").Get("id").Text(), msg.Get("text").Text(), msg.Get("files").Index(0).Get("name").Text())
			}
			return map[string]int{"ITEMS": items.Len()}, nil
		})
	in := router.NewInput(r, router.WithCredentials(creds))

	fields, _ := (&wire.Packet{Command: "receivingMessage", Connector: "botframework", Line: "3", Data: []any{
		wire.NewMap("user", wire.NewMap("id", "29:ann"), "message", wire.NewMap("id", "1", "text", "Hello!")),
		wire.NewMap("user", wire.NewMap("id", "29:bob"), "message", wire.NewMap("id", "2", "text", "",
			"files", []any{wire.NewMap("name", "cv.pdf")})),
	}}).Encode(wire.ToPortal)
	signer, _ := wire.NewSigner(creds)
	signed, _ := signer.Sign(fields)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(signed.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	in.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Body.String())
	// Output:
	// 29:ann wrote "Hello!" (file "")
	// 29:bob wrote "" (file "cv.pdf")
	// 200 {"OK":true,"DATA":{"ITEMS":2}}
}
