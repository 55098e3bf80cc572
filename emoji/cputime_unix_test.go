//go:build unix

package emoji

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system). Unlike wall time it does not grow when other
// processes load the machine, so a bound on it stays meaningful on a busy CI runner.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
