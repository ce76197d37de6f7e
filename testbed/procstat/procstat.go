// Package procstat reads what a running process has cost so far from
// Linux's /proc: CPU time and peak resident memory. Benchmarks and
// scenarios sample the collector with it just before they stop it.
package procstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUTime is the CPU time process pid has used so far, summed over its
// threads from /proc/<pid>/task/*/schedstat: nanoseconds, unlike the 10 ms
// ticks of /proc/<pid>/stat, which are too coarse for an idle process.
// Threads that exited earlier are not counted (a collector keeps its
// threads).
func CPUTime(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0, err
	}
	if len(tasks) == 0 {
		return 0, fmt.Errorf("no threads of process %d in /proc", pid)
	}
	var total time.Duration
	for _, task := range tasks {
		raw, err := os.ReadFile(task)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fields := strings.Fields(string(raw))
		if len(fields) == 0 {
			return 0, fmt.Errorf("%s: empty", task)
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", task, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// PeakRSS is the peak resident set size of process pid (VmHWM), in bytes.
func PeakRSS(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM of %d: %w", pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
}
