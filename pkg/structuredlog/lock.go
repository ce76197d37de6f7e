//go:build unix

package structuredlog

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

type lockType int16

const (
	lockRead   lockType = unix.F_RDLCK
	lockWrite  lockType = unix.F_WRLCK
	lockUnlock lockType = unix.F_UNLCK
)

// lockRange takes (waiting for it) or releases an advisory fcntl lock on
// [start, start+length) of f; length 0 means to the end of the file and beyond.
func lockRange(f *os.File, typ lockType, start, length int64) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cmd := cmdSetLockWait
	if typ == lockUnlock {
		cmd = cmdSetLock
	}
	lk := unix.Flock_t{Type: int16(typ), Whence: io.SeekStart, Start: start, Len: length}
	var lerr error
	if err := conn.Control(func(fd uintptr) {
		for {
			if lerr = unix.FcntlFlock(fd, cmd, &lk); lerr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return lerr
}
