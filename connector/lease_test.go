package connector

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/internal/testdb"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestLeaseFencing: a claim's lease is renewed and settled by its own owner only, whatever the process: a
// holder whose lease passed to another claim changes nothing; releasing an instance's leases frees those
// of its claims and no other.
func TestLeaseFencing(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		p := newFakePortal(t, "key-fence", nil)
		s := newTestServer(t, p, Config{DSN: dsn, NoDispatch: true})
		for _, line := range []string{"1", "2"} {
			hook := p.connect("echo", line, nil)
			if code, body := postWebhook(t, hook, echoItems("c"+line, 1, 3)); code != 200 {
				t.Fatalf("webhook: %d %s", code, body)
			}
		}
		a, b := "aaaaaaaaaaaaaaaa.00000000000001", "bbbbbbbbbbbbbbbb.00000000000002"
		ra, err := s.store.claim(ctx, a)
		if err != nil || ra.batch == nil {
			t.Fatalf("claim a: %+v %v", ra, err)
		}
		rb, err := s.store.claim(ctx, b)
		if err != nil || rb.batch == nil {
			t.Fatalf("claim b: %+v %v", rb, err)
		}
		if ra.batch.lane.id == rb.batch.lane.id {
			t.Fatal("two claims got one lane")
		}
		if r, err := s.store.claim(ctx, "cccccccccccccccc.00000000000003"); err != nil || r.batch != nil {
			t.Fatalf("a third claim while both lanes are leased: %+v %v", r, err)
		}
		for _, tc := range []struct {
			lane  int64
			owner string
			want  bool
		}{{ra.batch.lane.id, a, true}, {ra.batch.lane.id, b, false}, {ra.batch.lane.id, "aaaaaaaaaaaaaaaa.99999999999999", false}, {rb.batch.lane.id, b, true}} {
			if held, err := s.store.renewLease(ctx, tc.lane, tc.owner); err != nil || held != tc.want {
				t.Errorf("renewLease(lane %d, %s) = %v, %v; want %v", tc.lane, tc.owner, held, err, tc.want)
			}
		}
		// Another claim of a's instance does not settle a's batch.
		if fin, err := s.store.finish(ctx, "aaaaaaaaaaaaaaaa.99999999999999", ra.batch, nil, false); err != nil || !fin.lost {
			t.Fatalf("finish by another claim: %+v %v, want lost", fin, err)
		}
		if err := s.store.releaseLeases(ctx, "aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
		if held, _ := s.store.renewLease(ctx, rb.batch.lane.id, b); !held {
			t.Fatal("releasing instance a freed b's lease")
		}
		if held, _ := s.store.renewLease(ctx, ra.batch.lane.id, a); held {
			t.Fatal("a's lease survived the release of its instance")
		}
		rc, err := s.store.claim(ctx, "cccccccccccccccc.00000000000003")
		if err != nil || rc.batch == nil || rc.batch.lane.id != ra.batch.lane.id || rc.batch.first != ra.batch.first {
			t.Fatalf("claim after the release: %+v %v; want a's batch again", rc, err)
		}
		if fin, err := s.store.finish(ctx, a, ra.batch, nil, false); err != nil || !fin.lost {
			t.Fatalf("finish by the released holder: %+v %v, want lost", fin, err)
		}
		if queueLen(t, s) != 6 {
			t.Fatalf("queue %d, want the 6 items untouched", queueLen(t, s))
		}
	})
}

// TestInstanceName: a fixed listen address names the process by its host and address, the same after a
// restart; a random port gives a new name each time.
func TestInstanceName(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fixed := ln.Addr().String()
	if a, b := instanceName(fixed, ln), instanceName(fixed, ln); a != b || len(a) != 16 {
		t.Errorf("fixed address: %q and %q, want one 16-character name", a, b)
	}
	if a, b := instanceName("127.0.0.1:0", ln), instanceName(":0", ln); a == b || a == instanceName(fixed, ln) {
		t.Errorf("random port: %q and %q, want new names", a, b)
	}
	s := &Server{instance: instanceName(fixed, ln)}
	if o := s.leaseOwner(); len(o) > 32 || !strings.HasPrefix(o, s.instance+".") || o == s.leaseOwner() {
		t.Errorf("lease owner %q: want the instance, a dot and a fresh token within 32 characters", o)
	}
}

