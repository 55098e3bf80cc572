// Package router is the portal's endpoint for everything a connector server pushes (docs/protocol.md §3.2,
// §5–§7): Input is the http.Handler for `/pub/imconnector/`, Router maps commands to typed handlers. Items
// are the types of package openlines.
//
//	r := router.New()
//	metrics := router.NewMetrics(nil)
//	r.Use(router.Logging(log, nil), metrics.Middleware(), gate) // gate: the line gate, below
//	router.Handle(r, openlines.CommandReceivingMessage,
//		func(ctx context.Context, req *router.Request, items []openlines.MessageItem, itemErrs []error) error {
//			// items[i] is DATA's i-th item; itemErrs[i], when itemErrs is not nil, why it did not fit.
//			return nil // → {"OK":true,"DATA":[]}
//		})
//	in, err := router.NewInput(r,
//		router.WithCredentials(wire.Credentials{Mode: wire.HMACSHA256, Secrets: []string{newSecret, oldSecret}}),
//		router.WithConnectors(openlines.Botframework), router.WithProfile(wire.Legacy),
//		router.WithObserver(metrics), router.WithLogger(log))
//	if err != nil { … } // ErrConfig: no or invalid credentials, a bad option
//	http.Handle("/pub/imconnector/", in)
//
// # Per request
//
// In this order, all through package wire:
//
//  1. POST only (else 405 with Allow: POST), the body cap (default 8 MiB, WithMaxBody; else 413),
//     wire.ReadForm (field order kept; a repeated field or more than 64 fields is BAD_PACKET).
//  2. wire.Verify with the configured credentials and a wire.ReplayGuard (default: 300 s window on the
//     Input's clock; share one with WithReplayGuard), before anything of DATA is decoded: missing BX_HASH is
//     HASH_EMPTY; a wrong hash, tampered or reordered fields, an md5 packet to an hmac receiver or the
//     reverse are LICENCE_ERROR; a stale or future timestamp or a reused nonce is REPLAY.
//  3. The packet-level checks of §7, in both profiles: an empty CONNECTOR is CONNECTOR_ID_NOT_SPECIFIED; an
//     empty BX_COMMAND or one without a handler is IMCONNECTOR_NOT_SPECIFIED_CORRECT_COMMAND (commands match
//     exactly, else in any case); a connector whose real id is not among WithConnectors' is
//     IMCONNECTOR_NOT_SPECIFIED_CORRECT_CONNECTOR (without the option every connector is accepted); no DATA
//     is BAD_PACKET.
//  4. DATA decoded straight into the handler's []T (wire.DecodeItems; wire.Bind for setChatName), both stubs
//     undone whatever the profile (§3.3). DATA is the item list itself; for setChatName one map, which is
//     one item; "", [] and both stubs mean no items; bad base64 or serialize, objects, references and any
//     other scalar are BAD_PACKET. An item that does not fit T is reported in itemErrs alone: a bad item
//     never fails the packet.
//  5. The middleware, outermost first, then the handler.
//
// # Answers
//
// Every answer is the envelope of §5, through wire.WriteResponse. Once the handler returns nil: testConnect
// (built in, and replaceable with Handle) {"OK":true,"DATA":{"RESULT":"OK"}} (openlines.TestConnectAnswer)
// in both profiles, every other command {"OK":true,"DATA":[]}, whatever single items did. An error becomes
// OK:false with its protocol code (wire.CodeOf; several codes with a *wire.ResponseError). 405 and 413 are
// the only statuses other than 200. A panic in a handler or middleware is answered INTERNAL_ERROR wrapping
// ErrHandlerPanic, and logged with its stack; the Input's own path is guarded too. A request whose client
// left before the answer (its context canceled) gets none: the connection is closed.
//
// # The server in front
//
// ServerLimits builds the http.Server an Input should sit behind: a header, body and request deadline
// (10 s, 30 s, 60 s), a header cap (64 KiB) and a cap on concurrent requests (1024; the next one is answered
// 503 with Retry-After at once), so that clients that send slowly or in floods cannot hold the portal.
//
// # The line gate
//
// receivingMessage and setChatName must be answered NOT_ACTIVE_LINE, with nothing processed, unless the
// status of (real connector, line) is open (§7, openlines.LineStatus.Open). The status lives with the
// portal, so the gate is middleware the portal supplies: it returns a *wire.Error with wire.CodeNotActiveLine
// for a gated command of a closed line instead of calling next, so that no handler runs. Request carries
// what it needs: Command (as registered), RealConnector and Line. Use it after Logging and the metrics, so
// that they see the refusal under its command.
//
// # Middleware
//
// Logging(slog, clock) logs Debug for a success, Warn for a refusal, Error for INTERNAL_ERROR, never a
// secret. Observe(observer, clock) and the dependency-free Metrics count requests, failures by code, total
// and longest duration per command as registered (a sender cannot grow the set of names); packets refused
// before routing are reported by the Input to WithObserver under RefusedLabel. Handle and Use are safe while
// serving: the routing table is rebuilt and swapped whole, and a request decodes and dispatches with one
// table.
//
// # Tests
//
// Package routertest signs server → portal packets in either profile, posts them over real HTTP and reads
// the PHP vectors with their field order, for tests of anything that mounts an Input. BenchmarkInput
// measures 10-item receivingMessage packets (7.6 KB, md5, decoded into openlines.MessageItem and
// validated) from parallel clients over HTTP on 127.0.0.1 against a bare net/http handler that reads the
// body and answers 200 (olctl and bare).
package router
