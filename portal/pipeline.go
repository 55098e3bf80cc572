package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/olctl/olctl/bfcontext"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// outcome is how an attempt at an item ended.
type outcome uint8

const (
	outDone     outcome = iota // processed: its events fired
	outRejected                // it can never succeed (missing data, an unknown type, a user that cannot exist)
	outRetry                   // it failed for a reason that may pass (a download, the database, a subscriber)
)

// ErrUserSync is wrapped by the error of an item whose user could not be synced.
var ErrUserSync = errors.New("portal: the user could not be synced")

// work is one receivingMessage item going through the pipeline: the item as it is changed by the steps, and
// the event being built.
type work struct {
	it      openlines.MessageItem
	m       Message
	message bool // a command_start that is also a message (ref.source set, not btrx…)
}

// step is one step of the pipeline. An error ends the attempt with the outcome returned.
type step func(p *Portal, ctx context.Context, w *work) (outcome, error)

// The steps of each profile (docs/protocol.md §8), for items with content (messages, posts, command_start).
var (
	legacySteps = []step{(*Portal).stepUser, (*Portal).stepAttachments, (*Portal).stepChat, (*Portal).stepDate,
		(*Portal).stepFiles, (*Portal).stepBigFile, (*Portal).stepRequired, (*Portal).stepText, (*Portal).stepBotFramework,
		(*Portal).stepEvent}
	currentSteps = []step{(*Portal).stepFlags, (*Portal).stepUser, (*Portal).stepChat, (*Portal).stepAttachments,
		(*Portal).stepDate, (*Portal).stepFiles, (*Portal).stepBigFile, (*Portal).stepText, (*Portal).stepRequired,
		(*Portal).stepBotFramework, (*Portal).stepEvent}
	// Deletions and typing notices carry only their user and chat (Bitrix's processingUserAndChat).
	bareSteps = []step{(*Portal).stepUser, (*Portal).stepChat, (*Portal).stepDate, (*Portal).stepEvent}
)

// process runs the pipeline over one valid item taken as item id, on its attempt.
func (p *Portal) process(ctx context.Context, connector, line string, item *openlines.MessageItem, id int64, attempt int) (outcome, error) {
	t := item.Type()
	if t == openlines.MessageWelcome {
		return outDone, nil // no event (docs/protocol.md §7.1)
	}
	w := &work{it: *item}
	w.it.User.Other = cloneMap(item.User.Other) // the user's steps change the copy, never the item
	w.m = Message{Connector: connector, Line: line, Type: t, Chat: item.Chat, MessageID: item.Message.FirstID(),
		RawText: item.Message.Text, Text: item.Message.Text, FailedBigFile: item.Message.FailedBigFile,
		Attachments: item.Message.Attachments, Extra: item.Extra, Ref: item.Ref, Item: *item, ItemID: id, Attempt: attempt}
	w.message = t == openlines.MessageCommandStart && item.Ref.Source != "" && !strings.HasPrefix(item.Ref.Source, "btrx")
	steps := p.steps
	if t == openlines.MessageDelete || t == openlines.MessageTypingStart {
		steps = bareSteps
	}
	for _, s := range steps {
		if out, err := s(p, ctx, w); err != nil {
			return out, err
		}
	}
	return outDone, nil
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// stepFlags moves the "Y" flags of current Bitrix into extra: user.skip_phone_validate and
// message.disable_crm.
func (p *Portal) stepFlags(_ context.Context, w *work) (outcome, error) {
	if w.it.User.SkipPhoneValidate == "Y" {
		w.m.Extra.SkipPhoneValidate, w.it.User.SkipPhoneValidate = "Y", ""
	}
	if w.it.Message.DisableCRM == "Y" {
		w.m.Extra.DisableCRM = "Y"
	}
	return outDone, nil
}

// stepUser splits the user's name and syncs the user to an internal one (docs/protocol.md §8.2).
func (p *Portal) stepUser(ctx context.Context, w *work) (outcome, error) {
	splitName(&w.it.User)
	w.m.User = w.it.User
	unlock := p.userLocks.lock(w.m.Connector + "|" + w.it.User.ID)
	uid, err := p.users.SyncUser(ctx, w.m.Connector, w.it.User)
	unlock()
	if err != nil {
		code := wire.CodeOf(err)
		err = &wire.Error{Code: wire.CodeNoAddUser, Message: fmt.Sprintf("user %.64q", w.it.User.ID), Err: fmt.Errorf("%w: %w", ErrUserSync, err)}
		if code == wire.CodeNoAddUser || code == wire.CodeNoUserIM {
			return outRejected, err
		}
		return outRetry, err
	}
	w.m.UserID = uid
	return outDone, nil
}

// splitName splits an empty-last-name user's name as Bitrix does (docs/protocol.md §8.2): on single spaces,
// into exactly two parts, else not at all ("Анна Петрова" → "Анна", "Петрова"; "A  B" stays).
func splitName(u *openlines.User) {
	if u.LastName != "" {
		return
	}
	if first, last, ok := strings.Cut(u.Name, " "); ok && !strings.Contains(last, " ") {
		u.Name, u.LastName = first, last
	}
}

// stepChat makes chat.url the chat's description.
func (p *Portal) stepChat(_ context.Context, w *work) (outcome, error) {
	w.m.ChatDescription = p.locale.chatDescription(w.it.Chat.URL)
	return outDone, nil
}

// stepAttachments renders the attachments into the text (they stay on the event as data).
func (p *Portal) stepAttachments(_ context.Context, w *work) (outcome, error) {
	w.m.Text = p.locale.renderAttachments(w.m.Text, w.it.Message.Attachments)
	return outDone, nil
}

func (p *Portal) stepDate(_ context.Context, w *work) (outcome, error) {
	if d := w.it.Message.Date; d > 0 {
		w.m.Date = time.Unix(d, 0).UTC()
	}
	return outDone, nil
}

// stepFiles imports the files: one that failed for good is left out and reported; one that may succeed later
// keeps the whole item for a retry.
func (p *Portal) stepFiles(ctx context.Context, w *work) (outcome, error) {
	if len(w.it.Message.Files) == 0 {
		return outDone, nil
	}
	ids, fails := p.files.Import(ctx, w.it.Message.Files)
	for _, f := range fails {
		if f.Temporary {
			return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "importing the files", Err: f}
		}
	}
	w.m.Files, w.m.FileFailures = ids, fails
	for _, f := range fails {
		p.logger.Warn("portal: file not imported", "connector", w.m.Connector, "line", w.m.Line, "chat", w.it.Chat.ID,
			"message", w.m.MessageID, "file", f.Index, "url", redactURL(f.URL), "code", f.Code, "error", errString(f.Err))
	}
	return outDone, nil
}

