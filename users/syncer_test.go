package users_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/files"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/users"
	"github.com/olctl/olctl/wire"
)

// countingStore counts the calls that reach the store.
type countingStore struct {
	users.Store
	reads, writes atomic.Int64
	fail          error // when set, every call fails with it
}

func (c *countingStore) Get(ctx context.Context, key string) (users.User, error) {
	c.reads.Add(1)
	if c.fail != nil {
		return users.User{}, c.fail
	}
	return c.Store.Get(ctx, key)
}

func (c *countingStore) ByID(ctx context.Context, id users.InternalID) (users.User, error) {
	c.reads.Add(1)
	return c.Store.ByID(ctx, id)
}

func (c *countingStore) Create(ctx context.Context, u users.User) (users.InternalID, error) {
	c.writes.Add(1)
	return c.Store.Create(ctx, u)
}

func (c *countingStore) Update(ctx context.Context, u users.User) error {
	c.writes.Add(1)
	return c.Store.Update(ctx, u)
}

func (c *countingStore) take() (reads, writes int64) {
	return c.reads.Swap(0), c.writes.Swap(0)
}

// eachStore runs fn on the memory store, SQLite and MariaDB.
func eachStore(t *testing.T, fn func(t *testing.T, s users.Store, rows func() int)) {
	t.Run("memory", func(t *testing.T) {
		s := users.NewMemoryStore()
		fn(t, s, s.Len)
	})
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, err := users.NewSQLStore(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		fn(t, s, func() int {
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM olctl_users").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
	})
}

var ann = openlines.User{ID: "29:1A2b3C", Name: "Ann Lee", Email: "ann@example.com", Other: map[string]any{"locale": "en"}}

func with(u openlines.User, f func(u *openlines.User)) openlines.User {
	c := u
	c.Other = map[string]any{}
	for k, v := range u.Other {
		c.Other[k] = v
	}
	f(&c)
	return c
}

// TestSyncWrites: what each sync costs the database, step by step.
func TestSyncWrites(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store users.Store, rows func() int) {
		ctx := context.Background()
		cs := &countingStore{Store: store}
		fake := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		s := users.NewSyncer(cs, users.WithClock(fake), users.WithCacheTTL(time.Minute))
		cold := users.NewSyncer(cs) // another process: its own, empty cache
		noCache := users.NewSyncer(cs, users.WithCacheSize(0))
		changed := with(ann, func(u *openlines.User) { u.Email = "ann@new.example.com" })
		unknownChanged := with(changed, func(u *openlines.User) { u.Other["locale"] = "ru" })
		steps := []struct {
			name          string
			syncer        *users.Syncer
			user          openlines.User
			advance       time.Duration
			want          users.Outcome
			reads, writes int64
		}{
			{"new user is created", s, ann, 0, users.Created, 1, 1},
			{"same again, cached: no read, no write", s, ann, 0, users.Unchanged, 0, 0},
			{"same again, uncached syncer: one read, no write", cold, ann, 0, users.Unchanged, 1, 0},
			{"same again, cache off: one read, no write", noCache, ann, 0, users.Unchanged, 1, 0},
			{"email changed: updated", s, changed, 0, users.Updated, 1, 1},
			{"changed user again, cached", s, changed, 0, users.Unchanged, 0, 0},
			{"the other syncer's cached hash is stale: read, no write", cold, changed, 0, users.Unchanged, 1, 0},
			{"an unknown field changed: updated", s, unknownChanged, 0, users.Updated, 1, 1},
			{"absent and empty are equal", s, with(unknownChanged, func(u *openlines.User) { u.Other["nickname"] = "" }), 0, users.Unchanged, 0, 0},
			{"after the cache TTL: read again", s, unknownChanged, time.Minute, users.Unchanged, 1, 0},
			{"and cached again", s, unknownChanged, 0, users.Unchanged, 0, 0},
			{"another user is created", s, openlines.User{ID: "29:other"}, 0, users.Created, 1, 1},
		}
		var firstID users.InternalID
		for _, st := range steps {
			fake.Advance(st.advance)
			id, out, err := st.syncer.Sync(ctx, "botframework.skype", st.user)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			reads, writes := cs.take()
			if out != st.want || reads != st.reads || writes != st.writes {
				t.Fatalf("%s: %s with %d reads, %d writes; want %s with %d reads, %d writes", st.name, out, reads, writes, st.want, st.reads, st.writes)
			}
			if firstID == 0 {
				firstID = id
			} else if st.user.ID == ann.ID && id != firstID {
				t.Fatalf("%s: id %d, want %d", st.name, id, firstID)
			}
		}
		if n := rows(); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
		got, err := store.Get(ctx, "botframework.skype|29:1A2b3C")
		if err != nil {
			t.Fatal(err)
		}
		want := users.User{ID: firstID, Key: "botframework.skype|29:1A2b3C", Connector: "botframework.skype", ExternalID: "29:1A2b3C",
			Name: "Ann", LastName: "Lee", Email: "ann@new.example.com", Hash: users.Hash(&unknownChanged)}
		if got != want {
			t.Fatalf("stored %+v\nwant   %+v", got, want)
		}
		if byID, err := store.ByID(ctx, firstID); err != nil || byID != want {
			t.Fatalf("ByID = %+v, %v", byID, err)
		}
	})
}

