package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineKeys are the configuration keys Probe fills, in the order
// WriteConfig writes them.
var machineKeys = []string{"date", "commit", "cpu-model", "nproc", "memory", "go", "kernel"}

// Probe describes this machine and checkout: the date, the git commit (with
// "+dirty" when the work tree has changes), the CPU model from
// /proc/cpuinfo, the number of CPUs, the memory from /proc/meminfo, the Go
// toolchain (`go version`, or the one this program was built with) and the
// kernel release. A value it cannot find is left out.
func Probe() map[string]string {
	m := map[string]string{
		"date":  time.Now().UTC().Format(time.RFC3339),
		"nproc": strconv.Itoa(runtime.NumCPU()),
		"go":    runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
	}
	if out, err := exec.Command("go", "env", "GOVERSION", "GOOS", "GOARCH").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) == 3 {
			m["go"] = f[0] + " " + f[1] + "/" + f[2]
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		commit := strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			commit += "+dirty"
		}
		m["commit"] = commit
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m["cpu-model"] = cpuModel(f)
		_ = f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m["memory"] = memTotal(f)
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo io.Reader) string {
	sc := bufio.NewScanner(cpuinfo)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memTotal is /proc/meminfo's MemTotal in GiB.
func memTotal(meminfo io.Reader) string {
	sc := bufio.NewScanner(meminfo)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return ""
			}
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return ""
}

// WriteConfig writes m as benchmark-format configuration lines ("key:
// value"), the machine keys first, so that a results file carries the
// description of the machine it was measured on; Parse reads them back
// into Results.Config, and benchstat shows them above its tables.
func WriteConfig(w io.Writer, m map[string]string) error {
	for _, k := range machineKeys {
		if v, ok := m[k]; ok {
			if _, err := fmt.Fprintf(w, "%s: %s\n", k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
