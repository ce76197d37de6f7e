package demo

import "syscall"

// procAttr puts the collector in a process group of its own and has the
// kernel kill it should the demo die without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