// stepBigFile puts the warning before the text of an item whose failed_big_file the server set.
func (p *Portal) stepBigFile(_ context.Context, w *work) (outcome, error) {
	if w.it.Message.FailedBigFile {
		w.m.Text = p.locale.BigFile + w.m.Text
	}
	return outDone, nil
}

// stepRequired rejects a message or post with neither text nor files (IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA).
// A command_start needs content only when it is also a message.
func (p *Portal) stepRequired(_ context.Context, w *work) (outcome, error) {
	if w.m.Type == openlines.MessageCommandStart && !w.message {
		return outDone, nil
	}
	if strings.TrimSpace(w.m.Text) == "" && len(w.m.Files) == 0 {
		return outRejected, wire.Errorf(wire.CodeNotAllRequiredData, "the message has neither text nor files")
	}
	return outDone, nil
}

// stepText decodes hex escapes and turns emoji into icon tags (as the converter is configured).
func (p *Portal) stepText(_ context.Context, w *work) (outcome, error) {
	if w.m.Text != "" {
		w.m.Text = p.conv.ToIcons(w.m.Text)
	}
	return outDone, nil
}

// stepBotFramework stores the chat's Bot Framework context (docs/protocol.md §8.4): for the real connector
// botframework and the types message and message_update, {from: the whole recipient map, service_url} per
// (chat.id, virtual connector as received).
func (p *Portal) stepBotFramework(ctx context.Context, w *work) (outcome, error) {
	if openlines.RealConnector(w.m.Connector) != openlines.Botframework ||
		(w.m.Type != openlines.MessageNew && w.m.Type != openlines.MessageUpdate) ||
		(w.it.Recipient == nil && w.it.ServiceURL == "") {
		return outDone, nil
	}
	c := bfcontext.Context{ChatID: w.it.Chat.ID, Connector: w.m.Connector, From: w.it.Recipient, ServiceURL: w.it.ServiceURL}
	if err := p.chatCache.put(ctx, c); err != nil {
		return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "storing the Bot Framework chat context", Err: err}
	}
	return outDone, nil
}

// stepEvent fires the event of the item's type; a command_start that is also a message fires
// OnReceivedMessage after OnReceivedCommandStart.
func (p *Portal) stepEvent(ctx context.Context, w *work) (outcome, error) {
	if err := p.events.messages[w.m.Type].fire(ctx, w.m); err != nil {
		return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "on " + string(w.m.Type), Err: err}
	}
	if w.message {
		m := w.m
		m.Type = openlines.MessageNew
		if err := p.events.messages[openlines.MessageNew].fire(ctx, m); err != nil {
			return outRetry, &wire.Error{Code: wire.CodeInternal, Message: "on message", Err: err}
		}
	}
	return outDone, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// redactURL returns u without its query, which may carry a token.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
