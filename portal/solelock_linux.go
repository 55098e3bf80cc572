//go:build linux

package portal

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// soleLock tells whether this is the only portal writing a SQLite database. Every portal holds an open
// file description lock (Linux OFD lock: per open file, so two portals in one process see each other too)
// for reading on the first byte of a lock file beside the database, for as long as it is open; a portal is
// alone when nobody else holds one, which it asks with F_OFD_GETLK (one system call, no wait).
type soleLock struct {
	f *os.File
}

func openSoleLock(path string) (*soleLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: 0, Start: 0, Len: 1}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLKW, &lk); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &soleLock{f: f}, nil
}

// alone reports whether no other portal holds the lock file. An error counts as not alone.
func (l *soleLock) alone() bool {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 1}
	if err := unix.FcntlFlock(l.f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type == unix.F_UNLCK
}

func (l *soleLock) close() error { return l.f.Close() }
