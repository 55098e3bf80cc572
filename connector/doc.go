// Package connector is an Open Lines connector server (docs/protocol.md §11): the router between messengers
// and portals of both generations. It runs in-process for end-to-end tests (NewServer, Start and Close, like
// httptest.Server but the real thing) and standalone (olctl connector serve).
//
//	srv, err := connector.NewServer(connector.Config{
//		DSN:      "sqlite:/var/lib/olctl/connector.db", // or MySQL/MariaDB, PostgreSQL; empty: a temporary SQLite file
//		Sites:    []connector.Site{{LicenceKey: "portal-licence-key"}}, // Profile: auto (default), legacy or current
//		Channels: chs, // connector.NewChannels() + chs.Register(botframework.ID, botframework.New())
//		Addr:     ":8080", PublicURL: "https://connector.example.com",
//	})
//	if err != nil { … }
//	srv.Start() // serves and dispatches; or serve srv.Handler() yourself and call srv.StartDispatcher()
//	defer srv.Close()
//	st, _ := srv.QueueStats(ctx) // also QueueList, DeadLetters; connector.Open(ctx, dsn) inspects without a server
//
// # Records
//
// Kept in SQL, migrated at start: sites (BX_LICENCE, domain, signing mode, licence key or hmac secrets,
// profile, the BX_VERSION of the last verified packet), line connectors (site, line, connector, ACTIVE,
// CONNECTION, REGISTER, ERROR, a random 128-bit line hash) and their parameters (secrets come back masked
// from readSettings as SecretMask; sending the mask back keeps the stored secret).
//
// # Generations
//
// A site's Profile is auto (the default), legacy or current. With auto a site is current when its last
// verified packet had BX_VERSION 22.800.0 or later (wire.ProfileOf), else legacy. The server pushes to each site
// in its generation:
//
//   - stubs: to a current site an empty array is #EMPTY_ARRAY# and other empty values #EMPTY#; to a legacy
//     site every empty value is #EMPTY# (a packet without items: s:13:"#EMPTY_ARRAY#"; or s:7:"#EMPTY#";);
//   - setChatName goes to current sites only, with DATA one map {name, chat_id, user_id}; to a legacy site it
//     is not sent and counts as done;
//   - acknowledgement: a current site acknowledges a packet by its OK answer (its items are deleted at once,
//     nothing waits for a setStatusDelivered that never comes, nothing is sent twice); a legacy site confirms
//     each receivingMessage item with setStatusDelivered naming (connector, line, chat.id, message.id) within
//     Policy.ConfirmTimeout, before or after its answer. Confirmed items are deleted whatever the answer, from
//     either generation. Other commands are acknowledged by the answer in both.
//
// # Portal endpoint
//
// POST /imwebhook/portal.php: wire.ReadForm, wire.Parse, the site by BX_LICENCE, wire.Verify (md5, or
// hmac-sha256 with a replay guard), then DATA decoded with both stubs undone. Packets of both generations
// are accepted: BX_REGION, the unsigned ?connector=&command= query (both values are taken from the body; the
// query may be absent), the x-bitrix-licence, User-Agent and Referer headers (unsigned, so nobody is
// authorized by them). Methods match in any case; unknown ones are METHOD_NOT_FOUND; a connector no channel
// serves is IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR. The answers (DATA):
//
//   - saveSettings(settings): creates the line connector, resets CONNECTION and REGISTER; {RESULT, URL_WEBHOOK}.
//     Settings are scalars ("0" stays "0"; an empty array is an empty setting).
//   - testConnect(): the channel tests the line connector when there is one (a LINE of a connector set up),
//     and the portal's own /pub/imconnector/ must answer a signed testConnect (judged by OK alone); {RESULT: OK}
//     (openlines.TestConnectAnswer).
//   - register(): the channel registers; {RESULT, URL_WEBHOOK, …channel info}. unregister(), deleteConnector()
//     (idempotent): {RESULT}.
//   - readSettings(): the settings, secrets masked. infoConnect(): channel info, ID, LINE,
//     STATUS{ACTIVE, CONNECTION, REGISTER, ERROR}, URL_WEBHOOK. infoConnectLink(): {URL_WEBHOOK, LINKS?} (a
//     channel's MethodProvider may answer it).
//   - Connector-less methods come with CONNECTOR all and an empty LINE: listConnector() ({id: id} per channel),
//     infoConnectorsLine(lineId) ({connector: {STATUS, URL_WEBHOOK}}), deleteLine(lineId) ({RESULT, DELETED}),
//     saveDomainSite(url) (the portal's new domain; {RESULT}).
//   - sendMessage, updateMessage, deleteMessage(messages): need an active line connector (with all they are
//     BAD_PACKET); the channel sends them and its reports (receivingStatusDelivery, receivingError) are queued
//     to the portal; {RESULT, COUNT}.
//   - setStatusDelivered(items): deletes the confirmed items and unblocks the line; {RESULT, CONFIRMED}.
//   - setStatusReading, initializeReceiveMessages: {RESULT} unless the channel provides them.
//
// # Webhooks and channels
//
// POST /imwebhook/{real}?h={lineHash}: the hash names the line connector, its channel turns the body into
// items, and they are queued before the answer; an unknown channel or hash is 404 and nothing is written. A
// Channel (ID, SaveSettings, TestConnect, Register, Unregister, Receive, Send, Info, SecretKeys) comes from a
// Channels registry of factories by real id (botframework.skype → botframework), optionally with a
// MethodProvider for methods of its own. The package ships Echo (tests, demos); connector/botframework is
// the Bot Framework channel. Items are the types of package openlines.
//
// Uniqueness: Register names the external entity the line owns (the bot's app_id); registering it on
// another line or portal deletes the old line connector's data and queues deactivateConnector to the old
// portal. Register's answer names the lines of the same portal it moved from (MOVED_FROM: [{CONNECTOR,
// LINE}]), and the methods of a moved line connector answer NOT_ACTIVE_LINE naming where it went (a line, or
// another portal) until the line is set up again.
//
// # Queue
//
// Items are stored per (site, line) in arrival order. The dispatcher sends each unblocked line up to
// Policy.Batch (50) items per receivingMessage packet, one packet per line at a time; a packet never holds two
// items with the same (chat.id, message.id), and an item without message.id gets one, so that a legacy
// confirmation names exactly one item. A transport error, a non-2xx answer, OK:false (NOT_ACTIVE_LINE too)
// or, legacy, items unconfirmed at the deadline block the line for the next period of Policy.Schedule
// (1m 4m 10m 15m 30m 1h 2h 3h 5h 12h); when the last block ends, 24 h after the first failure, the line's
// items move to a dead-letter table (only the one item the last packet left unacknowledged, when it is
// alone) and the block is lifted. A line that received items while its packet was out holds its next
// packet up to Policy.Linger (10 ms; negative disables) until a full batch is there or the webhooks stop:
// fewer, fuller packets; a lone message is never held.
//
// A packet fits the portals' body cap, Config.PortalMaxBody (8 MiB): a batch is cut to the head items that
// fit, down to one, and a 413 answer halves it again. An item that no packet can carry is moved to the
// dead-letter table alone and its line goes on; the webhook refuses such an item before it is queued (413),
// and the echo channel refuses a command no portal knows (400). A packet the portal refuses by its answer
// (a status but 408, 429 and 502–504, or OK:false not naming the line or the credentials) is split the same
// way, a binary search for the item refused alone (about log2(n) more packets). An answer naming the item
// (a 4xx status, BAD_PACKET or a per-item code) dead-letters it alone once the portal took other packets of
// its line, or the items behind it sent without it. A transient one (a 5xx status, INTERNAL_ERROR, an
// unreadable answer) holds the line and sends the item alone again after each wait of Policy.RetryAlone
// (20 s, 40 s: three attempts over a minute); refused each time, it is dead-lettered alone once the portal
// takes the items behind it sent without it (with none behind it, on the other packets it took). The items
// behind it go on only once it is delivered or dead-lettered, in order. A portal that refuses everything
// blocks the line as any failure does.
//
// # Guarantees
//
//   - Nothing is lost on a crash: a webhook is answered 200 only once its items are committed; an item is
//     deleted only once acknowledged. A batch cut off by a crash is sent again at once by the process
//     started again in its place (same host and listen address; on SQLite any restart), and by another
//     process sharing a MySQL or PostgreSQL database when its lease, Policy.LeaseTTL (10 s), runs out; the
//     portal's duplicate suppression keeps events exactly-once. Close frees the leases it held. Tested with
//     SIGKILL of real server processes.
//   - Order per line: a line's items go out in arrival order; enqueues of a line are serialised by its row
//     lock, so ids follow commit order.
//   - One sender per line: a line is claimed in a transaction (FOR UPDATE SKIP LOCKED on MySQL and
//     PostgreSQL) and leased to one holder while its packet is out. The holder renews the lease every third
//     of LeaseTTL and stops sending when it cannot; every claim has its own lease token, so a holder whose
//     lease passed on can neither renew nor settle the line. One process serves a SQLite queue: a second
//     server on the file fails with ErrQueueInUse (Linux).
//   - Exact back-off on the injected clock; a confirmation, even a late one, unblocks a line at once.
//   - Bad input on either endpoint is answered with its code (405, 413, HASH_EMPTY, LICENCE_ERROR, REPLAY,
//     BAD_PACKET, METHOD_NOT_FOUND, …; webhooks 400/401/404/405/413, an error without a protocol code under
//     its status's name, UNAUTHORIZED) and writes nothing. register needs a successful testConnect since the
//     last saveSettings (FAILED_REGISTER_CONNECTOR).
//   - Clients cannot hold the server: a request must arrive within Config.ReadTimeout (30 s, headers and
//     body), its handling ends at Config.RequestTimeout (60 s), headers are capped at 64 KiB, and past
//     Config.MaxConcurrent (1024) requests in progress the next is answered 503 with Retry-After at once. A
//     client that leaves before its answer gets none.
//   - The server connects only to public addresses (internal/netguard, on the resolved address of every
//     connection): a signed packet's BX_DOMAIN or a chat's Bot Framework service URL on loopback or a
//     private network is refused before a byte is sent, unless Config.AllowPrivateNetworks. A caller's
//     Config.HTTPClient is held to the same rule through net/http/httptrace: the addresses its transport
//     dials and each connection's peer (checked before the request is written), the host's resolved
//     addresses when an *http.Transport sends through a proxy; a transport reporting no connection is refused.
//     So is a channel's client of its own (Env.GuardClient; botframework.WithHTTPClient), by the server's
//     AllowPrivateNetworks, which its Env carries.
//   - Bounded memory: nothing is held per queued item; queue depths are read from SQL at scrape time.
//   - Webhook dedup: an item with a DedupKey is queued once per line within Config.DedupRetention (48 h).
//   - Group commit: concurrent webhooks share transactions (internal/groupcommit); on SQLite the writes that
//     queue behind the one writer run in the next transaction. A round's requests are stored together, in a
//     few statements however many webhooks it holds, each line's items in order and each request told which
//     of its items it kept. A failing one is retried alone.
//
// Several servers may share one MySQL or PostgreSQL database; on SQLite one process owns the queue, which
// must be a file: an in-memory database (":memory:") is refused with ErrInMemory. Caches other processes
// can make stale: sites (10 s; a site whose domain is unknown, or whose generation is auto and not learned
// from a packet yet, is read every time, so that a current portal is never pushed to as a legacy one) and
// line connectors by webhook hash (5 s); the process that changes them drops its own at once.
//
// Limits: the replay guard of hmac packets is per process; site credentials are stored in clear (the
// server signs with them); deleteLine and deleteConnector do not remove items already queued for the line.
//
// # Dead letters and the inspector
//
// A dead letter is an item the server gave up pushing, kept with its reason in a table of its own: the items
// of a line whose schedule ran out (the portal failed for 24 h; only the one item the last packet left
// unacknowledged, when it is alone), an item that no packet within the portal's body cap can carry, or an item
// the portal refused alone (see Queue). DeadLetters lists them; Redrive (by id) and RedriveDead (by site or
// line) queue them again at the end of their lines, and Retry lifts a line's block at once (olctl connector
// queue dead, redrive, retry). With Config.Inspect set, the server records the portals' calls, the webhooks
// and its pushes, and Inspector returns the live page of package inspect over them, with each line's status
// flags, queue depth, block and next attempt, and the dead letters (Redrive from the page).
//
// # Operations
//
// Config.Logger (slog) gets a line per portal call ("connector: portal call": site, command, connector, line,
// code, took; Debug when it succeeded, Info when refused, Error for an internal failure) and per webhook
// (Debug when queued: site, line, connector, the items read and queued). A failing line's lines name its site
// and line: "send failed; line blocked" and "no confirmation in time" (Warn) with the attempt, "of" the
// schedule's length and next_attempt (after the last, dead_letters_at), "schedule exhausted" (Error) with the
// items, attempts and failing_since, and "line recovered" (Info) with down_for and, unless the schedule
// started anew (Retry, Redrive), failed_attempts. A refused item's search and retries log "the portal refused
// a packet; sending parts of it" and "the portal refused an item alone; sending it alone again after a pause"
// (Warn, with the item, attempt, of and next_attempt), and its end "an item the portal cannot take moved to
// the dead-letter table alone" (Error, with the item and the reason). A testConnect whose call back to the
// portal fails names the cause's code in its message (NETWORK_ERROR for no answer, else the portal's codes).
//
// Prometheus at /metrics (MetricsURL: on the main listener to loopback clients only, or on
// Config.MetricsAddr) on a registry of the server's own: olctl_connector_queue_depth{site,line},
// …_blocked_lines, …_dead_letters, …_queue_scrape_ok, …_enqueued_items_total{command},
// …_duplicate_items_total, …_sends_total{command,result} (result ok, error, or skipped for setChatName to a
// legacy site), …_failures_total{reason=send|confirm_timeout}, …_confirmed_items_total,
// …_dead_lettered_items_total, …_send_seconds, …_requests_total{endpoint,code}, …_request_seconds{endpoint};
// /healthz.
package connector
