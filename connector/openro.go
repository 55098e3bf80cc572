package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/olctl/olctl/clock"
	"github.com/olctl/olctl/sqldb"
)

// ErrNotConnectorDB is returned by OpenReadOnly and OpenExisting for a database that holds no connector
// server tables: a new one, or another component's (the portal's of `olctl serve`).
var ErrNotConnectorDB = errors.New("connector: not a connector server database")

// OpenReadOnly opens the store of an existing connector server database for inspection (QueueStats,
// QueueList, DeadLetters): nothing is created or migrated, and on SQLite and PostgreSQL the connections
// cannot write (sqldb.OpenExisting). A missing SQLite file is sqldb.ErrNoDatabase, a database of another
// kind ErrNotConnectorDB. Reading is safe while a server runs.
func OpenReadOnly(ctx context.Context, dsn string) (*Store, error) {
	db, err := sqldb.OpenExisting(ctx, dsn, true)
	if err != nil {
		return nil, err
	}
	if err := checkConnectorDB(ctx, db); err != nil {
		_ = db.Close()
		return nil, err
	}
	pol, err := Policy{}.withDefaults()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Store{db: db, own: true, clk: clock.System(), pol: pol}, nil
}

// checkConnectorDB returns ErrNotConnectorDB, naming what the database holds, unless the connector server
// migrated it.
func checkConnectorDB(ctx context.Context, db *sqldb.DB) error {
	have, err := db.Components(ctx)
	if err != nil {
		return err
	}
	switch {
	case slices.Contains(have, component):
		return nil
	case len(have) == 0:
		return fmt.Errorf("%w: it holds no olctl tables", ErrNotConnectorDB)
	}
	return fmt.Errorf("%w: it holds the tables of %s", ErrNotConnectorDB, strings.Join(have, ", "))
}
