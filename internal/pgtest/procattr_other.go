//go:build unix && !linux

package pgtest

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs the server binaries as cred (nil: as ourselves). There is
// no parent-death signal outside Linux: Close (registered by Start) is the
// only guard.
func setProcAttr(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
}
