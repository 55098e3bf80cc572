package bfcontext

import (
	"context"
	"errors"
	"testing"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/sqldb"
)

func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "a:conv/42;messageid=1", "botframework.skype"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a new chat: err = %v, want ErrNotFound", err)
	}
	c := Context{ChatID: "a:conv/42;messageid=1", Connector: "botframework.skype", From: Account{ID: "28:bot", Name: "helpdesk-bot"}, ServiceURL: "https://smba.example/apis/"}
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
	if err != nil || got != c {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, c)
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
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		s, err := NewSQLStore(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		testStore(t, s)
	})
}
