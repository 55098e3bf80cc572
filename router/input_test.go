package router_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/router"
	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// vectorChecks checks what the handler of each server → portal vector got, bound into its openlines type.
var vectorChecks = map[string]func(t *testing.T, rec *recorder){
	"server_to_portal_receivingMessage": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.MessageItem](t, rec)
		want := openlines.MessageItem{
			User:       openlines.User{ID: "29:1A2b3C", Name: "Анна Петрова", Picture: openlines.Picture{URL: "http://127.0.0.1:9/avatar.png"}},
			Message:    openlines.Message{ID: "1700000000001", Date: 1700000000, Text: "Привет :smile: can you help? :+1:", Files: []openlines.File{{URL: "http://127.0.0.1:9/files/report.pdf", Name: "report.pdf"}}},
			Chat:       openlines.Chat{ID: "a:conv-42"},
			Recipient:  wire.NewMap("id", "28:bot-id", "name", "helpdesk-bot"),
			ServiceURL: "https://smba.trafficmanager.net/apis/",
		}
		if !equalJSON(t, it, want) {
			t.Fatalf("item\n got %+v\nwant %+v", it, want)
		}
		if err := it.Validate(); err != nil || it.Type() != openlines.MessageNew {
			t.Fatalf("validate %v, type %q", err, it.Type())
		}
	},
	"server_to_portal_receivingMessage_current_empty_arrays": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.MessageItem](t, rec)
		if it.User.ID != "wc-7Hq2Lx" || it.Message.FirstID() != "act-0001-wc" || it.Message.Text != "Is the order 0 ready?" ||
			len(it.Message.Files) != 0 || len(it.Message.Attachments) != 0 || it.Chat.ID != "wc-conv-7Hq2Lx" ||
			it.Recipient.String("role") != "bot" || it.ServiceURL != "https://webchat.botframework.com/" {
			t.Fatalf("item %+v", it)
		}
		if it.TypeMessage != "Message" || it.Type() != openlines.MessageNew || it.Validate() != nil {
			t.Fatalf("type_message %q read as %q (%v)", it.TypeMessage, it.Type(), it.Validate())
		}
	},
	"server_to_portal_receivingMessage_current_bigfile_location_emoji": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.MessageItem](t, rec)
		if !it.Message.FailedBigFile || it.Message.Text != "Here I am :F09F918D:" || len(it.Message.Attachments) != 1 ||
			it.User.LastName != "Sidorov" || it.Validate() != nil {
			t.Fatalf("item %+v", it)
		}
		loc := it.Message.Attachments[0].Location
		if loc == nil || loc.Title != "Main office" || loc.Text != "1 Example Street" ||
			loc.Coordinates != (openlines.Coordinates{Latitude: "55.75393", Longitude: "37.620795"}) {
			t.Fatalf("location %+v", loc)
		}
	},
	"server_to_portal_receivingError_current": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.ErrorItem](t, rec)
		want := openlines.ErrorItem{Code: openlines.ErrorNotSendMessageChat, ChatID: "118", MessageID: "40211", UserID: "wc-7Hq2Lx",
			MessageConnector: "The messenger refused the message (HTTP 403)", Params: openlines.ErrorParams{ErrorCode: "HTTP_403"}}
		if !reflect.DeepEqual(it, want) || it.Validate() != nil {
			t.Fatalf("item\n got %+v\nwant %+v", it, want)
		}
	},
	"server_to_portal_setChatName_current": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.ChatName](t, rec)
		if it != (openlines.ChatName{Name: "Ivan Sidorov (web chat)", ChatID: "wc-conv-7Hq2Lx", UserID: "wc-7Hq2Lx"}) || it.Validate() != nil {
			t.Fatalf("item %+v", it)
		}
	},
	"server_to_portal_receivingStatusBlock_deny_current": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.StatusBlockItem](t, rec)
		if !it.Blocked() || it.Chat.ID != "wc-conv-7Hq2Lx" || it.User.ID != "wc-7Hq2Lx" || it.Validate() != nil {
			t.Fatalf("item %+v", it)
		}
	},
	"server_to_portal_receivingStatusBlock_allow_current": func(t *testing.T, rec *recorder) {
		it := oneItem[openlines.StatusBlockItem](t, rec)
		if it.Blocked() || it.Message.Type != openlines.BlockAllow || it.Validate() != nil {
			t.Fatalf("item %+v", it)
		}
	},
}

// oneItem returns the one item the last call got, which must have fit T.
func oneItem[T any](t *testing.T, rec *recorder) T {
	t.Helper()
	items, errs := lastItems[T](t, rec)
	if len(items) != 1 || errs != nil {
		t.Fatalf("%d items, errors %v", len(items), errs)
	}
	return items[0]
}

