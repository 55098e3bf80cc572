package portal

import (
	"context"
	"fmt"

	"github.com/olctl/olctl/openlines"
)

// The steps of the pipeline are small interfaces, so that a portal backend (or a test) can replace any of
// them; New wires the real ones (emoji, files, users, client) when a Config leaves them nil.

// TextConverter converts the text of a message (step 1: emoji to icon tags). *emoji.Converter is one.
type TextConverter interface {
	ToIcons(text string) string
}

// FileID is the internal id of an imported file.
type FileID int64

// FileFailure is an attachment that could not be imported: it is left out of the item's files.
type FileFailure struct {
	Index int    // the file's index in the item's message.files
	URL   string // its URL as received
	Code  string // e.g. "failed_big_file"
	Err   error  // the cause
}

// CodeBigFile is the FileFailure code of a file over the size limit (PROTOCOL.md §5.1 step 2).
const CodeBigFile = "failed_big_file"

func (f FileFailure) Error() string {
	return fmt.Sprintf("file %d (%s): %s: %v", f.Index, f.URL, f.Code, f.Err)
}

// Unwrap returns the cause.
func (f FileFailure) Unwrap() error { return f.Err }

// FileImporter downloads and registers the files of an item (step 2). It never fails as a whole: it returns
// the ids of the files it imported, in order, and a failure for each other one.
type FileImporter interface {
	Import(ctx context.Context, files []openlines.File) ([]FileID, []FileFailure)
}

// UserSyncer turns the external user of an item into an internal user (step 3): created when new, updated
// when changed, and its id returned. It must create at most one internal user per (connector, user.id), also
// under concurrent calls.
type UserSyncer interface {
	SyncUser(ctx context.Context, connector string, u openlines.User) (userID string, err error)
}

// Delivered names one item the portal processed, for setStatusDelivered (step 6).
type Delivered struct {
	ChatID    string
	MessageID string
}

// Confirmer tells the connector server which items of a packet were processed (setStatusDelivered).
type Confirmer interface {
	ConfirmDelivered(ctx context.Context, connector, line string, items []Delivered) error
}
