// Package fileid identifies files independently of their names: by device
// and inode, as the structured log format requires (a file's first bytes
// change whenever a seek tag is written, so they cannot identify it).
package fileid

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ID is a file's device and inode. An inode number is only reused after
// the file is deleted and no descriptor holds it open; the header time
// tells such a reuse apart (see tracker).
type ID struct {
	Dev, Ino uint64
}

func (id ID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// Info is what a poll learns about a file from stat(2).
type Info struct {
	ID      ID
	Size    int64
	Mtime   int64 // nanoseconds since the epoch
	Nlink   uint64
	Regular bool
}

func fromStat(st *unix.Stat_t) Info {
	return Info{
		ID:      ID{Dev: uint64(st.Dev), Ino: st.Ino}, //nolint:unconvert // Dev is not uint64 on every platform
		Size:    st.Size,
		Mtime:   st.Mtim.Nano(),
		Nlink:   uint64(st.Nlink), //nolint:unconvert // neither is Nlink
		Regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
	}
}

// Stat describes the file at path, following symbolic links.
func Stat(path string) (Info, error) {
	var st unix.Stat_t
	for {
		err := unix.Stat(path, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Info{}, &os.PathError{Op: "stat", Path: path, Err: err}
		}
		return fromStat(&st), nil
	}
}

// Fstat describes the open file f.
func Fstat(f *os.File) (Info, error) {
	conn, err := f.SyscallConn()
	if err != nil {
		return Info{}, err
	}
	var st unix.Stat_t
	var serr error
	if err := conn.Control(func(fd uintptr) {
		for {
			if serr = unix.Fstat(int(fd), &st); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return Info{}, err
	}
	if serr != nil {
		return Info{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: serr}
	}
	return fromStat(&st), nil
}
