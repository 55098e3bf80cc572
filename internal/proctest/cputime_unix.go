//go:build unix

package proctest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used so far (user + system). Unlike wall time it does not grow when
// other processes load the machine, so benchmarks report CPU per operation with it and tests bound work by it.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
