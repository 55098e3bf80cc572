package routertest_test

import (
	"encoding/base64"
	"testing"

	"github.com/olctl/olctl/router/routertest"
	"github.com/olctl/olctl/wire"
)

// TestSenderProfiles: a Sender stubs empty values as its profile says, and signs what it encodes.
func TestSenderProfiles(t *testing.T) {
	creds := wire.Credentials{Mode: wire.MD5, LicenceKey: "k"}
	for _, c := range []struct {
		profile wire.Profile
		data    string
	}{
		{wire.Current, `a:1:{i:0;a:2:{s:5:"files";s:13:"#EMPTY_ARRAY#";s:4:"text";s:7:"#EMPTY#";}}`},
		{wire.Legacy, `a:1:{i:0;a:2:{s:5:"files";s:7:"#EMPTY#";s:4:"text";s:7:"#EMPTY#";}}`},
	} {
		s := routertest.NewSender(t, creds, nil, "botframework.skype", "3")
		s.Profile = c.profile
		f := s.Fields(t, "receivingMessage", []any{wire.NewMap("files", []any{}, "text", "")})
		raw, err := base64.StdEncoding.DecodeString(f.Get("DATA"))
		if err != nil || string(raw) != c.data {
			t.Fatalf("%s: DATA %s (%v), want %s", c.profile, raw, err, c.data)
		}
		if err := wire.Verify(f, creds, nil); err != nil {
			t.Fatalf("%s: %v", c.profile, err)
		}
		if f.Get("CONNECTOR") != "botframework.skype" || f.Get("LINE") != "3" {
			t.Fatalf("%s: fields %v", c.profile, f)
		}
	}
}

// TestLoadVectors: the vectors keep their field order and name their profile (none named: legacy).
func TestLoadVectors(t *testing.T) {
	vs := routertest.LoadVectors(t, "../../wire/testdata/vectors/packets.json")
	seen := map[string]routertest.Vector{}
	for _, v := range vs {
		seen[v.Name] = v
	}
	legacy, current := seen["server_to_portal_receivingMessage"], seen["server_to_portal_setChatName_current"]
	if legacy.Profile != wire.Legacy || current.Profile != wire.Current {
		t.Fatalf("profiles %v, %v", legacy.Profile, current.Profile)
	}
	if n := legacy.Fields.Names(); len(n) == 0 || n[0] != "BX_COMMAND" || n[len(n)-1] != "BX_HASH" {
		t.Fatalf("field order %v", n)
	}
	if err := wire.Verify(legacy.Fields, legacy.Credentials(), nil); err != nil {
		t.Fatal(err)
	}
	hmac := seen["server_to_portal_testConnect_hmac"]
	if c := hmac.Credentials(); c.Mode != wire.HMACSHA256 || len(c.Secrets) != 1 {
		t.Fatalf("credentials %+v", c)
	}
}
