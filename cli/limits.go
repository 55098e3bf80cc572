package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/router"
)

// serverLimitFlags are the flags of a server command that bound what one client can hold of it (the same
// for `olctl serve` and `olctl connector serve`).
type serverLimitFlags struct {
	readTimeout    time.Duration
	requestTimeout time.Duration
	maxConcurrent  int
}

func (l *serverLimitFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&l.readTimeout, "read-timeout", 30*time.Second, "most time a client may take to send a whole request (headers and body)")
	fl.DurationVar(&l.requestTimeout, "request-timeout", 60*time.Second, "deadline of a request's handling")
	fl.IntVar(&l.maxConcurrent, "max-concurrent", 1024, "requests handled at once; more are answered 503 with Retry-After")
}

// limits returns the flags as router.ServerLimits, or a usage error naming the flag that is not positive.
func (l *serverLimitFlags) limits() (router.ServerLimits, error) {
	switch {
	case l.readTimeout <= 0:
		return router.ServerLimits{}, usageErrorf("--read-timeout must be positive")
	case l.requestTimeout <= 0:
		return router.ServerLimits{}, usageErrorf("--request-timeout must be positive")
	case l.maxConcurrent <= 0:
		return router.ServerLimits{}, usageErrorf("--max-concurrent must be positive")
	}
	return router.ServerLimits{ReadTimeout: l.readTimeout, RequestTimeout: l.requestTimeout, MaxConcurrent: l.maxConcurrent}, nil
}
