package wire

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
)

func testFields() Fields {
	return Fields{{fieldCommand, "testConnect"}, {fieldType, "CP"}, {fieldLine, "3"}, {fieldConnector, "botframework"}, {fieldVersion, "1"}, {fieldData, "czo3OiIjRU1QVFkjIjs="}}
}

func TestSignVerifyModes(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	fake := clock.NewFake(now)
	md5c := Credentials{Mode: MD5, LicenceKey: "KEY"}
	hmacc := Credentials{Mode: HMACSHA256, Secrets: []string{"new-secret", "old-secret"}}
	oldOnly := Credentials{Mode: HMACSHA256, Secrets: []string{"old-secret"}}
	sign := func(c Credentials) Fields {
		s, err := NewSigner(c, fake)
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.Sign(testFields())
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	md5f := sign(md5c)
	hmacOld := sign(oldOnly)
	if md5f[len(md5f)-1].Name != fieldHash || len(md5f) != 7 {
		t.Fatalf("md5 fields %v", md5f.Names())
	}
	if got := hmacOld.Names(); len(got) != 10 || got[6] != fieldTimestamp || got[7] != fieldNonce || got[8] != fieldSign || got[9] != fieldHash {
		t.Fatalf("hmac fields %v", got)
	}
	if hmacOld.Get(fieldTimestamp) != strconv.FormatInt(now.Unix(), 10) || len(hmacOld.Get(fieldNonce)) != 32 {
		t.Fatalf("timestamp/nonce %v", hmacOld)
	}
	for _, tc := range []struct {
		name   string
		fields Fields
		creds  Credentials
		want   error
	}{
		{"md5 ok", md5f, md5c, nil},
		{"md5 wrong key", md5f, Credentials{Mode: MD5, LicenceKey: "OTHER"}, CodeLicence},
		{"hmac signed with a rotated-out secret still verifies", hmacOld, hmacc, nil},
		{"md5 packet to an hmac receiver", md5f, hmacc, CodeLicence},
		{"hmac packet to an md5 receiver", hmacOld, md5c, CodeLicence},
		{"hmac wrong secret", hmacOld, Credentials{Mode: HMACSHA256, Secrets: []string{"nope"}}, CodeLicence},
		{"no hash", testFields(), md5c, CodeHashEmpty},
		{"stub hash", append(testFields(), Field{fieldHash, EmptyStub}), md5c, CodeHashEmpty},
		{"unknown scheme", func() Fields {
			f := append(Fields(nil), hmacOld...)
			f[8].Value = "hmac-sha1"
			return f
		}(), hmacc, CodeLicence},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.fields, tc.creds, NewReplayGuard(fake, 0))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefusesSignedFields(t *testing.T) {
	t.Parallel()
	s, _ := NewSigner(Credentials{LicenceKey: "k"}, nil)
	if _, err := s.Sign(append(testFields(), Field{fieldHash, "x"})); err == nil {
		t.Fatal("signing fields that hold BX_HASH must fail")
	}
	for _, c := range []Credentials{{}, {Mode: HMACSHA256}, {Mode: HMACSHA256, Secrets: []string{""}}, {Mode: "sha1", LicenceKey: "k"}} {
		if _, err := NewSigner(c, nil); err == nil {
			t.Errorf("NewSigner(%+v) must fail", c)
		}
	}
	if _, err := ParseMode("rot13"); err == nil {
		t.Error("ParseMode must refuse unknown modes")
	}
	if m, _ := ParseMode(""); m != MD5 {
		t.Error("the default mode is md5")
	}
}

func TestReplayGuard(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_800_000_000, 0)
	fake := clock.NewFake(start)
	g := NewReplayGuard(fake, 0)
	g.max = 3
	ts := func(d time.Duration) string { return strconv.FormatInt(start.Add(d).Unix(), 10) }
	nonce := func(i int) string { return "0123456789abcdef0123456789abcd" + strconv.Itoa(10+i) }
	for _, tc := range []struct {
		name  string
		ts    string
		nonce string
		want  Code
	}{
		{"fresh", ts(0), nonce(1), ""},
		{"reused nonce", ts(0), nonce(1), CodeReplay},
		{"300 s old is accepted", ts(-300 * time.Second), nonce(2), ""},
		{"301 s old is stale", ts(-301 * time.Second), nonce(3), CodeReplay},
		{"301 s ahead is refused", ts(301 * time.Second), nonce(3), CodeReplay},
		{"short nonce", ts(0), "abcd", CodeBadPacket},
		{"non-hex nonce", ts(0), "zz23456789abcdef0123456789abcdef", CodeBadPacket},
		{"bad timestamp", "soon", nonce(4), CodeBadPacket},
		{"third nonce fills the cache", ts(0), nonce(5), ""},
		{"cache full", ts(0), nonce(6), CodeReplay},
	} {
		err := g.Check(tc.ts, tc.nonce)
		if tc.want == "" && err != nil || tc.want != "" && CodeOf(err) != tc.want {
			t.Fatalf("%s: Check = %v, want %q", tc.name, err, tc.want)
		}
	}
	// Once the window has passed the nonces are forgotten, and the memory with them.
	fake.Advance(301 * time.Second)
	if err := g.Check(strconv.FormatInt(fake.Now().Unix(), 10), nonce(7)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if g.held() != 1 {
		t.Fatalf("held %d nonces, want 1", g.held())
	}
	// A window of one minute refuses what the default accepts.
	short := NewReplayGuard(fake, time.Minute)
	old := strconv.FormatInt(fake.Now().Add(-61*time.Second).Unix(), 10)
	if err := short.Check(old, nonce(8)); CodeOf(err) != CodeReplay {
		t.Fatalf("61 s old in a 60 s window: %v", err)
	}
	if err := g.Check(old, nonce(8)); err != nil {
		t.Fatalf("61 s old in the default window: %v", err)
	}
}

func TestReplayGuardConcurrentSameNonceAcceptedOnce(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	g := NewReplayGuard(fake, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g.Check("1800000000", "00112233445566778899aabbccddeeff") == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("accepted %d times, want once", ok)
	}
}

func TestLicence(t *testing.T) {
	t.Parallel()
	if got := Licence("DEMO-LICENCE-KEY-0001"); got != "a12048dc9adc36cde537f5dfab65ac40" {
		t.Fatalf("Licence = %s", got)
	}
}

// TestSigningDoesNotCopyThePacket: a signature hashes the fields where they lie, so that what it allocates (the
// hash states and a KiB of copy buffer) does not grow with the packet: a 1 MiB DATA costs what a small one does.
// Not parallel: it reads the allocations of the whole process.
func TestSigningDoesNotCopyThePacket(t *testing.T) {
	large := testFields()
	large[len(large)-1].Value = strings.Repeat("YTox", 1<<18)
	for _, c := range []Credentials{{Mode: MD5, LicenceKey: "k"}, {Mode: HMACSHA256, Secrets: []string{"s"}}} {
		s, _ := NewSigner(c, nil)
		var buf [64]byte
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			s.appendHash(buf[:0], large)
		}
		runtime.ReadMemStats(&after)
		if n := (after.TotalAlloc - before.TotalAlloc) / 10; n > 8<<10 {
			t.Errorf("%s: %d bytes allocated per signature of a 1 MiB packet", c.Mode, n)
		}
	}
}
