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
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
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
		it, ok := items[i].Item.(openlines.MessageItem)
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
			it.Message.Files[j].Headers = []openlines.Header{{Name: "Authorization", Value: "Bearer " + tok}}
		}
		items[i].Item = it
	}
}

// Map turns an authenticated activity into items for the portal (docs/protocol.md §7), on the virtual
// connector botframework.<channelId>:
//
//   - message → receivingMessage: user from `from`, chat from `conversation`, message.id = activity id, text,
//     attachments with a link → files {url, name, type} (Teams' file download info included), other
//     attachments (cards) → message.attachments as {card: {type, name, content}}; the whole recipient and
//     service_url for answers (docs/protocol.md §8.4).
//   - messageUpdate → the same with type_message message_update; messageDelete → message_del; typing →
//     typing_start.
//   - contactRelationUpdate → receivingStatusBlock: action remove (the user removed or blocked the bot) →
//     message_deny, add → message_allow.
//   - conversationUpdate naming the conversation → setChatName {name, chat_id, user_id} (the server sends it to
//     current portals only).
//   - anything else (event, invoke, endOfConversation, ...) → no item.
//
// The DedupKey of an item identifies the activity (channel, conversation, type and id; the timestamp too for
// messageUpdate, whose id is the edited message's), so a redelivered activity is queued once.
func (c *Channel) Map(a *schema.Activity) ([]connector.Incoming, error) {
	var typeMessage openlines.MessageType
	switch a.Type {
	case schema.TypeMessage:
	case schema.TypeMessageUpdate:
		typeMessage = openlines.MessageUpdate
	case schema.TypeMessageDelete:
		typeMessage = openlines.MessageDelete
	case schema.TypeTyping:
		typeMessage = openlines.MessageTypingStart
	case schema.TypeContactRelation:
		return c.mapBlock(a)
	case schema.TypeConversationUpdate:
		return c.mapChatName(a)
	default:
		return nil, nil
	}
	if err := need(a, a.Type != schema.TypeTyping); err != nil {
		return nil, err
	}
	msg := openlines.Message{ID: a.ID, Text: a.Text}
	if !a.Timestamp.IsZero() {
		msg.Date = a.Timestamp.Unix()
	} else {
		msg.Date = c.clock.Now().Unix()
	}
	if a.ID == "" { // typing indicators may come without an id
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
		msg.Attachments = append(msg.Attachments, openlines.Attachment{Other: map[string]any{
			"card": wire.NewMap("type", at.ContentType, "name", at.Name, "content", string(at.Content)),
		}})
	}
	item := openlines.MessageItem{
		User:        openlines.User{ID: a.From.ID, Name: a.From.Name},
		Message:     msg,
		Chat:        openlines.Chat{ID: a.Conversation.ID, Name: a.Conversation.Name},
		TypeMessage: typeMessage,
		Recipient:   account(a.Recipient),
		ServiceURL:  a.ServiceURL,
	}
	in := connector.Incoming{Command: openlines.CommandReceivingMessage, Connector: VirtualConnector(a.ChannelID), Item: item}
	if a.ID != "" {
		in.DedupKey = dedupKey(a)
	}
	return []connector.Incoming{in}, nil
}

// mapBlock maps a contactRelationUpdate: the user removed (blocked) or added (unblocked) the bot.
func (c *Channel) mapBlock(a *schema.Activity) ([]connector.Incoming, error) {
	var kind string
	switch a.Action {
	case schema.ActionRemove:
		kind = openlines.BlockDeny
	case schema.ActionAdd:
		kind = openlines.BlockAllow
	default:
		return nil, nil
	}
	if err := need(a, false); err != nil {
		return nil, err
	}
	return []connector.Incoming{{
		Command:   openlines.CommandReceivingStatusBlock,
		Connector: VirtualConnector(a.ChannelID),
		Item: openlines.StatusBlockItem{Chat: openlines.Chat{ID: a.Conversation.ID}, User: openlines.User{ID: a.From.ID, Name: a.From.Name},
			Message: openlines.Message{Type: kind}},
		DedupKey: dedupKey(a),
	}}, nil
}

// mapChatName maps a conversationUpdate that names the conversation (a group chat created or renamed).
func (c *Channel) mapChatName(a *schema.Activity) ([]connector.Incoming, error) {
	if a.Conversation.Name == "" {
		return nil, nil
	}
	if err := need(a, false); err != nil {
		return nil, err
	}
	return []connector.Incoming{{
		Command:   openlines.CommandSetChatName,
		Connector: VirtualConnector(a.ChannelID),
		Item:      openlines.ChatName{Name: a.Conversation.Name, ChatID: a.Conversation.ID, UserID: a.From.ID},
		DedupKey:  dedupKey(a),
	}}, nil
}

// account is a channel account as the recipient map of an item: {id, name, role}, empty keys left out.
func account(a schema.ChannelAccount) *wire.Map {
	m := wire.NewMap("id", a.ID)
	if a.Name != "" {
		m.Set("name", a.Name)
	}
	if a.Role != "" {
		m.Set("role", a.Role)
	}
	return m
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
func fileOf(at schema.Attachment) (openlines.File, bool) {
	if at.ContentType == teamsFileType {
		var info teamsFileInfo
		if json.Unmarshal(at.Content, &info) == nil && info.DownloadURL != "" {
			return openlines.File{URL: info.DownloadURL, Name: at.Name, Type: typeOf("", at.Name, info.FileType)}, true
		}
	}
	if at.ContentURL == "" || strings.HasPrefix(at.ContentType, "application/vnd.microsoft.card.") {
		return openlines.File{}, false
	}
	return openlines.File{URL: at.ContentURL, Name: at.Name, Type: typeOf(at.ContentType, at.Name, "")}, true
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
