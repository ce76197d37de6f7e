// Package procstat reads what a running process has cost so far from
// Linux's /proc: CPU time and peak resident memory, total or anonymous. Benchmarks and
// scenarios sample the collector with it just before they stop it.
package procstat

import (
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
// It counts the executable's own file pages too (tens of MiB for a
// collector, more when the kernel maps them in huge pages), which the page
// cache holds whatever the process does.
func PeakRSS(pid int) (int64, error) { return statusBytes(pid, "VmHWM") }

// AnonRSS is the anonymous resident memory of process pid now (RssAnon):
// its heap and stacks, what it allocated, without file pages.
func AnonRSS(pid int) (int64, error) { return statusBytes(pid, "RssAnon") }

// statusBytes reads the kB field of /proc/<pid>/status, in bytes.
func statusBytes(pid int, field string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s of %d: %w", field, pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// AnonPeak samples AnonRSS of process pid every interval until stop is
// called, and stop returns the highest sample, in bytes (Linux keeps no
// high-water mark of anonymous memory alone). A peak shorter than the
// interval may be missed; samples that fail (the process gone) are skipped.
func AnonPeak(pid int, every time.Duration) (stop func() int64) {
	done, peak := make(chan struct{}), make(chan int64, 1)
	go func() {
		var hi int64
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if n, err := AnonRSS(pid); err == nil {
				hi = max(hi, n)
			}
			select {
			case <-done:
				peak <- hi
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-peak
	}
}
