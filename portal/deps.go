package portal

import (
	"context"
	"fmt"

	"github.com/olctl/olctl/openlines"
)

// The steps of the pipeline are small interfaces, so that a portal backend (or a test) can replace any of
// them; New wires the real ones (emoji, files, users, client) when a Config leaves them nil.

// TextConverter converts the text of a message: hex escapes decoded, then emoji turned into icon tags when
// icons are on (docs/protocol.md §9). *emoji.Converter is one.
type TextConverter interface {
	ToIcons(text string) string
}

// FileID is the internal id of an imported file.
type FileID int64

// FileFailure is a file of an item that could not be imported. A failure that may pass (the messenger's
// server down, the file store full) is Temporary: the item is kept and tried again later. Any
// other leaves the file out of the item's files and is reported in Message.FileFailures.
type FileFailure struct {
	Index     int    // the file's index in the item's message.files
	URL       string // its URL as received
	Code      string // e.g. "failed_status"
	Temporary bool
	Err       error // the cause
}

func (f FileFailure) Error() string {
	return fmt.Sprintf("file %d (%s): %s: %v", f.Index, f.URL, f.Code, f.Err)
}

// Unwrap returns the cause.
func (f FileFailure) Unwrap() error { return f.Err }

// FileImporter downloads and registers the files of an item (docs/protocol.md §8.3). It never fails as a
// whole: it returns the ids of the files it imported, in order, and a failure for each other one.
type FileImporter interface {
	Import(ctx context.Context, files []openlines.File) ([]FileID, []FileFailure)
}

// UserSyncer turns the external user of an item into an internal user (docs/protocol.md §8.2): created when
// new, updated when changed, and its id returned. It must create at most one internal user per (connector,
// user.id), also under concurrent calls. An error with the code CONNECTOR_PROXY_NO_ADD_USER (wire.CodeOf)
// says the user can never be created (the item is rejected); any other is taken as passing (the item is
// tried again later).
type UserSyncer interface {
	SyncUser(ctx context.Context, connector string, u openlines.User) (userID string, err error)
	// LookupUser returns the internal id of the user user.id of connector, or "" when there is none.
	LookupUser(ctx context.Context, connector, externalID string) (userID string, err error)
}

// Confirmer tells the connector server which items of a packet the portal took (setStatusDelivered; the
// legacy profile's acknowledgement, docs/protocol.md §8).
type Confirmer interface {
	ConfirmDelivered(ctx context.Context, connector, line string, items []openlines.StatusItem) error
}
