// Package httpserve is the one policy of this module's HTTP servers against clients that hold them: how long a
// client may take to send its headers and its body, how long a handler may run, how large the headers may be
// and how many requests are handled at once (the rest are answered 503 at once, so that a flood costs a
// refusal, not a goroutine that waits). The portal receiver, the connector server and the fake Bot Framework
// service build their servers with it; router.ServerLimits and connector.Config expose the figures.
package httpserve

import (
	"context"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/olctl/olctl/wire"
)

// Defaults of Limits.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultRequestTimeout    = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxConcurrent     = 1024
)

// Limits bound what one request may hold of a server. The zero value of each field is its default.
type Limits struct {
	// ReadHeaderTimeout is how long a client may take to send its request headers. Default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client may take to send its whole request, headers and body: a body that
	// trickles in fails when it passes. Default 30 s (8 MiB at 2 Mbit/s).
	ReadTimeout time.Duration
	// RequestTimeout is the deadline of a request's context, from the moment its handler starts: work under
	// the request's context ends then. Default 60 s, the time a Bitrix sender waits for an answer.
	RequestTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its next request. Default 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxConcurrent is how many requests are handled at once; one more is answered 503 with Retry-After
	// at once. Default 1024.
	MaxConcurrent int
}

// WithDefaults returns l with each zero (or negative) field set to its default.
func (l Limits) WithDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.RequestTimeout, DefaultRequestTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = DefaultMaxConcurrent
	}
	return l
}

// Server returns an http.Server that serves h under l; errorLog may be nil.
func (l Limits) Server(h http.Handler, errorLog *log.Logger) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           l.Handler(h),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		// A backstop for a handler that does not heed its context: the connection is closed a little after
		// the request's deadline.
		WriteTimeout:   l.ReadTimeout + l.RequestTimeout + 5*time.Second,
		IdleTimeout:    l.IdleTimeout,
		MaxHeaderBytes: l.MaxHeaderBytes,
		ErrorLog:       errorLog,
	}
}

// Handler returns h behind the concurrency cap and the request deadline of l.
func (l Limits) Handler(h http.Handler) http.Handler {
	l = l.WithDefaults()
	slots := make(chan struct{}, l.MaxConcurrent)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			Busy(w)
			return
		}
		defer func() { <-slots }()
		ctx, cancel := context.WithTimeout(r.Context(), l.RequestTimeout)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Busy answers a request refused because the server is full: 503, Retry-After: 1, and the protocol's JSON
// envelope with INTERNAL_ERROR (send again).
func Busy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(1))
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(wire.ErrorBody(wire.Errorf(wire.CodeInternal, "the server is handling as many requests as it may; send again")))
}

// Gone reports whether a request's client has gone away (its context canceled, not timed out): there is
// nobody to answer, and the handler should stop without writing (Abort).
func Gone(r *http.Request) bool {
	return r.Context().Err() == context.Canceled
}

// Abort ends the current handler without an answer and closes the connection (http.ErrAbortHandler, which
// the server does not log). It must be called outside any recover of the handler's own.
func Abort() { panic(http.ErrAbortHandler) }