// TestSQLiteServedOnce: a second server on a SQLite file that one serves fails with ErrQueueInUse (it would
// free the first one's leases and send its lines again); once the first is closed the file can be served.
func TestSQLiteServedOnce(t *testing.T) {
	dsn := testdb.SQLiteDSN(t)
	first, err := NewServer(Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := NewServer(Config{DSN: dsn}); !errors.Is(err, ErrQueueInUse) {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("second server: %v, want ErrQueueInUse", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := NewServer(Config{DSN: dsn})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	_ = again.Close()
}

// TestLeaseRenewedWhileSending: a packet that takes several times the lease keeps its line: the lease is
// renewed while it is out, so no other worker or process sends the line meanwhile (not even when more items
// for it arrive), and every item is sent once.
func TestLeaseRenewedWhileSending(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		p := newFakePortal(t, "key-renew", nil)
		p.version.Store(wire.CurrentVersion)
		env := []string{"CHILD_DSN=" + dsn, "CHILD_KEYS=key-renew", "CHILD_LEASE_MS=300", "CHILD_SEND_MS=10000", "CHILD_POLL_MS=10"}
		procs := 2
		if strings.HasPrefix(dsn, "sqlite:") {
			procs = 1 // one process serves a SQLite queue; its other workers compete for the line
		}
		cs := make([]*child, procs)
		eps := make([]string, procs)
		for i := range cs {
			cs[i] = startChild(t, env...)
			eps[i] = cs[i].endpoint()
		}
		p.setServer(eps[0])
		hook := p.connect("echo", "1", nil)
		p.setServer(eps...)
		open := holdPackets(t, p)
		if code, body := postWebhook(t, hook, echoItems("c", 1, 5)); code != 200 {
			t.Fatalf("webhook: %d %s", code, body)
		}
		eventually.True(t, 10*time.Second, "the packet", func() bool { return received(p) > 0 })
		// The sleeps are the windows in which a second sender would show: the children renew their leases
		// on real time (lease.go: the lease is the process's liveness), so no fake clock can stand in, and
		// nothing marks a claim that did not happen. Each spans several leases of 300 ms at a 10 ms poll.
		time.Sleep(900 * time.Millisecond) // three leases
		// More items wake every idle worker (SQLite has no poll): the line is still held.
		if code, body := postWebhook(t, hook, echoItems("c", 6, 5)); code != 200 {
			t.Fatalf("webhook: %d %s", code, body)
		}
		time.Sleep(600 * time.Millisecond) // two leases
		if n := received(p); n != 1 {
			t.Fatalf("%d packets while the first was out, want 1", n)
		}
		open()
		eventually.True(t, 10*time.Second, "the items", func() bool { return len(p.Events()) == 10 })
		eventually.True(t, 10*time.Second, "an empty queue", func() bool {
			st, err := Open(context.Background(), dsn)
			if err != nil {
				return false
			}
			defer st.Close()
			qs, err := st.QueueStats(context.Background())
			return err == nil && qs.Pending == 0
		})
		if _, _, dups, overlaps := p.counts(); received(p) != 2 || dups != 0 || overlaps != 0 {
			t.Fatalf("%d packets, %d duplicates, %d overlaps; want the held packet and the next, each item once", received(p), dups, overlaps)
		}
	})
}

// TestRestartTakesBackItsLines: a process killed while its packet is out and started again on the same
// address sends the packet again at once, not when the lease (a minute here) runs out.
func TestRestartTakesBackItsLines(t *testing.T) {
	eachDB(t, func(t *testing.T, dsn string) {
		p := newFakePortal(t, "key-restart", nil)
		p.version.Store(wire.CurrentVersion)
		env := []string{"CHILD_DSN=" + dsn, "CHILD_KEYS=key-restart", "CHILD_ADDR=" + freeAddr(t), "CHILD_LEASE_MS=60000",
			"CHILD_SEND_MS=30000", "CHILD_POLL_MS=10"}
		c := startChild(t, env...)
		p.setServer(c.endpoint())
		hook := p.connect("echo", "1", nil)
		took := killMidSend(t, p, hook, func() { c.kill(t) }, func() { c = startChild(t, env...) })
		t.Logf("restart to the packet sent again: %v", took.Round(time.Millisecond))
		if took > 20*time.Second {
			t.Errorf("the restarted process took %v to send its line again, want it at once", took)
		}
	})
}

// TestCrashedProcessTakenOver: the lines of a process killed while its packet is out are sent by another
// process once the lease runs out (1 s here).
func TestCrashedProcessTakenOver(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"mysql", testdb.MySQLDSN}, {"postgres", testdb.PostgresDSN}} {
		t.Run(db.name, func(t *testing.T) {
			dsn := db.dsn(t)
			p := newFakePortal(t, "key-takeover", nil)
			p.version.Store(wire.CurrentVersion)
			env := []string{"CHILD_DSN=" + dsn, "CHILD_KEYS=key-takeover", "CHILD_LEASE_MS=1000", "CHILD_SEND_MS=30000", "CHILD_POLL_MS=10"}
			a := startChild(t, env...)
			p.setServer(a.endpoint())
			hook := p.connect("echo", "1", nil)
			var b *child
			took := killMidSend(t, p, hook, func() {
				b = startChild(t, env...) // started while a holds the line: it must wait for the lease
				p.setServer(b.endpoint())
				a.kill(t)
			}, func() {})
			t.Logf("kill to the packet sent by the other process: %v", took.Round(time.Millisecond))
			if took > 10*time.Second {
				t.Errorf("the other process took %v to take the line over, want about the lease (1 s)", took)
			}
			if n := scrape(t, b.url, `olctl_connector_sends_total{command="receivingMessage",result="ok"}`); n == 0 {
				t.Error("the other process sent nothing")
			}
		})
	}
}

