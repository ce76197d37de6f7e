// Package tracker keeps what the receiver knows about each file it has
// matched, keyed by (device, inode), and bounds how many of them are open.
//
// A file's state outlives its name: a rotated file (X.log renamed X.1.log)
// is found again under its new name by its identity and read on from where
// it was. A file that stops matching is kept for a few polls (a folder read
// racing a rename can miss it once) and then forgotten, so the state does
// not grow with every file ever rotated away. Open descriptors are bounded
// by max_concurrent_files and closed least recently used first; a
// descriptor also keeps a deleted or renamed-away file readable until its
// last complete line has been read.
package tracker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
)

// ForgetAfter is how many consecutive polls a file may go unmatched before
// it is forgotten.
const ForgetAfter = 3

// State is where a file is in its life.
type State int

const (
	// StateNew: the header has not been read yet, or was incomplete.
	StateNew State = iota
	// StateActive: the header is known and events are being read.
	StateActive
	// StateRejected: not a structured log or an unsupported version; left
	// alone until it disappears.
	StateRejected
)

// File is one tracked file. The tailer goroutine owns it; nothing here is
// safe for concurrent use.
type File struct {
	ID   fileid.ID
	Path string // where it was last matched
	Name string // base name of Path
	// Family is the path with any rotation number removed (X.2.log →
	// X.log): the files one log rotates through, to be read in order.
	Family string

	State      State
	HeaderTime string // the header's creation time; with ID, the file's identity
	HeaderLen  int64

	// Offset is committed progress: every event line before it has been
	// delivered or skipped for good. ReadPos is the next byte to read;
	// lines between the two are in the batch being delivered.
	Offset  int64
	ReadPos int64
	// Size and Mtime are from the last stat. ClosedMtime is the
	// modification time when the descriptor was last closed: while it is
	// closed the inode may be reused by a new file, and a change tells the
	// tailer to look (the header time then decides).
	Size        int64
	Mtime       int64
	ClosedMtime int64
	// Gen changes whenever the file starts over (truncation, a new header
	// on the same inode), so commits for the old content are dropped.
	Gen uint64

	// FoundAtStart marks files matched by the first poll: only these honour
	// start_at: end, and their end is where they ended then (FirstSize).
	FoundAtStart bool
	FirstSize    int64
	// Restart makes the next header read start after the header, ignoring
	// recorded progress (set on truncation).
	Restart bool
	// NeedVerify asks for the header time to be checked again: the file was
	// reopened, and while it was closed its inode could have been reused.
	NeedVerify bool
	// Scanned is the file size up to which everything has been looked at
	// (-1: nothing yet); a file is read again only once its size differs.
	Scanned int64
	// TagFull: the seek tag no longer fits the header; progress for this
	// file goes to storage or memory only. TagReadOnly: the file could only
	// be opened read-only.
	TagFull, TagReadOnly bool
	// SkipScan is, while inside a line longer than max_event_size, how far
	// the search for its end has got; 0 otherwise.
	SkipScan int64

	// Missed counts consecutive polls that did not match the file; Gone is
	// set when its descriptor shows it deleted.
	Missed int
	Gone   bool
	// Seen is the poll number that last matched it.
	Seen uint64
	// InBatch is set while the batch being built holds lines of this file;
	// Delivering counts the batches in flight that do. Either keeps its
	// descriptor open, for the seek tag written once a batch is accepted.
	InBatch    bool
	Delivering int
	// OpenWarned: a warning that the file cannot be opened was logged.
	OpenWarned bool

	fd         *os.File
	everOpened bool
	prev, next *File // LRU list of open files, most recent first
}

// Key returns the file's identity for checkpoints.
func (f *File) Key() checkpoint.Key { return checkpoint.Key{ID: f.ID, HeaderTime: f.HeaderTime} }

// FD returns the open descriptor, or nil.
func (f *File) FD() *os.File { return f.fd }

// Done reports whether every complete line up to the last known size has
// been read.
func (f *File) Done() bool { return f.State != StateActive || f.ReadPos >= f.Size }

// SetPath records the path the file was matched at.
func (f *File) SetPath(path string) {
	if path != f.Path {
		f.Path, f.Name, f.Family = path, filepath.Base(path), Family(path)
	}
}

