package openlines

// Attachment is one entry of message.attachments (docs/protocol.md §7.1): each names one kind of thing, which
// the portal renders into the message text and keeps as data on the event.
type Attachment struct {
	Forward  *Quote    `php:"forward,omitempty" json:"forward,omitempty"`
	Reply    *Quote    `php:"reply,omitempty" json:"reply,omitempty"`
	Location *Location `php:"location,omitempty" json:"location,omitempty"`
	Contact  *Contact  `php:"contact,omitempty" json:"contact,omitempty"`
	Wall     *Wall     `php:"wall,omitempty" json:"wall,omitempty"`
	// Other holds kinds this struct does not name, kept as received.
	Other map[string]any `php:",rest" json:"other,omitempty"`
}

// Quote is a forwarded or replied-to message: its author and date.
type Quote struct {
	User QuoteUser `php:"user" json:"user"`
	Date int64     `php:"date" json:"date,omitempty"` // unix seconds
	Text string    `php:"text" json:"text,omitempty"`
}

// QuoteUser is the author of a Quote.
type QuoteUser struct {
	Name     string `php:"name" json:"name,omitempty"`
	LastName string `php:"last_name" json:"last_name,omitempty"`
}

// Location is a place; Coordinates are kept as the sender wrote them.
type Location struct {
	Title       string      `php:"title" json:"title,omitempty"`
	Text        string      `php:"text" json:"text,omitempty"`
	Coordinates Coordinates `php:"coordinates" json:"coordinates"`
}

// Coordinates of a Location, as text: a PHP float reads as PHP prints it (55.75393).
type Coordinates struct {
	Latitude  string `php:"latitude" json:"latitude"`
	Longitude string `php:"longitude" json:"longitude"`
}

// Contact is a shared contact.
type Contact struct {
	Name  string `php:"name" json:"name,omitempty"`
	Phone string `php:"phone" json:"phone,omitempty"`
}

// Wall is a post on a wall (a social network's page): a link with its name, date and text.
type Wall struct {
	URL  string `php:"url" json:"url"`
	Name string `php:"name" json:"name,omitempty"`
	Date int64  `php:"date" json:"date,omitempty"` // unix seconds
	Text string `php:"text" json:"text,omitempty"`
}
