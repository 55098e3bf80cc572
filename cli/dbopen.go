package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/olctl/olctl/connector"
	"github.com/olctl/olctl/sqldb"
)

// The database errors of --db are usage errors (exit 2) that say which database the flag wants.

// openConnectorStore opens the connector server's database dsn that must exist: read-only to inspect its
// queue, else writable to repair it. A missing file, a database of another kind and (writable, SQLite) one
// that a running server serves are usage errors that say so.
func openConnectorStore(ctx context.Context, dsn string, write bool) (*connector.Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, usageErrorf("missing connector database: set --db or %s", envConnectorDB)
	}
	open := connector.OpenReadOnly
	if write {
		open = connector.OpenExisting
	}
	st, err := open(ctx, dsn)
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, sqldb.ErrNoDatabase):
		return nil, usageErrorf("--db %s: no such database: give the database of 'olctl connector serve --db'", dsn)
	case errors.Is(err, connector.ErrNotConnectorDB):
		return nil, usageErrorf("--db %s: %s: give the database of 'olctl connector serve --db'", dsn, kindOf(err))
	case errors.Is(err, connector.ErrQueueInUse):
		return nil, usageErrorf("--db %s: a running connector server serves this SQLite file: stop it first, or redrive in its inspector (connector serve --inspect)", dsn)
	}
	return nil, &UsageError{Err: fmt.Errorf("--db %s: %w", dsn, err)}
}

// kindOf words the ErrNotConnectorDB err for a person.
func kindOf(err error) string {
	msg := strings.TrimPrefix(err.Error(), "connector: ")
	if strings.Contains(msg, "tables of portal") {
		msg += " (it is the database of 'olctl serve')"
	}
	return msg
}

// How openPortalDB treats a database that is not there.
type portalDBMode int

const (
	portalCreate   portalDBMode = iota // create it (the commands that write line statuses)
	portalExisting                     // refuse it (a --db given on the command line to read)
	portalIfThere                      // no database (nil, nil): the default of --db, from the environment
	portalInspect                      // refuse it, and open the one there read-only
)

// openPortalDB opens the portal database dsn of `olctl serve`. A command that only uses what is there
// refuses one that holds neither the portal's tables nor its chat contexts; a command that writes line
// statuses may create it, but refuses a SQLite file of the connector server.
func openPortalDB(ctx context.Context, dsn string, mode portalDBMode) (*sqldb.DB, error) {
	var db *sqldb.DB
	var err error
	existing := mode != portalCreate
	if existing {
		db, err = sqldb.OpenExisting(ctx, dsn, mode == portalInspect)
	} else {
		db, err = sqldb.Open(ctx, dsn)
	}
	if errors.Is(err, sqldb.ErrNoDatabase) && mode == portalIfThere {
		return nil, nil
	}
	if errors.Is(err, sqldb.ErrNoDatabase) {
		return nil, usageErrorf("--db %s: no such database: give the portal database of 'olctl serve' (portal.db in its --data-dir)", dsn)
	}
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("--db: %w", err)}
	}
	have, err := db.Components(ctx)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("--db %s: %w", dsn, err)
	}
	portal := slices.Contains(have, "portal") || slices.Contains(have, "bfcontext")
	other := existing && !portal ||
		!existing && !portal && slices.Contains(have, "connector") && db.Dialect == sqldb.SQLite
	if other {
		_ = db.Close()
		what := "it holds no olctl tables"
		if len(have) > 0 {
			what = "it holds the tables of " + strings.Join(have, ", ")
		}
		if slices.Contains(have, "connector") {
			what += " (it is the database of 'olctl connector serve')"
		}
		return nil, usageErrorf("--db %s: not a portal database: %s: give the portal database of 'olctl serve'", dsn, what)
	}
	return db, nil
}
