package structuredlog

import "golang.org/x/sys/unix"

// Open-file-description locks: they conflict with the classic POSIX record
// locks other processes take, and additionally exclude other descriptors of
// the same process and survive the closing of unrelated descriptors.
const (
	cmdSetLock     = unix.F_OFD_SETLK
	cmdSetLockWait = unix.F_OFD_SETLKW
)
