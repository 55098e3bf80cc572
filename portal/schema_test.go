package portal

import (
	"context"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/sqldb"
)

// TestUpgradeKeepsTheRecord: a database of the portal before the item store (schema 2, the record of
// processed items) is migrated so that an item processed before the upgrade is still a duplicate, and the
// statuses kept under a virtual connector id (never read by a gate) are dropped.
func TestUpgradeKeepsTheRecord(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, "portal", migrations[:2]); err != nil {
			t.Fatal(err)
		}
		item := openlines.MessageItem{User: openlines.User{ID: "u"}, Chat: openlines.Chat{ID: "c1"},
			Message: openlines.Message{ID: "m1", Date: 1700000000}}
		old := keyOf("botframework.skype", "3", &item, nil).sum()
		if _, err := db.ExecContext(ctx, `INSERT INTO olctl_portal_processed (key_sum, processed_at) VALUES (?, ?)`, old[:], 1700000001); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"botframework.skype", "botframework"} {
			if _, err := db.ExecContext(ctx, `INSERT INTO olctl_portal_status (connector_id, line_id, flag_error, updated_at) VALUES (?, '3', 1, 0)`, c); err != nil {
				t.Fatal(err)
			}
		}
		s, err := newItemStore(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		fresh := keyOf("botframework.skype", "3", &openlines.MessageItem{Chat: openlines.Chat{ID: "c1"}, Message: openlines.Message{ID: "m2"}}, nil).sum()
		ids, err := s.take(ctx, []newItem{
			{sum: old, command: openlines.CommandReceivingMessage, connector: "botframework.skype", line: "3", body: []byte("x")},
			{sum: fresh, command: openlines.CommandReceivingMessage, connector: "botframework.skype", line: "3", body: []byte("y")},
		}, time.Unix(1700000100, 0), time.Minute)
		if err != nil || ids[0] != 0 || ids[1] == 0 {
			t.Fatalf("ids %v %v: want the old item a duplicate, the new one taken", ids, err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM olctl_portal_status`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d statuses left %v", n, err)
		}
	})
}