func TestVectorsAcceptedAsTheyAre(t *testing.T) {
	t.Parallel()
	n := 0
	for _, v := range routertest.LoadVectors(t, vectorsDir) {
		if !strings.HasPrefix(v.Name, "server_to_portal") {
			continue
		}
		n++
		t.Run(v.Name, func(t *testing.T) {
			ts, _ := strconv.ParseInt(v.Fields.Get("BX_TIMESTAMP"), 10, 64)
			clk := clock.NewFake(time.Unix(ts+10, 0))
			srv, rec := server(t, v.Credentials(), clk, router.WithProfile(v.Profile), router.WithConnectors(openlines.Botframework))
			a := routertest.Post(t, srv.Client(), srv.URL, v.Fields.Encode())
			if a.Status != 200 || a.Err != nil {
				t.Fatalf("answer %d %s: %v", a.Status, a.Body, a.Err)
			}
			cmd := v.Fields.Get("BX_COMMAND")
			if cmd == openlines.CommandTestConnect {
				if string(a.Response.Data) != `{"RESULT":"OK"}` || rec.count() != 0 {
					t.Fatalf("testConnect answered %s, %d calls", a.Body, rec.count())
				}
				return
			}
			if string(a.Body) != `{"OK":true,"DATA":[]}` {
				t.Fatalf("answer %s", a.Body)
			}
			req := rec.last(t).req
			if req.Command != cmd || req.Connector != v.Fields.Get("CONNECTOR") || req.RealConnector != openlines.Botframework ||
				req.Line != "3" || req.Profile != v.Profile || req.ItemCount() != 1 {
				t.Fatalf("request %+v", req)
			}
			check, ok := vectorChecks[v.Name]
			if !ok {
				t.Fatalf("no check for %s", v.Name)
			}
			check(t, rec)
		})
	}
	if n != len(vectorChecks)+1 {
		t.Fatalf("%d server → portal vectors, %d checks and testConnect", n, len(vectorChecks))
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

// commandItems are representative items of each command and the check of what its handler got.
var commandItems = map[string]struct {
	items any
	check func(t *testing.T, rec *recorder)
}{
	openlines.CommandReceivingMessage: {
		items: []any{wire.NewMap(
			"user", wire.NewMap("id", "u1", "name", "Ann Lee", "gender", "female", "picture", wire.NewMap("url", "http://x/p.png", "headers", []any{wire.NewMap("name", "Authorization", "value", "Bearer t")})),
			"message", wire.NewMap("id", 42, "date", "1700000000", "text", "hi", "files", []any{wire.NewMap("url", "http://x/f.txt", "type", "text/plain")}),
			"chat", wire.NewMap("id", "c1", "name", "Support", "url", "http://x/c1"),
			"type_message", "message_update",
			"extra", wire.NewMap("last_message_id", "41", "k", "v"),
			"unknown_key", "kept",
		)},
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.MessageItem](t, rec)
			if it.User.ID != "u1" || it.User.Gender != "female" || it.User.Picture.Headers[0].Value != "Bearer t" ||
				it.Message.FirstID() != "42" || it.Message.Date != 1700000000 || it.Message.Files[0].Type != "text/plain" ||
				it.Chat.URL != "http://x/c1" || it.Type() != openlines.MessageUpdate || it.Other["unknown_key"] != "kept" {
				t.Fatalf("item %+v", it)
			}
			if it.Extra.LastMessageID != "41" || it.Extra.Other["k"] != "v" {
				t.Fatalf("extra %#v", it.Extra)
			}
		},
	},
	openlines.CommandReceivingStatusDelivery: {
		items: []any{wire.NewMap("im", wire.NewMap("chat_id", 7, "message_id", 99), "message", wire.NewMap("id", []any{"ext-1"}, "date", 1700000001), "chat", wire.NewMap("id", "c1"))},
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.StatusDeliveryItem](t, rec)
			if it.IM.ChatID != "7" || it.IM.MessageID != "99" || !reflect.DeepEqual(it.Message.IDs(), []string{"ext-1"}) ||
				it.Message.Date != 1700000001 || it.Chat.ID != "c1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	openlines.CommandReceivingStatusReading: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "message", wire.NewMap("id", "m1"))},
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.StatusReadingItem](t, rec)
			if it.Chat.ID != "c1" || it.Message.FirstID() != "m1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	openlines.CommandReceivingError: {
		items: []any{wire.NewMap("code", "CONNECTOR_NOT_SEND_MESSAGE_CHAT", "chatId", 5, "messageId", 901, "userId", "u1",
			"messageConnector", "user blocked the bot", "params", wire.NewMap("errorCode", "BLOCKED"))},
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.ErrorItem](t, rec)
			if it.Code != openlines.ErrorNotSendMessageChat || it.ChatID != "5" || it.MessageID != "901" || it.UserID != "u1" ||
				it.MessageConnector != "user blocked the bot" || it.Params.ErrorCode != "BLOCKED" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	openlines.CommandReceivingStatusBlock: {
		items: []any{wire.NewMap("chat", wire.NewMap("id", "c1"), "user", wire.NewMap("id", "u1"), "message", wire.NewMap("type", "message_deny"))},
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.StatusBlockItem](t, rec)
			if it.Chat.ID != "c1" || it.User.ID != "u1" || !it.Blocked() || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
	openlines.CommandDeactivateConnector: {
		items: nil,
		check: func(t *testing.T, rec *recorder) {
			if items, errs := lastItems[any](t, rec); len(items) != 0 || errs != nil {
				t.Fatalf("items %#v", items)
			}
		},
	},
	openlines.CommandSetChatName: {
		items: wire.NewMap("name", "New name", "chat_id", "c1", "user_id", "u1"),
		check: func(t *testing.T, rec *recorder) {
			it := oneItem[openlines.ChatName](t, rec)
			if it.Name != "New name" || it.ChatID != "c1" || it.UserID != "u1" || it.Validate() != nil {
				t.Fatalf("item %+v", it)
			}
		},
	},
}

