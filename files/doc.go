// Package files imports the files of incoming messages into the portal's file store and turns stored files
// back into links for outgoing messages (docs/protocol.md §8.3, §10): files go out as signed links, never as
// bytes.
//
//	store, _ := files.NewDiskStore(ctx, "/var/lib/portal/files", db) // sha256-addressed bytes + olctl_files
//	imp := files.NewImporter(store, files.WithProfile(wire.Current), files.WithLogger(log))
//	ids, failures := imp.Import(ctx, item.Message.Files) // []openlines.File; ids in order, a Failure per other file
//	links, _ := files.NewLinks(store, "https://portal.example.com/olctl/files", secret)
//	mux.Handle("/olctl/files/", links)
//	out, _ := links.OutgoingFiles(ctx, ids) // []openlines.OutgoingFile{Name, Type "image"/"file", MIME, Link, Size}
//
// What an import guarantees:
//
//   - Download: only http and https; redirects followed, at most MaxRedirects (5); the file's headers sent as
//     given and User-Agent "Bitrix Connector Client" unless they set one; only a 200 counts (failed_status,
//     a *StatusError with the code). No proxy from the environment, no transparent gzip: the bytes stored are
//     the bytes served.
//   - Name (WithProfile): the file's name (current: its last 50 characters), else (current) the answer's
//     Content-Disposition file name, else the final URL's base name (never the query); sanitized
//     (SanitizeName: the last path element only, control and invisible format characters removed, <>:"|?* and
//     invalid UTF-8 replaced, at most 200 bytes keeping the extension); a name with nothing left is generated
//     from the URL ("file-" and 12 hex digits, the same on every import of it); a name without a "." gets an
//     extension from a fixed table of types.
//   - Type: the file's type, else the answer's Content-Type, else sniffed (http.DetectContentType);
//     application/octet-stream gives way to a more specific later source.
//   - Limits with clear codes: a maximum size (default 100 MiB; a larger declared Content-Length is refused
//     before reading, a stream is cut off one byte past it: failed_big_file, ErrTooBig — the portal's own
//     limit, which never sets the server's message.failed_big_file), a connect timeout (10 s), a total timeout
//     per download on the injected clock (2 min, failed_timeout, not Temporary), at most 8 concurrent downloads.
//   - Fairness between messages: one Import call (one message's files) runs at most 2 downloads at once
//     (WithMaxPerMessage) and ends after a total of 2 min on the clock (WithMessageTimeout; the files left
//     fail with failed_message_timeout, not Temporary: the message goes on with the files that came), so a
//     message with many slow files cannot hold every slot and other chats' files keep flowing.
//   - SSRF guard: by default the dialer refuses loopback, private, CGNAT, link-local (cloud metadata
//     169.254.169.254, fd00:ec2::254), multicast, reserved, NAT64/6to4 and unspecified addresses, IPv4-mapped
//     and zoned ones included (failed_blocked_address, ErrBlockedAddress, *BlockedError), on the resolved
//     address of every connection, so redirects and DNS rebinding are caught. WithAllowPrivateNetworks(true)
//     is for tests and closed networks.
//   - Failures never sink the batch: Import returns the ids that worked, in order, and one Failure{Index, URL,
//     Code, Err} per file that did not; Failure.Temporary tells the failures that may pass (a transfer, the
//     store, 408/425/429/5xx), for which the portal retries the whole item later; a timeout is not one of
//     them, so that a message whose files are too slow goes on, in its chat's order, with those that came. Logs redact
//     query strings and credentials.
//   - Storage: DiskStore streams into dir/tmp, fsyncs, renames to dir/objects/ab/<sha256> and fsyncs the
//     directory, so readers never see partial files and identical bytes are kept once; the metadata rows live
//     in olctl_files (SQLite, MySQL or PostgreSQL) with a unique key on (sha256, type, name), so importing the
//     same file again (a redelivered or retried message) returns the same FileID, also under concurrency. A
//     failed download leaves no object and no row. MemoryStore does the same in memory for tests.
//   - Links: {base}/{id}/{name}?exp=…&sig=base64url(HMAC-SHA256(secret, "olctl-file\0{id}\0{exp}")), verified in
//     constant time, previous secrets accepted for rotation (WithPreviousSecrets). The handler sends nosniff, a
//     sandbox CSP and Content-Disposition: attachment for anything but images, audio, video and PDF, so a stored
//     HTML or SVG file never runs in the portal's origin.
//
// With the durable disk store an import is bound by fsync (about 1 ms per new file on a shared 2-core
// machine, `go test -bench Import ./files`); the importer's own work runs at 0.8–0.9× a plain http.Get.
package files
