//go:build !linux

package connector

import (
	"context"
	"io"

	"github.com/olctl/olctl/sqldb"
)

// lockSQLite does not guard a SQLite queue outside Linux, where an flock of the database file could meet
// SQLite's own locks: there, the operator must not start two servers on one file.
func lockSQLite(context.Context, *sqldb.DB) (io.Closer, error) { return nil, nil }
