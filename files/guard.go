package files

import (
	"net/netip"
	"net/url"
	"syscall"

	"github.com/olctl/olctl/internal/netguard"
)

// publicAddr reports whether a is a public unicast address a download may connect to (netguard.Public).
func publicAddr(a netip.Addr) bool { return netguard.Public(a) }

// dialGuard is a net.Dialer Control function: it runs after name resolution, on the address about to be
// connected, for the first request and for every redirect alike.
func dialGuard(network, address string, c syscall.RawConn) error {
	return guardWith(publicAddr)(network, address, c)
}

// guardWith returns a Control function that lets only the addresses allow accepts through.
func guardWith(allow func(netip.Addr) bool) func(string, string, syscall.RawConn) error {
	return netguard.Control(allow, func(address string) error { return &BlockedError{Addr: address} })
}

// redact returns a URL fit for logs and error messages: scheme, host and path, without credentials, query or
// fragment (they often carry tokens).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if len(raw) > 64 {
			raw = raw[:64] + "…"
		}
		return "unparsable URL " + quote(raw)
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

func quote(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' {
			b = append(b, '?')
			continue
		}
		b = append(b, string(r)...)
	}
	return string(append(b, '"'))
}
