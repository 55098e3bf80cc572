package files

import (
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/olctl/olctl/wire"
)

// MaxNameBytes bounds a sanitized file name (in bytes of UTF-8, extension included).
const MaxNameBytes = 200

// DefaultName is what SanitizeName makes of a name with nothing left in it. An imported file without a name
// gets a generated one instead (see fileName).
const DefaultName = "file"

// currentNameRunes is how much of a given name the current generation keeps: its last 50 characters.
const currentNameRunes = 50

// extensions maps the media types messengers send to the extension a name gets when it has none. It is a
// fixed table, not the system's mime.types, so that names do not depend on the machine.
var extensions = map[string]string{
	"application/gzip":                                ".gz",
	"application/json":                                ".json",
	"application/msword":                              ".doc",
	"application/octet-stream":                        ".bin",
	"application/ogg":                                 ".ogg",
	"application/pdf":                                 ".pdf",
	"application/rtf":                                 ".rtf",
	"application/vnd.ms-excel":                        ".xls",
	"application/vnd.ms-powerpoint":                   ".ppt",
	"application/vnd.oasis.opendocument.presentation": ".odp",
	"application/vnd.oasis.opendocument.spreadsheet":  ".ods",
	"application/vnd.oasis.opendocument.text":         ".odt",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.rar":          ".rar",
	"application/wasm":             ".wasm",
	"application/x-7z-compressed":  ".7z",
	"application/x-gzip":           ".gz",
	"application/x-rar-compressed": ".rar",
	"application/x-tar":            ".tar",
	"application/xml":              ".xml",
	"application/zip":              ".zip",
	"audio/aac":                    ".aac",
	"audio/aiff":                   ".aiff",
	"audio/amr":                    ".amr",
	"audio/basic":                  ".au",
	"audio/flac":                   ".flac",
	"audio/midi":                   ".mid",
	"audio/mp4":                    ".m4a",
	"audio/mpeg":                   ".mp3",
	"audio/ogg":                    ".ogg",
	"audio/opus":                   ".opus",
	"audio/wav":                    ".wav",
	"audio/wave":                   ".wav",
	"audio/webm":                   ".weba",
	"audio/x-wav":                  ".wav",
	"font/otf":                     ".otf",
	"font/ttf":                     ".ttf",
	"font/woff":                    ".woff",
	"font/woff2":                   ".woff2",
	"image/avif":                   ".avif",
	"image/bmp":                    ".bmp",
	"image/gif":                    ".gif",
	"image/heic":                   ".heic",
	"image/jpeg":                   ".jpg",
	"image/png":                    ".png",
	"image/svg+xml":                ".svg",
	"image/tiff":                   ".tif",
	"image/webp":                   ".webp",
	"image/x-icon":                 ".ico",
	"image/vnd.microsoft.icon":     ".ico",
	"text/calendar":                ".ics",
	"text/css":                     ".css",
	"text/csv":                     ".csv",
	"text/html":                    ".html",
	"text/javascript":              ".js",
	"text/markdown":                ".md",
	"text/plain":                   ".txt",
	"text/vcard":                   ".vcf",
	"text/x-vcard":                 ".vcf",
	"text/xml":                     ".xml",
	"video/3gpp":                   ".3gp",
	"video/avi":                    ".avi",
	"video/mp4":                    ".mp4",
	"video/mpeg":                   ".mpeg",
	"video/ogg":                    ".ogv",
	"video/quicktime":              ".mov",
	"video/webm":                   ".webm",
	"video/x-matroska":             ".mkv",
	"video/x-msvideo":              ".avi",
}

// ExtensionFor returns the extension (with its dot) a file of media type t gets when its name has none, or
// "" for a type the table does not know. Parameters (such as a charset) are ignored.
func ExtensionFor(t string) string {
	return extensions[mediaType(t)]
}

// mediaType returns the lower-case media type of a Content-Type value without its parameters, or "" when it
// is not a valid type/subtype.
func mediaType(t string) string {
	t = strings.TrimSpace(t)
	if t == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		// ParseMediaType also refuses a valid type with broken parameters: keep the type then.
		mt, _, _ = strings.Cut(t, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if _, _, err := mime.ParseMediaType(mt); err != nil {
			return ""
		}
	}
	if !strings.Contains(mt, "/") {
		return ""
	}
	return mt
}

// chooseType picks a file's media type: the attachment's own type, else the response's Content-Type, else
// the sniffed one. application/octet-stream says nothing about the content, so a more specific later source
// wins over it; when nothing is more specific the result is application/octet-stream.
func chooseType(given, header, sniffed string) string {
	best := ""
	for _, t := range []string{given, header, sniffed} {
		mt := mediaType(t)
		if mt == "" {
			continue
		}
		if mt != "application/octet-stream" {
			return mt
		}
		best = mt
	}
	if best == "" {
		best = "application/octet-stream"
	}
	return best
}

// nameFromURL returns the unescaped base name of a URL's path ("" for none); the query never counts.
func nameFromURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	p := u.EscapedPath()
	if p == "" {
		p = u.Opaque
	}
	base := path.Base(p)
	if base == "/" || base == "." {
		return ""
	}
	if s, err := url.PathUnescape(base); err == nil {
		base = s
	}
	return base
}

// SanitizeName makes a file name safe to show and to store anywhere: it keeps only the last element of a
// path (both / and \ separate), drops control and invisible formatting characters (such as the right-to-left
// override that disguises extensions), replaces characters that file systems refuse (<>:"|?*) and invalid
// UTF-8 with "_", trims spaces and dots at both ends, and bounds the length to MaxNameBytes keeping the
// extension. A name with nothing left becomes DefaultName.
func SanitizeName(name string) string {
	if name = sanitize(name); name == "" {
		return DefaultName
	}
	return name
}

// sanitize is SanitizeName with "" for a name with nothing left.
func sanitize(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteByte('_')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == utf8.RuneError:
			// dropped: control characters, bidi overrides, zero-width characters
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.Trim(b.String(), " .")
	if len(name) > MaxNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 || len(ext) >= MaxNameBytes/2 {
			ext = ""
		}
		stem := truncateUTF8(name[:len(name)-len(ext)], MaxNameBytes-len(ext))
		name = strings.TrimRight(stem, " .") + ext
	}
	return name
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// fileName builds the stored name of a download (docs/protocol.md §8.3): the attachment's name (current:
// its last 50 characters), else (current) the answer's Content-Disposition file name, else the final URL's
// base name (the query never counts); sanitized; a name with nothing left is generated from the source URL
// ("file-" and 12 hex digits: the same file gets the same name when it is imported again); a name without
// a "." gets the type's extension.
func fileName(given, disposition string, final *url.URL, source, mediaType string, profile wire.Profile) string {
	name := strings.TrimSpace(given)
	if profile == wire.Current {
		if r := []rune(name); len(r) > currentNameRunes {
			name = string(r[len(r)-currentNameRunes:])
		}
		if name == "" {
			name = dispositionName(disposition)
		}
	}
	if name == "" {
		name = nameFromURL(final)
	}
	if name = sanitize(name); name == "" {
		sum := sha256.Sum256([]byte(source))
		name = "file-" + hex.EncodeToString(sum[:6])
	}
	if !strings.Contains(name, ".") {
		if ext := ExtensionFor(mediaType); ext != "" {
			name = truncateUTF8(name, MaxNameBytes-len(ext)) + ext
		}
	}
	return name
}

// dispositionName is the file name of a Content-Disposition value (filename*, RFC 5987, wins over
// filename), or "".
func dispositionName(v string) string {
	if v == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return params["filename"]
}
