//go:build unix

package structuredlog

import (
	"errors"
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

// ErrLocked is returned by TryLockShared and TryLockExclusive when another
// open file description (a writer, or another reader's exclusive lock) holds
// a conflicting lock.
var ErrLocked = errors.New("file is locked by another process or descriptor")

// lockRange takes (waiting for it) or releases an advisory fcntl lock on
// [start, start+length) of f; length 0 means to the end of the file and beyond.
func lockRange(f *os.File, typ lockType, start, length int64) error {
	cmd := cmdSetLockWait
	if typ == lockUnlock {
		cmd = cmdSetLock
	}
	return fcntlLock(f, cmd, typ, start, length)
}

func fcntlLock(f *os.File, cmd int, typ lockType, start, length int64) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
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

// tryLock takes a lock on the whole file without waiting.
func tryLock(f *os.File, typ lockType) error {
	err := fcntlLock(f, cmdSetLock, typ, 0, 0)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return ErrLocked
	}
	return err
}

// TryLockShared takes a shared (read) fcntl lock on the whole of f without
// waiting, the lock a reader holds while it reads events. It returns
// ErrLocked when a writer holds the file; try again shortly. On Linux the
// lock belongs to f's open file description (see the package documentation),
// so it also excludes Writers in the same process. Release it with Unlock.
//
// Locks taken through one descriptor merge: ReadHeader and WriteSeekTag take
// and release their own locks on the header, so do not call them through f
// while holding this lock.
func TryLockShared(f *os.File) error { return tryLock(f, lockRead) }

// TryLockExclusive takes an exclusive (write) fcntl lock on the whole of f
// without waiting, returning ErrLocked when anyone else holds a lock on it.
// It suits lock files that guard a single instance; the lock lasts until
// Unlock or until f is closed.
func TryLockExclusive(f *os.File) error { return tryLock(f, lockWrite) }

// Unlock releases the whole-file lock taken through f.
func Unlock(f *os.File) error { return lockRange(f, lockUnlock, 0, 0) }
