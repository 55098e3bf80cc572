// Package client is the portal's Output: it calls the connector server's remote methods (PROTOCOL.md §6)
// over HTTP, signed with the portal's licence key (md5) or an HMAC secret (hmac-sha256), through
// go-resty/resty and the wire package.
//
// Call sends any method with its positional arguments (the Go form of the PHP "magic methods": the client
// keeps no list of methods); the typed wrappers (SaveSettings, TestConnect, Register, SendMessage,
// SetStatusDelivered, …) cover every method of §6. On top of the plain calls the client
//
//   - retries idempotent reads (testConnect, readSettings, info*, listConnector) after transport errors,
//     5xx and 429, with capped exponential back-off and jitter, honouring Retry-After and the context, signing
//     every attempt afresh (a hardened retry carries a new timestamp and nonce); writes are never retried;
//   - caches ListConnector, InfoConnect and InfoConnectLink (24 h by default) with one request for concurrent
//     callers, dropped by the methods that change a connector;
//   - sends fire-and-forget methods (sendMessage, setStatusDelivered, …) without reading the answer body, while
//     still reporting transport errors and non-2xx statuses;
//   - merges the stored Bot Framework chat context (from, service_url) into outgoing messages of a real
//     botframework connector (WithChatContext);
//   - runs the connect flow saveSettings → testConnect → register (Connect).
//
// Failures are *Error values carrying every protocol code and message of the answer; errors.Is matches them
// against the sentinels (ErrLicence, ErrMethodNotFound, …, the same values as wire's), ErrTransport,
// ErrHTTPStatus and the context errors.
package client
