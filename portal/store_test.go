package portal_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/portal"
	"github.com/olctl/olctl/sqldb"
)

func TestItemKeyHashSeparatesParts(t *testing.T) {
	keys := []portal.ItemKey{
		{Connector: "a", Line: "b", ChatID: "c", MessageID: "d", Variant: "message"},
		{Connector: "a|b", ChatID: "c", MessageID: "d", Variant: "message"},
		{Connector: "a", Line: "bc", MessageID: "d", Variant: "message"},
		{Connector: "a", Line: "b", ChatID: "c", MessageID: "d", Variant: "message_del"},
		{Connector: "A", Line: "b", ChatID: "c", MessageID: "d", Variant: "message"},
	}
	seen := map[string]bool{}
	for _, k := range keys {
		h := k.Hash()
		if len(h) != 48 || seen[h] {
			t.Fatalf("%+v: hash %q collides or is malformed", k, h)
		}
		seen[h] = true
	}
}

func TestSQLProcessedStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, err := portal.NewSQLProcessedStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := portal.NewSQLProcessedStore(ctx, db); err != nil { // migrations run again harmlessly
			t.Fatal(err)
		}
		long := strings.Repeat("19:meeting_Zjk5YTQ4@thread.v2;messageid=", 50) // 2 KB chat id
		k := func(chat, msg string) portal.ItemKey {
			return portal.ItemKey{Connector: "botframework.msteams", Line: "3", ChatID: chat, MessageID: msg, Variant: "message"}
		}
		a, b, c := k("c1", "m1"), k(long, "m1"), k("c1", "m2")
		t0 := time.Unix(1700000000, 0)
		if err := s.Mark(ctx, []portal.ItemKey{a, b, a}, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, []portal.ItemKey{b, c}, t0.Add(48*time.Hour)); err != nil { // b again: kept
			t.Fatal(err)
		}
		if err := s.Mark(ctx, nil, t0); err != nil {
			t.Fatal(err)
		}
		seen, err := s.Seen(ctx, []portal.ItemKey{a, b, c, k("c2", "m1")})
		if err != nil || !reflect.DeepEqual(seen, []bool{true, true, true, false}) {
			t.Fatalf("%v %v", seen, err)
		}
		if seen, err := s.Seen(ctx, nil); err != nil || len(seen) != 0 {
			t.Fatalf("%v %v", seen, err)
		}
		n, err := s.Prune(ctx, t0.Add(24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		seen, _ = s.Seen(ctx, []portal.ItemKey{a, b, c})
		if !reflect.DeepEqual(seen, []bool{false, false, true}) {
			t.Fatalf("after prune %v", seen)
		}
	})
}

// TestSQLProcessedStorePruneChunks prunes more rows than one delete takes (1 000), old and new rows mixed in
// key order, and keeps every new one.
func TestSQLProcessedStorePruneChunks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, err := portal.NewSQLProcessedStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Unix(1700000000, 0)
		var old, fresh []portal.ItemKey
		for i := range 2600 {
			k := portal.ItemKey{Connector: "botframework.skype", Line: "1", ChatID: "c", MessageID: strconv.Itoa(i),
				Date: 1700000000 + int64(i)}
			if i%13 == 0 {
				fresh = append(fresh, k)
			} else {
				old = append(old, k)
			}
		}
		if err := s.Mark(ctx, old, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, fresh, t0.Add(72*time.Hour)); err != nil {
			t.Fatal(err)
		}
		n, err := s.Prune(ctx, t0.Add(time.Hour))
		if err != nil || n != int64(len(old)) {
			t.Fatalf("pruned %d of %d, %v", n, len(old), err)
		}
		seen, err := s.Seen(ctx, append(old[:50:50], fresh...))
		if err != nil {
			t.Fatal(err)
		}
		for i, ok := range seen {
			if want := i >= 50; ok != want {
				t.Fatalf("key %d seen = %v after the prune, want %v", i, ok, want)
			}
		}
		if n, err := s.Prune(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("second prune: %d, %v", n, err)
		}
	})
}

func TestSQLStatusStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, err := portal.NewSQLStatusStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Unix(1700000000, 0).UTC()
		got, err := s.Get(ctx, "botframework", "3")
		if err != nil || got != (portal.ConnectorStatus{Connector: "botframework", Line: "3"}) {
			t.Fatalf("empty: %+v %v", got, err)
		}
		steps := []struct {
			do   func() error
			want portal.ConnectorStatus
		}{
			{func() error { return s.Set(ctx, "botframework", "3", portal.FlagError, true, t0) },
				portal.ConnectorStatus{Connector: "botframework", Line: "3", Error: true, UpdatedAt: t0}},
			{func() error {
				return s.Put(ctx, portal.ConnectorStatus{Connector: "botframework", Line: "3", Active: true, Connection: true, Register: true}, t0.Add(time.Hour))
			}, portal.ConnectorStatus{Connector: "botframework", Line: "3", Active: true, Connection: true, Register: true, UpdatedAt: t0.Add(time.Hour)}},
			{func() error { return s.Set(ctx, "botframework", "3", portal.FlagError, true, t0.Add(2*time.Hour)) },
				portal.ConnectorStatus{Connector: "botframework", Line: "3", Active: true, Connection: true, Register: true, Error: true, UpdatedAt: t0.Add(2 * time.Hour)}},
			{func() error {
				return s.Set(ctx, "botframework", "3", portal.FlagConnection, false, t0.Add(3*time.Hour))
			},
				portal.ConnectorStatus{Connector: "botframework", Line: "3", Active: true, Register: true, Error: true, UpdatedAt: t0.Add(3 * time.Hour)}},
		}
		for i, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got, err := s.Get(ctx, "botframework", "3")
			if err != nil || got != st.want {
				t.Fatalf("step %d: %+v %v\nwant %+v", i, got, err, st.want)
			}
		}
		// Another line is another status.
		if got, _ := s.Get(ctx, "botframework", "4"); got.Error || got.Active {
			t.Fatalf("line 4: %+v", got)
		}
		if err := s.Set(ctx, "botframework", "3", portal.Flag("DELETED"), true, t0); err == nil {
			t.Fatal("unknown flag accepted")
		}
		if err := s.Set(ctx, "", "3", portal.FlagError, true, t0); !errors.Is(err, portal.ErrNoStatusKey) {
			t.Fatal(err)
		}
		if err := s.Put(ctx, portal.ConnectorStatus{Line: "3"}, t0); !errors.Is(err, portal.ErrNoStatusKey) {
			t.Fatal(err)
		}
	})
}
