// Package e2e proves the whole system over real HTTP on 127.0.0.1, as make test runs it: the fake Bot
// Framework service (bftest), the connector server with the Bot Framework channel, and a portal (portal.New:
// router, emoji, files, users, Bot Framework context, events, acknowledgement), each on its own database.
// The package holds tests only.
//
// A system runs one generation of portal (docs/protocol.md §1) with the connector's site of the same one,
// told by the BX_VERSION of the portal's packets or set in the site's record (connector.Site.Profile). Taps
// in front of the portal and of the server record every push and call with its DATA as sent and its answer,
// so that the tests assert what went over the wire.
//
//   - The chain (TestChain), on SQLite, MariaDB and PostgreSQL, in md5 and hmac-sha256 mode, for a current
//     and a legacy portal: a customer message with an emoji and an attachment goes from bftest through the
//     connector's webhook (JWT checked), the durable queue and a signed receivingMessage packet to a portal
//     event with the right connector (botframework.<channel>), line, chat, message id, icon-tag text,
//     internal user and imported file; the operator's reply goes back through client.SendMessage to an
//     activity at bftest with the bot as from, the emoji restored, the file as a link and the conversation
//     id escaped per path segment; the activity id comes back as receivingStatusDelivery; the reply is
//     edited and deleted by that id. A message whose files and attachments are empty arrays (the echo
//     channel, on a second line) is pushed with them stubbed #EMPTY_ARRAY# to a current portal and #EMPTY#
//     to a legacy one, and fires with no files. A current portal acknowledges by its OK answers and never
//     calls setStatusDelivered; a legacy one confirms every message; #EMPTY_ARRAY# reaches only current
//     portals, and the DATA of testConnect and deactivateConnector is the empty list as each generation
//     stubs it. The queue ends empty with no dead letters and every message fires once.
//   - Faults: the portal down for a simulated day (fake clock): attempts exactly at 0, 1 m, 5 m, 15 m, 30 m,
//     1 h, 2 h, 4 h, 7 h and 12 h, nothing deleted before 24 h, the dead letter exactly at 24 h, then the
//     block lifted (TestPortalDown24h); a portal answering 500, OK:false or never answering (both
//     generations), and a legacy portal never confirming (past ConfirmTimeout) or confirming only half of
//     a batch: the line is blocked, then every message arrives and fires exactly once (TestPortalFaults);
//     the Bot Framework service answering 429 with Retry-After and 503 (retried, delivered once) and 500
//     (a receivingError at the portal) (TestBotFrameworkFailures).
//   - A file that fails for now (TestDownloadRetriedEndToEnd, each database, both generations): bftest
//     refuses a pasted picture once; its packet of three messages is answered OK:true, the other two fire at
//     once and the server's queue empties (legacy: all three confirmed, the failed one being kept); a minute
//     later on the portal's clock its retry imports the file and the message fires once, not sent again by
//     the server.
//   - Deactivation (TestReRegisterMovesBot, TestDeactivatedLineRefusedUntilReconnected, each database, both
//     generations): the bot registered on a second line moves there; the first line gets
//     deactivateConnector, its status is ERROR and its old webhook is gone; messages that reach it while it
//     is being set up again are answered NOT_ACTIVE_LINE, fire nothing, are not confirmed, and the server
//     keeps them behind its back-off; once the line is connected again they are delivered, each once.
//   - PHP (TestPHPPacketsIntoPortal, each database): testdata/php/packets.php builds a current-dialect
//     packet of every server → portal command with PHP's own serialize, base64_encode and md5 (stubs, field
//     order and signature as a connector server makes them) and posts it with PHP's own HTTP stream; every
//     answer is checked (OK:true, testConnect's {"RESULT":"OK"}, NOT_ACTIVE_LINE for a line without status
//     and for the line deactivateConnector shut), and every event: empty arrays everywhere with
//     type_message "Message", the hex escape decoded, the big-file warning, the location with its float
//     coordinates, the delivery, the reading, the flat error, a block distinct from the unblock, the chat
//     name, the deactivation. Without php it skips loudly; under CI=true it fails. (The other direction, the
//     connector server driving a PHP stand-in of a current portal, is the connector package's
//     TestPHPStandInCurrentPortal.)
//   - Crash (TestConnectorKilledMidStream): the connector server runs as its own process (the test binary
//     re-executed) and is killed with SIGKILL ten times during a 10 000-message run and restarted on the same
//     database, on each database and for both generations of portal: every message reaches the portal and
//     fires its event exactly once, the queue ends empty with no dead letters, a current portal never calls
//     setStatusDelivered and a legacy one confirms every message, and the message events pause less than
//     10 s after each restart (a restarted server takes its lines back at once) (-short runs 2 000;
//     OLCTL_E2E_CRASH_MESSAGES sets the count). The portal is killed too (TestPortalKilledMidStream, each
//     database, both generations; not under -short): a portal process takes a stream of 2 000 messages
//     and is killed with SIGKILL five times (20 000 and 50 with OLCTL_E2E_PORTAL_KILL_FULL=1); its backend,
//     which records each event once by Message.ItemID, records every message once, and the connector's
//     queue empties as each generation acknowledges.
//   - Slow files (TestSlowFilesKeepChatsFlowing, both generations): on one line, a message with eight held
//     files, then another chat's small file, a third chat's text and the first chat's second message: the
//     two others fire within 1 s while the first message holds its two download slots and its second waits
//     behind it; released, the first fires with seven files and its 404 reported, then the second; past the
//     importer's per-message deadline, the first fires without its files (each reported as a timeout),
//     then the second. Each fires once.
//   - Hostile input (TestHostileCorpus): testdata/hostile/*.req holds 48 forged or malformed requests
//     (missing, empty, wrong and foreign-key hashes, reordered and tampered fields, stale, future and
//     replayed hardened packets, downgrades both ways, bad base64, bad serialize, objects, references,
//     trailing bytes, 80 levels of nesting, 200 000 elements, items without user.id, unknown commands and
//     methods, duplicate fields, more than 64 fields, oversize bodies, GETs, webhooks with no, bad or
//     mismatched tokens, unknown hashes and broken JSON). Each file says where it goes and what it must get;
//     the test sends each to its endpoint on a system of each signing mode and checks the status and
//     protocol code, then that nothing was stored (no event, nothing queued, no settings) and that both
//     servers still work.
//   - Attacks on the processes a user runs (TestAttackProcesses, attack_test.go): `olctl connector serve`
//     and `olctl serve`, the olctl binary built without the race detector, get 160 000 empty fields
//     (BAD_PACKET in milliseconds of their CPU), 100 and 60 connections that announce 8 MiB and send ten
//     bytes (RSS bounded, all cut at the read timeout), a trickled body (cut), 60 messages of 130 KB behind a
//     portal that was down (packets cut to the 8 MiB cap: all arrive, no dead letter), a 6.4 MB item and an
//     echo item with an unknown command (refused at the webhook, 413 and 400, the line goes on), a date
//     after 9999 (fired, date_unix), one message with eight files that never arrive beside another line's
//     small file (which arrives at once), a signed testConnect whose BX_DOMAIN probes the server's network
//     (FAILED_TO_TEST_CONNECTOR, no connection made), register before testConnect
//     (FAILED_REGISTER_CONNECTOR), /metrics through a proxy (403) and a half-closed client (no
//     INTERNAL_ERROR); after each, both answer /healthz and a normal message arrives, and the queue ends empty
//     without dead letters. TestSlowClientsLoad holds 500 slow clients (400 trickling an 8 MiB body, 100
//     their headers) against each process with its default limits: RSS stays under 100 MiB and a normal
//     message arrives within 1 s during the attack.
//   - Benchmark (BenchmarkChain, in make bench): customer messages at a fixed offered rate of 200/s through
//     the connector server and the portal, each in its own process on SQLite, timed from the Bot Framework's
//     webhook post to the portal's event; against a bare net/http handler under the same load, with the
//     peak RSS of both processes.
//
// MariaDB and PostgreSQL come from OLCTL_TEST_MYSQL_DSN and OLCTL_TEST_POSTGRES_DSN (make test sets them);
// without them those runs skip loudly, and fail under CI=true. E2E_LOG=1 writes the servers' logs to
// stderr.
package e2e
