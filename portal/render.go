package portal

import (
	"strings"
	"time"

	"github.com/olctl/olctl/openlines"
)

// Locale is the text the pipeline writes into messages and notices, in Bitrix's English by default
// (DefaultLocale); a field left empty keeps its default.
type Locale struct {
	// BigFile is put before the text of a message whose failed_big_file the server set.
	BigFile string
	// Forwarded labels a forwarded message's own text.
	Forwarded string
	// Map names a location that has neither title nor text.
	Map string
	// MapLink is the link of a location, with {lat} and {lon} standing for its coordinates as received.
	MapLink string
	// ContactName and ContactPhone start the lines of a shared contact.
	ContactName, ContactPhone string
	// Wall names a wall post's link; WallDate comes before its date.
	Wall, WallDate string
	// OriginalPost is a chat's description made from chat.url; #LINK# stands for the URL.
	OriginalPost string
	// NotSent, NotDeleted and Reconnect are the notices of receivingError.
	NotSent, NotDeleted, Reconnect string
	// DateLayout (time.Format) and Location write the dates of quotes and wall posts.
	DateLayout string
	Location   *time.Location
}

// DefaultLocale is Bitrix's English text.
var DefaultLocale = Locale{
	BigFile: "[b]Attention![/b]\n[i]Your contact attempted to send a very large file that we cannot deliver.\n" +
		"Please ask the user to send the file using other means (for example, file hosting service).[/i]\n\n",
	Forwarded:    "Forwarded message: ",
	Map:          "Map",
	MapLink:      "https://yandex.ru/maps/?ll={lon},{lat}&z=14&pt={lon},{lat},comma",
	ContactName:  "Full name: ",
	ContactPhone: "Phone number: ",
	Wall:         "User wall post",
	WallDate:     "from",
	OriginalPost: "Link to original post: #LINK#",
	NotSent:      "Message could not be delivered",
	NotDeleted:   "Cannot delete message",
	Reconnect:    "The connector's access has expired: connect it again.",
	DateLayout:   "02.01.2006 15:04:05",
	Location:     time.UTC,
}

// orDefault returns l with its empty fields taken from DefaultLocale.
func (l Locale) orDefault() Locale {
	d := DefaultLocale
	for _, f := range []struct{ v, def *string }{
		{&l.BigFile, &d.BigFile}, {&l.Forwarded, &d.Forwarded}, {&l.Map, &d.Map}, {&l.MapLink, &d.MapLink},
		{&l.ContactName, &d.ContactName}, {&l.ContactPhone, &d.ContactPhone}, {&l.Wall, &d.Wall},
		{&l.WallDate, &d.WallDate}, {&l.OriginalPost, &d.OriginalPost}, {&l.NotSent, &d.NotSent},
		{&l.NotDeleted, &d.NotDeleted}, {&l.Reconnect, &d.Reconnect}, {&l.DateLayout, &d.DateLayout},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	if l.Location == nil {
		l.Location = d.Location
	}
	return l
}

func (l *Locale) date(unix int64) string {
	return time.Unix(unix, 0).In(l.Location).Format(l.DateLayout)
}

// rule is the line Bitrix draws around a quote.
const rule = "------------------------------------------------------\n"

// renderAttachments writes the attachments into text as Bitrix does (docs/protocol.md §7.1), in order: a
// forward or a reply wraps the text so far in a quote block, a location, a contact and a wall post are
// appended.
func (l *Locale) renderAttachments(text string, atts []openlines.Attachment) string {
	for _, a := range atts {
		if a.Forward != nil && !emptyQuote(a.Forward) {
			text = rule + l.quoted(a.Forward) + "\n[b]" + l.Forwarded + "[/B]\n" + text + "\n" + rule
		}
		if a.Reply != nil && !emptyQuote(a.Reply) {
			text = rule + l.quoted(a.Reply) + "\n" + text + "\n" + rule
		}
		if loc := a.Location; loc != nil {
			label := l.Map
			switch {
			case loc.Title != "" && loc.Text != "":
				label = loc.Title + "\n" + loc.Text
			case loc.Title != "":
				label = loc.Title
			case loc.Text != "":
				label = loc.Text
			}
			link := strings.NewReplacer("{lat}", loc.Coordinates.Latitude, "{lon}", loc.Coordinates.Longitude).Replace(l.MapLink)
			text += "\n" + label + "\n" + link
		}
		if c := a.Contact; c != nil {
			if c.Name != "" {
				text += "\n" + l.ContactName + c.Name
			}
			if c.Phone != "" {
				text += "\n" + l.ContactPhone + c.Phone
			}
		}
		if w := a.Wall; w != nil {
			text += "\n[URL=" + w.URL + "]" + l.Wall
			if w.Name != "" {
				text += " " + w.Name
			}
			if w.Date != 0 {
				text += " " + l.WallDate + " " + l.date(w.Date)
			}
			text += "[/URL]"
			if w.Text != "" {
				text += "\n" + w.Text
			}
		}
	}
	return text
}

// emptyQuote reports whether a quote carries nothing (Bitrix skips an empty forward or reply).
func emptyQuote(q *openlines.Quote) bool {
	return q.User == (openlines.QuoteUser{}) && q.Date == 0 && q.Text == ""
}

// quoted is the author and date line of a quote: "last_name name[date]".
func (l *Locale) quoted(q *openlines.Quote) string {
	var b strings.Builder
	if q.User == (openlines.QuoteUser{}) {
		return ""
	}
	b.WriteString(q.User.LastName)
	if q.User.LastName != "" && q.User.Name != "" {
		b.WriteByte(' ')
	}
	b.WriteString(q.User.Name)
	if q.Date != 0 {
		b.WriteString("[" + l.date(q.Date) + "]")
	}
	return b.String()
}

// chatDescription is chat.url made into the chat's description.
func (l *Locale) chatDescription(url string) string {
	if url == "" {
		return ""
	}
	return strings.ReplaceAll(l.OriginalPost, "#LINK#", url)
}

// notice is the text posted into a chat for a receivingError item: msg, and the messenger's own words
// between rules.
func (l *Locale) notice(msg, external string) string {
	if external != "" {
		msg += "[BR][BR]" + rule + external + "\n" + strings.TrimSuffix(rule, "\n")
	}
	return msg
}
