package wire

import (
	"bufio"
	"container/heap"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
)

// Mode is a signing scheme (docs/protocol.md §6).
type Mode string

// The signing schemes.
const (
	// MD5 is the legacy scheme of self-hosted Bitrix24: no replay protection, kept for interoperability.
	MD5 Mode = "md5"
	// HMACSHA256 is the hardened scheme: HMAC-SHA256 over the fields, a timestamp and a nonce.
	HMACSHA256 Mode = "hmac-sha256"
)

// ParseMode reads a mode name; "" means MD5.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", MD5:
		return MD5, nil
	case HMACSHA256:
		return HMACSHA256, nil
	}
	return "", fmt.Errorf("wire: unknown signing mode %q (want md5 or hmac-sha256)", s)
}

// Names of the fields the signatures use.
const (
	fieldHash      = "BX_HASH"
	fieldTimestamp = "BX_TIMESTAMP"
	fieldNonce     = "BX_NONCE"
	fieldSign      = "BX_SIGN"
)

// Licence returns a portal's public identity, BX_LICENCE: md5hex("BITRIX" + licenceKey + "LICENCE").
func Licence(licenceKey string) string {
	sum := md5.Sum([]byte("BITRIX" + licenceKey + "LICENCE"))
	return hex.EncodeToString(sum[:])
}

// Credentials are what one side needs to sign or verify: the mode and its secret(s).
type Credentials struct {
	Mode Mode
	// LicenceKey is the portal's licence key; in MD5 mode the shared secret is md5hex(LicenceKey).
	LicenceKey string
	// Secrets are the HMAC secrets of HMACSHA256 mode: the first signs, any of them verifies (rotation).
	Secrets []string
}

// Validate says what is missing.
func (c Credentials) Validate() error {
	switch c.Mode {
	case MD5, "":
		if c.LicenceKey == "" {
			return errors.New("wire: md5 signing needs a licence key")
		}
	case HMACSHA256:
		if len(c.Secrets) == 0 {
			return errors.New("wire: hmac-sha256 signing needs at least one secret")
		}
		for i, s := range c.Secrets {
			if s == "" {
				return fmt.Errorf("wire: hmac-sha256 secret %d is empty", i+1)
			}
		}
	default:
		return fmt.Errorf("wire: unknown signing mode %q", c.Mode)
	}
	return nil
}

// Signer signs outgoing packets. It is safe for concurrent use.
type Signer struct {
	mode      Mode
	md5Secret [32]byte // hex of md5(licenceKey)
	hmacKey   []byte
	clock     clock.Clock
	rand      io.Reader // the source of nonces: crypto/rand
}

// NewSigner makes a Signer for c. clk gives BX_TIMESTAMP (nil: the system clock).
func NewSigner(c Credentials, clk clock.Clock) (*Signer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Signer{mode: c.Mode, clock: clock.Or(clk), rand: rand.Reader}
	if s.mode == "" {
		s.mode = MD5
	}
	if s.mode == MD5 {
		sum := md5.Sum([]byte(c.LicenceKey))
		hex.Encode(s.md5Secret[:], sum[:])
	} else {
		s.hmacKey = []byte(c.Secrets[0])
	}
	return s, nil
}

// Sign returns fields with the signature appended: in hardened mode BX_TIMESTAMP, BX_NONCE (16 random bytes,
// hex) and BX_SIGN first, then BX_HASH. fields must not already hold any of these.
func (s *Signer) Sign(fields Fields) (Fields, error) {
	for _, f := range fields {
		switch f.Name {
		case fieldHash, fieldTimestamp, fieldNonce, fieldSign:
			return nil, fmt.Errorf("wire: fields to sign already hold %s", f.Name)
		}
	}
	out := make(Fields, len(fields), len(fields)+4)
	copy(out, fields)
	if s.mode == HMACSHA256 {
		var nonce [16]byte
		if _, err := io.ReadFull(s.rand, nonce[:]); err != nil {
			return nil, fmt.Errorf("wire: nonce: %w", err)
		}
		out = append(out,
			Field{fieldTimestamp, strconv.FormatInt(s.clock.Now().Unix(), 10)},
			Field{fieldNonce, hex.EncodeToString(nonce[:])},
			Field{fieldSign, string(HMACSHA256)})
	}
	var h [64]byte
	out = append(out, Field{fieldHash, string(s.appendHash(h[:0], out))})
	return out, nil
}

// appendHash appends the lower-case hex signature of fields (every field but BX_HASH, in order) to dst. It
// does not allocate when dst has room.
func (s *Signer) appendHash(dst []byte, fields Fields) []byte {
	if s.mode == HMACSHA256 {
		return appendHMAC(dst, s.hmacKey, fields)
	}
	return appendMD5(dst, &s.md5Secret, fields)
}

// writeSigned writes S (docs/protocol.md §6), the values of every field but BX_HASH joined with '|', into h.
func writeSigned(h hash.Hash, fields Fields) {
	w := bufio.NewWriterSize(h, 1024) // the values are copied into the hash a KiB at a time: no copy of S
	first := true
	for _, f := range fields {
		if f.Name == fieldHash {
			continue
		}
		if !first {
			_ = w.WriteByte('|')
		}
		first = false
		_, _ = w.WriteString(f.Value)
	}
	_ = w.Flush() // a hash never fails to write
}

// appendMD5 appends the legacy signature: md5hex(md5hex(S) + secret), where secret is md5hex(licence key).
func appendMD5(dst []byte, secret *[32]byte, fields Fields) []byte {
	h := md5.New()
	writeSigned(h, fields)
	var outer [64]byte
	var inner [md5.Size]byte
	hex.Encode(outer[:32], h.Sum(inner[:0]))
	copy(outer[32:], secret[:])
	sum := md5.Sum(outer[:])
	return hex.AppendEncode(dst, sum[:])
}

