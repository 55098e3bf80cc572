// Package files imports the attachments of incoming messages into the portal's file store and turns stored
// files back into links for outgoing messages (PROTOCOL.md §5.1 step 2 and §6).
//
// An Importer downloads each attachment (redirects followed, at most 5; the attachment's headers sent; only a
// 200 counts), decides its type (the attachment's `type`, else the response's Content-Type, else sniffing with
// http.DetectContentType) and its name (the attachment's `name`, else the final URL's base name; an extension
// added from the type when missing; sanitized), and streams the bytes into a Store. Every download is bounded:
// a maximum size (cut off there, reported as failed_big_file), a connect timeout, a total timeout and a maximum
// number of concurrent downloads. By default it refuses to connect to loopback, private, link-local, metadata
// and other non-public addresses; the check runs at dial time on the resolved address, so redirects and DNS
// tricks are caught too.
//
// DiskStore keeps the bytes content-addressed by SHA-256 (written atomically, deduplicated) and the metadata
// in SQL (SQLite or MySQL); MemoryStore keeps everything in memory for tests. Links signs URLs to stored files
// (HMAC-SHA256, with an expiry) so that files go out as links, never as bytes, and serves them.
package files
