// Package connector is the Open Lines connector server (PROTOCOL.md §7): the router between external
// messengers and portals. It keeps records of portals (sites), their line connectors and connection
// parameters in SQL; answers the portal's remote methods at POST /imwebhook/portal.php; takes messenger
// webhooks at POST /imwebhook/{real}?h={lineHash}; keeps a durable queue per (site, line) and dispatches it in
// signed receivingMessage batches with a back-off schedule and a dead-letter table.
//
// Channels (one per real connector id, e.g. "botframework") plug in through the Channel interface and a
// Channels registry of factories; the package ships the echo channel used by tests.
package connector
