package sqldb

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/olctl/olctl/clock"
)

// A SQLite file that Open opens keeps its WAL journal checkpointed by a goroutine of its own, not by the
// commits. SQLite's default (wal_autocheckpoint) runs a checkpoint inside the commit that brings the WAL to
// 1 000 pages: that commit copies the pages into the database file and syncs both files, 5 to 150 ms on
// a busy machine, while every writer behind it waits (a connector server's queue at 2 000 messages per
// second made ten such commits a second). Open turns it off (wal_autocheckpoint(0)) on every connection;
// the checkpointer runs PASSIVE checkpoints, which neither wait for nor block writers and readers, every
// checkpointInterval on a pooled connection of its own.
//
// Durability is unchanged: a commit is in the WAL (synchronous=NORMAL) when it returns, so it survives a
// crash of the process; on power loss the commits since the WAL's last sync may be lost, the database stays
// consistent. A checkpoint syncs the WAL before it copies it.
//
// A PASSIVE checkpoint copies the frames written before it began; the WAL starts over from its beginning at
// the first commit after a checkpoint that copied every frame. Should writes never pause long enough for
// that, the WAL would only grow: at walRestartPages the checkpointer runs a RESTART checkpoint, which waits
// for the writers (busy timeout) and makes the next commit start the WAL over.
const (
	checkpointInterval = 100 * time.Millisecond
	walRestartPages    = 4096 // 16 MiB of 4 KiB pages
)

// startCheckpointer starts the checkpointer of d and returns the function that stops it (at once, and
// waits for it).
func startCheckpointer(d *DB) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		clk := clock.System()
		for {
			select {
			case <-ctx.Done():
				return
			case <-clk.After(checkpointInterval):
			}
			if err := d.checkpoint(ctx); err != nil && closed(err) {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

// checkpoint runs one PASSIVE checkpoint, and a RESTART one when the WAL has reached walRestartPages.
func (d *DB) checkpoint(ctx context.Context) error {
	var busy, walPages, copied int
	if err := d.DB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &walPages, &copied); err != nil {
		return err
	}
	if walPages < walRestartPages {
		return nil
	}
	return d.DB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &walPages, &copied)
}

// closed reports an error that says the checkpointer's database or context is gone.
func closed(err error) bool {
	return errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "sql: database is closed")
}
