package mongoproc

import "syscall"

// procAttr puts the stand-in in a process group of its own and has the
// kernel kill it should its parent die without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
