// Package inspect is a live inspector of the packets a side of the protocol takes and sends, the way a
// tunnel's local inspector or a payment provider's event dashboard shows requests: a page (Go html/template,
// a little plain JavaScript and CSS, embedded; nothing loaded from another host) that lists every packet as
// it passes, server-sent events keeping it live.
//
//	rec := inspect.NewRecorder(inspect.Options{Packets: 500, Secrets: []string{licenceKey}})
//	http.Handle("/pub/imconnector/", rec.Incoming(input))          // packets received
//	client := &http.Client{Transport: rec.Outgoing(nil)}            // packets sent
//	http.Handle("/inspect/", http.StripPrefix("/inspect", inspect.Guard(rec.Handler(inspect.Page{Title: "Portal"}), "")))
//
// portal.Config.Inspect and connector.Config.Inspect wire it into a portal and a connector server, and
// portal.Portal.Inspector and connector.Server.Inspector return the page with each side's own state.
//
// # What the page shows
//
// Each packet's line: time, direction, command, connector and line, item count, the verdict on its
// signature (valid, invalid or missing for a packet received, checked with Options.Verify; signed for one
// sent), the answer's code (OK, the protocol codes of a refusal, HTTP n, NETWORK) and duration, and what the
// side did with its items (Recorder.Note: the events fired, duplicates skipped, retries scheduled). Opened,
// a packet shows its fields in order, DATA decoded into JSON (PHP arrays in their order), the answer, the
// notes, "Replay" (Recorder.Replay: the packet posted again to the handler Incoming wrapped, signed afresh
// with Options.Sign, recorded as a replay of the first) and "Copy as curl". Beside the packets, the side's
// state (Page.State) with a Redrive button on each dead letter (Page.Redrive).
//
// Keyboard: one packet is in the tab order; ↑, ↓, Home and End move between packets, Enter and Space open
// and close one; every control has a label.
//
// # Secrets
//
// Nothing secret reaches the page or its stream: values of keys that name a secret, password, token,
// licence key, private or API key, credential or authorization (and Options.SecretKeys) are masked in DATA,
// in answers and in query strings, and every value in Options.Secrets is masked wherever it appears
// (fields, DATA, answers, notes, state). A DATA that held a secret is shown, and copied as curl, with the
// secret masked and encoded again, so its signature no longer matches; a DATA that cannot be decoded is
// not shown at all. BX_HASH and BX_LICENCE are not secret (a signature and a public identity) and are shown.
// Outgoing records only packets (forms with BX_COMMAND): a messenger's API calls and token requests pass
// unrecorded, and headers are never kept. A recorder of a messenger's side (Options.Requests: the fake Bot
// Framework service of olctl bf serve --trace) records its webhooks and the API calls made to it as well,
// named by their path, masked the same way.
//
// # Trace
//
// Options.Trace writes each packet to a stream as it is recorded, for a terminal (olctl --trace): a head
// line, then its URL, every field, DATA decoded as JSON, the answer and the notes, indented, masked as on
// the page:
//
//	--> out #1 2030-01-02T03:04:05.000Z testConnect connector=echo line=1 signed OK 12.3ms
//	    url         POST http://127.0.0.1:8080/imwebhook/portal.php?connector=echo&command=testConnect
//	    BX_COMMAND  testConnect
//	    …
//	    data        []
//	    answer      HTTP 200 {"OK":true,"DATA":{"RESULT":"OK"}}
//
// "<--" marks a packet received, "-->" one sent.
//
// # Bounds
//
// The ring keeps the last Options.Packets packets (default 500) and at most Options.Bytes of bodies and
// answers (default 32 MiB; a body over Options.MaxBody, 256 KiB, is kept only in part, listed but neither
// decoded nor replayable). The page lists at most Page.View packets and draws the stream once per frame, so
// that it stays fast whatever passed through: a stream that falls behind is dropped, and the page
// reconnects and starts again from the ring.
//
// # Access
//
// Handler answers whoever reaches it: mount it behind the application's own authentication, or Guard it.
// Guard without a token lets through only loopback clients that name a loopback host (no DNS rebinding);
// with a token, only requests that carry it. POSTs (replay, redrive) need the header X-Olctl-Inspector and
// the page's own Origin, which no other site can send; the Content-Security-Policy allows nothing from
// another host.
package inspect
