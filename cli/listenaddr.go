package cli

import (
	"fmt"
	"io"
	"net"
)

// warnUnreachableDomain warns on w when a receiver without --domain listens on every address (":8090"): the
// domain it would announce, http://[::]:8090, names no host the connector server can reach.
func warnUnreachableDomain(w io.Writer, listen string, addr net.Addr, domain string) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return
	}
	fmt.Fprintf(w, "olctl: warning: --domain is not set and --listen %s binds every address: %s is not a domain the connector "+
		"server can reach; set --domain (OLCTL_DOMAIN) to the URL it reaches this receiver at, e.g. http://portal.example.com:%d\n",
		listen, domain, tcp.Port)
}
