package users

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// Outcome says what Sync did.
type Outcome uint8

// The outcomes of Sync.
const (
	// Created: the user was new; a record was inserted.
	Created Outcome = iota + 1
	// Updated: the user's hash differed from the stored one; the record was rewritten.
	Updated
	// Unchanged: the stored record is current; nothing was written.
	Unchanged
)

// String returns "created", "updated" or "unchanged".
func (o Outcome) String() string {
	switch o {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// AvatarImporter imports a user's picture. *files.Importer is one.
type AvatarImporter interface {
	Import(ctx context.Context, atts []openlines.File) ([]files.FileID, []files.Failure)
}

// Defaults of a Syncer.
const (
	DefaultCacheSize = 10_000
	DefaultCacheTTL  = 10 * time.Minute
	// MaxFieldBytes bounds each stored text field (the size of a MySQL TEXT).
	MaxFieldBytes = 65535
	// DefaultGuestName is the name of a user who gave none (Bitrix's English).
	DefaultGuestName = "Guest"
)

// Option configures a Syncer.
type Option func(*Syncer)

// WithAvatars imports each user's picture through imp and keeps the file id as the user's photo. Default:
// none (the picture URL is recorded, no photo is imported).
func WithAvatars(imp AvatarImporter) Option {
	return func(s *Syncer) { s.avatars = imp }
}

// WithLogger sets the logger avatar failures are reported to. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(s *Syncer) {
		if l != nil {
			s.log = l
		}
	}
}

// WithGuestName sets the name of a user with neither name nor last_name nor title. Default DefaultGuestName.
func WithGuestName(name string) Option {
	return func(s *Syncer) {
		if name != "" {
			s.guest = name
		}
	}
}

// WithCacheSize bounds the in-process cache of user hashes (entries). Default DefaultCacheSize; n <= 0
// turns the cache off (every Sync reads the store). When full, an arbitrary entry is evicted.
func WithCacheSize(n int) Option {
	return func(s *Syncer) { s.cacheSize = n }
}

// WithCacheTTL sets how long a cached hash is trusted. Another process may change the record meanwhile;
// after the TTL the store is read again. Default DefaultCacheTTL (10 min); d <= 0 keeps the default.
func WithCacheTTL(d time.Duration) Option {
	return func(s *Syncer) {
		if d > 0 {
			s.cacheTTL = d
		}
	}
}

// WithClock sets the clock of the cache TTL. Default clock.System().
func WithClock(c clock.Clock) Option {
	return func(s *Syncer) { s.clock = clock.Or(c) }
}

// Syncer maps external users to internal ones (docs/protocol.md §8.2). Safe for concurrent use.
type Syncer struct {
	store     Store
	avatars   AvatarImporter
	log       *slog.Logger
	cacheSize int
	cacheTTL  time.Duration
	clock     clock.Clock
	guest     string

	seed  maphash.Seed
	mu    sync.RWMutex
	cache map[cacheKey]cacheEntry

	flightMu sync.Mutex
	flights  map[flightKey]*flight
}

type cacheKey struct{ connector, id string }

type cacheEntry struct {
	id      InternalID
	fp      uint64 // maphash of the canonical serialization
	expires int64  // unix nanoseconds
}

type flightKey struct {
	cacheKey
	sum [md5.Size]byte
}

type flight struct {
	done chan struct{}
	id   InternalID
	err  error
}

// NewSyncer returns a Syncer over store.
func NewSyncer(store Store, opts ...Option) *Syncer {
	s := &Syncer{
		store:     store,
		log:       slog.New(slog.DiscardHandler),
		cacheSize: DefaultCacheSize,
		cacheTTL:  DefaultCacheTTL,
		clock:     clock.System(),
		guest:     DefaultGuestName,
		flights:   map[flightKey]*flight{},
		seed:      maphash.MakeSeed(),
	}
	for _, o := range opts {
		o(s)
	}
	if s.cacheSize > 0 {
		s.cache = make(map[cacheKey]cacheEntry, min(s.cacheSize, 1024))
	}
	return s
}

