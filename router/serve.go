package router

import (
	"log"
	"net/http"
	"time"

	"github.com/olctl/olctl/internal/httpserve"
)

// ServerLimits bound what one client can hold of the HTTP server in front of an Input: a client that sends
// its headers or body slowly, a handler that runs long, a flood of requests. The zero value of each field is
// its default, figures a public deployment keeps.
type ServerLimits struct {
	// ReadHeaderTimeout is how long a client may take to send its request headers. Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client may take to send its whole request, headers and body; a body that
	// trickles in fails when it passes. Default 30 s.
	ReadTimeout time.Duration
	// RequestTimeout is the deadline of a request's context from the moment its handler starts. Default
	// 60 s, the time a Bitrix sender waits for an answer. (A receivingMessage packet once stored is processed
	// to the end: its items' results must be recorded.)
	RequestTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next request. Default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxConcurrent is how many requests are handled at once; one more is answered 503 with Retry-After
	// and INTERNAL_ERROR at once (the server sends it again). Default 1024.
	MaxConcurrent int
}

// Server returns an http.Server that serves h under the limits (h is typically a mux with an Input at
// /pub/imconnector/); errorLog may be nil. The body cap is the Input's (WithMaxBody).
func (l ServerLimits) Server(h http.Handler, errorLog *log.Logger) *http.Server {
	return l.internal().Server(h, errorLog)
}

// Handler returns h behind the concurrency cap and the request deadline, for a caller that builds its own
// http.Server (set its timeouts from the same figures).
func (l ServerLimits) Handler(h http.Handler) http.Handler { return l.internal().Handler(h) }

func (l ServerLimits) internal() httpserve.Limits {
	return httpserve.Limits{ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, RequestTimeout: l.RequestTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes, MaxConcurrent: l.MaxConcurrent}
}
