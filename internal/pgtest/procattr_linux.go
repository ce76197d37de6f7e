package pgtest

import (
	"os/exec"
	"syscall"
)

// setProcAttr runs the server binaries as cred (nil: as ourselves) and has
// the kernel kill them when the test binary dies (a panic, `go test
// -timeout`), so no postmaster outlives its test and holds its port. Go sets
// the parent-death signal after changing credentials, which would otherwise
// clear it.
func setProcAttr(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
