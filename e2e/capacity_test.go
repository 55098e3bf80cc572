package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/olctl/olctl/bftest"
	"github.com/olctl/olctl/client"
	"github.com/olctl/olctl/connector/botframework"
	"github.com/olctl/olctl/connector/botframework/schema"
	"github.com/olctl/olctl/internal/proctest"
	"github.com/olctl/olctl/internal/testdb"
)

// The capacity benchmark drives the whole chain as separate processes: this process is the load generator
// (the fake Bot Framework posting customer messages to the connector server's webhooks, and the reader of
// the portal's events), the connector server and the portal are children.
const (
	// childPortalDelayEnv: the portal child takes this long (a Go duration) over every packet, like a portal
	// across a network.
	childPortalDelayEnv = "OLCTL_E2E_CHILD_PORTAL_DELAY"
	// childCPUProfileEnv: a child writes its CPU profile to this file when it ends; childTraceEnv: its
	// execution trace (runtime/trace).
	childCPUProfileEnv = "OLCTL_E2E_CHILD_CPUPROFILE"
	childTraceEnv      = "OLCTL_E2E_CHILD_TRACE"
	// capacitySecondsEnv sets the length of each point (seconds; default 5); capacityProfileEnv names a
	// directory where every child of the run writes its CPU profile, capacityTraceEnv one where it writes
	// its execution trace.
	capacitySecondsEnv = "OLCTL_CAPACITY_SECONDS"
	capacityProfileEnv = "OLCTL_CAPACITY_PROFILE_DIR"
	capacityTraceEnv   = "OLCTL_CAPACITY_TRACE_DIR"
)

// capacityRates are the offered rates of each chain, in messages per second.
var capacityRates = []int{250, 500, 1000, 2000, 4000}

// capacityLines is the number of open lines the messages are spread over, each with its own bot: enough
// that several connector processes have lines to send at once.
const capacityLines = 12

// capacityChain is one configuration of the capacity benchmark.
type capacityChain struct {
	name  string
	db    string        // the connector servers' database: sqlite, mariadb or postgres
	procs int           // connector server processes on it
	delay time.Duration // what the portal takes per packet
}

var capacityChains = []capacityChain{
	{"sqlite", "sqlite", 1, 0},
	{"mariadb", "mariadb", 1, 0},
	{"postgres", "postgres", 1, 0},
	{"mariadb-20ms-1", "mariadb", 1, 20 * time.Millisecond},
	{"mariadb-20ms-2", "mariadb", 2, 20 * time.Millisecond},
	{"mariadb-20ms-3", "mariadb", 3, 20 * time.Millisecond},
	{"postgres-20ms-1", "postgres", 1, 20 * time.Millisecond},
	{"postgres-20ms-2", "postgres", 2, 20 * time.Millisecond},
	{"postgres-20ms-3", "postgres", 3, 20 * time.Millisecond},
}

// BenchmarkCapacity offers customer messages at fixed rates (capacityRates, each for a few seconds) to the
// whole chain, bftest → connector server(s) → portal, each server its own process, and reports for every
// point: the rate achieved by the generator (sent/s) and delivered (delivered/s, from the first send to the
// last event), the latency from webhook to portal event (p50, p99, max), the messages that had not arrived
// lateAfter after the last webhook was answered (undelivered),
// for each process (load generator, the connector servers together, portal) the CPU seconds per 1 000
// messages and the peak RSS, and for the machine the share of its cores that were busy (machine-cpu-%) and
// the CPU seconds per 1 000 messages of the rest (rest-cpu-s/1k: the database servers, the kernel, anything
// else running). Chains: one connector server on SQLite, MariaDB and PostgreSQL with a portal
// that answers at once, and 1, 2 and 3 connector servers on MariaDB and PostgreSQL with a portal that takes
// 20 ms per packet. The portal stores on SQLite in every chain. A chain stops at the first rate of which it
// delivers less than half. Run with -benchtime=1x.
func BenchmarkCapacity(b *testing.B) {
	secs := 5
	if n, err := strconv.Atoi(os.Getenv(capacitySecondsEnv)); err == nil && n > 0 {
		secs = n
	}
	for _, cc := range capacityChains {
		b.Run(cc.name, func(b *testing.B) {
			ch := startCapacityChain(b, cc)
			for _, rate := range capacityRates {
				delivered := -1.0 // not run (-bench left it out), or failed
				b.Run(strconv.Itoa(rate), func(b *testing.B) {
					delivered = 0
					delivered = ch.point(b, rate, time.Duration(secs)*time.Second)
				})
				if delivered >= 0 && delivered < float64(rate)/2 {
					break // saturated: a higher rate only takes longer to say so
				}
			}
		})
	}
}

