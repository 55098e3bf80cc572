package files

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/openlines"
)

// Errors of Links.Verify.
var (
	// ErrLinkInvalid is a link that is malformed, not under the base URL, or wrongly signed.
	ErrLinkInvalid = errors.New("files: invalid file link")
	// ErrLinkExpired is a correctly signed link past its expiry.
	ErrLinkExpired = errors.New("files: file link expired")
)

// Defaults of Links.
const (
	DefaultLinkTTL = 7 * 24 * time.Hour
	MinSecretBytes = 16
)

// LinkOption configures Links.
type LinkOption func(*Links)

// WithLinkTTL sets how long a link stays valid after it is made. Default DefaultLinkTTL (7 days, so that a
// messenger that fetches late still gets the file); d <= 0 keeps the default.
func WithLinkTTL(d time.Duration) LinkOption {
	return func(l *Links) {
		if d > 0 {
			l.ttl = d
		}
	}
}

// WithPreviousSecrets adds secrets that still verify links but no longer sign them (rotation). Default none.
func WithPreviousSecrets(secrets ...[]byte) LinkOption {
	return func(l *Links) {
		for _, s := range secrets {
			l.secrets = append(l.secrets, append([]byte(nil), s...))
		}
	}
}

// WithLinkClock sets the clock of expiries. Default clock.System().
func WithLinkClock(c clock.Clock) LinkOption {
	return func(l *Links) { l.clock = clock.Or(c) }
}

// Links turns stored files into signed links for outgoing messages and serves them: it is an http.Handler to
// mount at the base URL's path. A link is
//
//	{base}/{id}/{name}?exp={unix seconds}&sig={base64url(HMAC-SHA256(secret, "olctl-file\x00{id}\x00{exp}"))}
//
// The name in the path is only for the messenger's display; the file is served under its stored name.
type Links struct {
	store   Store
	base    *url.URL
	prefix  string // base path with a trailing slash
	secrets [][]byte
	ttl     time.Duration
	clock   clock.Clock
}

// NewLinks returns Links to files of store under base (an absolute http or https URL without query, e.g.
// https://portal.example.com/olctl/files), signed with secret (at least MinSecretBytes bytes).
func NewLinks(store Store, base string, secret []byte, opts ...LinkOption) (*Links, error) {
	if store == nil {
		return nil, errors.New("files: links: store is required")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("files: links: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("files: links: base URL %q must be an absolute http or https URL", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("files: links: base URL %q may not have a query, fragment or credentials", base)
	}
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("files: links: secret is %d bytes, want at least %d", len(secret), MinSecretBytes)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	l := &Links{
		store:   store,
		base:    u,
		prefix:  u.Path + "/",
		secrets: [][]byte{append([]byte(nil), secret...)},
		ttl:     DefaultLinkTTL,
		clock:   clock.System(),
	}
	for _, o := range opts {
		o(l)
	}
	for _, s := range l.secrets[1:] {
		if len(s) < MinSecretBytes {
			return nil, fmt.Errorf("files: links: a previous secret is %d bytes, want at least %d", len(s), MinSecretBytes)
		}
	}
	return l, nil
}

func sign(secret []byte, id FileID, exp int64) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("olctl-file\x00"))
	m.Write([]byte(strconv.FormatInt(int64(id), 10)))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Link returns the signed link of a stored file, valid for the configured TTL from now.
func (l *Links) Link(m Meta) string {
	exp := l.clock.Now().Add(l.ttl).Unix()
	u := *l.base
	name := m.Name
	if name == "" {
		name = DefaultName
	}
	u.Path = l.prefix + strconv.FormatInt(int64(m.ID), 10) + "/" + name
	u.RawPath = ""
	u.RawQuery = "exp=" + strconv.FormatInt(exp, 10) + "&sig=" + sign(l.secrets[0], m.ID, exp)
	return u.String()
}

// OutgoingFiles returns the files of an outgoing message (docs/protocol.md §10), in the order of ids, each
// with a fresh signed link: Type is the disk type ("image" for an image/* content type, else "file"), MIME
// the stored content type (application/octet-stream when it has none). An unknown id is an error (wrapping
// ErrNotFound) naming it.
func (l *Links) OutgoingFiles(ctx context.Context, ids []FileID) ([]openlines.OutgoingFile, error) {
	out := make([]openlines.OutgoingFile, 0, len(ids))
	for k, id := range ids {
		m, err := l.store.Stat(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("files: outgoing file %d (id %d): %w", k, id, err)
		}
		mime := m.Type
		if mime == "" {
			mime = "application/octet-stream"
		}
		disk := "file"
		if strings.HasPrefix(mime, "image/") {
			disk = "image"
		}
		out = append(out, openlines.OutgoingFile{Name: m.Name, Type: disk, MIME: mime, Link: l.Link(m), Size: m.Size})
	}
	return out, nil
}

// Verify checks a link made by Link (only its path and query are read) and returns the file's id.
// Errors: ErrLinkInvalid, ErrLinkExpired.
func (l *Links) Verify(u *url.URL) (FileID, error) {
	if u == nil || !strings.HasPrefix(u.Path, l.prefix) {
		return 0, fmt.Errorf("%w: not under %s", ErrLinkInvalid, l.prefix)
	}
	rest := u.Path[len(l.prefix):]
	idText, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != idText {
		return 0, fmt.Errorf("%w: bad file id", ErrLinkInvalid)
	}
	q := u.Query()
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad exp", ErrLinkInvalid)
	}
	got := q.Get("sig")
	ok := false
	for _, s := range l.secrets {
		if hmac.Equal([]byte(got), []byte(sign(s, FileID(n), exp))) {
			ok = true
		}
	}
	if !ok {
		return 0, fmt.Errorf("%w: bad signature", ErrLinkInvalid)
	}
	if l.clock.Now().Unix() > exp {
		return 0, fmt.Errorf("%w at %s", ErrLinkExpired, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	return FileID(n), nil
}

// inlineTypes are served inline; everything else is served as a download, so that a stored HTML or SVG
// file never runs in the portal's origin.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "image/bmp": true,
	"application/pdf": true,
}

// ServeHTTP serves a linked file: GET and HEAD only (405), 403 for a bad link, 410 for an expired one, 404 for
// a file the store does not have; ranges are supported when the store's reader can seek.
func (l *Links) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, err := l.Verify(r.URL)
	switch {
	case errors.Is(err, ErrLinkExpired):
		http.Error(w, "link expired", http.StatusGone)
		return
	case err != nil:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	rc, m, err := l.store.Open(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "file unavailable", http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	mt := mediaType(m.Type)
	if mt == "" {
		mt = "application/octet-stream"
	}
	disposition := "attachment"
	if inlineTypes[mt] || strings.HasPrefix(mt, "audio/") || strings.HasPrefix(mt, "video/") {
		disposition = "inline"
	}
	h := w.Header()
	h.Set("Content-Type", mt)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if cd := mime.FormatMediaType(disposition, map[string]string{"filename": m.Name}); cd != "" {
		h.Set("Content-Disposition", cd)
	} else {
		h.Set("Content-Disposition", disposition)
	}
	if m.SHA256 != "" {
		h.Set("ETag", `"`+m.SHA256+`"`)
	}
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", m.Created, rs)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = io.Copy(w, rc)
}
