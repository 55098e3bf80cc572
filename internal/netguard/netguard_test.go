package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true}, {"2a00:1450:4001:82b::200e", true}, {"::ffff:8.8.8.8", true},
		{"127.0.0.1", false}, {"::1", false}, {"::1%lo", false}, {"fe80::1%eth0", false}, {"::ffff:127.0.0.1", false},
		{"10.1.2.3", false}, {"172.16.0.1", false}, {"192.168.1.1", false}, {"169.254.169.254", false},
		{"100.100.100.200", false}, {"0.0.0.0", false}, {"fd00:ec2::254", false}, {"64:ff9b::7f00:1", false},
		{"2002:7f00:1::", false}, {"224.0.0.1", false},
	} {
		if got := Public(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	blocked := errors.New("blocked")
	c := Control(Public, func(string) error { return blocked })
	for addr, want := range map[string]error{"8.8.8.8:443": nil, "127.0.0.1:80": blocked, "[::1%25lo]:80": blocked, "not an address": blocked} {
		if err := c("tcp", addr, nil); err != want {
			t.Errorf("%s: %v, want %v", addr, err, want)
		}
	}
}
