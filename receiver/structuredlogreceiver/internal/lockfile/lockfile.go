// Package lockfile keeps a second receiver from reading the same folder with
// the same seek tag name, like the Omniverse transmitter runs one instance
// per user. The lock is an fcntl lock on <dir>/.courier-<seek tag>.lock; on
// Linux it is an open-file-description lock, so it also excludes a second
// receiver inside the same collector process. It is released when the lock
// file is closed, including when the process dies.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/courier-otel/courier/pkg/structuredlog"
)

// ErrHeld means another instance holds the lock.
var ErrHeld = errors.New("held by another structured_log receiver")

// Name returns the lock file's name for a seek tag name.
func Name(seekTagName string) string { return ".courier-" + seekTagName + ".lock" }

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.f.Name() }

// Acquire takes the lock for dir and seekTagName without waiting. When
// another instance holds it the error wraps ErrHeld and names the lock file
// and, when it wrote it, the holder's process id and host.
func Acquire(dir, seekTagName string) (*Lock, error) {
	path := filepath.Join(dir, Name(seekTagName))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := structuredlog.TryLockExclusive(f); err != nil {
		var holder string
		if b, rerr := os.ReadFile(path); rerr == nil && len(b) > 0 {
			holder = " (" + strings.TrimSpace(string(b[:min(len(b), 200)])) + ")"
		}
		_ = f.Close()
		if errors.Is(err, structuredlog.ErrLocked) {
			return nil, fmt.Errorf("lock %s is %w%s: only one receiver may read %s with seek_tag_name %q", path, ErrHeld, holder, dir, seekTagName)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Say who holds it, for the error above; the lock itself is what counts.
	host, _ := os.Hostname()
	note := fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(note), 0)
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up. The file stays: removing it would let a
// waiting instance lock a file that a third one then recreates.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
