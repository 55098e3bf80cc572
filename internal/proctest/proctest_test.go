package proctest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("PROCTEST_CHILD") == "1" {
		wait := Ready("http://child.invalid")
		os.Stdout.WriteString("hello from the child\n")
		wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStartLinesStopKill(t *testing.T) {
	var mu sync.Mutex
	var got []string
	lineSeen := make(chan struct{})
	p := Start(t, []string{"PROCTEST_CHILD=1"}, func(l string) {
		mu.Lock()
		got = append(got, l)
		mu.Unlock()
		close(lineSeen)
	})
	if p.URL != "http://child.invalid" {
		t.Fatalf("URL %q", p.URL)
	}
	<-lineSeen
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], "hello") {
		t.Errorf("lines %q", got)
	}
	mu.Unlock()
	if rss, peak := p.RSS(), p.PeakRSS(); rss <= 0 || peak < rss {
		t.Errorf("RSS %v, peak %v", rss, peak)
	}
	p.Stop()
	if !p.Cmd.ProcessState.Exited() || p.Cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("state after Stop: %v", p.Cmd.ProcessState)
	}
	q := Start(t, []string{"PROCTEST_CHILD=1"}, nil)
	q.Kill()
	if q.Cmd.ProcessState.Exited() {
		t.Errorf("killed child exited normally: %v", q.Cmd.ProcessState)
	}
}

func TestCommand(t *testing.T) {
	var mu sync.Mutex
	var got []string
	lineSeen := make(chan struct{})
	p := Command(t, os.Args[0], []string{"-test.run=^$"}, []string{"PROCTEST_CHILD=1"}, regexp.MustCompile(`^READY (\S+)`), func(l string) {
		mu.Lock()
		got = append(got, l)
		mu.Unlock()
		close(lineSeen)
	})
	if p.URL != "http://child.invalid" {
		t.Fatalf("URL %q", p.URL)
	}
	<-lineSeen
	mu.Lock()
	if len(got) != 1 || got[0] != "hello from the child" {
		t.Errorf("lines %q", got)
	}
	mu.Unlock()
	p.Stop()
	if !p.Cmd.ProcessState.Exited() || p.Cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("state after Stop: %v", p.Cmd.ProcessState)
	}
}

// TestProcessCPUTime: /proc's figure for this process agrees with getrusage's within a few ticks.
func TestProcessCPUTime(t *testing.T) {
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: &exec.Cmd{Process: self}}
	for start := CPUTime(); CPUTime()-start < 100*time.Millisecond; {
	}
	proc, rusage := p.CPUTime(), CPUTime()
	if proc <= 0 || proc > rusage+50*time.Millisecond || proc < rusage-50*time.Millisecond {
		t.Fatalf("/proc says %v, getrusage %v", proc, rusage)
	}
}

// TestResetPeakRSS: after a reset the peak is the size now, for a child and for this process.
func TestResetPeakRSS(t *testing.T) {
	p := Start(t, []string{"PROCTEST_CHILD=1"}, nil)
	defer p.Stop()
	if !p.ResetPeakRSS() || !ResetPeakRSS() {
		t.Skip("the kernel does not reset peak RSS here")
	}
	if peak, rss := p.PeakRSS(), p.RSS(); peak <= 0 || peak > rss*1.1+1 {
		t.Errorf("child after a reset: peak %v MiB, RSS %v MiB", peak, rss)
	}
	ballast := make([]byte, 64<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	if peak := PeakRSS(); peak < 64 {
		t.Errorf("peak %v MiB with 64 MiB touched", peak)
	}
	ballast = nil
	_ = ballast
}
