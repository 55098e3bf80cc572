package cli

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/portal"
)

// Event names, as the portal's subscriptions (and Bitrix's events) are called.
const (
	EvReceivedMessage        = "OnReceivedMessage"
	EvReceivedMessageUpdate  = "OnReceivedMessageUpdate"
	EvReceivedMessageDel     = "OnReceivedMessageDel"
	EvReceivedPost           = "OnReceivedPost"
	EvReceivedPostUpdate     = "OnReceivedPostUpdate"
	EvReceivedCommandStart   = "OnReceivedCommandStart"
	EvReceivedStatusWrites   = "OnReceivedStatusWrites"
	EvReceivedStatusDelivery = "OnReceivedStatusDelivery"
	EvReceivedStatusReading  = "OnReceivedStatusReading"
	EvReceivedError          = "OnReceivedError"
	EvReceivedStatusBlock    = "OnReceivedStatusBlock"
	EvNewChatName            = "OnNewChatName"
	EvAddStatusConnector     = "OnAddStatusConnector"
	EvUpdateStatusConnector  = "OnUpdateStatusConnector"
	EvDeleteStatusConnector  = "OnDeleteStatusConnector"
)

// eventJSON is one line `olctl serve` prints per event. Fields that do not apply to an event are left out.
type eventJSON struct {
	Event     string    `json:"event"`
	At        time.Time `json:"at"`
	Connector string    `json:"connector"`
	Line      string    `json:"line"`

	Type          string             `json:"type,omitempty"`
	ChatID        string             `json:"chat_id,omitempty"`
	ChatName      string             `json:"chat_name,omitempty"`
	MessageID     string             `json:"message_id,omitempty"`
	Date          *time.Time         `json:"date,omitempty"`      // RFC 3339, for a year JSON can write (0–9999)
	DateUnix      int64              `json:"date_unix,omitempty"` // message.date as received, unix seconds
	Text          *string            `json:"text,omitempty"`
	RawText       *string            `json:"raw_text,omitempty"`
	UserID        string             `json:"user_id,omitempty"`
	User          *eventUserJSON     `json:"user,omitempty"`
	Files         []int64            `json:"files,omitempty"`
	FileFailures  []eventFileFailure `json:"file_failures,omitempty"`
	FailedBigFile bool               `json:"failed_big_file,omitempty"`

	IMChatID    string                `json:"im_chat_id,omitempty"`
	IMMessageID string                `json:"im_message_id,omitempty"`
	ExternalIDs []string              `json:"external_ids,omitempty"`
	Error       *eventErrorJSON       `json:"error,omitempty"`
	Status      *openlines.LineStatus `json:"status,omitempty"`
}

type eventUserJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	LastName string `json:"last_name,omitempty"`
}

type eventFileFailure struct {
	Index int    `json:"index"`
	URL   string `json:"url"`
	Code  string `json:"code"`
	Error string `json:"error"`
}

type eventErrorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Notice  string `json:"notice,omitempty"`
}

// eventWriter writes events as JSON lines, or as readable lines (eventLine) in the zone readable names,
// one at a time, and passes each to an optional hook.
type eventWriter struct {
	mu       sync.Mutex
	w        io.Writer
	clock    clock.Clock
	hook     func(eventJSON)
	readable *time.Location // nil: JSON lines
}