// TestSyncNameSplit: Bitrix's rules of docs/protocol.md §8.2. An empty last_name and a name that splits on
// single spaces into exactly two parts give name and last_name (a double space or a tab is no split); a user
// with neither name is named by its title, else "Guest"; the gender is stored as M or F.
func TestSyncNameSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, last, title, gender, wantName, wantLast, wantGender string
	}{
		{"John Smith", "", "", "male", "John", "Smith", "M"},
		{"John  Smith", "", "", "female", "John  Smith", "", "F"},
		{"John\tSmith", "", "", "", "John\tSmith", "", ""},
		{"John", "", "", "other", "John", "", ""},
		{"John Ronald Tolkien", "", "", "", "John Ronald Tolkien", "", ""},
		{"John Smith", "Doe", "", "", "John Smith", "Doe", ""},
		{"Анна Ли", "", "", "", "Анна", "Ли", ""},
		{"", "", "Dr. Who", "", "Dr. Who", "", ""},
		{"", "", "", "", "Guest", "", ""},
		{"", "Doe", "", "", "", "Doe", ""},
	}
	store := users.NewMemoryStore()
	s := users.NewSyncer(store)
	for i, tt := range tests {
		id, _, err := s.Sync(context.Background(), "telegram", openlines.User{ID: string(rune('a' + i)), Name: tt.name,
			LastName: tt.last, Title: tt.title, Gender: tt.gender})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := store.ByID(context.Background(), id)
		if u.Name != tt.wantName || u.LastName != tt.wantLast || u.Gender != tt.wantGender {
			t.Errorf("%q/%q: stored %q/%q %q, want %q/%q %q", tt.name, tt.last, u.Name, u.LastName, u.Gender, tt.wantName, tt.wantLast, tt.wantGender)
		}
	}
	g := users.NewSyncer(store, users.WithGuestName("Гость"))
	id, _, err := g.Sync(context.Background(), "telegram", openlines.User{ID: "nameless"})
	if u, _ := store.ByID(context.Background(), id); err != nil || u.Name != "Гость" {
		t.Fatalf("%+v %v", u, err)
	}
}

// TestLookup finds a synced user by its external id, from the cache or the store, and never creates one.
func TestLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := users.NewMemoryStore()
	s := users.NewSyncer(store)
	id, _, err := s.Sync(ctx, "telegram", openlines.User{ID: "7", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	cold := users.NewSyncer(store) // nothing cached: the store answers
	for _, syncer := range []*users.Syncer{s, cold} {
		if got, err := syncer.Lookup(ctx, "telegram", "7"); err != nil || got != id {
			t.Fatalf("Lookup = %v, %v; want %v", got, err, id)
		}
		if _, err := syncer.Lookup(ctx, "telegram", "8"); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("an unknown user: %v", err)
		}
	}
	if store.Len() != 1 {
		t.Fatalf("%d users", store.Len())
	}
}

func TestSyncErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("database is down")
	tests := []struct {
		name      string
		store     users.Store
		connector string
		user      openlines.User
		is        error
		mention   string
	}{
		{"no id", users.NewMemoryStore(), "telegram", openlines.User{Name: "Ann"}, wire.CodeNoUserIM, "no id"},
		{"no connector", users.NewMemoryStore(), "", ann, wire.CodeNoAddUser, "connector"},
		{"connector with a bar", users.NewMemoryStore(), "a|b", ann, wire.CodeNoAddUser, "connector"},
		{"overlong id", users.NewMemoryStore(), "telegram", openlines.User{ID: strings.Repeat("x", 600)}, wire.CodeNoAddUser, "key"},
		{"id not UTF-8", users.NewMemoryStore(), "telegram", openlines.User{ID: "a\xff"}, wire.CodeNoAddUser, "UTF-8"},
		{"overlong name", users.NewMemoryStore(), "telegram", openlines.User{ID: "1", Name: strings.Repeat("n", users.MaxFieldBytes+1)}, wire.CodeNoAddUser, "field name"},
		{"store fails", &countingStore{Store: users.NewMemoryStore(), fail: boom}, "telegram", ann, boom, "database is down"},
		{"no store", nil, "telegram", ann, nil, "no store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := users.NewSyncer(tt.store).Sync(context.Background(), tt.connector, tt.user)
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err %v: want %v mentioning %q", err, tt.is, tt.mention)
			}
		})
	}
}

