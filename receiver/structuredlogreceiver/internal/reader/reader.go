// Package reader reads structured log files into batches of log records:
// the header, then complete event lines from a file's read position on.
//
// The read path is built for throughput: data comes in large positioned
// reads (pread) into one buffer shared by all files, each taken under a
// non-blocking fcntl read lock held only for that read. Each read is copied
// once into a string, the window; lines are found in it with
// strings.IndexByte and decoded by pkg/cloudevent straight into the batch's
// records, whose strings are slices of the window: one allocation per read
// instead of one per line. A torn last line is left in the file and read
// again, whole, once its '\n' has been written.
package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/checkpoint"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/fileid"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/modematch"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/tracker"
)

// Attributes every record gets.
const (
	AttrFilePath = "log.file.path"
	AttrFileName = "log.file.name"
)

// Reasons for skipped lines and files beyond cloudevent's.
const (
	// ReasonNotMatched: the event's source mode is not selected by
	// message_match_mode (skipped on purpose, not an error).
	ReasonNotMatched = "message_match_mode"
	// ReasonTooLarge: the line is longer than max_event_size.
	ReasonTooLarge = string(cloudevent.ReasonTooLarge)
	// ReasonNotStructuredLog and ReasonUnsupportedVersion are file reasons.
	ReasonNotStructuredLog   = "not_structured_log"
	ReasonUnsupportedVersion = "unsupported_version"
)

// DefaultBufferSize is the size of the read buffer; it grows for longer
// lines (up to max_event_size) and shrinks back afterwards. A window stays
// in memory while any record of it does, so each batch in flight pins up to
// one read more than its own lines. 256 KiB rather than 1 MiB: the
// Omniverse pipeline's anonymous peak RSS 57 MiB instead of 60 (medians of
// 9 runs side by side, BenchmarkOmniversePipeline, four batches in flight)
// at the same CPU per event; a read still holds a few hundred events.
const DefaultBufferSize = 256 << 10

// Status says why Read returned.
type Status int

const (
	// StatusDone: every complete line up to the file's size when the read
	// began has been read.
	StatusDone Status = iota
	// StatusFull: the batch is full; deliver it and call Read again.
	StatusFull
	// StatusBusy: a writer held the file's lock; try again shortly.
	StatusBusy
	// StatusWait: the header is not complete yet; look again when the file
	// changes.
	StatusWait
	// StatusRejected: the file is not a readable structured log and is now
	// StateRejected.
	StatusRejected
)

// Config is what the reader needs from the receiver's configuration.
type Config struct {
	MaxEventSize int
	SeekTagName  string
	ResendEvents bool
	StartAtEnd   bool
	Match        modematch.Matcher
	// Stored returns progress kept in storage for a file, if any.
	Stored func(checkpoint.Key) (int64, bool)
	// OnRejectLine is told of every line skipped for good; err is nil for
	// lines skipped by message_match_mode.
	OnRejectLine func(f *tracker.File, reason string, err error)
	// OnRejectFile is told once of a file skipped for good.
	OnRejectFile func(f *tracker.File, reason string, err error)
	// Now is the clock for ObservedTimestamp; default time.Now.
	Now func() time.Time
	// BufferSize is the read buffer's usual size; default
	// DefaultBufferSize. Tests use tiny buffers to exercise refills.
	BufferSize int
}

// Reader reads files into batches. It is used by one goroutine.
type Reader struct {
	cfg Config
	dec cloudevent.Decoder

	buf []byte
	// The window: text[lo:hi] holds the bytes of file win (generation
	// winGen) starting at file offset win.ReadPos. text is a copy of the
	// unread part of the last read; records keep slices of it.
	win    *tracker.File
	winGen uint64
	text   string
	lo, hi int

	observed pcommon.Timestamp
	// BytesRead counts event line bytes consumed since the last TakeBytes.
	bytesRead int64
}

