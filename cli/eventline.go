package cli

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// eventLineTime is how a readable event line writes its time: the date and the second, in the terminal's
// zone.
const eventLineTime = "2006-01-02 15:04:05"

// maxEventText is how many characters of a message's text a readable line shows.
const maxEventText = 200

// eventLine is the line `olctl serve` prints for an event on a terminal, as `stripe listen` prints one:
// the time, the event, [connector line], then what the event is about, on one line.
//
//	2025-03-01 12:00:00  --> OnReceivedMessage [echo 2] chat c9 msg m9 Ann Lee: thanks :+1:
func eventLine(ev eventJSON, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  --> %s [%s %s]", ev.At.In(loc).Format(eventLineTime), ev.Event, orNone(ev.Connector), orNone(ev.Line))
	if ev.ChatID != "" {
		b.WriteString(" chat " + ev.ChatID)
	}
	switch {
	case ev.Status != nil:
		b.WriteString(" status " + describeStatus(*ev.Status))
	case ev.Error != nil:
		fmt.Fprintf(&b, " msg %s %s", orNone(ev.MessageID), ev.Error.Code)
		if ev.Error.Message != "" {
			b.WriteString(": " + ev.Error.Message)
		}
	case ev.Event == EvReceivedStatusDelivery:
		fmt.Fprintf(&b, " delivered %s as %s", orNone(ev.IMMessageID), orNone(strings.Join(ev.ExternalIDs, ", ")))
	case ev.Event == EvReceivedStatusReading:
		b.WriteString(" read up to " + orNone(ev.MessageID))
	case ev.Event == EvReceivedStatusBlock:
		fmt.Fprintf(&b, " %s %s", orNone(ev.Type), person(ev.User, ev.UserID))
	case ev.Event == EvNewChatName:
		fmt.Fprintf(&b, " named %q", ev.ChatName)
	default: // the message events
		if ev.MessageID != "" {
			b.WriteString(" msg " + ev.MessageID)
		}
		if ev.Type != "" && ev.Type != "message" {
			b.WriteString(" (" + ev.Type + ")")
		}
		b.WriteString(" " + person(ev.User, ev.UserID))
		if ev.RawText != nil && *ev.RawText != "" {
			b.WriteString(": " + clip(oneLine(*ev.RawText), maxEventText))
		}
		if n := len(ev.Files); n > 0 {
			b.WriteString(" [" + plural(n, "file") + "]")
		}
		if n := len(ev.FileFailures); n > 0 {
			b.WriteString(" [" + plural(n, "file") + " not imported]")
		}
		if ev.FailedBigFile {
			b.WriteString(" [a file too big for the connector server]")
		}
	}
	return b.String()
}

// person names a user: the name, else the id, else "someone".
func person(u *eventUserJSON, id string) string {
	if u != nil {
		if name := strings.TrimSpace(u.Name + " " + u.LastName); name != "" {
			return name
		}
		if u.ID != "" {
			id = u.ID
		}
	}
	if id == "" {
		return "someone"
	}
	return "user " + id
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a text on its line: line breaks and tabs become spaces.
func oneLine(s string) string { return tsvReplacer.Replace(s) }

// clip cuts s to n characters, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
