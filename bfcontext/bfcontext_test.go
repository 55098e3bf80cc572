package bfcontext

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
	"github.com/olctl/olctl/wire"
)

func keysOf(m *wire.Map) string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, wire.KeyString(e.Key))
	}
	return strings.Join(out, ",")
}

func TestFromCodec(t *testing.T) {
	t.Parallel()
	for _, m := range []*wire.Map{
		nil,
		wire.NewMap(),
		wire.NewMap("id", "28:bot", "name", "Bot"),
		wire.NewMap("z", "last first", "a", []any{int64(1), 2.5, true, nil, "x"}, "nested", wire.NewMap("k", "v"), int64(3), "int key"),
	} {
		s, err := encodeFrom(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeFrom(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		again, _ := encodeFrom(back)
		if again != s {
			t.Fatalf("round trip %s → %s", s, again)
		}
	}
	for _, bad := range []string{"[1]", `"x"`, "{", "{\"a\":}"} {
		if _, err := decodeFrom(bad); err == nil {
			t.Errorf("decodeFrom(%q) accepted", bad)
		}
	}
}

func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "a:conv/42;messageid=1", "botframework.skype"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a new chat: err = %v, want ErrNotFound", err)
	}
	c := Context{ChatID: "a:conv/42;messageid=1", Connector: "botframework.skype",
		From:       wire.NewMap("id", "28:bot", "name", "helpdesk-bot", "role", "bot", "n", int64(7)),
		ServiceURL: "https://smba.example/apis/"}
	for i, want := range []bool{true, false} {
		changed, err := s.Put(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if changed != want {
			t.Fatalf("Put #%d changed = %v, want %v", i+1, changed, want)
		}
	}
	got, err := s.Get(ctx, c.ChatID, c.Connector)
	if err != nil || !got.Equal(c) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, c)
	}
	// The whole recipient map comes back in its order, with its types.
	if keys := keysOf(got.From); keys != "id,name,role,n" || got.From.String("name") != "helpdesk-bot" {
		t.Fatalf("From keys %s, %+v", keys, got.From)
	}
	if n, _ := got.From.Get("n"); n != int64(7) {
		t.Fatalf("From n = %#v, want int64(7)", n)
	}
	// Get returns a copy: changing it does not change the store.
	got.From.Set("name", "changed")
	if again, _ := s.Get(ctx, c.ChatID, c.Connector); again.From.String("name") != "helpdesk-bot" {
		t.Fatal("Get shares the stored map")
	}
	// A change of the recipient map alone is a change.
	c2 := c
	c2.From = wire.NewMap("id", "28:bot", "name", "helpdesk-bot-2")
	if changed, err := s.Put(ctx, c2); err != nil || !changed {
		t.Fatalf("Put of another recipient: %v, %v", changed, err)
	}
	if changed, err := s.Put(ctx, c); err != nil || !changed {
		t.Fatalf("Put back: %v, %v", changed, err)
	}
	// No recipient and no service URL are stored as they are.
	bare := Context{ChatID: "bare", Connector: "botframework.webchat"}
	if _, err := s.Put(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "bare", "botframework.webchat"); err != nil || got.From != nil || got.ServiceURL != "" {
		t.Fatalf("bare context: %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, c.ChatID, "botframework.telegram"); !errors.Is(err, ErrNotFound) {
		t.Fatal("contexts are per virtual connector")
	}
	c.ServiceURL = "https://other.example/"
	if changed, err := s.Put(ctx, c); err != nil || !changed {
		t.Fatalf("Put of a changed context: %v, %v", changed, err)
	}
	if got, _ := s.Get(ctx, c.ChatID, c.Connector); got.ServiceURL != c.ServiceURL {
		t.Fatalf("service url not updated: %+v", got)
	}
	if _, err := s.Put(ctx, Context{}); err == nil {
		t.Fatal("Put without chat id must fail")
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }

func TestSQLStore(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, err := NewSQLStore(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		testStore(t, s)
	})
}

func TestSQLStoreConnectors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, err := NewSQLStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []Context{{ChatID: "c1", Connector: "botframework.webchat"}, {ChatID: "c1", Connector: "botframework.skype"},
			{ChatID: "c2", Connector: "botframework.webchat"}} {
			if _, err := s.Put(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.Connectors(ctx, "c1"); err != nil || strings.Join(got, ",") != "botframework.skype,botframework.webchat" {
			t.Fatalf("c1: %v %v", got, err)
		}
		if got, err := s.Connectors(ctx, "nope"); err != nil || len(got) != 0 {
			t.Fatalf("an unknown chat: %v %v", got, err)
		}
	})
}