// New returns a Reader.
func New(cfg Config) *Reader {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stored == nil {
		cfg.Stored = func(checkpoint.Key) (int64, bool) { return 0, false }
	}
	if cfg.OnRejectLine == nil {
		cfg.OnRejectLine = func(*tracker.File, string, error) {}
	}
	if cfg.OnRejectFile == nil {
		cfg.OnRejectFile = func(*tracker.File, string, error) {}
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	return &Reader{cfg: cfg, buf: make([]byte, cfg.BufferSize)}
}

// TakeBytes returns the bytes of event lines consumed since the last call.
func (r *Reader) TakeBytes() int64 {
	n := r.bytesRead
	r.bytesRead = 0
	return n
}

// Forget drops buffered data of f (for instance before f is closed).
func (r *Reader) Forget(f *tracker.File) {
	if r.win == f {
		r.dropWindow()
	}
}

// Read reads f's complete lines from f.ReadPos into b, up to the size the
// file had when the read began, until the batch is full. fd is f's open
// descriptor.
func (r *Reader) Read(fd *os.File, f *tracker.File, b *Batch) (Status, error) {
	if r.win != f || r.winGen != f.Gen {
		r.dropWindow()
	}
	if f.State == tracker.StateNew || f.NeedVerify {
		st, err := r.readHeader(fd, f)
		if st != StatusDone || err != nil {
			return st, err
		}
	}
	if f.State != tracker.StateActive {
		return StatusDone, nil
	}
	st, err := r.readLines(fd, f, b)
	if st != StatusFull {
		r.shrink() // do not keep a huge buffer after a huge line
	}
	return st, err
}

// lock takes the shared lock on f, retrying briefly while a writer holds
// it: writers hold it for one append, microseconds.
func lock(fd *os.File) (bool, error) {
	delay := 50 * time.Microsecond
	for attempt := 0; ; attempt++ {
		err := structuredlog.TryLockShared(fd)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, structuredlog.ErrLocked) {
			return false, fmt.Errorf("lock %s: %w", fd.Name(), err)
		}
		if attempt == 7 {
			return false, nil
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// lockedRead reads up to len(p) bytes at off under the shared lock and
// returns them with the file's size at that moment. ok is false when a
// writer held the lock.
func lockedRead(fd *os.File, p []byte, off int64) (n int, size int64, ok bool, err error) {
	ok, err = lock(fd)
	if !ok || err != nil {
		return 0, 0, ok, err
	}
	defer func() {
		if uerr := structuredlog.Unlock(fd); uerr != nil && err == nil {
			err = fmt.Errorf("unlock %s: %w", fd.Name(), uerr)
		}
	}()
	info, err := fileid.Fstat(fd)
	if err != nil {
		return 0, 0, true, err
	}
	size = info.Size
	if off >= size {
		return 0, size, true, nil
	}
	if rest := size - off; rest < int64(len(p)) {
		p = p[:rest]
	}
	n, err = fd.ReadAt(p, off)
	if err == io.EOF {
		err = nil // truncated meanwhile; the next read sees the new size
	}
	if err != nil {
		err = fmt.Errorf("read %s: %w", fd.Name(), err)
	}
	return n, size, true, err
}

// readHeader reads and checks the header of a new (or reopened) file and
// sets where reading starts. On success the window holds the file's start.
func (r *Reader) readHeader(fd *os.File, f *tracker.File) (Status, error) {
	// A new file is read from its start: header and first events in one
	// read. A reopened one only needs its header checked.
	if len(r.buf) < structuredlog.MaxHeaderSize {
		r.buf = make([]byte, structuredlog.MaxHeaderSize) // only with a tiny BufferSize
	}
	probe := r.buf
	if f.NeedVerify {
		probe = probe[:structuredlog.MaxHeaderSize]
	}
	n, size, ok, err := lockedRead(fd, probe, 0)
	if err != nil {
		return StatusDone, err
	}
	if !ok {
		return StatusBusy, nil
	}
	f.Size = size
	data := r.buf[:n]
	end := bytes.IndexByte(data, '\n')
	switch {
	case end < 0 && int64(n) == size && n < structuredlog.MaxHeaderSize && (n == 0 || data[0] == '{'):
		// A writer has created the file but not yet written its header.
		f.Scanned = size
		return StatusWait, nil
	case end < 0 || end >= structuredlog.MaxHeaderSize:
		return r.rejectFile(f, ReasonNotStructuredLog, fmt.Errorf("%s: %w: no header line within %d bytes", f.Path, structuredlog.ErrNotStructuredLog, structuredlog.MaxHeaderSize))
	}
	h, err := structuredlog.ParseHeader(data[:end+1])
	switch {
	case errors.Is(err, structuredlog.ErrUnsupportedVersion):
		return r.rejectFile(f, ReasonUnsupportedVersion, fmt.Errorf("%s: %w", f.Path, err))
	case err != nil:
		return r.rejectFile(f, ReasonNotStructuredLog, fmt.Errorf("%s: %w", f.Path, err))
	}

	if f.NeedVerify {
		f.NeedVerify = false
		if f.State == tracker.StateActive && h.Time == f.HeaderTime {
			r.setWindow(f, 0, n)
			r.shrink()
			return StatusDone, nil
		}
		// The inode now holds another file (deleted and reused while our
		// descriptor was closed): start over as a file seen for the first
		// time since start.
		f.FoundAtStart = false
		f.Gen++
	}
	f.State = tracker.StateActive
	f.HeaderTime, f.HeaderLen = h.Time, int64(h.Len)
	f.TagFull = false
	start, err := r.start(fd, f, h, size)
	if err != nil {
		return StatusDone, err
	}
	f.Restart = false
	f.Offset, f.ReadPos, f.SkipScan = start, start, 0
	r.setWindow(f, 0, n)
	r.shrink()
	return StatusDone, nil
}

// shrink returns the buffer to its usual size once it holds nothing needed.
func (r *Reader) shrink() {
	if len(r.buf) > r.cfg.BufferSize {
		r.buf = make([]byte, r.cfg.BufferSize)
		r.dropWindow()
	}
}

// start decides where a file is first read from: after the header with
// resend_events or after a truncation; else the progress kept in storage,
// else the file's own seek tag, else (start_at: end, for files found at
// start) after its last complete line when it was found, else after the
// header.
func (r *Reader) start(fd *os.File, f *tracker.File, h structuredlog.Header, size int64) (int64, error) {
	hdr := int64(h.Len)
	off := hdr
	switch {
	case r.cfg.ResendEvents || f.Restart:
	default:
		if o, ok := r.cfg.Stored(f.Key()); ok {
			off = o
		} else if o, ok := h.Seek(r.cfg.SeekTagName); ok {
			off = o
		} else if r.cfg.StartAtEnd && f.FoundAtStart {
			end, err := lastLineEnd(fd, hdr, min(f.FirstSize, size), r.buf)
			if err != nil {
				return 0, err
			}
			off = end
		}
	}
	if off < hdr || off > size {
		// Progress from before a truncation, or nonsense: the file has
		// started over.
		off = hdr
	}
	return off, nil
}

// lastLineEnd returns the offset just past the last '\n' in [from, size).
func lastLineEnd(fd *os.File, from, size int64, buf []byte) (int64, error) {
	for end := size; end > from; {
		start := max(from, end-int64(len(buf)))
		n, err := fd.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", fd.Name(), err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return from, nil
}

func (r *Reader) rejectFile(f *tracker.File, reason string, err error) (Status, error) {
	f.State = tracker.StateRejected
	r.dropWindow()
	r.cfg.OnRejectFile(f, reason, err)
	return StatusRejected, nil
}

// dropWindow forgets the window, and with it the last read's text.
func (r *Reader) dropWindow() { r.win, r.text = nil, "" }

// setWindow records that buf[0:n] holds file f from offset fileOff, and
// points the window at f.ReadPos if it falls inside.
func (r *Reader) setWindow(f *tracker.File, fileOff int64, n int) {
	if f.ReadPos < fileOff || f.ReadPos > fileOff+int64(n) {
		r.dropWindow()
		return
	}
	r.win, r.winGen = f, f.Gen
	r.text = string(r.buf[f.ReadPos-fileOff : n]) // only what is still to be read
	r.lo, r.hi = 0, len(r.text)
	r.observed = pcommon.NewTimestampFromTime(r.cfg.Now())
}

// readLines is the hot loop.
func (r *Reader) readLines(fd *os.File, f *tracker.File, b *Batch) (Status, error) {
	limit := int64(-1) // the size at the first read: bytes appended later wait for the next poll
	for {
		if f.SkipScan > 0 {
			st, err := r.skipLongLine(fd, f, b, &limit)
			if st != StatusDone || err != nil {
				return st, err
			}
			if f.SkipScan > 0 {
				f.Scanned = limit
				return StatusDone, nil
			}
		}
		if r.win == f {
			if i := strings.IndexByte(r.text[r.lo:r.hi], '\n'); i >= 0 {
				line := r.text[r.lo : r.lo+i]
				r.lo += i + 1
				f.ReadPos += int64(i) + 1
				b.touch(f)
				r.line(f, line, b)
				if b.Full() {
					return StatusFull, nil
				}
				continue
			}
			// No complete line left in the window.
			if r.lo == 0 && r.hi == len(r.buf) {
				// One line fills the whole buffer.
				r.dropWindow()
				if len(r.buf) > r.cfg.MaxEventSize {
					f.SkipScan = f.ReadPos + int64(r.hi)
					continue
				}
				r.buf = make([]byte, min(2*len(r.buf), r.cfg.MaxEventSize+1))
			}
			if limit >= 0 && f.ReadPos+int64(r.hi-r.lo) >= limit {
				f.Scanned = limit
				return StatusDone, nil // a torn last line, or nothing more
			}
		}
		// Refill from the read position; a partial line at the end of the
		// window is read again, whole.
		r.dropWindow()
		n, size, ok, err := lockedRead(fd, r.buf, f.ReadPos)
		if err != nil {
			return StatusDone, err
		}
		if !ok {
			return StatusBusy, nil
		}
		f.Size = size
		if size < f.ReadPos {
			if st, err := r.restart(fd, f, b); st != StatusDone || err != nil || f.State != tracker.StateActive {
				return st, err
			}
			limit = -1
			continue
		}
		if limit < 0 {
			limit = size
		}
		if n == 0 {
			f.Scanned = limit
			return StatusDone, nil
		}
		r.setWindow(f, f.ReadPos, n)
	}
}

// restart handles a file found shorter than its read position: it was
// truncated, so reading starts over after the header, whatever the header
// now is. The file joins the batch with its progress reset, so that the
// next commit replaces the stale seek tag even if no line follows.
func (r *Reader) restart(fd *os.File, f *tracker.File, b *Batch) (Status, error) {
	f.Gen++
	f.State, f.Restart, f.SkipScan = tracker.StateNew, true, 0
	r.dropWindow()
	st, err := r.readHeader(fd, f)
	if f.State == tracker.StateActive {
		f.Offset = 0 // before the header: "start after the header" if saved as is
		b.touch(f)
	}
	return st, err
}

// skipLongLine searches for the end of a line longer than max_event_size
// without holding it, from f.SkipScan. When it is found the line is counted
// as rejected and f.SkipScan reset; if the file ends first, the search
// resumes there next time.
func (r *Reader) skipLongLine(fd *os.File, f *tracker.File, b *Batch, limit *int64) (Status, error) {
	for {
		n, size, ok, err := lockedRead(fd, r.buf, f.SkipScan)
		if err != nil {
			return StatusDone, err
		}
		if !ok {
			return StatusBusy, nil
		}
		f.Size = size
		if size < f.SkipScan {
			// Truncated, inside the long line or before it.
			if st, err := r.restart(fd, f, b); st != StatusDone || err != nil || f.State != tracker.StateActive {
				return st, err
			}
			*limit = -1
			return StatusDone, nil
		}
		if *limit < 0 {
			*limit = size
		}
		if i := bytes.IndexByte(r.buf[:n], '\n'); i >= 0 {
			end := f.SkipScan + int64(i) + 1
			r.bytesRead += end - f.ReadPos
			b.touch(f)
			r.cfg.OnRejectLine(f, ReasonTooLarge, fmt.Errorf("event of %d bytes at offset %d is larger than max_event_size (%d bytes)", end-1-f.ReadPos, f.ReadPos, r.cfg.MaxEventSize))
			f.ReadPos, f.SkipScan = end, 0
			return StatusDone, nil
		}
		f.SkipScan += int64(n)
		if n == 0 || f.SkipScan >= *limit {
			return StatusDone, nil
		}
	}
}

// line handles one complete event line (without its '\n').
func (r *Reader) line(f *tracker.File, line string, b *Batch) {
	r.bytesRead += int64(len(line)) + 1
	if len(line) > r.cfg.MaxEventSize {
		r.cfg.OnRejectLine(f, ReasonTooLarge, fmt.Errorf("event of %d bytes is larger than max_event_size (%d bytes)", len(line), r.cfg.MaxEventSize))
		return
	}
	if isBlank(line) {
		return // an empty line holds no event
	}
	lr := b.slot()
	if err := r.dec.DecodeString(line, lr); err != nil {
		b.release()
		r.cfg.OnRejectLine(f, string(cloudevent.ReasonOf(err)), err)
		return
	}
	attrs := lr.Attributes()
	if !r.cfg.Match.All() {
		src, _ := attrs.Get(cloudevent.AttrSource)
		if !r.cfg.Match.Match(src.Str()) {
			b.release()
			r.cfg.OnRejectLine(f, ReasonNotMatched, nil)
			return
		}
	}
	attrs.PutStr(AttrFilePath, f.Path)
	attrs.PutStr(AttrFileName, f.Name)
	lr.SetObservedTimestamp(r.observed)
	b.added(len(line))
}

func isBlank(line string) bool {
	for i := 0; i < len(line); i++ {
		if c := line[i]; c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
