package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"time"
)

// A claimed line is leased to one holder (docs/protocol.md §11: one packet per line at a time). The lease is
// short (Policy.LeaseTTL, 10 s), so that another process takes over the lines of one that died within
// seconds, and its holder renews it while it works, so that a packet may still take as long as
// Config.SendTimeout. A lease owner is "<instance>.<claim>": the instance names the process among those that
// share the database, the claim token fences one claim (finish and renewal check it, so a holder whose lease
// lapsed and was claimed again, even by a worker of its own process, changes nothing).

// errLeaseLost is the cause of a holder's context ending because its lease passed to another holder, or
// could not be renewed before it ran out.
var errLeaseLost = errors.New("connector: the line's lease was lost")

// instanceName names the process listening on ln (configured as addr) among those that share a database. A
// fixed listen address gives a name of the host and the address: the kernel lets one live process listen
// there, so a process with the name of a lease owner that is not itself is that owner's previous
// incarnation, gone, and frees its leases at start. A random port (":0") gives a random name, as it can have
// no previous incarnation.
func instanceName(addr string, ln net.Listener) string {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" || port == "0" {
		return randomHex(8)
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte("olctl-connector\x00" + host + "\x00" + ln.Addr().String()))
	return hex.EncodeToString(sum[:8])
}

// leaseOwner returns the owner of a new claim: the instance and a random claim token (31 characters, within
// the column's 32).
func (s *Server) leaseOwner() string { return s.instance + "." + randomHex(7) }

// holdLease keeps the lease of a claimed lane while its holder works on it: it renews the lease every third
// of Policy.LeaseTTL until release is called. The returned context ends, with cause errLeaseLost, when the
// lease has passed to another holder, or when no renewal has succeeded for two thirds of the lease (a
// database out of reach): the holder stops before anyone else may claim the line. Renewals run on real
// time, as they are this process's liveness and not a point of the queue's schedule; the lease's end is
// written on the clock.
func (s *Server) holdLease(ctx context.Context, laneID int64, owner string) (hold context.Context, release func()) {
	hold, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	every := max(s.cfg.Queue.LeaseTTL/3, time.Millisecond)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		renewed := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-hold.Done():
				return
			case <-t.C:
			}
			held, err := s.store.renewLease(hold, laneID, owner)
			switch {
			case err == nil && held:
				renewed = time.Now()
			case err == nil:
				cancel(errLeaseLost)
				return
			case time.Since(renewed) >= 2*every: // the next try would come when the lease may have ended
				s.log.Warn("connector: cannot renew a line's lease; the packet is abandoned", "err", err)
				cancel(errLeaseLost)
				return
			}
		}
	}()
	return hold, func() {
		close(stop)
		cancel(nil)
	}
}
