//go:build unix

package cloudeventsexporter

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) the process has used: the
// exporter and the loopback sink together.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
