// Package netguard tells public unicast addresses from the rest (loopback, private, link-local, cloud
// metadata, documentation, multicast, NAT64 and 6to4 ranges that embed any of those). The module's outgoing
// connections to addresses a remote peer chose — attachment downloads, a portal's BX_DOMAIN, a chat's Bot
// Framework service URL — go only to public ones unless private networks are allowed. The check runs on the
// resolved address, for the first request and every redirect alike: in the dialer of the module's own
// clients, and through the connection trace of a client a caller supplies (connector's guard).
package netguard

import (
	"net/netip"
	"syscall"
)

// blockedPrefixes are the networks that are not public:
// everything that is not a public unicast address. IPv4-mapped IPv6 addresses are unmapped before the check.
var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this" network, 0.0.0.0 reaches the local host
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT (also some clouds' metadata, 100.100.100.200)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata 169.254.169.254
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b::/96",    // NAT64: embeds an IPv4 address, possibly a private one
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard
		"2001::/32",       // Teredo
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4: embeds an IPv4 address
		"fc00::/7",        // unique local (also AWS's fd00:ec2::254 metadata)
		"fe80::/10",       // link-local
		"fec0::/10",       // deprecated site-local
		"ff00::/8",        // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Public reports whether a is a public unicast address. The check is of the
// address without its IPv6 zone (a netip.Prefix never contains a zoned address, so "::1%lo" would pass it).
func Public(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Control returns a net.Dialer Control function that lets only the addresses allow accepts through; any
// other connection fails, before a byte is sent, with the error blocked returns for its address.
func Control(allow func(netip.Addr) bool, blocked func(address string) error) func(string, string, syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !allow(ap.Addr()) {
			return blocked(address)
		}
		return nil
	}
}