// chainRun is a running chain of the capacity benchmark.
type chainRun struct {
	bf     *bftest.Server
	portal *proctest.Process
	conns  []*proctest.Process
	bots   []schema.ChannelAccount
	hooks  [][]string // line → a webhook URL on each connector process

	// The point in progress: message i's id is "p<point>-<i>"; the portal's event lines record arrivals.
	pointID atomic.Int64
	sentAt  []atomic.Int64 // Unix nanoseconds
	gotAt   []atomic.Int64
	arrived atomic.Int64
	last    atomic.Int64 // the last arrival
}

func startCapacityChain(b *testing.B, cc capacityChain) *chainRun {
	ctx := context.Background()
	var dsn string
	switch cc.db {
	case "sqlite":
		dsn = filepath.Join(b.TempDir(), "connector.db")
	case "mariadb":
		dsn = testdb.MySQLDSN(b)
	case "postgres":
		dsn = testdb.PostgresDSN(b)
	}
	// The generator keeps its connections, as the Bot Framework service does.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	ch := &chainRun{bf: bftest.NewServer(b, bftest.WithConfig(bftest.Config{HTTPClient: &http.Client{Timeout: time.Minute, Transport: tr}}))}
	profile := func(name string) []string {
		var env []string
		if dir := os.Getenv(capacityProfileEnv); dir != "" {
			env = append(env, childCPUProfileEnv+"="+filepath.Join(dir, cc.name+"-"+name+".pprof"))
		}
		if dir := os.Getenv(capacityTraceEnv); dir != "" {
			env = append(env, childTraceEnv+"="+filepath.Join(dir, cc.name+"-"+name+".trace"))
		}
		return env
	}
	serverAddrs := make([]string, cc.procs)
	for i := range serverAddrs {
		serverAddrs[i] = freeAddr(b)
	}
	ch.portal = proctest.Start(b, append([]string{childEnv + "=portal", childAddrEnv + "=" + freeAddr(b), childDSNEnv + "=" + b.TempDir(),
		childServerEnv + "=http://" + serverAddrs[0], childPortalDelayEnv + "=" + cc.delay.String()}, profile("portal")...), ch.event)
	b.Cleanup(ch.portal.Stop)
	startConn := func(i int) {
		c := startChild(b, dsn, serverAddrs[i], ch.portal.URL, append([]string{childBFOpenIDEnv + "=" + ch.bf.OpenIDMetadataURL(),
			childBFTokenEnv + "=" + ch.bf.TokenURL()}, profile("connector"+strconv.Itoa(i+1))...)...)
		b.Cleanup(c.Stop)
		ch.conns = append(ch.conns, c)
	}
	startConn(0)
	cl, err := client.New(ch.conns[0].URL, client.WithDomain(ch.portal.URL), client.WithLicenceKey(licenceKey))
	if err != nil {
		b.Fatal(err)
	}
	for line := 1; line <= capacityLines; line++ {
		app, secret := fmt.Sprintf("cap-bot-%02d", line), "cap-secret-"+strconv.Itoa(line)
		ch.bots = append(ch.bots, ch.bf.AddBot(app, secret))
		data, err := cl.Connect(ctx, client.Settings{"bot_handle": app, "app_id": app, "app_secret": secret},
			client.Connector(botframework.ID), client.Line(strconv.Itoa(line)))
		if err != nil {
			b.Fatalf("line %d: %v", line, err)
		}
		hook, _ := data["URL_WEBHOOK"].(string)
		ch.hooks = append(ch.hooks, []string{hook})
	}
	// The other servers serve the same lines: their webhook URLs are the first one's on their own address.
	for i := 1; i < cc.procs; i++ {
		startConn(i)
		for line := range ch.hooks {
			ch.hooks[line] = append(ch.hooks[line], strings.Replace(ch.hooks[line][0], ch.conns[0].URL, ch.conns[i].URL, 1))
		}
	}
	return ch
}