// Sync makes sure the portal has a current record of the external user u of connector and returns its
// internal id. The key is "<connector>|<u.ID>". The md5 of u's canonical serialization (CanonicalJSON) is
// compared with the stored one: no record → Created; a different hash → Updated; the same → Unchanged, with no
// write, and with no read either when the hash is cached. If LastName is empty and Name is exactly two words,
// they are split. With WithAvatars, a new picture URL is imported and becomes the photo; a user without a
// picture keeps the photo it had; a failed import is logged and leaves the photo as it was.
//
// Errors: a user without id is CONNECTOR_PROXY_NO_USER_IM; a missing connector, an overlong key or field is
// CONNECTOR_PROXY_NO_ADD_USER (naming the field); store errors are returned wrapped.
func (s *Syncer) Sync(ctx context.Context, connector string, u openlines.User) (InternalID, Outcome, error) {
	if u.ID == "" {
		return 0, 0, wire.Errorf(wire.CodeNoUserIM, "users: the user of connector %q has no id", connector)
	}
	if connector == "" || strings.Contains(connector, "|") {
		return 0, 0, wire.Errorf(wire.CodeNoAddUser, "users: connector %q: want a non-empty connector id without '|'", connector)
	}
	if s.store == nil {
		return 0, 0, errors.New("users: the syncer has no store")
	}
	k := cacheKey{connector, u.ID}
	bp := getBuf()
	*bp = appendCanonical((*bp)[:0], &u)
	// The cache compares a fast keyed 64-bit fingerprint of the canonical bytes (seeded per Syncer, so it
	// cannot be steered by crafted input); the md5 that the store keeps is computed only on a miss.
	fp := maphash.Bytes(s.seed, *bp)
	if s.cache != nil {
		now := s.clock.Now().UnixNano()
		s.mu.RLock()
		e, ok := s.cache[k]
		s.mu.RUnlock()
		if ok && e.fp == fp && now < e.expires {
			putBuf(bp)
			return e.id, Unchanged, nil
		}
	}
	sum := md5.Sum(*bp)
	putBuf(bp)
	rec, err := s.record(connector, &u, sum)
	if err != nil {
		return 0, 0, err
	}
	// Concurrent syncs of the same user with the same data in this process share one trip to the store.
	fk := flightKey{k, sum}
	s.flightMu.Lock()
	if f, ok := s.flights[fk]; ok {
		s.flightMu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		if f.err == nil {
			return f.id, Unchanged, nil // the leader did the work: for this call the record was current
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		// The leader failed (perhaps its own context ended): try on our own.
		id, out, err := s.syncStore(ctx, rec, &u, fp)
		return id, out, err
	}
	f := &flight{done: make(chan struct{})}
	s.flights[fk] = f
	s.flightMu.Unlock()

	id, out, err := s.syncStore(ctx, rec, &u, fp)
	f.id, f.err = id, err
	s.flightMu.Lock()
	delete(s.flights, fk)
	s.flightMu.Unlock()
	close(f.done)
	return id, out, err
}

// record builds the stored record of u: names split, text cleaned and bounded.
func (s *Syncer) record(connector string, u *openlines.User, sum [md5.Size]byte) (User, error) {
	key := Key(connector, u.ID)
	if len(key) > MaxKeyBytes {
		return User{}, wire.Errorf(wire.CodeNoAddUser, "users: key %.40q… is %d bytes, at most %d", key, len(key), MaxKeyBytes)
	}
	if !utf8.ValidString(key) {
		return User{}, wire.Errorf(wire.CodeNoAddUser, "users: user id %q is not valid UTF-8", u.ID)
	}
	r := User{
		Key:        key,
		Connector:  connector,
		ExternalID: u.ID,
		Name:       u.Name,
		LastName:   u.LastName,
		Title:      u.Title,
		URL:        u.URL,
		Gender:     gender(u.Gender),
		Email:      u.Email,
		Phone:      u.Phone,
		PictureURL: u.Picture.URL,
		Hash:       hex.EncodeToString(sum[:]),
	}
	if r.LastName == "" { // split on single spaces into exactly two parts (docs/protocol.md §8.2)
		if first, last, ok := strings.Cut(r.Name, " "); ok && !strings.Contains(last, " ") {
			r.Name, r.LastName = first, last
		}
	}
	if r.Name == "" && r.LastName == "" {
		r.Name = r.Title
		if r.Name == "" {
			r.Name = s.guest
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", &r.Name}, {"last_name", &r.LastName}, {"title", &r.Title}, {"url", &r.URL}, {"gender", &r.Gender},
		{"email", &r.Email}, {"phone", &r.Phone}, {"picture.url", &r.PictureURL}} {
		if len(*f.v) > MaxFieldBytes {
			return User{}, wire.Errorf(wire.CodeNoAddUser, "users: user %s: field %s is %d bytes, at most %d", key, f.name, len(*f.v), MaxFieldBytes)
		}
		*f.v = clean(*f.v)
	}
	return r, nil
}

// gender is PERSONAL_GENDER: "M" for male, "F" for female, else "".
func gender(g string) string {
	switch g {
	case "male":
		return "M"
	case "female":
		return "F"
	}
	return ""
}

// syncStore compares with the store and writes what differs. It retries when a concurrent writer got in
// between (a create that lost the race, a record deleted under an update).
func (s *Syncer) syncStore(ctx context.Context, rec User, u *openlines.User, fp uint64) (InternalID, Outcome, error) {
	for attempt := 0; attempt < 3; attempt++ {
		old, err := s.store.Get(ctx, rec.Key)
		switch {
		case err == nil:
			if old.Hash == rec.Hash {
				s.remember(rec, old.ID, fp)
				return old.ID, Unchanged, nil
			}
			next := rec
			next.ID = old.ID
			next.PictureURL, next.PhotoID = old.PictureURL, old.PhotoID
			if rec.PictureURL != "" && rec.PictureURL != old.PictureURL {
				if photo, ok := s.avatar(ctx, rec.Key, u); ok {
					next.PictureURL, next.PhotoID = rec.PictureURL, photo
				}
			}
			err := s.store.Update(ctx, next)
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile: create it again
			}
			if err != nil {
				return 0, 0, err
			}
			s.remember(rec, old.ID, fp)
			return old.ID, Updated, nil
		case errors.Is(err, ErrNotFound):
			next := rec
			if next.PictureURL != "" {
				if photo, ok := s.avatar(ctx, rec.Key, u); ok {
					next.PhotoID = photo
				} else if s.avatars != nil {
					next.PictureURL = "" // not imported: a later change retries it
				}
			}
			id, err := s.store.Create(ctx, next)
			if errors.Is(err, ErrExists) {
				continue // another sync created it first: compare with its record
			}
			if err != nil {
				return 0, 0, err
			}
			s.remember(rec, id, fp)
			return id, Created, nil
		default:
			return 0, 0, err
		}
	}
	return 0, 0, fmt.Errorf("users: sync %s: the record kept changing under concurrent writers", rec.Key)
}

func (s *Syncer) avatar(ctx context.Context, key string, u *openlines.User) (files.FileID, bool) {
	if s.avatars == nil {
		return 0, false
	}
	ids, fails := s.avatars.Import(ctx, []openlines.File{{URL: u.Picture.URL, Headers: u.Picture.Headers}})
	if len(ids) == 1 {
		return ids[0], true
	}
	for _, f := range fails {
		s.log.WarnContext(ctx, "users: avatar not imported", "user", key, "code", f.Code, "err", f.Err)
	}
	return 0, false
}

func (s *Syncer) remember(rec User, id InternalID, fp uint64) {
	if s.cache == nil {
		return
	}
	k := cacheKey{rec.Connector, rec.ExternalID}
	e := cacheEntry{id: id, fp: fp, expires: s.clock.Now().Add(s.cacheTTL).UnixNano()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[k]; !ok && len(s.cache) >= s.cacheSize {
		for victim := range s.cache { // map iteration starts at a random entry
			delete(s.cache, victim)
			break
		}
	}
	s.cache[k] = e
}

// Forget drops a user from the cache, so that the next Sync reads the store (for instance after the record
// was changed by other means).
func (s *Syncer) Forget(connector, id string) {
	if s.cache == nil {
		return
	}
	s.mu.Lock()
	delete(s.cache, cacheKey{connector, id})
	s.mu.Unlock()
}

// Lookup returns the internal id of the user id of connector, synced before, or ErrNotFound. It reads the
// cache first, the store on a miss; it never creates a user.
func (s *Syncer) Lookup(ctx context.Context, connector, id string) (InternalID, error) {
	k := cacheKey{connector, id}
	if s.cache != nil {
		now := s.clock.Now().UnixNano()
		s.mu.RLock()
		e, ok := s.cache[k]
		s.mu.RUnlock()
		if ok && now < e.expires {
			return e.id, nil
		}
	}
	if s.store == nil {
		return 0, errors.New("users: the syncer has no store")
	}
	u, err := s.store.Get(ctx, Key(connector, id))
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}
