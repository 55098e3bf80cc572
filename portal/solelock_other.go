//go:build !linux

package portal

import "errors"

// soleLock needs Linux's open file description locks; elsewhere the portal always asks the database.
type soleLock struct{}

func openSoleLock(string) (*soleLock, error) {
	return nil, errors.New("the sole-writer lock needs Linux")
}

func (*soleLock) alone() bool  { return false }
func (*soleLock) close() error { return nil }
