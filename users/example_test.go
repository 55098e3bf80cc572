package users_test

import (
	"context"
	"fmt"

	"github.com/olctl/olctl/users"
	"github.com/olctl/olctl/wire"
)

func ExampleSyncer_Sync() {
	ctx := context.Background()
	// In a portal: users.NewSQLStore(ctx, db), and users.WithAvatars(files.NewImporter(fileStore)).
	s := users.NewSyncer(users.NewMemoryStore())

	// The `user` of a receivingMessage item, as wire decodes it.
	raw := wire.NewMap("id", "29:1A2b3C", "name", "Ann Lee", "email", "ann@example.com", "locale", "en-US")
	u, err := users.FromMap(raw)
	if err != nil {
		fmt.Println(wire.CodeOf(err), err)
		return
	}
	for range 2 {
		id, outcome, err := s.Sync(ctx, "botframework.skype", u)
		fmt.Println(id, outcome, err)
	}
	u.Email = "ann@new.example.com"
	id, outcome, _ := s.Sync(ctx, "botframework.skype", u)
	fmt.Println(id, outcome)

	// An item whose user has no id.
	_, err = users.FromMap(wire.NewMap("name", "Nobody"))
	fmt.Println(wire.CodeOf(err))
	// Output:
	// 1 created <nil>
	// 1 unchanged <nil>
	// 1 updated
	// CONNECTOR_PROXY_NO_USER_IM
}

func ExampleCanonicalJSON() {
	a, _ := users.FromMap(wire.NewMap("name", "Ann Lee", "id", int64(7), "phone", "", "tenant", wire.NewMap("region", "eu", "id", "t1")))
	b, _ := users.FromMap(wire.NewMap("tenant", wire.NewMap("id", "t1", "region", "eu"), "id", "7", "name", "Ann Lee"))
	fmt.Println(string(users.CanonicalJSON(&a)))
	fmt.Println(users.Hash(&a) == users.Hash(&b))
	// Output:
	// {"id":"7","name":"Ann Lee","tenant":{"id":"t1","region":"eu"}}
	// true
}
