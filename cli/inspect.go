package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/olctl/olctl/inspect"
)

// inspectFlags are the servers' --inspect and --inspect-token: the live inspector page on its own
// listener, loopback only unless a token guards it.
type inspectFlags struct {
	Addr  string // listen address of the inspector; "" is off
	Token string // required of every request when set (cookie after ?token=, or a bearer token)
}

func (o *inspectFlags) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "inspect", "", "serve the live inspector page at this address (off by default; loopback only without --inspect-token)")
	fl.StringVar(&o.Token, "inspect-token", "", "token the inspector requires (open it once with ?token=TOKEN); needed to listen beyond loopback")
}

// check refuses a token without an address and, without a token, an address beyond loopback.
func (o *inspectFlags) check() error {
	switch {
	case o.Addr == "" && o.Token != "":
		return usageErrorf("--inspect-token needs --inspect ADDR")
	case o.Addr != "" && o.Token == "" && !inspect.LoopbackAddr(o.Addr):
		return usageErrorf("--inspect %q listens beyond loopback: give --inspect-token, or a loopback address such as 127.0.0.1:8099", o.Addr)
	}
	return nil
}

// options returns the recorder options of the server's Config: nil when the inspector is off.
func (o *inspectFlags) options() *inspect.Options {
	if o.Addr == "" {
		return nil
	}
	return &inspect.Options{}
}

// start serves h, guarded, on --inspect and says where; stop closes it (streams and all). Off, it does
// nothing.
func (o *inspectFlags) start(errOut io.Writer, h http.Handler, what string) (stop func(), err error) {
	if o.Addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--inspect: %w", err)}
	}
	srv := &http.Server{Handler: inspect.Guard(h, o.Token), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(errOut, "inspector: %v\n", err)
		}
	}()
	access := "loopback only"
	if o.Token != "" {
		access = "open it once with ?token=<--inspect-token>"
	}
	fmt.Fprintf(errOut, "%s inspector on http://%s/ (%s)\n", what, ln.Addr(), access)
	return func() { _ = srv.Close() }, nil
}
