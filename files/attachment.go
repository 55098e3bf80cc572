package files

import (
	"errors"
	"fmt"
	"strconv"
)

// FileID is the internal id of a stored file: the row id of its metadata, always > 0. Registering the same
// bytes under the same name and type again gives the same id.
type FileID int64

// String returns the id in decimal.
func (id FileID) String() string { return strconv.FormatInt(int64(id), 10) }

// The codes a Failure carries. CodeBigFile is the protocol's own code for an oversize file (§5.1 step 2);
// the others say what else went wrong.
const (
	// CodeBigFile: the file is larger than the maximum size; the download was cut off there.
	CodeBigFile = "failed_big_file"
	// CodeStatus: the server answered with a status other than 200.
	CodeStatus = "failed_status"
	// CodeDownload: the connection or the transfer failed (also: too many redirects).
	CodeDownload = "failed_download"
	// CodeTimeout: the download took longer than the total timeout.
	CodeTimeout = "failed_timeout"
	// CodeMessageTimeout: the message's files together took longer than the message timeout
	// (WithMessageTimeout), and this one had not arrived by then.
	CodeMessageTimeout = "failed_message_timeout"
	// CodeBlocked: the URL leads to an address the importer refuses (loopback, private, metadata, ...).
	CodeBlocked = "failed_blocked_address"
	// CodeBadAttachment: the attachment itself is unusable (no URL, not http/https, a malformed header).
	CodeBadAttachment = "failed_bad_attachment"
	// CodeStore: the bytes were downloaded but the store could not keep them.
	CodeStore = "failed_store"
)

// Errors a Failure wraps; test them with errors.Is.
var (
	// ErrTooBig is a file over the maximum size.
	ErrTooBig = errors.New("files: file is larger than the maximum size")
	// ErrTimeout is a download that went over the total timeout.
	ErrTimeout = errors.New("files: download timed out")
	// ErrMessageTimeout is a file left when its message's files went over the message timeout.
	ErrMessageTimeout = errors.New("files: the message's files took too long")
	// ErrBlockedAddress is a connection to an address the importer refuses (see WithAllowPrivateNetworks).
	ErrBlockedAddress = errors.New("files: refusing to connect to a non-public address")
	// ErrTooManyRedirects is a chain of more than MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("files: too many redirects")
	// ErrBadAttachment is an attachment without a usable URL or with a malformed header.
	ErrBadAttachment = errors.New("files: bad attachment")
	// ErrNotFound is a file id the store does not know.
	ErrNotFound = errors.New("files: no such file")
)

// MaxRedirects is how many redirects a download follows.
const MaxRedirects = 5

// StatusError is an answer whose status is not 200.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("files: server answered %d, want 200", e.StatusCode)
}

// BlockedError is a connection the SSRF guard refused. It matches ErrBlockedAddress.
type BlockedError struct {
	Addr string // the resolved address, host:port
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("files: refusing to connect to %s: not a public address", e.Addr)
}

// Is makes a BlockedError match ErrBlockedAddress.
func (e *BlockedError) Is(target error) bool { return target == ErrBlockedAddress }

// Failure is an attachment that could not be imported: it is left out of Import's ids and reported here.
// It is an error itself (errors.Is/As reach the cause through Unwrap).
type Failure struct {
	Index int    // the attachment's index in the slice given to Import
	URL   string // the attachment's URL as given
	Code  string // one of the Code constants, e.g. CodeBigFile
	Err   error  // the cause
}

func (f Failure) Error() string {
	return fmt.Sprintf("files: attachment %d (%s): %s: %v", f.Index, redact(f.URL), f.Code, f.Err)
}

// Unwrap returns the cause.
func (f Failure) Unwrap() error { return f.Err }

// Temporary reports whether the failure may pass, so that importing the file again later may succeed: the
// connection or the transfer failed, the store could not keep the bytes, or the server answered 408, 425,
// 429 or 5xx. The others (a refused address, a bad attachment, a file over the size limit, any other status)
// fail again every time. A timeout (of the download or of the message's files) is not Temporary either: a
// file that took its whole time may take it again, and the message goes on, in its chat's order, with the
// files that came rather than wait for a retry.
func (f Failure) Temporary() bool {
	switch f.Code {
	case CodeDownload, CodeStore:
		return true
	case CodeStatus:
		var se *StatusError
		if errors.As(f.Err, &se) {
			c := se.StatusCode
			return c == 408 || c == 425 || c == 429 || c >= 500
		}
	}
	return false
}
