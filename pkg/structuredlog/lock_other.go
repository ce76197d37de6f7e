//go:build unix && !linux

package structuredlog

import "golang.org/x/sys/unix"

// Classic POSIX record locks: they exclude other processes only, so Writers
// of one file inside one process are not serialized against each other here.
const (
	cmdSetLock     = unix.F_SETLK
	cmdSetLockWait = unix.F_SETLKW
)
