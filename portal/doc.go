// Package portal is the receive side of a portal (docs/protocol.md §7, §8): an http.Handler for the packets
// a connector server pushes, the line gate, the pipeline behind receivingMessage, the events of every
// command, the acknowledgement of each profile, and a durable store of the items it took, from which it
// retries what failed for now. A portal backend gets a working receiver in a few lines:
//
//	p, err := portal.New(ctx, portal.Config{
//		Credentials: wire.Credentials{Mode: wire.MD5, LicenceKey: key}, // or HMACSHA256 with Secrets
//		ServerURL:   "https://connector.example.com",                    // where the portal's calls go
//		Domain:      "https://portal.example.com",                       // BX_DOMAIN
//		DataDir:     "/var/lib/portal",                                  // portal.db + files/; or DSN: "mysql://…"
//		Profile:     wire.Current,                                       // or wire.Legacy (setStatusDelivered)
//	})
//	defer p.Close()
//	_, err = p.Client().Connect(ctx, settings, client.Connector("botframework"), client.Line("3")) // opens the gate
//	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
//		return saveToOpenLine(ctx, m) // an error keeps the item for a retry
//	})
//	http.Handle("/pub/imconnector/", p.Handler())
//
// # The line gate
//
// receivingMessage and setChatName for a line whose status, kept under the real connector id
// (openlines.RealConnector), is not ACTIVE, CONNECTION and REGISTER without ERROR are answered
// NOT_ACTIVE_LINE, with nothing processed or confirmed. The connect flow writes the status:
// p.Client().Connect writes it through LineStatuses; a connect made by another process (olctl connect)
// writes it into the same database through NewSQLStatusStore, where this portal reads it at every packet.
// deactivateConnector sets ERROR (the connection was taken over elsewhere), drops the client's cached
// answers of the line and fires OnUpdateStatusConnector; the gate stays shut until the line is connected
// again. Config.AdmitUnknownLines lets lines with no status at all through, for a receiver that some other
// system connects.
//
// # The pipeline
//
// Each item of receivingMessage is checked (user.id, chat.id, a known type: else it is rejected, reported in
// the log and counted, and never fails its packet), then runs the steps of its profile (docs/protocol.md
// §8):
//
//   - legacy: name split and user (users) → attachments rendered into the text, chat.url → date, files
//     (files) → the failed_big_file warning → the required check → hex escapes decoded, icons (emoji) → Bot
//     Framework context (bfcontext) → event;
//   - current: the "Y" flags moved into extra, user, chat → attachments → date, files → failed_big_file → hex
//     escapes → icons (on by default; emoji.WithIcons(false) keeps Unicode emoji) → the required check → Bot
//     Framework context → event.
//
// message_del and typing_start carry only their user and chat. command_start fires OnReceivedCommandStart,
// and OnReceivedMessage too when ref.source is set and does not start with "btrx"; welcome fires nothing.
// The text the pipeline writes (the big-file warning, the rendering of forwards, replies, locations,
// contacts and wall posts, the chat's description, the notices of receivingError) is Bitrix's English by
// default and set by Config.Locale.
//
// # Durability, retries and dead letters
//
// The portal takes a receivingMessage packet by storing its valid items, in one commit, in its table
// olctl_portal_items (SQLite, MySQL/MariaDB or PostgreSQL; concurrent packets share commits); only then does
// it process them and answer. Items are keyed for duplicates (docs/protocol.md §8.1): connector, line,
// chat.id, message.id and type, a digest of the content for edits, a digest of the whole item when there is
// no message.id; an item taken before (processed, waiting for a retry or dead) is skipped. The answer is
// OK:true once the items are stored, whatever their pipeline did; only a failure to store them is
// INTERNAL_ERROR, and the server sends the packet again. In the current profile that answer is the
// acknowledgement; in the legacy profile the portal then confirms every item of the packet with one
// setStatusDelivered (each was processed, is still running, kept for a retry, a duplicate or invalid for
// good).
//
// The items of different chats run at once (up to 64 chats), those of one chat one after another in the
// order received. The portal answers a packet once its items' pipelines finished, or once
// Config.AnswerWithin (250 ms) passed: an item still running then (slow downloads, bounded by the files
// package's per-message deadline) finishes after the answer, and the chat's items of the line's next
// packets wait behind it, so that one chat's files hold up neither the other chats nor the line. At most
// 256 items run past their answer; a packet that would pass that waits for its own items. An item that
// waited in its lane for half its lease (Config.Retry.Lease) renews it before it runs, and does not run
// when the lease ran out and a retry took it over.
//
// An item that fails for a reason that may pass — a download that failed for now (files.Failure.Temporary),
// the database, a subscriber's error or panic — stays in the store and is tried again after each delay of
// Config.Retry.Schedule (by default the connector server's own, 1 min … 12 h, 11 attempts over a day), by a
// retrier of the portal's own that runs on Config.Clock. The first Handler call starts it, for the items
// another process left too: subscribe before calling Handler, or an item retried then fires on no
// subscriber and counts as done. After the last attempt the item is a dead letter:
// logged at Error, counted in ItemStats, listed by DeadLetters with the item as received, and tried again by
// Redrive; never dropped. A tool without a Portal (olctl portal dead and redrive) opens the store of the
// same database with OpenItems, lists the dead letters and makes them pending again: the running portal's
// retrier tries them at its next look at the store (Config.Retry.Poll), in the order received. Items that
// can never succeed (neither text nor files left, a user that cannot
// exist) are rejected: logged, counted and kept as rejected. The events of the other commands fire as the
// packet is handled; one whose subscriber fails is stored and retried the same way. PruneItems forgets
// finished items after a few days.
//
// # What a subscriber can rely on
//
// An item's result (done, rejected, a retry's time, dead) is committed after its subscribers return, and
// once it is committed the item never fires again, whatever the connector server sends again and whoever
// restarts. Message.ItemID and Message.Attempt say which item and which attempt a delivery is. Two paths:
//
//   - Transactional: a subscriber of a message event that writes its action through Tx(ctx), in the
//     portal's database, acts exactly once per item. Tx is the transaction in which the portal marks the
//     item done; it opens at the first Tx call, after the downloads, the user and the rest of the pipeline,
//     and commits once every subscriber returned nil. An error or panic of a subscriber, a failed commit, an
//     attempt that outlived its lease or a crash rolls back the action with the record, and the item is
//     tried again: a delivery may repeat, what it wrote does not. The SIGKILL run of e2e
//     (portalkill_test.go) commits every message exactly once to a table with no unique key.
//   - Non-transactional (a subscriber whose action is outside the portal's database, such as olctl serve
//     printing events): events are delivered at least once. A delivery repeats, with a higher Attempt, when
//     an earlier subscriber succeeded and a later one failed (all of them run again on the retry), or when
//     the process died between the subscribers' return and the commit of the result (at most the items
//     running at that moment: one per chat). A subscriber that must act once keeps the ItemIDs it acted on,
//     in the same transaction as its action, or uses Tx.
//
// A subscriber on the transactional path:
//
//	p.OnReceivedMessage(func(ctx context.Context, m portal.Message) error {
//		tx, err := portal.Tx(ctx)
//		if err != nil {
//			return err
//		}
//		_, err = tx.ExecContext(ctx, `INSERT INTO inbox (chat, text) VALUES (?, ?)`, m.Chat.ID, m.Text)
//		return err // nil: the row and the item's record commit together
//	})
//
// An attempt holds its item for Config.Retry.Lease; a process that died holding it leaves it to the next
// process (or a restart) once the lease ends, and a stale attempt's result is never recorded over a later
// one's.
//
// Typing notices are momentary: they fire once as they arrive and are neither stored nor retried. Status
// events (receivingStatusDelivery, receivingStatusReading, receivingError, receivingStatusBlock, setChatName,
// deactivateConnector) are not checked for duplicates: a packet the server sends again fires them again,
// harmless for statuses; Tx returns ErrNoTx in their subscribers. The items of one chat fire in packet order,
// except that an item waiting for a retry fires after the items that followed it; the chats of a packet fire
// in any order.
//
// # Inspector
//
// With Config.Inspect set, the portal records the packets it takes and sends and what became of each item
// (taken, fired, duplicate, rejected, retry, dead), and Inspector returns the live page of package inspect
// over them, with the items waiting for a retry and the dead letters (Redrive from the page). Mount it behind
// the backend's own authentication.
//
// # Pieces
//
// Each step is a small interface (TextConverter, FileImporter, UserSyncer, Confirmer, bfcontext.Store,
// openlines.LineStatusStore) that Config can replace; New wires emoji, files (a DiskStore in DataDir/files),
// users (SQL), bfcontext (SQL), the status store (SQL) and client otherwise. The stores share the one
// database; several portal processes may share it (one of MySQL or PostgreSQL, or one SQLite file on one
// machine). Client returns the Output client, which shares the chat contexts and the line statuses: use it to
// answer customers and to connect lines.
//
// Tests (go test -race ./portal, on SQLite, MariaDB and PostgreSQL where state is involved): the PHP vectors
// of both profiles posted as they are; every command in both signing modes; the hostile-input list, each
// answered with its code and leaving no trace; the gate, deactivation and reconnection; block and unblock;
// each profile's acknowledgement; duplicates; Tx committing with the result and rolled back by a
// subscriber's error, a panic or a stale attempt; a chat with slow files while another chat of the line
// flows; a failed download retried on the fake clock and fired once,
// also across a SIGKILL of a portal process between the answer and the retry (crash_test.go, child processes
// on each database); subscriber errors, dead letters and Redrive; the lease's fencing; the rendering of
// attachments and each profile's pipeline.
package portal