func TestSyncCleansInvalidUTF8(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store users.Store, _ func() int) {
		id, _, err := users.NewSyncer(store).Sync(context.Background(), "telegram", openlines.User{ID: "1", Name: "bad\xffname"})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := store.ByID(context.Background(), id)
		if u.Name != "bad\uFFFDname" {
			t.Fatalf("stored name %q", u.Name)
		}
	})
}

// TestSyncConcurrentCreate: 200 concurrent syncs of one new user make one row and one Created, whether
// they share a syncer (one process) or each has its own (200 processes sharing the database).
func TestSyncConcurrentCreate(t *testing.T) {
	t.Parallel()
	const n = 200
	eachStore(t, func(t *testing.T, store users.Store, rows func() int) {
		for _, mode := range []string{"one-syncer", "syncer-per-goroutine"} {
			t.Run(mode, func(t *testing.T) {
				shared := users.NewSyncer(store)
				u := openlines.User{ID: "race-" + mode, Name: "Race Condition"}
				before := rows()
				var wg sync.WaitGroup
				ids := make([]users.InternalID, n)
				outs := make([]users.Outcome, n)
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s := shared
						if mode != "one-syncer" {
							s = users.NewSyncer(store)
						}
						<-start
						ids[i], outs[i], errs[i] = s.Sync(context.Background(), "botframework.skype", u)
					}()
				}
				close(start)
				wg.Wait()
				created := 0
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("sync %d: %v", i, errs[i])
					}
					if ids[i] != ids[0] {
						t.Fatalf("sync %d got id %d, sync 0 got %d", i, ids[i], ids[0])
					}
					if outs[i] == users.Created {
						created++
					} else if outs[i] != users.Unchanged {
						t.Fatalf("sync %d: %s", i, outs[i])
					}
				}
				if got := rows() - before; got != 1 || created != 1 {
					t.Fatalf("%d rows and %d Created, want exactly 1 and 1", got, created)
				}
			})
		}
	})
}

func TestSQLStore(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, err := users.NewSQLStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		again, err := users.NewSQLStore(ctx, db) // migrating again is harmless
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Close(); err != nil {
			t.Fatal(err)
		}
		u := users.User{Key: "c|1", Connector: "c", ExternalID: "1", Name: "Ann", PhotoID: 9, Hash: strings.Repeat("a", 32)}
		id, err := s.Create(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(ctx, u); !errors.Is(err, users.ErrExists) {
			t.Fatalf("second Create: %v, want ErrExists", err)
		}
		if _, err := s.Get(ctx, "c|2"); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("Get unknown: %v", err)
		}
		if _, err := s.ByID(ctx, id+100); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("ByID unknown: %v", err)
		}
		if err := s.Update(ctx, users.User{ID: id + 100, Key: "c|x"}); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("Update unknown: %v", err)
		}
		u.ID = id
		if err := s.Update(ctx, u); err != nil { // identical: MySQL reports 0 rows affected
			t.Fatalf("identical Update: %v", err)
		}
		u.Name, u.PhotoID = "Bob", 0
		if err := s.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "c|1"); got != u {
			t.Fatalf("Get = %+v, want %+v", got, u)
		}
		if _, err := s.Create(ctx, users.User{Key: strings.Repeat("k", users.MaxKeyBytes+1)}); err == nil {
			t.Fatal("overlong key accepted")
		}
		// Keys are compared byte for byte (utf8mb4_bin), not case- or accent-insensitively.
		for _, k := range []string{"C|1", "c|1 ", "c|é", "c|e", "c|\x00", "c|\uFFFD"} {
			if _, err := s.Create(ctx, users.User{Key: k}); err != nil {
				t.Fatalf("Create %q: %v", k, err)
			}
		}
		// A NUL is kept in the key everywhere, and in the fields except on PostgreSQL, whose text holds
		// none: there it is stored as U+FFFD.
		nul := users.User{Key: "c|n\x00l", Connector: "c", ExternalID: "n\x00l", Name: "N\x00L", Hash: strings.Repeat("b", 32)}
		if nul.ID, err = s.Create(ctx, nul); err != nil {
			t.Fatalf("Create with a NUL: %v", err)
		}
		want := nul
		if db.Dialect == sqldb.Postgres {
			want.ExternalID, want.Name = "n\uFFFDl", "N\uFFFDL"
		}
		if got, err := s.Get(ctx, nul.Key); err != nil || got != want {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
		}
	})
}

