package users_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/users"
)

// benchUser is a typical Bot Framework user: the named fields, a picture with a header, two unknown keys.
var benchUser = openlines.User{
	ID: "29:1A2b3C4d5E6f7G8h9I0j", Name: "Ann Lee", Email: "ann.lee@example.com", Phone: "+1 555 0100",
	URL:     "https://teams.example.com/u/ann",
	Picture: openlines.Picture{URL: "https://cdn.example.com/avatars/29-1A2b3C.png"},
	Other:   map[string]any{"locale": "en-US", "aadObjectId": "6f1c2b1a-0c57-4e32-8d3b-1f8a9f0f1d22"},
}

// BenchmarkSync measures Sync. cached-unchanged is the hot path of every message of a known user (goal:
// over 1 million per second, 0 database calls); baseline-map is the floor any cache has to pay, a bare
// RWMutex-guarded map lookup of the same key. changed-* write a changed user to a real database each time;
// baseline-update-* run the one UPDATE statement such a sync ends in, alone.
func BenchmarkSync(b *testing.B) {
	ctx := context.Background()
	b.Run("cached-unchanged", func(b *testing.B) {
		cs := &countingStore{Store: users.NewMemoryStore()}
		s := users.NewSyncer(cs)
		if _, _, err := s.Sync(ctx, "botframework.skype", benchUser); err != nil {
			b.Fatal(err)
		}
		cs.take()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, out, err := s.Sync(ctx, "botframework.skype", benchUser); err != nil || out != users.Unchanged {
				b.Fatal(out, err)
			}
		}
		reads, writes := cs.take()
		b.ReportMetric(float64(reads+writes)/float64(b.N), "db-calls/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
	b.Run("cached-unchanged-parallel", func(b *testing.B) {
		cs := &countingStore{Store: users.NewMemoryStore()}
		s := users.NewSyncer(cs)
		if _, _, err := s.Sync(ctx, "botframework.skype", benchUser); err != nil {
			b.Fatal(err)
		}
		cs.take()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, out, err := s.Sync(ctx, "botframework.skype", benchUser); err != nil || out != users.Unchanged {
					b.Error(out, err)
					return
				}
			}
		})
		reads, writes := cs.take()
		b.ReportMetric(float64(reads+writes)/float64(b.N), "db-calls/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
	b.Run("baseline-map", func(b *testing.B) {
		type key struct{ connector, id string }
		var mu sync.RWMutex
		m := map[key]users.InternalID{{"botframework.skype", benchUser.ID}: 1}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			mu.RLock()
			id := m[key{"botframework.skype", benchUser.ID}]
			mu.RUnlock()
			if id != 1 {
				b.Fatal(id)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	})
	changed := func(b *testing.B, db *sqldb.DB) {
		store, err := users.NewSQLStore(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		s := users.NewSyncer(store)
		u := benchUser
		u.Other = map[string]any{"locale": "en-US"}
		if _, _, err := s.Sync(ctx, "botframework.skype", u); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			i++
			u.Title = strconv.Itoa(i)
			if _, out, err := s.Sync(ctx, "botframework.skype", u); err != nil || out != users.Updated {
				b.Fatal(out, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	}
	baselineUpdate := func(b *testing.B, db *sqldb.DB) {
		store, err := users.NewSQLStore(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		if _, _, err := users.NewSyncer(store).Sync(ctx, "botframework.skype", benchUser); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		var key any = users.Key("botframework.skype", benchUser.ID)
		if db.Dialect == sqldb.Postgres {
			key = []byte(key.(string)) // BYTEA
		}
		i := 0
		for b.Loop() {
			i++
			if _, err := db.ExecContext(ctx, "UPDATE olctl_users SET title = ? WHERE ext_key = ?", strconv.Itoa(i), key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
	}
	b.Run("changed-sqlite", func(b *testing.B) { changed(b, testdb.SQLite(b)) })
	b.Run("baseline-update-sqlite", func(b *testing.B) { baselineUpdate(b, testdb.SQLite(b)) })
	b.Run("changed-mariadb", func(b *testing.B) { changed(b, testdb.MySQL(b)) })
	b.Run("baseline-update-mariadb", func(b *testing.B) { baselineUpdate(b, testdb.MySQL(b)) })
	b.Run("changed-postgres", func(b *testing.B) { changed(b, testdb.Postgres(b)) })
	b.Run("baseline-update-postgres", func(b *testing.B) { baselineUpdate(b, testdb.Postgres(b)) })
}

// BenchmarkHash measures the canonical serialization and md5 of a typical user alone.
func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = users.Hash(&benchUser)
	}
}
