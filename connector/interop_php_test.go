//go:build unix

package connector

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olctl/olctl/internal/eventually"
	"github.com/olctl/olctl/openlines"
	"github.com/olctl/olctl/wire"
)

// TestPHPStandInCurrentPortal drives a PHP stand-in of a current portal (testdata/standin.php under
// `php -S`: PHP's own md5 over the fields in order, base64_decode, unserialize, both stubs undone; it answers
// {"OK":true,"DATA":[]} and never confirms) with the connector server over HTTP: every message is delivered
// once, with its empty files as an array (#EMPTY_ARRAY#), the queue empties and nothing is dead-lettered.
// Without php it skips loudly; under CI=true it fails.
func TestPHPStandInCurrentPortal(t *testing.T) { eachDB(t, testPHPStandInCurrentPortal) }

func testPHPStandInCurrentPortal(t *testing.T, dsn string) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("php is not installed: the PHP interop test must run in CI (.ci/run installs php-cli)")
		}
		t.Skip("SKIPPING PHP interop test: php is not installed (apt-get install php-cli)")
	}
	const key = "standin-licence-key"
	record := filepath.Join(t.TempDir(), "record.txt")
	phpURL := startPHP(t, php, key, record)

	p := newFakePortal(t, key, nil) // the portal's calls, made for the stand-in's domain
	p.version.Store(wire.CurrentVersion)
	p.domain = phpURL
	s := newTestServer(t, p, Config{DSN: dsn, Queue: Policy{Batch: 7}})
	const lines, perLine = 3, 20
	hooks := make([]string, lines)
	for l := range hooks {
		hooks[l] = p.connect("echo", itoa(l+1), nil)
	}
	p.mustCall(openlines.MethodTestConnect, "echo", "1") // the server's testConnect to the stand-in: OK with DATA []
	for l, hook := range hooks {
		for i := 0; i < perLine; i += 4 {
			var items []string
			for j := i; j < i+4; j++ {
				items = append(items, `{"user":{"id":"u"},"message":{"id":"`+itoa(j)+`","text":"hi `+itoa(j)+`","files":[]},"chat":{"id":"c`+itoa(l+1)+`"}}`)
			}
			if code, body := postWebhook(t, hook, []byte("["+strings.Join(items, ",")+"]")); code != 200 {
				t.Fatalf("webhook: %d %s", code, body)
			}
		}
	}
	var got map[string]int
	eventually.True(t, 20*time.Second, "every message at the stand-in", func() bool {
		got = readRecord(t, record)
		return len(got) == lines*perLine
	})
	settle(t, s)
	got = readRecord(t, record)
	for k, n := range got {
		if n != 1 || !strings.HasSuffix(k, " array") {
			t.Errorf("item %q received %d times", k, n)
		}
	}
	if len(got) != lines*perLine {
		t.Fatalf("%d distinct items at the stand-in, want %d", len(got), lines*perLine)
	}
	st, err := s.QueueStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Dead != 0 || st.Blocked != 0 {
		t.Fatalf("queue %+v", st)
	}
	t.Logf("PHP stand-in: %d messages over %d lines, each received once; queue empty, no dead letters", len(got), lines)
}

// startPHP serves testdata/standin.php with PHP's built-in server on a free port of 127.0.0.1 and returns its
// base URL once it answers.
func startPHP(t *testing.T, php, key, record string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	script, err := filepath.Abs(filepath.Join("testdata", "standin.php"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "php.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	cmd := exec.Command(php, "-S", addr, script)
	cmd.Env = append(os.Environ(), "STANDIN_KEY="+key, "STANDIN_RECORD="+record, "PHP_CLI_SERVER_WORKERS=4")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers are killed with it
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("php -S output:\n%s", b)
		}
	})
	u := "http://" + addr
	eventually.True(t, 10*time.Second, "php -S", func() bool {
		resp, err := http.Get(u + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return u
}

// readRecord counts the stand-in's item lines ("<chat> <message> <files>") and fails on a line it refused.
func readRecord(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "item "):
			out[strings.TrimPrefix(line, "item ")]++
		case strings.HasPrefix(line, "bad"):
			t.Fatalf("the stand-in refused a packet: %s", line)
		}
	}
	return out
}