// killMidSend posts 5 messages to hook, holds the packet that carries them at the portal, runs kill, lets
// the held packet go (its sender is gone), runs restart and returns the time from the end of kill to the
// packet sent again; then every message must have arrived once.
func killMidSend(t *testing.T, p *fakePortal, hook string, kill, restart func()) time.Duration {
	t.Helper()
	open := holdPackets(t, p)
	if code, body := postWebhook(t, hook, echoItems("c", 1, 5)); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	eventually.True(t, 10*time.Second, "the packet", func() bool { return received(p) > 0 })
	kill()
	start := time.Now()
	open()
	restart()
	eventually.True(t, 30*time.Second, "the packet sent again", func() bool { return received(p) >= 2 })
	took := time.Since(start)
	eventually.True(t, 10*time.Second, "the items", func() bool { return len(p.Events()) == 5 })
	if _, events, _, overlaps := p.counts(); events != 5 || overlaps != 0 {
		t.Fatalf("%d items, %d overlaps", events, overlaps)
	}
	return took
}

// received counts the receivingMessage packets the portal got.
func received(p *fakePortal) int {
	n := 0
	for _, pk := range p.Packets() {
		if pk.Command == openlines.CommandReceivingMessage {
			n++
		}
	}
	return n
}

// holdPackets makes the portal hold receivingMessage packets until the returned function is called (at the
// latest when the test ends).
func holdPackets(t testing.TB, p *fakePortal) (open func()) {
	gate := make(chan struct{})
	p.gate.Store(&gate)
	var once sync.Once
	open = func() {
		once.Do(func() {
			p.gate.Store(nil)
			close(gate)
		})
	}
	t.Cleanup(open)
	return open
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestWaitTakenLanes: a worker whose claim found every ready lane held by other transactions waits for a
// wake-up (or the poll) instead of claiming again at once; otherwise a ready lane ends the wait at once.
func TestWaitTakenLanes(t *testing.T) {
	s := newTestServer(t, nil, Config{DSN: testdb.SQLiteDSN(t), NoDispatch: true})
	if _, err := s.store.DB().ExecContext(context.Background(),
		`INSERT INTO conn_lane (site_id, line, idle, next_at_ms, lease_until_ms) VALUES (1, 'x', 0, ?, 0)`, time.Now().Add(-time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	ready, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.wait(ready, nil, false, false)
	if ready.Err() != nil {
		t.Fatal("a ready lane did not end the wait")
	}
	taken, cancelTaken := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelTaken()
	s.wait(taken, nil, false, true)
	if taken.Err() == nil {
		t.Fatal("a lane held by others ended the wait at once")
	}
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	woken, cancelWoken := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelWoken()
	s.wait(woken, wake, false, true)
	if woken.Err() != nil {
		t.Fatal("a wake-up did not end the wait")
	}
}

// TestInMemorySQLiteRefused: an in-memory SQLite database (one connection) cannot hold the queue: NewServer
// and Open fail at once with ErrInMemory instead of waiting forever for a second connection.
func TestInMemorySQLiteRefused(t *testing.T) {
	for _, dsn := range []string{":memory:", "sqlite::memory:"} {
		t.Run(dsn, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan error, 2)
			go func() {
				s, err := NewServer(Config{DSN: dsn})
				if s != nil {
					_ = s.Close()
				}
				done <- err
			}()
			go func() {
				st, err := Open(ctx, dsn)
				if st != nil {
					_ = st.Close()
				}
				done <- err
			}()
			for range 2 {
				select {
				case err := <-done:
					if !errors.Is(err, ErrInMemory) {
						t.Errorf("%s: %v, want ErrInMemory", dsn, err)
					}
				case <-ctx.Done():
					t.Fatalf("%s: no answer in 30 s", dsn)
				}
			}
		})
	}
}