// event records a portal event line of the point in progress.
func (ch *chainRun) event(line string) {
	now := time.Now().UnixNano()
	id, ok := strings.CutPrefix(line, "EVENT p")
	if !ok {
		return
	}
	p, i, ok := strings.Cut(id, "-")
	n, err := strconv.Atoi(i)
	if !ok || err != nil || p != strconv.FormatInt(ch.pointID.Load(), 10) || n < 0 || n >= len(ch.gotAt) {
		return
	}
	if ch.gotAt[n].CompareAndSwap(0, now) {
		ch.arrived.Add(1)
		ch.last.Store(now)
	}
}

// lateAfter is how long after the webhooks of a point have been answered its messages may still arrive;
// those that have not are counted as undelivered (late).
const lateAfter = 10 * time.Second

// maxInFlight bounds the webhooks the generator has out at once; when it is reached the generator falls
// behind the offered rate, which sent/s shows.
const maxInFlight = 1024

// point offers rate messages per second for d, waits until they have arrived (at most lateAfter more),
// reports the point's figures and returns the delivered rate.
func (ch *chainRun) point(b *testing.B, rate int, d time.Duration) float64 {
	n := rate * int(d/time.Second)
	ch.sentAt, ch.gotAt = make([]atomic.Int64, n), make([]atomic.Int64, n)
	ch.arrived.Store(0)
	pt := ch.pointID.Add(1)
	procs := append([]*proctest.Process{ch.portal}, ch.conns...)
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		p.ResetPeakRSS()
		cpu0[i] = p.CPUTime()
	}
	proctest.ResetPeakRSS()
	gen0 := proctest.CPUTime()
	machine0 := readMachineCPU()
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, maxInFlight)
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))); wait > 0 {
			time.Sleep(wait) // the offered rate: a schedule, not a poll
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			line := i % capacityLines
			a := schema.Activity{
				ID:           fmt.Sprintf("p%d-%d", pt, i),
				From:         schema.ChannelAccount{ID: "29:cap-user-" + strconv.Itoa(i%50), Name: "Customer " + strconv.Itoa(i%50)},
				Conversation: schema.ConversationAccount{ID: fmt.Sprintf("cap-conv-%d-%d", line, i%7)},
				Recipient:    ch.bots[line],
				Text:         "message " + strconv.Itoa(i) + " :+1:",
			}
			ch.sentAt[i].Store(time.Now().UnixNano())
			if _, err := ch.bf.SendActivity(ctx, ch.hooks[line][(i/capacityLines)%len(ch.conns)], a); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	sendEnd := time.Now()
	wg.Wait()
	// Not eventually.True: a message later than lateAfter is counted as undelivered, not a failure.
	for deadline := time.Now().Add(lateAfter); ch.arrived.Load() < int64(n)-failed.Load() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	genCPU := proctest.CPUTime() - gen0
	machine := readMachineCPU().since(machine0)
	cpu := make([]time.Duration, len(procs))
	for i, p := range procs {
		cpu[i] = p.CPUTime() - cpu0[i]
	}
	if err, _ := firstErr.Load().(error); err != nil {
		b.Logf("%d of %d webhooks failed; the first: %v", failed.Load(), n, err)
	}

	var lat []time.Duration
	for i := range n {
		if got := ch.gotAt[i].Load(); got != 0 {
			lat = append(lat, time.Duration(got-ch.sentAt[i].Load()))
		}
	}
	slices.Sort(lat)
	delivered := len(lat)
	if delivered == 0 {
		b.Fatalf("no message of %d arrived", n)
	}
	perK := func(c time.Duration) float64 { return c.Seconds() / float64(delivered) * 1000 }
	var connCPU time.Duration
	var connRSS float64
	for i, c := range ch.conns {
		connCPU += cpu[i+1]
		connRSS = max(connRSS, c.PeakRSS())
	}
	rateDelivered := float64(delivered) / time.Duration(ch.last.Load()-start.UnixNano()).Seconds()
	b.ReportMetric(float64(n-1)/sendEnd.Sub(start).Seconds(), "sent/s")
	b.ReportMetric(rateDelivered, "delivered/s")
	b.ReportMetric(float64(n-delivered), "undelivered")
	b.ReportMetric(ms(lat[delivered/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(delivered-1, delivered*99/100)]), "p99-ms")
	b.ReportMetric(ms(lat[delivered-1]), "max-ms")
	b.ReportMetric(perK(genCPU), "gen-cpu-s/1k")
	b.ReportMetric(perK(connCPU), "conn-cpu-s/1k")
	b.ReportMetric(perK(cpu[0]), "portal-cpu-s/1k")
	if machine.total > 0 {
		// The rest: the database servers, the kernel's work for all, and whatever else ran on the machine.
		b.ReportMetric(perK(max(0, machine.busy-genCPU-connCPU-cpu[0])), "rest-cpu-s/1k")
		b.ReportMetric(100*machine.busy.Seconds()/machine.total.Seconds(), "machine-cpu-%")
	}
	b.ReportMetric(proctest.PeakRSS(), "gen-rss-MiB")
	b.ReportMetric(connRSS, "conn-rss-MiB")
	b.ReportMetric(ch.portal.PeakRSS(), "portal-rss-MiB")
	return rateDelivered
}