func (e *eventWriter) emit(ev eventJSON) error {
	ev.At = e.clock.Now().UTC()
	var b []byte
	if e.readable != nil {
		b = []byte(eventLine(ev, e.readable))
	} else {
		var err error
		if b, err = json.Marshal(ev); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.w != nil {
		if _, err := e.w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	if e.hook != nil {
		e.hook(ev)
	}
	return nil
}

func messageEvent(name string, m portal.Message) eventJSON {
	ev := eventJSON{Event: name, Connector: m.Connector, Line: m.Line, Type: string(m.Type), ChatID: m.Chat.ID,
		ChatName: m.Chat.Name, MessageID: m.MessageID, Text: &m.Text, RawText: &m.RawText, UserID: m.UserID,
		User: &eventUserJSON{ID: m.User.ID, Name: m.User.Name, LastName: m.User.LastName}, FailedBigFile: m.FailedBigFile}
	if !m.Date.IsZero() {
		// Any date the decoder accepts is written: time.Time's JSON fails outside the years 0–9999, and
		// a line that cannot be written would fail its item on every retry.
		ev.DateUnix = m.Date.Unix()
		if y := m.Date.Year(); y >= 0 && y <= 9999 {
			d := m.Date.UTC()
			ev.Date = &d
		}
	}
	for _, id := range m.Files {
		ev.Files = append(ev.Files, int64(id))
	}
	for _, ff := range m.FileFailures {
		msg := ""
		if ff.Err != nil {
			msg = ff.Err.Error()
		}
		ev.FileFailures = append(ev.FileFailures, eventFileFailure{Index: ff.Index, URL: ff.URL, Code: ff.Code, Error: msg})
	}
	return ev
}

func statusEvent(name string, s portal.StatusConnector) eventJSON {
	st := s.Status
	return eventJSON{Event: name, Connector: s.Connector, Line: s.Line, Status: &st}
}

// subscribe makes p report every event to e.
func (e *eventWriter) subscribe(p *portal.Portal) {
	onMessage := func(name string) func(context.Context, portal.Message) error {
		return func(_ context.Context, m portal.Message) error { return e.emit(messageEvent(name, m)) }
	}
	p.OnReceivedMessage(onMessage(EvReceivedMessage))
	p.OnReceivedMessageUpdate(onMessage(EvReceivedMessageUpdate))
	p.OnReceivedMessageDel(onMessage(EvReceivedMessageDel))
	p.OnReceivedPost(onMessage(EvReceivedPost))
	p.OnReceivedPostUpdate(onMessage(EvReceivedPostUpdate))
	p.OnReceivedCommandStart(onMessage(EvReceivedCommandStart))
	p.OnReceivedStatusWrites(onMessage(EvReceivedStatusWrites))
	p.OnReceivedStatusDelivery(func(_ context.Context, s portal.StatusDelivery) error {
		return e.emit(eventJSON{Event: EvReceivedStatusDelivery, Connector: s.Connector, Line: s.Line, ChatID: s.Chat.ID,
			MessageID: s.Message.FirstID(), ExternalIDs: s.ExternalIDs, IMChatID: s.IM.ChatID, IMMessageID: s.IM.MessageID})
	})
	p.OnReceivedStatusReading(func(_ context.Context, s portal.StatusReading) error {
		return e.emit(eventJSON{Event: EvReceivedStatusReading, Connector: s.Connector, Line: s.Line, ChatID: s.Chat.ID,
			MessageID: s.Message.FirstID()})
	})
	p.OnReceivedError(func(_ context.Context, s portal.ReceivedError) error {
		return e.emit(eventJSON{Event: EvReceivedError, Connector: s.Connector, Line: s.Line, ChatID: s.ChatID,
			MessageID: s.MessageID, UserID: s.User,
			Error: &eventErrorJSON{Code: s.Code, Message: s.MessageConnector, Notice: s.Notice}})
	})
	p.OnReceivedStatusBlock(func(_ context.Context, s portal.StatusBlock) error {
		return e.emit(eventJSON{Event: EvReceivedStatusBlock, Connector: s.Connector, Line: s.Line, ChatID: s.Chat.ID,
			Type: s.Message.Type, UserID: s.UserID, User: &eventUserJSON{ID: s.User.ID, Name: s.User.Name, LastName: s.User.LastName}})
	})
	p.OnNewChatName(func(_ context.Context, c portal.ChatName) error {
		return e.emit(eventJSON{Event: EvNewChatName, Connector: c.Connector, Line: c.Line, ChatID: c.ChatID,
			ChatName: c.Name, UserID: c.User})
	})
	p.OnAddStatusConnector(func(_ context.Context, s portal.StatusConnector) error {
		return e.emit(statusEvent(EvAddStatusConnector, s))
	})
	p.OnUpdateStatusConnector(func(_ context.Context, s portal.StatusConnector) error {
		return e.emit(statusEvent(EvUpdateStatusConnector, s))
	})
	p.OnDeleteStatusConnector(func(_ context.Context, s portal.StatusConnector) error {
		return e.emit(statusEvent(EvDeleteStatusConnector, s))
	})
}
