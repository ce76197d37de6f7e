//go:build unix && !linux

package mongoproc

import "syscall"

// procAttr puts the stand-in in a process group of its own.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
