// Package client is the portal's Output: it calls a connector server's remote methods (docs/protocol.md §10)
// over HTTP, as a self-hosted Bitrix24 portal of the chosen profile does. Every packet is built, stubbed and
// signed by package wire (md5 with the licence key, Bitrix's scheme, or this project's hmac-sha256); the
// vocabulary (method names, outgoing messages, status items, line statuses) is package openlines'.
//
//	c, err := client.New("https://connector.example.com",
//		client.WithDomain("https://portal.example.com"), // BX_DOMAIN, required
//		client.WithLicenceKey(key),                     // BX_LICENCE and the md5 secret; "" is DEMO
//		client.WithProfile(wire.Current),               // the default; wire.Legacy for imconnector ≤ 21.x
//		client.WithChatContext(bfStore),                // Bot Framework from/service_url for outgoing messages
//		client.WithLineStatus(statusStore),             // where Connect writes ACTIVE, CONNECTION, REGISTER
//	)
//	hook, err := c.Connect(ctx, client.Settings{"bot_handle": "helpdesk", "app_id": id, "app_secret": s},
//		client.Connector("botframework"), client.Line("3"))
//	res, err := c.Call(ctx, "anyMethod", []any{arg1, arg2}, client.Connector("botframework"), client.Line("3"))
//	err = c.SendMessage(ctx, msgs, client.Connector(pkt.Connector), client.Line(pkt.Line))
//	if errors.Is(err, wire.CodeLicence) { … } // or wire.CodeOf(err), or errors.As(err, &*client.Error)
//
// # One call
//
// Call sends any method with its positional arguments (the Go form of Bitrix's magic methods: names it does
// not know go out as they are); the typed wrappers (SaveSettings, TestConnect, Register, SendMessage,
// SetStatusDelivered, …) cover the methods of docs/protocol.md §10, and Connect runs saveSettings →
// testConnect → register. The connector and line are call options (Connector, Line; defaults WithConnector,
// WithLine), so one Client serves every connector of a portal. Per call, as Bitrix's portal does:
//
//   - Connector-less methods (listConnector, deleteLine, infoConnectorsLine, saveDomainSite) go out with
//     CONNECTOR "all" and an empty LINE whatever the options; every other method without a connector, or
//     with "all", is refused before anything is sent, with CONNECTOR_ID_NOT_SPECIFIED.
//   - The profile governs the wire (WithProfile): current sends User-Agent "Bitrix Connector Client CP",
//     Referer = BX_DOMAIN, Connection: close, an empty Expect, BX_REGION after BX_TYPE (WithRegion),
//     ?connector=<id>&command=<method> after the path, #EMPTY_ARRAY# for empty arrays and BX_VERSION
//     22.800.0 by default; legacy sends User-Agent "Bitrix Connector Client", none of the rest, #EMPTY#
//     for every empty value and BX_VERSION 21.1100.0. Both send x-bitrix-licence. BX_LICENCE is
//     md5hex("BITRIX"+K+"LICENCE"), K the licence key or DEMO when it is empty or "demo".
//   - Answers are read by docs/protocol.md §5: OK true/1/"1" is success, missing/false/null/0/""/"0" is
//     failure, anything else ANSWER_MALFORMED; DATA counts only when a non-empty array or object; each
//     element of an ERROR list is one error (ERROR_UNDEFINED without CODE), a single ERROR object one
//     error, ERROR missing or not a list EMPTY_SERVER_RESPONSE; a body that is not JSON is
//     ANSWER_MALFORMED; no connection, a timeout or a status outside 2xx is NETWORK_ERROR (a 405 or 413
//     envelope keeps its codes). testConnect is judged by OK alone.
//   - Fire-and-forget methods (sendMessage, updateMessage, deleteMessage, setStatusDelivered,
//     setStatusReading, initializeReceiveMessages; FireAndForget switches it per call) do not read the
//     answer body: the call checks the connection and the status and reports a non-empty x-bitrix-error
//     response header as the error code; it never fails on the body.
//   - Only the read-only methods (testConnect, readSettings, info…, list…) are retried (WithRetry), after
//     NETWORK_ERROR, a 5xx or a 429, with capped exponential back-off and jitter on the injected clock,
//     honouring Retry-After and the context, each attempt signed afresh (a retried hmac-sha256 packet has
//     its own timestamp and nonce, so a replay guard accepts it).
//   - The info… and list… answers are cached 24 h per (method, connector, line, arguments) (WithCacheTTL;
//     Fresh skips the cache). saveSettings, register, unregister, deleteConnector and deleteLine drop the
//     cached answers of their line, failed or not, and so does ForgetLine, which a receiving portal calls
//     on deactivateConnector. An answer fetched while its line was dropped is not kept.
//   - setStatusReading goes only to the connectors that take it (WithReadingConnectors, default vkgroup
//     and avito); for any other it is not sent and counts as done.
//   - sendMessage, updateMessage and deleteMessage of a real botframework connector get each chat's stored
//     Bot Framework context (WithChatContext, docs/protocol.md §8.4): the stored from and service_url
//     override the message's; a chat with no stored context is sent unchanged, and logged.
//   - Outgoing messages have the current shape (openlines.OutgoingMessage; DATA of sendMessage is [[msg,
//     …]]); SendTyping is a sendMessage whose items have message.type typing_start.
//
// # Errors
//
// Every failure is an *Error carrying at least one protocol error (*wire.Error), in order: the server's,
// the reader's (ANSWER_MALFORMED, EMPTY_SERVER_RESPONSE, NETWORK_ERROR) or the client's refusal; Connect
// puts its step's code first (FAILED_TO_SAVE_SETTINGS_CONNECTOR, FAILED_TO_TEST_CONNECTOR,
// FAILED_REGISTER_CONNECTOR). errors.Is matches any carried code (a wire.Code) and the causes
// they wrap (context.Canceled, …), wire.CodeOf gives the first code. Configuration errors of New match
// ErrConfig and name every missing or invalid setting at once.
//
// # Hygiene
//
// The client never prints and never reads the environment; it logs to the injected *slog.Logger (attempts
// at debug level, retries and unsent or unchanged messages at info or warn level), never secrets. It uses
// net/http directly: the signing per attempt, the bounded answer read, the body left unread for
// fire-and-forget calls and the retry loop on the injected clock are its own. There is no global mutable
// state.
package client
