package botframework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/wire"
)

// Items of PROTOCOL.md §5 as the channel builds them (serialized by wire in field order).

// Account is a user or bot account of an item: user{id, name} and recipient{id, name}.
type Account struct {
	ID   string `php:"id"`
	Name string `php:"name,omitempty"`
}

// File is a file of an incoming message: a link the portal downloads, with the headers to send (the bot's
// token for files kept by the Connector service itself, as Skype and Teams keep pasted images).
type File struct {
	URL     string   `php:"url"`
	Name    string   `php:"name,omitempty"`
	Type    string   `php:"type,omitempty"`
	Headers []Header `php:"headers,omitempty"`
}

// Header is one HTTP header of a File download.
type Header struct {
	Name  string `php:"name"`
	Value string `php:"value"`
}

// CardAttachment is an attachment without a file link (a card): its content type and JSON content.
type CardAttachment struct {
	Type    string `php:"type"`
	Name    string `php:"name,omitempty"`
	Content string `php:"content,omitempty"`
}

// Message is message{id, date, text, files, attachments} of an incoming item.
type Message struct {
	ID          string           `php:"id"`
	Date        int64            `php:"date"`
	Text        string           `php:"text"`
	Files       []File           `php:"files,omitempty"`
	Attachments []CardAttachment `php:"attachments,omitempty"`
}

// Chat is chat{id, name} of an item.
type Chat struct {
	ID   string `php:"id"`
	Name string `php:"name,omitempty"`
}

// MessageItem is one receivingMessage item. Recipient (the bot account, kept by the portal as the chat's
// `from`) and ServiceURL are the Bot Framework context of PROTOCOL.md §5.1 step 4.
type MessageItem struct {
	User        Account `php:"user"`
	Message     Message `php:"message"`
	Chat        Chat    `php:"chat"`
	TypeMessage string  `php:"type_message,omitempty"`
	Recipient   Account `php:"recipient"`
	ServiceURL  string  `php:"service_url"`
}

// BlockItem is a receivingStatusBlock item: the user removed the bot.
type BlockItem struct {
	Chat Chat    `php:"chat"`
	User Account `php:"user"`
}

// Values of MessageItem.TypeMessage.
const (
	TypeMessageUpdate = "message_update"
	TypeMessageDelete = "message_del"
	TypeTypingStart   = "typing_start"
)

// Receive validates the webhook's token and turns its activity into items (see Map). A rejected token is
// answered 401, an unreadable activity 400, unavailable signing keys 503.
func (c *Channel) Receive(ctx context.Context, l *Line, r *http.Request, body []byte) ([]connector.Incoming, error) {
	appID := l.Settings[SettingAppID]
	anonymous := appID == "" && c.o.anonymous
	if appID == "" && !anonymous {
		return nil, &connector.StatusError{Status: http.StatusUnauthorized,
			Err: fmt.Errorf("%w: the line has no %s (saveSettings first)", ErrUnauthorized, SettingAppID)}
	}
	auth := r.Header.Get("Authorization")
	if _, present := bearer(auth); !present && !anonymous {
		return nil, &connector.StatusError{Status: http.StatusUnauthorized, Err: fmt.Errorf("%w: no bearer token", ErrUnauthorized)}
	}
	var a schema.Activity
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, &connector.StatusError{Status: http.StatusBadRequest,
			Err: wire.Errorf(wire.CodeBadPacket, "botframework: the body is not an activity: %v", err)}
	}
	if err := c.validate(ctx, auth, &a, appID, anonymous); err != nil {
		status := http.StatusUnauthorized
		if !errors.Is(err, ErrUnauthorized) {
			status = http.StatusServiceUnavailable
		}
		c.log.Info("botframework: webhook rejected", "line", l.LineID, "site", l.SiteDomain, "status", status, "error", err)
		return nil, &connector.StatusError{Status: status, Err: err}
	}
	items, err := c.Map(&a)
	if err != nil {
		return nil, &connector.StatusError{Status: http.StatusBadRequest, Err: err}
	}
	if len(items) == 0 {
		c.log.Debug("botframework: activity ignored", "type", a.Type, "id", a.ID, "channel", a.ChannelID)
	}
	if appID != "" {
		c.authorizeFiles(ctx, l, items)
	}
	return items, nil
}

// authorizeFiles adds the bot's token to the files served by the Connector service (same host as the
// activity's service URL): without it their download is refused. A token failure is logged and the files stay
// as they are (their download will fail and be reported by the portal).
func (c *Channel) authorizeFiles(ctx context.Context, l *Line, items []connector.Incoming) {
	for i := range items {
		it, ok := items[i].Item.(MessageItem)
		if !ok || len(it.Message.Files) == 0 {
			continue
		}
		su, err := url.Parse(it.ServiceURL)
		if err != nil || c.o.checkURL(su) != nil {
			continue
		}
		for j, f := range it.Message.Files {
			fu, err := url.Parse(f.URL)
			if err != nil || !strings.EqualFold(fu.Host, su.Host) || fu.Scheme != su.Scheme {
				continue
			}
			tok, err := c.source(l.Settings[SettingAppID], l.Settings[SettingAppSecret]).get(ctx, false)
			if err != nil {
				c.log.Warn("botframework: no token for a service-hosted file", "line", l.LineID, "error", err)
				return
			}
			it.Message.Files[j].Headers = []Header{{Name: "Authorization", Value: "Bearer " + tok}}
		}
		items[i].Item = it
	}
}