// machineCPU is the CPU time of the whole machine, all cores together, from /proc/stat: busy (not idle,
// not waiting for I/O) and total. Zero where there is no /proc/stat.
type machineCPU struct{ busy, total time.Duration }

// clockTick is the unit of /proc/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

func readMachineCPU() machineCPU {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return machineCPU{}
	}
	var m machineCPU
	// user nice system idle iowait irq softirq steal (guest time is counted in user already).
	for i, f := range fields[1:min(len(fields), 9)] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return machineCPU{}
		}
		d := time.Duration(n) * clockTick
		m.total += d
		if i != 3 && i != 4 {
			m.busy += d
		}
	}
	return m
}

// since is the machine's CPU time from m0 to m.
func (m machineCPU) since(m0 machineCPU) machineCPU {
	if m0.total == 0 {
		return machineCPU{}
	}
	return machineCPU{m.busy - m0.busy, m.total - m0.total}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// childProfile starts the CPU profile and the execution trace a child was asked for (childCPUProfileEnv,
// childTraceEnv) and returns the function that writes them.
func childProfile() (stop func()) {
	var stops []func()
	if path := os.Getenv(childCPUProfileEnv); path != "" {
		stops = append(stops, childRecord(path, pprof.StartCPUProfile, pprof.StopCPUProfile))
	}
	if path := os.Getenv(childTraceEnv); path != "" {
		stops = append(stops, childRecord(path, trace.Start, trace.Stop))
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// childRecord starts a recording (a CPU profile, a trace) into the file path and returns what ends it.
func childRecord(path string, start func(io.Writer) error, stop func()) func() {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return func() {}
	}
	if err := start(f); err != nil {
		fmt.Fprintln(os.Stderr, "child:", path+":", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		stop()
		_ = f.Close()
	}
}

// portalDelay wraps a portal's handler so that every request takes d more (none for 0).
func portalDelay(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d) // the portal's latency under test
		h.ServeHTTP(w, r)
	})
}
