package wire

import (
	"encoding/base64"
	"reflect"
	"testing"
)

func TestProfileOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		want    Profile
	}{
		{"22.800.0", Current},
		{"22.800", Current},
		{"22.1000.0", Current},
		{"23.0.0", Current},
		{"25.100.300.1", Current},
		{"22.799.9", Legacy},
		{"21.1100.0", Legacy},
		{"18.7.150", Legacy},
		{"1.0.0", Legacy},
		{"", Legacy},
		{"olctl-go/1", Legacy},
		{"22.800.x", Legacy},
		{"22..800", Legacy},
	} {
		if got := ProfileOf(tc.version); got != tc.want {
			t.Errorf("ProfileOf(%q) = %v, want %v", tc.version, got, tc.want)
		}
	}
	if ProfileOf(LegacyVersion) != Legacy || ProfileOf(CurrentVersion) != Current {
		t.Fatal("the default versions must name their own profiles")
	}
	if Legacy.Version() != LegacyVersion || Current.Version() != CurrentVersion {
		t.Fatal("Profile.Version")
	}
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Profile{"legacy": Legacy, "LEGACY": Legacy, " current ": Current, "": Current} {
		got, err := ParseProfile(in)
		if err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %v, %v; want %v", in, got, err, want)
		}
		if in != "" && in != " current " {
			if again, _ := ParseProfile(got.String()); again != got {
				t.Errorf("%v does not read back", got)
			}
		}
	}
	if _, err := ParseProfile("b24"); err == nil {
		t.Fatal(`ParseProfile("b24") must fail`)
	}
	var zero Profile
	if zero != Current {
		t.Fatal("the zero Profile is Current")
	}
}

// TestEmptyArrayStubUndone: receivers undo both stubs at any depth and in DATA itself, whatever the profile
// the packet claims.
func TestEmptyArrayStubUndone(t *testing.T) {
	t.Parallel()
	for _, profile := range []Profile{Legacy, Current} {
		data := []any{NewMap("files", []any{}, "text", "", "nested", []any{NewMap("a", []any{}, "b", "0")})}
		p := &Packet{Command: "receivingMessage", Connector: "botframework", Line: "3", Data: data, Profile: profile}
		fields, err := p.Encode(ToPortal)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Parse(fields, ToPortal)
		if err != nil {
			t.Fatal(err)
		}
		if err := got.DecodeData(); err != nil {
			t.Fatal(err)
		}
		// A legacy sender's empty array is #EMPTY#, which reads as "": the legacy profile cannot tell them apart.
		var empty any = []any{}
		if profile == Legacy {
			empty = ""
		}
		want := []any{NewMap("files", empty, "text", "", "nested", []any{NewMap("a", empty, "b", "0")})}
		if !reflect.DeepEqual(got.Data, want) {
			t.Errorf("%v: decoded %#v, want %#v", profile, got.Data, want)
		}
	}
	for _, stub := range []string{EmptyStub, EmptyArrayStub} {
		ser, _ := Serialize(stub)
		p := &Packet{RawData: b64(ser)}
		if err := p.DecodeData(); err != nil {
			t.Fatal(err)
		}
		items, err := p.Items()
		if err != nil || len(items) != 0 {
			t.Errorf("DATA %s: items %v, %v; want none", ser, items, err)
		}
		if UnstubField(stub) != "" {
			t.Errorf("UnstubField(%q) must be empty", stub)
		}
	}
}

// TestEncodeRegion: BX_REGION goes after BX_TYPE in a current portal → server packet, and never in legacy or
// server → portal ones.
func TestEncodeRegion(t *testing.T) {
	t.Parallel()
	p := &Packet{Command: "saveSettings", Licence: "l", Domain: "https://p", Version: CurrentVersion, Connector: "botframework", Line: "3", Region: "eu", Data: []any{}}
	f, err := p.Encode(ToServer)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fieldCommand, fieldLicence, fieldDomain, fieldType, fieldRegion, fieldVersion, fieldConnector, fieldLine, fieldData}
	if !reflect.DeepEqual(f.Names(), want) {
		t.Fatalf("current: %v, want %v", f.Names(), want)
	}
	if f.Get(fieldData) != b64([]byte(`s:13:"#EMPTY_ARRAY#";`)) {
		t.Fatalf("current DATA of no arguments: %s", f.Get(fieldData))
	}
	parsed, err := Parse(f, ToServer)
	if err != nil || parsed.Region != "eu" || parsed.Profile != Current {
		t.Fatalf("parsed %+v, %v", parsed, err)
	}
	p.Profile, p.Version = Legacy, LegacyVersion
	if f, _ = p.Encode(ToServer); has(f, fieldRegion) || f.Get(fieldData) != b64([]byte(`s:7:"#EMPTY#";`)) {
		t.Fatalf("legacy: %v", f)
	}
	p.Profile = Current
	if f, _ = p.Encode(ToPortal); has(f, fieldRegion) {
		t.Fatalf("server → portal: %v", f.Names())
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func has(f Fields, name string) bool { _, ok := f.Lookup(name); return ok }