// Map turns an authenticated activity into items for the portal, on the virtual connector
// botframework.<channelId>:
//
//   - message → receivingMessage: user from `from`, chat from `conversation`, message.id = activity id, text,
//     attachments with a link → files {url, name, type} (Teams' file download info included), other
//     attachments (cards) → message.attachments; recipient and service_url for answers.
//   - messageUpdate → the same with type_message message_update; messageDelete → message_del; typing →
//     typing_start.
//   - contactRelationUpdate with action remove → receivingStatusBlock.
//   - anything else (conversationUpdate, event, invoke, ...) → no item.
//
// The DedupKey of an item identifies the activity (channel, conversation, type and id; the timestamp too for
// messageUpdate, whose id is the edited message's), so a redelivered activity is queued once.
func (c *Channel) Map(a *schema.Activity) ([]connector.Incoming, error) {
	var typeMessage string
	switch a.Type {
	case schema.TypeMessage:
	case schema.TypeMessageUpdate:
		typeMessage = TypeMessageUpdate
	case schema.TypeMessageDelete:
		typeMessage = TypeMessageDelete
	case schema.TypeTyping:
		typeMessage = TypeTypingStart
	case schema.TypeContactRelation:
		if a.Action != "remove" {
			return nil, nil
		}
		if err := need(a, false); err != nil {
			return nil, err
		}
		return []connector.Incoming{{
			Command:   "receivingStatusBlock",
			Connector: VirtualConnector(a.ChannelID),
			Item:      BlockItem{Chat: Chat{ID: a.Conversation.ID}, User: Account{ID: a.From.ID, Name: a.From.Name}},
			DedupKey:  dedupKey(a),
		}}, nil
	default:
		return nil, nil
	}
	if err := need(a, a.Type != schema.TypeTyping); err != nil {
		return nil, err
	}
	msg := Message{ID: a.ID, Text: a.Text}
	if !a.Timestamp.IsZero() {
		msg.Date = a.Timestamp.Unix()
	} else {
		msg.Date = c.clock.Now().Unix()
	}
	if msg.ID == "" { // typing indicators may come without an id
		msg.ID = fmt.Sprintf("typing-%d", c.clock.Now().UnixNano())
	}
	for _, at := range a.Attachments {
		if f, ok := fileOf(at); ok {
			msg.Files = append(msg.Files, f)
			continue
		}
		if at.ContentType == "text/html" && len(at.Content) > 0 && a.Text != "" {
			continue // Teams repeats the message text as an HTML attachment
		}
		msg.Attachments = append(msg.Attachments, CardAttachment{Type: at.ContentType, Name: at.Name, Content: string(at.Content)})
	}
	item := MessageItem{
		User:        Account{ID: a.From.ID, Name: a.From.Name},
		Message:     msg,
		Chat:        Chat{ID: a.Conversation.ID, Name: a.Conversation.Name},
		TypeMessage: typeMessage,
		Recipient:   Account{ID: a.Recipient.ID, Name: a.Recipient.Name},
		ServiceURL:  a.ServiceURL,
	}
	in := connector.Incoming{Command: "receivingMessage", Connector: VirtualConnector(a.ChannelID), Item: item}
	if a.ID != "" {
		in.DedupKey = dedupKey(a)
	}
	return []connector.Incoming{in}, nil
}

// need checks the fields every mapped activity must have.
func need(a *schema.Activity, id bool) error {
	var missing []string
	if a.ChannelID == "" {
		missing = append(missing, "channelId")
	}
	if a.Conversation.ID == "" {
		missing = append(missing, "conversation.id")
	}
	if a.From.ID == "" {
		missing = append(missing, "from.id")
	}
	if id && a.ID == "" {
		missing = append(missing, "id")
	}
	if a.ServiceURL == "" {
		missing = append(missing, "serviceUrl")
	}
	if len(missing) > 0 {
		return wire.Errorf(wire.CodeBadPacket, "botframework: %s activity without %s", a.Type, strings.Join(missing, ", "))
	}
	return nil
}

// VirtualConnector returns the virtual connector id of a Bot Framework channel id: botframework.<channelId>,
// lower case.
func VirtualConnector(channelID string) string { return ID + "." + strings.ToLower(channelID) }

func dedupKey(a *schema.Activity) string {
	h := sha256.New()
	for _, s := range []string{a.ChannelID, a.Conversation.ID, a.Type, a.ID} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if a.Type == schema.TypeMessageUpdate {
		h.Write([]byte(a.Timestamp.UTC().Format("2006-01-02T15:04:05.999999999Z")))
	}
	return "bf:" + hex.EncodeToString(h.Sum(nil)[:20])
}

// teamsFileInfo is the content of a Teams file attachment
// (application/vnd.microsoft.teams.file.download.info).
type teamsFileInfo struct {
	DownloadURL string `json:"downloadUrl"`
	FileType    string `json:"fileType"`
}

const teamsFileType = "application/vnd.microsoft.teams.file.download.info"

// fileOf returns the file of an attachment that links one.
func fileOf(at schema.Attachment) (File, bool) {
	if at.ContentType == teamsFileType {
		var info teamsFileInfo
		if json.Unmarshal(at.Content, &info) == nil && info.DownloadURL != "" {
			return File{URL: info.DownloadURL, Name: at.Name, Type: typeOf("", at.Name, info.FileType)}, true
		}
	}
	if at.ContentURL == "" || strings.HasPrefix(at.ContentType, "application/vnd.microsoft.card.") {
		return File{}, false
	}
	return File{URL: at.ContentURL, Name: at.Name, Type: typeOf(at.ContentType, at.Name, "")}, true
}

// typeOf returns a MIME type for a file: contentType when it is one, else from the name's or the given
// extension; empty when unknown (the portal sniffs it).
func typeOf(contentType, name, ext string) string {
	if strings.Contains(contentType, "/") {
		return contentType
	}
	if ext == "" {
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			ext = name[i+1:]
		}
	}
	return mimeByExt(ext)
}