func TestEveryCommandInBothModesAndProfiles(t *testing.T) {
	t.Parallel()
	for _, creds := range []wire.Credentials{md5Creds, hmacCreds} {
		for _, profile := range []wire.Profile{wire.Legacy, wire.Current} {
			t.Run(string(creds.Mode)+"/"+profile.String(), func(t *testing.T) {
				clk := clock.NewFake(epoch)
				srv, rec := server(t, creds, clk, router.WithProfile(profile))
				send := routertest.NewSender(t, creds, clk, "botframework.skype", "3")
				send.Profile = profile
				a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, openlines.CommandTestConnect, nil))
				if a.Err != nil || string(a.Body) != `{"OK":true,"DATA":{"RESULT":"OK"}}` {
					t.Fatalf("testConnect: %s", a.Body)
				}
				for _, cmd := range allCommands {
					t.Run(cmd, func(t *testing.T) {
						c := commandItems[cmd]
						a := routertest.Post(t, srv.Client(), srv.URL, send.Body(t, cmd, c.items))
						if a.Status != 200 || a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
							t.Fatalf("answer %d %s", a.Status, a.Body)
						}
						req := rec.last(t).req
						if req.Command != cmd || req.Connector != "botframework.skype" || req.RealConnector != "botframework" ||
							req.Line != "3" || req.Packet == nil || req.Profile != profile {
							t.Fatalf("request %+v", req)
						}
						c.check(t, rec)
					})
				}
			})
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	okItems := commandItems[openlines.CommandReceivingMessage].items
	md5Send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	hmacSend := routertest.NewSender(t, hmacCreds, clk, "botframework", "3")
	replayed := hmacSend.Body(t, openlines.CommandReceivingMessage, okItems)
	fakeKey := routertest.NewSender(t, wire.Credentials{Mode: wire.MD5, LicenceKey: "someone-else"}, clk, "botframework", "3")
	noConnector := routertest.NewSender(t, md5Creds, clk, "", "3")

	cases := []struct {
		name   string
		creds  wire.Credentials
		method string
		body   func() string
		before func(url string, c *http.Client) // e.g. deliver once first
		status int
		code   wire.Code
	}{
		{name: "missing BX_HASH", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, openlines.CommandReceivingMessage, okItems)
			return f[:len(f)-1].Encode()
		}, status: 200, code: wire.CodeHashEmpty},
		{name: "wrong hash", creds: md5Creds, body: func() string {
			return fakeKey.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "tampered value", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, openlines.CommandReceivingMessage, okItems)
			f[2].Value = "4" // LINE
			return f.Encode()
		}, status: 200, code: wire.CodeLicence},
		{name: "hash over reordered fields", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, openlines.CommandReceivingMessage, okItems)
			f[1], f[2] = f[2], f[1]
			return f.Encode()
		}, status: 200, code: wire.CodeLicence},
		{name: "the signature is checked before anything else", creds: md5Creds, body: func() string {
			f := md5Send.Fields(t, openlines.CommandReceivingMessage, okItems)
			return setField("CONNECTOR", "#EMPTY#")(setField("DATA", "%%not*base64")(f)).Encode()
		}, status: 200, code: wire.CodeLicence},
		{name: "stale timestamp", creds: hmacCreds, body: func() string {
			old := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(-301*time.Second)), "botframework", "3")
			return old.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeReplay},
		{name: "future timestamp", creds: hmacCreds, body: func() string {
			f := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(301*time.Second)), "botframework", "3")
			return f.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeReplay},
		{name: "reused nonce", creds: hmacCreds, body: func() string { return replayed },
			before: func(url string, c *http.Client) {
				if a := routertest.Post(t, c, url, replayed); a.Err != nil {
					t.Fatalf("first delivery: %s", a.Body)
				}
			}, status: 200, code: wire.CodeReplay},
		{name: "md5 packet to an hmac receiver", creds: hmacCreds, body: func() string {
			return md5Send.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "hmac packet to an md5 receiver", creds: md5Creds, body: func() string {
			return hmacSend.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeLicence},
		{name: "bad base64", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, setField("DATA", "%%not*base64"))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "bad serialize", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, withData(`a:1:{i:0;s:5:"abc";}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "an object in DATA", creds: hmacCreds, body: func() string {
			return resign(t, hmacSend, openlines.CommandReceivingMessage, withData(`a:1:{i:0;O:8:"stdClass":1:{s:1:"a";i:1;}}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "a reference in DATA", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, withData(`a:2:{i:0;a:0:{}i:1;R:2;}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "DATA not a list", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, withData(`i:5;`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "setChatName DATA not a map", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandSetChatName, withData(`s:4:"name";`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "setChatName bad serialize", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandSetChatName, withData(`a:1:{s:4:"name";s:9:"x";}`))
		}, status: 200, code: wire.CodeBadPacket},
		{name: "no DATA", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, func(f wire.Fields) wire.Fields { return f[:len(f)-1] })
		}, status: 200, code: wire.CodeBadPacket},
		{name: "duplicate field", creds: md5Creds, body: func() string {
			return md5Send.Body(t, openlines.CommandReceivingMessage, okItems) + "&LINE=3"
		}, status: 200, code: wire.CodeBadPacket},
		{name: "unknown command", creds: md5Creds, body: func() string {
			return md5Send.Body(t, "dropDatabase", okItems)
		}, status: 200, code: wire.CodeUnknownCommand},
		{name: "empty command", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, setField("BX_COMMAND", "#EMPTY#"))
		}, status: 200, code: wire.CodeUnknownCommand},
		{name: "no command", creds: md5Creds, body: func() string {
			return resign(t, md5Send, openlines.CommandReceivingMessage, func(f wire.Fields) wire.Fields { return f[1:] })
		}, status: 200, code: wire.CodeUnknownCommand},
		{name: "empty connector", creds: md5Creds, body: func() string {
			return noConnector.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 200, code: wire.CodeNoConnector},
		{name: "GET", creds: md5Creds, method: http.MethodGet, body: func() string { return "" },
			status: 405, code: wire.CodeMethodNotAllowed},
		{name: "PUT", creds: md5Creds, method: http.MethodPut, body: func() string {
			return md5Send.Body(t, openlines.CommandReceivingMessage, okItems)
		}, status: 405, code: wire.CodeMethodNotAllowed},
		{name: "oversize body", creds: md5Creds, body: func() string {
			return md5Send.Body(t, openlines.CommandReceivingMessage, []any{wire.NewMap("user", wire.NewMap("id", "u"), "message", wire.NewMap("id", "1", "text", strings.Repeat("x", 9<<20)))})
		}, status: 413, code: wire.CodeRequestEntityTooLarge},
		{name: "a handler that panics", creds: md5Creds, body: func() string {
			return md5Send.Body(t, "panics", okItems)
		}, status: 200, code: wire.CodeInternal},
	}
	for _, c := range cases {
		for _, raw := range []bool{false, true} { // receivingMessage typed, and as raw items
			name := c.name
			if raw {
				name += " (raw items)"
			}
			t.Run(name, func(t *testing.T) {
				rec := &recorder{}
				srv := serve(t, newRouter(rec, raw), c.creds, clk)
				if c.before != nil {
					c.before(srv.URL, srv.Client())
				}
				before := rec.count()
				method := c.method
				if method == "" {
					method = http.MethodPost
				}
				a := routertest.Do(t, srv.Client(), method, srv.URL, c.body())
				if a.Status != c.status {
					t.Fatalf("status %d, want %d (%s)", a.Status, c.status, a.Body)
				}
				if a.Response == nil || a.Response.OK || len(a.Response.Errors) != 1 || a.Codes()[0] != c.code {
					t.Fatalf("answer %s, want code %s", a.Body, c.code)
				}
				if a.Response.Errors[0].Message == "" {
					t.Fatal("the error has no message")
				}
				if got := rec.count(); got != before {
					t.Fatalf("the handler was called %d times", got-before)
				}
			})
		}
	}
}

// TestPacketLevelChecks: before routing, a command matches in any case, the connector's real id must be one
// the portal serves (WithConnectors), and CONNECTOR is checked before the command.
func TestPacketLevelChecks(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	items := commandItems[openlines.CommandReceivingStatusReading].items
	cases := []struct {
		name, connector, command string
		code                     wire.Code // "" for routed
	}{
		{"a virtual connector of a served one", "botframework.skype", openlines.CommandReceivingStatusReading, ""},
		{"the real connector itself", "botframework", openlines.CommandReceivingStatusReading, ""},
		{"a real id in another case", "BotFramework.WebChat", openlines.CommandReceivingStatusReading, ""},
		{"the command in another case", "botframework", "RECEIVINGSTATUSREADING", ""},
		{"another served connector", "vkgroup", "receivingstatusreading", ""},
		{"a connector not served", "telegrambot", openlines.CommandReceivingStatusReading, wire.CodeUnknownConnector},
		{"a prefix of a served one", "botframe.work", openlines.CommandReceivingStatusReading, wire.CodeUnknownConnector},
		{"no connector before an unknown command", "", "dropDatabase", wire.CodeNoConnector},
		{"an unknown command of a connector not served", "telegrambot", "dropDatabase", wire.CodeUnknownCommand},
	}
	srv, rec := server(t, md5Creds, clk, router.WithConnectors("botframework", "VKGROUP"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := rec.count()
			send := routertest.NewSender(t, md5Creds, clk, c.connector, "3")
			a := routertest.Post(t, nil, srv.URL, send.Body(t, c.command, items))
			if c.code != "" {
				if a.Response == nil || a.Response.OK || a.Codes()[0] != c.code || rec.count() != before {
					t.Fatalf("answer %s, want %s", a.Body, c.code)
				}
				return
			}
			if a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
				t.Fatalf("answer %s", a.Body)
			}
			req := rec.last(t).req
			if req.Command != openlines.CommandReceivingStatusReading || req.Packet.Command != c.command || req.Connector != c.connector ||
				req.RealConnector != openlines.RealConnector(c.connector) {
				t.Fatalf("request %+v", req)
			}
		})
	}
}

// TestEmptyArraysEverywhere: a current packet with #EMPTY_ARRAY# in every place an empty array can be is
// processed, and so is the same packet from a legacy server (#EMPTY# everywhere); DATA that is itself an
// empty array has no items.
func TestEmptyArraysEverywhere(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	item := []any{wire.NewMap(
		"user", wire.NewMap("id", "u1", "name", "Ann", "picture", []any{}, "phone", []any{}),
		"message", wire.NewMap("id", "m1", "text", "hi", "files", []any{wire.NewMap("url", "http://x/f", "headers", []any{})},
			"attachments", []any{wire.NewMap("location", wire.NewMap("title", "here", "coordinates", []any{}))}),
		"chat", wire.NewMap("id", "c1", "name", []any{}),
		"extra", []any{},
		"ref", []any{},
		"recipient", []any{},
		"nested", wire.NewMap("deeper", []any{[]any{}}),
	)}
	for _, profile := range []wire.Profile{wire.Current, wire.Legacy} {
		t.Run(profile.String(), func(t *testing.T) {
			send := routertest.NewSender(t, md5Creds, clk, "botframework.skype", "3")
			send.Profile = profile
			stub, empty := `"#EMPTY_ARRAY#"`, any([]any{}) // what a receiver reads the stub as
			if profile == wire.Legacy {
				stub, empty = `"#EMPTY#"`, ""
			}
			for _, raw := range []bool{false, true} {
				rec := &recorder{}
				srv := serve(t, newRouter(rec, raw), md5Creds, clk)
				body := send.Body(t, openlines.CommandReceivingMessage, item)
				if data := decodedDATA(t, body); strings.Count(data, stub) != 9 {
					t.Fatalf("the packet has %d %s: %s", strings.Count(data, stub), stub, data)
				}
				if a := routertest.Post(t, nil, srv.URL, body); a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
					t.Fatalf("answer %s", a.Body)
				}
				if raw {
					items, errs := lastItems[any](t, rec)
					m := items[0].(*wire.Map)
					user, _ := m.Get("user")
					phone, _ := user.(*wire.Map).Get("phone")
					extra, _ := m.Get("extra")
					nested, _ := m.Get("nested")
					deeper, _ := nested.(*wire.Map).Get("deeper")
					if errs != nil || !reflect.DeepEqual(extra, empty) || !reflect.DeepEqual(phone, empty) ||
						!reflect.DeepEqual(deeper, []any{empty}) {
						t.Fatalf("raw item %v (errors %v)", m, errs)
					}
					continue
				}
				it := oneItem[openlines.MessageItem](t, rec)
				if it.User.ID != "u1" || it.User.Picture.URL != "" || it.User.Phone != "" || it.Chat.Name != "" ||
					len(it.Message.Files) != 1 || it.Message.Files[0].Headers != nil || it.Message.Attachments[0].Location.Coordinates.Latitude != "" ||
					it.Extra.LastMessageID != "" || it.Recipient.Len() != 0 || it.Validate() != nil {
					t.Fatalf("item %+v", it)
				}
			}
			// DATA itself an empty array.
			rec := &recorder{}
			srv := serve(t, newRouter(rec, false), md5Creds, clk)
			body := send.Body(t, openlines.CommandReceivingMessage, []any{})
			if data := decodedDATA(t, body); data != `s:`+strconv.Itoa(len(stub)-2)+`:`+stub+`;` {
				t.Fatalf("DATA %s", data)
			}
			if a := routertest.Post(t, nil, srv.URL, body); a.Err != nil {
				t.Fatalf("answer %s", a.Body)
			}
			if items, errs := lastItems[openlines.MessageItem](t, rec); len(items) != 0 || errs != nil {
				t.Fatalf("%d items", len(items))
			}
		})
	}
}

// decodedDATA returns the serialized text of a form body's DATA.
func decodedDATA(t *testing.T, body string) string {
	t.Helper()
	f, err := wire.ParseForm(body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(f.Get("DATA"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadItemsNeverFailThePacket: an unknown type_message reaches the handler as it was sent, and an item that
// does not fit its type is reported alone in itemErrs; the packet is answered OK all the same.
func TestBadItemsNeverFailThePacket(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	send := routertest.NewSender(t, md5Creds, clk, "botframework.skype", "3")
	good := commandItems[openlines.CommandReceivingMessage].items.([]any)[0]
	srv, rec := server(t, md5Creds, clk)
	items := []any{
		wire.NewMap("user", "not an array", "chat", wire.NewMap("id", "c1")),
		good,
		wire.NewMap("user", wire.NewMap("id", "u2"), "chat", wire.NewMap("id", "c1"), "type_message", "Reaction"),
		"",
		wire.NewMap("user", wire.NewMap("id", []any{"a", "list"})),
	}
	a := routertest.Post(t, nil, srv.URL, send.Body(t, openlines.CommandReceivingMessage, items))
	if a.Err != nil || string(a.Body) != `{"OK":true,"DATA":[]}` {
		t.Fatalf("answer %s", a.Body)
	}
	got, errs := lastItems[openlines.MessageItem](t, rec)
	if len(got) != 5 || len(errs) != 5 || rec.last(t).req.ItemCount() != 5 {
		t.Fatalf("%d items, errors %v", len(got), errs)
	}
	var be *wire.BindError
	if !errors.As(errs[0], &be) || be.Path != "user" || wire.CodeOf(errs[0]) != wire.CodeBadPacket {
		t.Fatalf("item 0: %v (%+v)", errs[0], got[0])
	}
	if errs[1] != nil || got[1].User.ID != "u1" {
		t.Fatalf("item 1: %v (%+v)", errs[1], got[1])
	}
	if errs[2] != nil || got[2].TypeMessage != "Reaction" || got[2].Type() != "reaction" || wire.CodeOf(got[2].Validate()) != wire.CodeUnsupportedType {
		t.Fatalf("item 2: %v (%+v)", errs[2], got[2])
	}
	if errs[3] != nil || got[3].User.ID != "" {
		t.Fatalf("item 3: %v (%+v)", errs[3], got[3])
	}
	if !errors.As(errs[4], &be) || be.Path != "user.id" {
		t.Fatalf("item 4: %v", errs[4])
	}
}

// TestDataShapes: testConnect and deactivateConnector carry no items in every spelling of an empty DATA;
// setChatName's one map is one item (a list of maps is taken as its items); other scalars are BAD_PACKET.
func TestDataShapes(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
	srv, rec := server(t, md5Creds, clk)
	chatName := `a:3:{s:4:"name";s:3:"New";s:7:"chat_id";s:2:"c1";s:7:"user_id";s:2:"u1";}`
	cases := []struct {
		command, data string
		items         int       // items the handler got
		code          wire.Code // "" for OK
	}{
		{openlines.CommandDeactivateConnector, `s:7:"#EMPTY#";`, 0, ""},
		{openlines.CommandDeactivateConnector, `s:13:"#EMPTY_ARRAY#";`, 0, ""},
		{openlines.CommandDeactivateConnector, `s:0:"";`, 0, ""},
		{openlines.CommandDeactivateConnector, `a:0:{}`, 0, ""},
		{openlines.CommandDeactivateConnector, `N;`, 0, ""},
		{openlines.CommandDeactivateConnector, `i:0;`, 0, wire.CodeBadPacket},
		{openlines.CommandDeactivateConnector, `s:3:"abc";`, 0, wire.CodeBadPacket},
		{openlines.CommandDeactivateConnector, `b:1;`, 0, wire.CodeBadPacket},
		{openlines.CommandDeactivateConnector, `d:1.5;`, 0, wire.CodeBadPacket},
		{openlines.CommandTestConnect, `s:7:"#EMPTY#";`, -1, ""},
		{openlines.CommandTestConnect, `s:13:"#EMPTY_ARRAY#";`, -1, ""},
		{openlines.CommandTestConnect, `s:0:"";`, -1, ""},
		{openlines.CommandTestConnect, `a:0:{}`, -1, ""},
		{openlines.CommandTestConnect, `i:7;`, -1, wire.CodeBadPacket},
		{openlines.CommandSetChatName, chatName, 1, ""},
		{openlines.CommandSetChatName, `a:1:{i:0;` + chatName + `}`, 1, ""},
		{openlines.CommandSetChatName, `s:13:"#EMPTY_ARRAY#";`, 0, ""},
		{openlines.CommandSetChatName, `i:1;`, 0, wire.CodeBadPacket},
	}
	for _, c := range cases {
		t.Run(c.command+" "+c.data, func(t *testing.T) {
			before := rec.count()
			a := routertest.Post(t, nil, srv.URL, resign(t, send, c.command, withData(c.data)))
			if c.code != "" {
				if a.Response == nil || a.Response.OK || a.Codes()[0] != c.code || rec.count() != before {
					t.Fatalf("answer %s, want %s", a.Body, c.code)
				}
				return
			}
			want := `{"OK":true,"DATA":[]}`
			if c.command == openlines.CommandTestConnect {
				want = `{"OK":true,"DATA":{"RESULT":"OK"}}`
			}
			if a.Err != nil || string(a.Body) != want {
				t.Fatalf("answer %s, want %s", a.Body, want)
			}
			if c.items < 0 {
				return
			}
			if got := rec.last(t).req.ItemCount(); got != c.items || rec.count() != before+1 {
				t.Fatalf("%d items", got)
			}
			if c.command == openlines.CommandSetChatName && c.items == 1 {
				if it := oneItem[openlines.ChatName](t, rec); it != (openlines.ChatName{Name: "New", ChatID: "c1", UserID: "u1"}) {
					t.Fatalf("item %+v", it)
				}
			}
		})
	}
	t.Run("a setChatName map that does not fit", func(t *testing.T) {
		a := routertest.Post(t, nil, srv.URL, resign(t, send, openlines.CommandSetChatName,
			withData(`a:2:{s:4:"name";s:3:"New";s:7:"chat_id";a:1:{i:0;i:1;}}`)))
		if a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
		items, errs := lastItems[openlines.ChatName](t, rec)
		var be *wire.BindError
		if len(items) != 1 || len(errs) != 1 || !errors.As(errs[0], &be) || be.Path != "chat_id" || items[0].Name != "New" {
			t.Fatalf("items %+v, errors %v", items, errs)
		}
	})
}

func TestNewInputRefusesABadConfig(t *testing.T) {
	t.Parallel()
	r := router.New()
	cases := []struct {
		name string
		r    *router.Router
		opts []router.InputOption
	}{
		{"no credentials", r, nil},
		{"empty credentials", r, []router.InputOption{router.WithCredentials(wire.Credentials{})}},
		{"hmac without secrets", r, []router.InputOption{router.WithCredentials(wire.Credentials{Mode: wire.HMACSHA256})}},
		{"unknown mode", r, []router.InputOption{router.WithCredentials(wire.Credentials{Mode: "sha1", LicenceKey: "k"})}},
		{"no router", nil, []router.InputOption{router.WithCredentials(md5Creds)}},
		{"a virtual connector", r, []router.InputOption{router.WithCredentials(md5Creds), router.WithConnectors("botframework.skype")}},
		{"an empty connector", r, []router.InputOption{router.WithCredentials(md5Creds), router.WithConnectors("")}},
		{"a negative body cap", r, []router.InputOption{router.WithCredentials(md5Creds), router.WithMaxBody(-1)}},
	}
	for _, c := range cases {
		in, err := router.NewInput(c.r, c.opts...)
		if in != nil || !errors.Is(err, router.ErrConfig) {
			t.Errorf("%s: %v, %v", c.name, in, err)
		}
	}
	// WithConnectors with no ids restricts nothing.
	srv := serve(t, r, md5Creds, nil, router.WithConnectors())
	send := routertest.NewSender(t, md5Creds, nil, "telegrambot", "3")
	if a := routertest.Post(t, nil, srv.URL, send.Body(t, openlines.CommandTestConnect, nil)); a.Err != nil {
		t.Fatalf("answer %s", a.Body)
	}
}

func TestMethodNotAllowedNamesPOST(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, md5Creds, nil)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
}

func TestBodyCapIsConfigurable(t *testing.T) {
	t.Parallel()
	send := routertest.NewSender(t, md5Creds, nil, "botframework", "3")
	body := send.Body(t, openlines.CommandTestConnect, nil)
	for _, c := range []struct {
		max    int64
		status int
	}{{int64(len(body)), 200}, {int64(len(body)) - 1, 413}} {
		srv, _ := server(t, md5Creds, nil, router.WithMaxBody(c.max))
		if a := routertest.Post(t, srv.Client(), srv.URL, body); a.Status != c.status {
			t.Fatalf("cap %d: status %d (%s)", c.max, a.Status, a.Body)
		}
	}
}

func TestSharedReplayGuard(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	guard := wire.NewReplayGuard(clk, time.Minute)
	a, _ := server(t, hmacCreds, clk, router.WithReplayGuard(guard))
	b, _ := server(t, hmacCreds, clk, router.WithReplayGuard(guard))
	send := routertest.NewSender(t, hmacCreds, clk, "botframework", "3")
	body := send.Body(t, openlines.CommandTestConnect, nil)
	if ans := routertest.Post(t, nil, a.URL, body); ans.Err != nil {
		t.Fatal(ans.Err)
	}
	if ans := routertest.Post(t, nil, b.URL, body); !errors.Is(ans.Err, wire.CodeReplay) {
		t.Fatalf("second input accepted a replay: %s", ans.Body)
	}
	old := routertest.NewSender(t, hmacCreds, clock.NewFake(epoch.Add(-61*time.Second)), "botframework", "3")
	if ans := routertest.Post(t, nil, a.URL, old.Body(t, openlines.CommandTestConnect, nil)); !errors.Is(ans.Err, wire.CodeReplay) {
		t.Fatalf("the guard's window was not used: %s", ans.Body)
	}
}

func TestSecretRotation(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	srv, _ := server(t, hmacCreds, clk)
	for _, s := range hmacCreds.Secrets {
		send := routertest.NewSender(t, wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{s}}, clk, "botframework", "3")
		if a := routertest.Post(t, nil, srv.URL, send.Body(t, openlines.CommandTestConnect, nil)); a.Err != nil {
			t.Fatalf("secret %q refused: %s", s, a.Body)
		}
	}
}

func TestRefusalsAreObserved(t *testing.T) {
	t.Parallel()
	m := router.NewMetrics(nil)
	srv, _ := server(t, md5Creds, nil, router.WithObserver(m))
	send := routertest.NewSender(t, md5Creds, nil, "botframework", "3")
	routertest.Do(t, nil, http.MethodGet, srv.URL, "")
	routertest.Post(t, nil, srv.URL, "BX_COMMAND=testConnect&DATA=x")
	routertest.Post(t, nil, srv.URL, send.Body(t, "dropDatabase", nil))
	snap := m.Snapshot()
	if len(snap) != 1 || snap[0].Command != router.RefusedLabel || snap[0].Requests != 3 ||
		snap[0].Errors[wire.CodeMethodNotAllowed] != 1 || snap[0].Errors[wire.CodeHashEmpty] != 1 ||
		snap[0].Errors[wire.CodeUnknownCommand] != 1 {
		t.Fatalf("%+v", snap)
	}
}

// TestRequestProfile: every Request carries the Input's profile, Current unless WithProfile says otherwise.
func TestRequestProfile(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	items := commandItems[openlines.CommandReceivingStatusReading].items
	for _, c := range []struct {
		opts []router.InputOption
		want wire.Profile
	}{{nil, wire.Current}, {[]router.InputOption{router.WithProfile(wire.Legacy)}, wire.Legacy}} {
		srv, rec := server(t, md5Creds, clk, c.opts...)
		send := routertest.NewSender(t, md5Creds, clk, "botframework", "3")
		if a := routertest.Post(t, nil, srv.URL, send.Body(t, openlines.CommandReceivingStatusReading, items)); a.Err != nil {
			t.Fatalf("answer %s", a.Body)
		}
		if req := rec.last(t).req; req.Profile != c.want || req.Packet.Profile != c.want {
			t.Fatalf("profile %v (packet %v), want %v", req.Profile, req.Packet.Profile, c.want)
		}
	}
}