// appendHMAC appends the hardened signature: hex(HMAC-SHA256(key, S)).
func appendHMAC(dst []byte, key []byte, fields Fields) []byte {
	h := hmac.New(sha256.New, key)
	writeSigned(h, fields)
	var sum [sha256.Size]byte
	return hex.AppendEncode(dst, h.Sum(sum[:0]))
}

// Verify checks the signature of received fields against c, over the fields in the order received, in
// constant time. In hardened mode it then asks guard (which may be nil only in tests) about the timestamp and
// nonce. Errors: HASH_EMPTY without BX_HASH; LICENCE_ERROR for a wrong signature or a scheme other than the
// configured one (no downgrade, no unexpected BX_SIGN); REPLAY for a stale timestamp or a reused nonce.
func Verify(fields Fields, c Credentials, guard *ReplayGuard) error {
	got, ok := fields.Lookup(fieldHash)
	if !ok || got == "" || got == EmptyStub {
		return Errorf(CodeHashEmpty, "the packet has no %s", fieldHash)
	}
	sign, hasSign := fields.Lookup(fieldSign)
	mode := c.Mode
	if mode == "" {
		mode = MD5
	}
	switch {
	case mode == MD5 && hasSign:
		return Errorf(CodeLicence, "the packet is signed with %q but this receiver takes md5 signatures only", sign)
	case mode == HMACSHA256 && !hasSign:
		return Errorf(CodeLicence, "md5 signatures are refused: this receiver takes hmac-sha256 only")
	case mode == HMACSHA256 && sign != string(HMACSHA256):
		return Errorf(CodeLicence, "unknown signature scheme %q", sign)
	}
	var want, gotBytes [64]byte // the longest signature is 64 hex digits
	gotLen := copy(gotBytes[:], got)
	if len(got) > len(gotBytes) {
		gotLen = 0 // longer than any signature: compares with none
	}
	match := 0
	if mode == MD5 {
		if c.LicenceKey == "" {
			return Errorf(CodeLicence, "no licence key to verify with")
		}
		sum := md5.Sum([]byte(c.LicenceKey))
		var secret [32]byte
		hex.Encode(secret[:], sum[:])
		match = subtle.ConstantTimeCompare(appendMD5(want[:0], &secret, fields), gotBytes[:gotLen])
	} else {
		for _, s := range c.Secrets {
			if s == "" {
				continue
			}
			match |= subtle.ConstantTimeCompare(appendHMAC(want[:0], []byte(s), fields), gotBytes[:gotLen])
		}
	}
	if match != 1 {
		return Errorf(CodeLicence, "wrong signature")
	}
	if mode == HMACSHA256 && guard != nil {
		return guard.Check(fields.Get(fieldTimestamp), fields.Get(fieldNonce))
	}
	return nil
}

// ReplayGuard refuses hardened packets whose timestamp is too far from its clock and nonces it has seen
// within the window. Its memory is bounded: a nonce is kept until its timestamp leaves the window, and when
// 200 000 are held it refuses new packets rather than forget a nonce early. Safe for concurrent use.
type ReplayGuard struct {
	clock  clock.Clock
	window time.Duration
	max    int

	mu   sync.Mutex
	seen map[string]int64 // nonce -> unix second after which its timestamp is stale
	exp  expiryHeap
}

// DefaultReplayWindow is the clock difference a ReplayGuard accepts unless told otherwise.
const DefaultReplayWindow = 300 * time.Second

// maxNonces bounds the nonces a ReplayGuard holds: 200 000 hardened packets inside one window.
const maxNonces = 200_000

// NewReplayGuard makes a guard on clk (nil: the system clock) that accepts timestamps within window of it (0:
// DefaultReplayWindow) and holds at most 200 000 nonces.
func NewReplayGuard(clk clock.Clock, window time.Duration) *ReplayGuard {
	if window <= 0 {
		window = DefaultReplayWindow
	}
	return &ReplayGuard{clock: clock.Or(clk), window: window, max: maxNonces, seen: map[string]int64{}}
}

// Check accepts a timestamp and nonce once, or returns REPLAY (or BAD_PACKET for malformed values).
func (g *ReplayGuard) Check(timestamp, nonce string) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return Errorf(CodeBadPacket, "bad %s %.20q", fieldTimestamp, timestamp)
	}
	if len(nonce) < 32 || len(nonce) > 128 {
		return Errorf(CodeBadPacket, "%s must be at least 16 random bytes in hex", fieldNonce)
	}
	if _, err := hex.DecodeString(nonce); err != nil {
		return Errorf(CodeBadPacket, "%s is not hex", fieldNonce)
	}
	now := g.clock.Now().Unix()
	w := int64(g.window / time.Second)
	if ts < now-w || ts > now+w {
		return Errorf(CodeReplay, "timestamp %d is %ds from this server's clock (more than %ds)", ts, ts-now, w)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.exp) > 0 && g.exp[0].at < now-w {
		delete(g.seen, g.exp[0].nonce)
		heap.Pop(&g.exp)
	}
	if _, dup := g.seen[nonce]; dup {
		return Errorf(CodeReplay, "nonce was already used")
	}
	if len(g.seen) >= g.max {
		return Errorf(CodeReplay, "too many packets inside the replay window (%d nonces held)", g.max)
	}
	g.seen[nonce] = ts
	heap.Push(&g.exp, nonceAt{nonce: nonce, at: ts})
	return nil
}

// held returns the number of nonces held.
func (g *ReplayGuard) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

type nonceAt struct {
	nonce string
	at    int64
}

type expiryHeap []nonceAt

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(nonceAt)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
