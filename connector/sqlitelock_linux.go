package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/olctl/olctl/sqldb"
)

// lockSQLite takes an exclusive advisory lock (flock) on the file of a SQLite database for as long as the
// server runs: one process serves a SQLite queue (it frees every lease at start and its writers take turns
// in memory), so a second server on the file fails with ErrQueueInUse instead of sending its lines a second
// time. The kernel drops the lock when the process dies, however it dies. On Linux flock and SQLite's own
// fcntl locks do not interact. An in-memory database has no file and no lock (nil).
func lockSQLite(ctx context.Context, db *sqldb.DB) (io.Closer, error) {
	path, err := sqliteFile(ctx, db)
	if err != nil || path == "" {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("connector: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrQueueInUse, path)
		}
		return nil, fmt.Errorf("connector: lock %s: %w", path, err)
	}
	return f, nil
}
