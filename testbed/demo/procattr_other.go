//go:build unix && !linux

package demo

import "syscall"

// procAttr puts the collector in a process group of its own.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