// avatarServer serves avatars and counts the downloads.
func avatarServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.HasPrefix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = io.WriteString(w, "\x89PNG\r\n\x1a\n"+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestSyncAvatar(t *testing.T) {
	t.Parallel()
	srv, hits := avatarServer(t)
	ctx := context.Background()
	fstore := files.NewMemoryStore()
	store := users.NewMemoryStore()
	s := users.NewSyncer(store, users.WithAvatars(files.NewImporter(fstore, files.WithAllowPrivateNetworks(true))))
	u := openlines.User{ID: "1", Name: "Ann", Picture: openlines.Picture{URL: srv.URL + "/a.png"}}
	photoOf := func(id users.InternalID) (files.FileID, string) {
		rec, err := store.ByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.PhotoID, rec.PictureURL
	}
	steps := []struct {
		name      string
		user      func(u *openlines.User)
		want      users.Outcome
		downloads int64
		photoName string // the stored name of the photo; "" for none
	}{
		{"created with its picture", func(u *openlines.User) {}, users.Created, 1, "a.png"},
		{"unchanged: no download", func(u *openlines.User) {}, users.Unchanged, 0, "a.png"},
		{"another field changed: same picture, no download", func(u *openlines.User) { u.Title = "Dr" }, users.Updated, 0, "a.png"},
		{"new picture replaces the photo", func(u *openlines.User) { u.Picture.URL = srv.URL + "/b.png" }, users.Updated, 1, "b.png"},
		{"picture gone: the photo stays", func(u *openlines.User) { u.Picture = openlines.Picture{} }, users.Updated, 0, "b.png"},
		{"broken picture: the photo stays", func(u *openlines.User) { u.Picture.URL = srv.URL + "/missing.png" }, users.Updated, 1, "b.png"},
		{"a later change retries it", func(u *openlines.User) { u.Picture.URL = srv.URL + "/c.png" }, users.Updated, 1, "c.png"},
	}
	for _, st := range steps {
		st.user(&u)
		hits.Store(0)
		id, out, err := s.Sync(ctx, "telegram", u)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		photo, _ := photoOf(id)
		name := ""
		if photo != 0 {
			m, err := fstore.Stat(ctx, photo)
			if err != nil {
				t.Fatal(err)
			}
			name = m.Name
		}
		if out != st.want || hits.Load() != st.downloads || name != st.photoName {
			t.Fatalf("%s: %s, %d downloads, photo %q; want %s, %d, %q", st.name, out, hits.Load(), name, st.want, st.downloads, st.photoName)
		}
	}
	// A new user whose picture fails is still created, without a photo.
	id, out, err := s.Sync(ctx, "telegram", openlines.User{ID: "2", Picture: openlines.Picture{URL: srv.URL + "/missing/x.png"}})
	if err != nil || out != users.Created {
		t.Fatalf("%s %v", out, err)
	}
	if photo, pic := photoOf(id); photo != 0 || pic != "" {
		t.Fatalf("photo %d picture %q, want none", photo, pic)
	}
	// Without WithAvatars the picture URL is recorded and nothing is downloaded.
	hits.Store(0)
	plain := users.NewSyncer(store)
	id, _, err = plain.Sync(ctx, "telegram", openlines.User{ID: "3", Picture: openlines.Picture{URL: srv.URL + "/d.png"}})
	if err != nil {
		t.Fatal(err)
	}
	if photo, pic := photoOf(id); photo != 0 || pic != srv.URL+"/d.png" || hits.Load() != 0 {
		t.Fatalf("photo %d picture %q downloads %d", photo, pic, hits.Load())
	}
}

func TestSyncCacheBounded(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: users.NewMemoryStore()}
	s := users.NewSyncer(cs, users.WithCacheSize(2))
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if _, _, err := s.Sync(ctx, "x", openlines.User{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	cs.take()
	// The last one synced is cached (eviction makes room before an insert).
	if _, _, err := s.Sync(ctx, "x", openlines.User{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := cs.take(); reads != 0 {
		t.Fatalf("the last user synced was read again: %d reads", reads)
	}
	// Three users, room for two: a or b was evicted, so syncing both reads at least once (at most twice).
	for _, id := range []string{"a", "b"} {
		if _, _, err := s.Sync(ctx, "x", openlines.User{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if reads, writes := cs.take(); reads < 1 || reads > 2 || writes != 0 {
		t.Fatalf("%d reads %d writes", reads, writes)
	}
	s.Forget("x", "a")
	s.Forget("x", "b")
	s.Forget("x", "c")
	if _, _, err := s.Sync(ctx, "x", openlines.User{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := cs.take(); reads != 1 {
		t.Fatalf("after Forget: %d reads, want 1", reads)
	}
}
