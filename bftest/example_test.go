package bftest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/connector/botframework/schema"
)

// A bot's webhook receives a user's message from the fake service and answers it through the fake's Connector
// REST API; the test then reads what the bot sent.
func Example() {
	s, err := bftest.Start(bftest.Config{ChannelID: "skype"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	token, _ := s.AccessToken() // a real bot gets it from s.TokenURL() with its app id and secret

	bot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in schema.Activity
		_ = json.NewDecoder(r.Body).Decode(&in)
		reply, _ := json.Marshal(schema.Activity{Type: "message", From: in.Recipient, Conversation: in.Conversation, Text: "echo: " + in.Text})
		u, _ := schema.ActivitiesURL(in.ServiceURL, in.Conversation.ID, in.ID)
		req, _ := http.NewRequest("POST", u, strings.NewReader(string(reply)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}))
	defer bot.Close()

	id, err := s.SendUserMessage(context.Background(), bot.URL, "19:chat;messageid=1", "29:ann", "hello")
	if err != nil {
		panic(err)
	}
	rec, err := s.WaitFor(context.Background(), bftest.ByOp(bftest.OpReply))
	if err != nil {
		panic(err)
	}
	fmt.Println(rec.Activity.Text, rec.ActivityID == id)
	fmt.Println(strings.SplitAfter(rec.RawPath, "/activities")[0]) // the escaped path as it came on the wire
	// Output:
	// echo: hello true
	// /v3/conversations/19%3Achat%3Bmessageid%3D1/activities
}
