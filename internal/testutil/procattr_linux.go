package testutil

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the collector when the test process dies
// (a panic, `go test -timeout` or Ctrl-C), so no collector outlives its test
// and holds on to ports.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
