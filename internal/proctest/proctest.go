// Package proctest runs a test binary again as a child process, so that tests can stop a server the hard way
// (SIGKILL) and restart it, and measure it as a process (peak RSS). The child is the same binary: its TestMain
// looks at an environment variable the parent sets, runs the server instead of the tests, announces itself with
// Ready and blocks in the function Ready returns.
package proctest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyPrefix starts the line a child prints when it serves.
const readyPrefix = "READY "

// StartTimeout is how long Start waits for a child to announce itself.
const StartTimeout = 60 * time.Second

// Process is a running child.
type Process struct {
	Cmd *exec.Cmd
	// URL is what the child announced with Ready.
	URL    string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

type lockedWriter struct{ p *Process }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.stderr.Write(b)
}

// Start runs this test binary (no tests, no benchmarks) with env added to the environment and waits until it
// calls Ready. Every other line it prints to stdout is passed to lines (which may be nil), in order. The test
// fails if the child does not start; the child is killed when the test ends.
func Start(t testing.TB, env []string, lines func(string)) *Process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), env...)
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = lockedWriter{p}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("proctest: starting the child: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), readyPrefix); ok {
				ready <- u
			} else if lines != nil {
				lines(sc.Text())
			}
		}
	}()
	select {
	case p.URL = <-ready:
		return p
	case <-p.done:
		t.Fatalf("proctest: the child exited before it was ready:\n%s", p.Stderr())
	case <-time.After(StartTimeout):
		p.Kill()
		t.Fatalf("proctest: the child did not start in %v:\n%s", StartTimeout, p.Stderr())
	}
	return nil
}

// Command runs the program at path (any binary, not this test binary) with args and env added to the
// environment, and waits until a line of its standard output or standard error matches ready; the URL is the
// match's first group. Every other line of its standard output is passed to lines (which may be nil), in
// order; its standard error is kept for Stderr. The test fails if the program does not get ready; it is
// killed when the test ends.
func Command(t testing.TB, path string, args, env []string, ready *regexp.Regexp, lines func(string)) *Process {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("proctest: starting %s: %v", path, err)
	}
	urls := make(chan string, 2)
	match := func(line string) bool {
		if m := ready.FindStringSubmatch(line); m != nil {
			u := ""
			if len(m) > 1 {
				u = m[1]
			}
			select {
			case urls <- u:
			default:
			}
			return true
		}
		return false
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if !match(sc.Text()) && lines != nil {
				lines(sc.Text())
			}
		}
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errOut)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			match(sc.Text())
			_, _ = lockedWriter{p}.Write(append(sc.Bytes(), '\n'))
		}
	}()
	go func() { readers.Wait(); _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	select {
	case p.URL = <-urls:
		return p
	case <-p.done:
		t.Fatalf("proctest: %s exited before it was ready:\n%s", path, p.Stderr())
	case <-time.After(StartTimeout):
		p.Kill()
		t.Fatalf("proctest: %s did not get ready in %v:\n%s", path, StartTimeout, p.Stderr())
	}
	return nil
}

// Kill stops the child with SIGKILL and waits for it to be gone.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the child to end (SIGTERM) and kills it when it has not after 10 s.
func (p *Process) Stop() {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Stderr returns what the child wrote to its standard error so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// PeakRSS returns the child's peak resident set size (VmHWM) in MiB, or 0 where /proc does not tell.
func (p *Process) PeakRSS() float64 { return p.status("VmHWM:") }

// ResetPeakRSS starts the child's peak resident set size (PeakRSS) again from its size now, so that one
// phase of a run is measured alone. It reports false where the kernel does not allow it.
func (p *Process) ResetPeakRSS() bool { return resetPeakRSS(strconv.Itoa(p.Cmd.Process.Pid)) }

// PeakRSS returns this process's peak resident set size in MiB, or 0 where /proc does not tell.
func PeakRSS() float64 { return procStatus("self", "VmHWM:") }

// ResetPeakRSS starts this process's PeakRSS again from its size now (see Process.ResetPeakRSS).
func ResetPeakRSS() bool { return resetPeakRSS("self") }

func resetPeakRSS(pid string) bool {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
}

// RSS returns the child's resident set size now (VmRSS) in MiB, or 0 where /proc does not tell.
func (p *Process) RSS() float64 { return p.status("VmRSS:") }

// CPUTime returns the CPU time (user and system) the child has used so far, or 0 where /proc does not tell.
// It counts in the kernel's clock ticks (10 ms).
func (p *Process) CPUTime() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.Cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces: state is the 3rd
	// field of the line, utime and stime the 14th and 15th.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / clockTicks)
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100 on every Linux the tests run on.
const clockTicks = 100

// status reads a "<key> <n> kB" line of /proc/<pid>/status, in MiB.
func (p *Process) status(key string) float64 { return procStatus(strconv.Itoa(p.Cmd.Process.Pid), key) }

func procStatus(pid, key string) float64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// Ready is called by the child when it serves: it tells the parent its URL and returns the function that waits
// until the parent asks the child to end (SIGTERM or interrupt). The signals are caught before the parent hears
// of the child, so a Stop right after Start always finds the handler in place.
func Ready(url string) (wait func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	fmt.Println(readyPrefix + url)
	return func() { <-sig }
}
