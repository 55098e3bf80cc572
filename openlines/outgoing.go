package openlines

// The messages a portal sends out (docs/protocol.md §10), in the current shape: DATA of sendMessage is
// [[msg, …]].

// ChatRef names an external chat: chat.id.
type ChatRef struct {
	ID string `php:"id" json:"id"`
}

// MessageRef names an external message: message.id.
type MessageRef struct {
	ID string `php:"id" json:"id"`
}

// StatusItem is one item of setStatusDelivered and setStatusReading: {chat:{id}, message:{id}}, external ids.
type StatusItem struct {
	Chat    ChatRef    `php:"chat" json:"chat"`
	Message MessageRef `php:"message" json:"message"`
}

// OutgoingFile is a file of an outgoing message; files travel as links, never as bytes. Type is the disk type
// ("image", "file"), MIME the content type.
type OutgoingFile struct {
	Name         string `php:"name" json:"name"`
	Type         string `php:"type" json:"type"`
	MIME         string `php:"mime" json:"mime,omitempty"`
	Link         string `php:"link" json:"link"`
	DownloadLink string `php:"downloadLink" json:"downloadLink,omitempty"`
	Size         int64  `php:"size" json:"size"`
	SizeF        string `php:"sizef" json:"sizef,omitempty"` // the size for people, "1.2 MB"
	Width        int    `php:"width,omitempty" json:"width,omitempty"`
	Height       int    `php:"height,omitempty" json:"height,omitempty"`
}

// The message.type of an outgoing typing notice.
const TypeTypingStart = "typing_start"

// OutgoingContent is the message part of an outgoing message.
//
// ID holds the messenger's ids of the message for updateMessage and deleteMessage (the ids that
// receivingStatusDelivery reported) and is left out of sendMessage. Type is TypeTypingStart for a typing
// notice, which has no text.
type OutgoingContent struct {
	ID          []string       `php:"id,omitempty" json:"id,omitempty"`
	Type        string         `php:"type,omitempty" json:"type,omitempty"`
	UserID      string         `php:"user_id,omitempty" json:"user_id,omitempty"`
	Text        string         `php:"text,omitempty" json:"text,omitempty"`
	Files       []OutgoingFile `php:"files,omitempty" json:"files,omitempty"`
	Attachments []any          `php:"attachments,omitempty" json:"attachments,omitempty"`
	Params      map[string]any `php:"params,omitempty" json:"params,omitempty"`
}

// OutgoingMessage is one item of sendMessage, updateMessage and deleteMessage:
// {im:{chat_id, message_id}, message:{…}, chat:{id}}, with im the portal's ids and chat.id the external one.
//
// For a botframework connector the stored Bot Framework context of the chat is merged over the top level and
// wins (docs/protocol.md §8.4): From is the whole recipient map stored for the chat, ServiceURL where the
// channel answers.
type OutgoingMessage struct {
	IM         IMRef           `php:"im" json:"im"`
	Message    OutgoingContent `php:"message" json:"message"`
	Chat       ChatRef         `php:"chat" json:"chat"`
	From       any             `php:"from,omitempty" json:"from,omitempty"`
	ServiceURL string          `php:"service_url,omitempty" json:"service_url,omitempty"`
}