// Family returns path without the rotation number structuredlog.RotatedName
// inserts: "d/X.3.log" and "d/X.log" are both "d/X.log"; "d/X.1" is "d/X".
func Family(path string) string {
	dir, name := filepath.Split(path)
	ext := filepath.Ext(name)
	if ext == name {
		ext = "" // ".log" is a hidden file's name, not an extension
	}
	stem := strings.TrimSuffix(name, ext)
	if isNumber(ext[min(1, len(ext)):]) {
		return dir + stem // no extension: the number is at the end
	}
	if i := strings.LastIndexByte(stem, '.'); i >= 0 && isNumber(stem[i+1:]) {
		stem = stem[:i]
	}
	return dir + stem + ext
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrAllBusy means no descriptor can be closed to open another: every open
// file has lines in the batch being built. Deliver the batch and retry.
var ErrAllBusy = errors.New("every open file has lines in the current batch")

// ErrReplaced means the path no longer names the file the tracker knows by
// that identity (it was replaced between the stat and the open).
var ErrReplaced = errors.New("file replaced while opening")

// Tracker is the set of known files.
type Tracker struct {
	files   map[fileid.ID]*File
	maxOpen int
	open    int
	head    *File // most recently used open file
	tail    *File
	rdwr    bool
	counts  Counters
}

// Counters are told of every change in the number of tracked files and of
// open descriptors (for metrics); either may be nil.
type Counters struct {
	Tracked, Open func(delta int)
}

// New returns a Tracker holding at most maxOpen descriptors. With rdwr the
// files are opened for writing too (for seek tags).
func New(maxOpen int, rdwr bool, counts Counters) *Tracker {
	if counts.Tracked == nil {
		counts.Tracked = func(int) {}
	}
	if counts.Open == nil {
		counts.Open = func(int) {}
	}
	return &Tracker{files: make(map[fileid.ID]*File), maxOpen: maxOpen, rdwr: rdwr, counts: counts}
}

// Len is the number of tracked files.
func (t *Tracker) Len() int { return len(t.files) }

// OpenCount is the number of open descriptors.
func (t *Tracker) OpenCount() int { return t.open }

// Get returns the file with this identity, or nil.
func (t *Tracker) Get(id fileid.ID) *File { return t.files[id] }

// Add starts tracking a file first matched at path with the given size.
func (t *Tracker) Add(id fileid.ID, path string, foundAtStart bool, size int64) *File {
	f := &File{ID: id, FoundAtStart: foundAtStart, FirstSize: size, Scanned: -1}
	f.SetPath(path)
	t.files[id] = f
	t.counts.Tracked(1)
	return f
}

// All calls fn for every tracked file, in no particular order.
func (t *Tracker) All(fn func(*File)) {
	for _, f := range t.files {
		fn(f)
	}
}

// Forget closes the file and drops it.
func (t *Tracker) Forget(f *File) {
	t.Close(f)
	if t.files[f.ID] == f {
		delete(t.files, f.ID)
		t.counts.Tracked(-1)
	}
}

// Open makes sure f has an open descriptor, closing the least recently used
// other one when max_concurrent_files are open. It verifies that the
// descriptor is the tracked file.
func (t *Tracker) Open(f *File) (*os.File, error) {
	if f.fd != nil {
		t.touch(f)
		return f.fd, nil
	}
	if t.open >= t.maxOpen {
		victim := t.tail
		for victim != nil && (victim.InBatch || victim.Delivering > 0 || victim == f) {
			victim = victim.prev
		}
		if victim == nil {
			return nil, ErrAllBusy
		}
		t.Close(victim)
	}
	fd, err := t.openFile(f)
	if err != nil {
		return nil, err
	}
	info, err := fileid.Fstat(fd)
	if err != nil {
		_ = fd.Close()
		return nil, err
	}
	if info.ID != f.ID {
		_ = fd.Close()
		return nil, fmt.Errorf("%s: %w", f.Path, ErrReplaced)
	}
	f.fd = fd
	if f.everOpened && f.State == StateActive {
		f.NeedVerify = true
	}
	f.everOpened = true
	t.open++
	t.counts.Open(1)
	t.push(f)
	return fd, nil
}

func (t *Tracker) openFile(f *File) (*os.File, error) {
	if t.rdwr && !f.TagReadOnly && !f.TagFull {
		fd, err := os.OpenFile(f.Path, os.O_RDWR, 0)
		if err == nil {
			return fd, nil
		}
		if !errors.Is(err, os.ErrPermission) {
			return nil, err
		}
		f.TagReadOnly = true
	}
	return os.Open(f.Path)
}

// Close closes f's descriptor, if open.
func (t *Tracker) Close(f *File) {
	if f.fd == nil {
		return
	}
	f.ClosedMtime = -1
	if info, err := fileid.Fstat(f.fd); err == nil {
		f.ClosedMtime = info.Mtime
	}
	// Only the seek tag is ever written, with pwrite: closing has nothing
	// to flush, so its error says nothing useful.
	_ = f.fd.Close()
	f.fd = nil
	t.open--
	t.counts.Open(-1)
	t.unlink(f)
}

// CloseAll closes every descriptor.
func (t *Tracker) CloseAll() {
	for t.head != nil {
		t.Close(t.head)
	}
}

func (t *Tracker) touch(f *File) {
	if t.head != f {
		t.unlink(f)
		t.push(f)
	}
}

func (t *Tracker) push(f *File) {
	f.prev, f.next = nil, t.head
	if t.head != nil {
		t.head.prev = f
	}
	t.head = f
	if t.tail == nil {
		t.tail = f
	}
}

func (t *Tracker) unlink(f *File) {
	if f.prev != nil {
		f.prev.next = f.next
	} else if t.head == f {
		t.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else if t.tail == f {
		t.tail = f.prev
	}
	f.prev, f.next = nil, nil
}
