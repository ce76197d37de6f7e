package structuredlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

// Defaults of Options.
const (
	DefaultSizeLimit      = 50 << 20
	DefaultRetentionCount = 3
)

// maxRetainedBuffer is the largest line buffer a Writer keeps between events.
const maxRetainedBuffer = 1 << 20

// Options configures a Writer. Name and Source are required.
type Options struct {
	// Dir is the log folder, created if missing; default
	// $HOME/.nvidia-omniverse/logs.
	Dir string
	// Name is the file name inside Dir, e.g. "omni.kit.sysinfo.log".
	Name string
	// Source is the user or client id written as every event's source.
	Source string
	// Mode tags the source with " (dev)" or " (test)"; default ModeProd.
	Mode Mode
	// SizeLimit rotates the file when appending an event would make it larger
	// than this many bytes; default DefaultSizeLimit. A file holding no event
	// yet takes one event of any size.
	SizeLimit int64
	// RetentionCount is how many files are kept, the current one included
	// (X.log, X.1.log, …); default DefaultRetentionCount.
	RetentionCount int
	// IDType and IDMode select how event ids are made; default uuid and
	// fast-sequential.
	IDType IDType
	IDMode IDMode
	// IDStart is the first id of the uint64 counting modes; 0 picks a random
	// start.
	IDStart uint64
	// Session is the session id, a decimal uint64; default a random non-zero
	// one per Writer ("0" is what anonymized events carry).
	Session string
	// Extra holds extra top-level string fields added to every event. Names
	// may not be reserved (see IsReservedName).
	Extra map[string]string
	// Now returns the current time; default time.Now. For tests.
	Now func() time.Time
}

// Writer appends events to a structured log file, rotating it by size. It is
// safe for concurrent use, and any number of Writers in any number of
// processes may share one file.
type Writer struct {
	path      string
	name      string // Options.Name
	dir       string
	sizeLimit int64
	retention int
	now       func() time.Time
	ids       *idGenerator
	session   string

	// Pre-encoded constant parts of every line, around the variable members.
	afterID    []byte // `","source":…,"specversion":"1.0","type":`
	afterData  []byte // extra fields, `}` and '\n'
	sessionVal []byte // `,"session":"…","data":`

	mu     sync.Mutex
	f      *os.File // the file at path as last seen; nil before opening or after rotation
	fileID fileID
	hdrLen int64 // header length of f, 0 until known
	line   []byte
	data   bytes.Buffer
	enc    *json.Encoder
	closed bool
	hdrBuf []byte // scratch for header lines
}

// fileID identifies a file independently of its name.
type fileID struct{ dev, ino uint64 }

// Open validates o and opens (or creates) the log file Dir/Name for
// appending.
func Open(o Options) (*Writer, error) {
	w, err := newWriter(o)
	if err != nil {
		return nil, fmt.Errorf("open structured log %s: %w", filepath.Join(o.Dir, o.Name), err)
	}
	if err := w.open(); err != nil {
		return nil, fmt.Errorf("open structured log %s: %w", w.path, err)
	}
	return w, nil
}

// open creates the folder and opens the file now, so that a bad folder or
// file is reported by Open rather than by the first Write.
func (w *Writer) open() error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if _, err := w.acquire(); err != nil {
		if w.f != nil {
			_ = w.f.Close()
		}
		return err
	}
	if err := w.unlock(); err != nil {
		_ = w.f.Close()
		return err
	}
	return nil
}

func newWriter(o Options) (*Writer, error) {
	if o.Name == "" || o.Name != filepath.Base(o.Name) || o.Name == "." || o.Name == ".." {
		return nil, fmt.Errorf("file name %q must be a plain file name", o.Name)
	}
	if o.Dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("default folder: %w", err)
		}
		o.Dir = filepath.Join(home, ".nvidia-omniverse", "logs")
	}
	if o.Source == "" {
		return nil, errors.New("source is required")
	}
	if SourceMode(o.Source) != ModeProd {
		return nil, fmt.Errorf("source %q already carries a mode tag; set Mode instead", o.Source)
	}
	mode := o.Mode
	if mode != "" {
		m, err := ParseMode(string(mode))
		if err != nil {
			return nil, err
		}
		mode = m
	}
	switch {
	case o.SizeLimit < 0:
		return nil, fmt.Errorf("negative size limit %d", o.SizeLimit)
	case o.SizeLimit == 0:
		o.SizeLimit = DefaultSizeLimit
	}
	switch {
	case o.RetentionCount < 0:
		return nil, fmt.Errorf("negative retention count %d", o.RetentionCount)
	case o.RetentionCount == 0:
		o.RetentionCount = DefaultRetentionCount
	}
	ids, err := newIDGenerator(o.IDType, o.IDMode, o.IDStart)
	if err != nil {
		return nil, err
	}
	if o.Session == "" {
		var s uint64
		for s == 0 {
			s = rand.Uint64()
		}
		o.Session = strconv.FormatUint(s, 10)
	} else if _, err := strconv.ParseUint(o.Session, 10, 64); err != nil {
		return nil, fmt.Errorf("session %q is not a decimal uint64", o.Session)
	}
	if o.Now == nil {
		o.Now = time.Now
	}

	w := &Writer{
		path:      filepath.Join(o.Dir, o.Name),
		name:      o.Name,
		dir:       o.Dir,
		sizeLimit: o.SizeLimit,
		retention: o.RetentionCount,
		now:       o.Now,
		ids:       ids,
		session:   o.Session,
	}
	w.afterID = append(w.afterID, `","source":`...)
	w.afterID = jsonpdata.AppendString(w.afterID, o.Source+mode.sourceTag())
	w.afterID = append(w.afterID, `,"specversion":"1.0","type":`...)
	w.sessionVal = append(w.sessionVal, `,"session":`...)
	w.sessionVal = jsonpdata.AppendString(w.sessionVal, o.Session)
	w.sessionVal = append(w.sessionVal, `,"data":`...)
	names := make([]string, 0, len(o.Extra))
	for name := range o.Extra {
		if err := checkExtraName(name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		w.afterData = append(w.afterData, ',')
		w.afterData = jsonpdata.AppendString(w.afterData, name)
		w.afterData = append(w.afterData, ':')
		w.afterData = jsonpdata.AppendString(w.afterData, o.Extra[name])
	}
	w.afterData = append(w.afterData, '}', '\n')
	w.enc = json.NewEncoder(&w.data)
	w.enc.SetEscapeHTML(false)
	return w, nil
}

// Path returns the path of the current log file.
func (w *Writer) Path() string { return w.path }

// Session returns the session id written on every event.
func (w *Writer) Session() string { return w.session }

// Write appends one event and returns its id. data is encoded with
// encoding/json (without HTML escaping) and must encode to a JSON object or
// null; nil gives null. dataschema is "<schemaName>-<schemaVersion>".
func (w *Writer) Write(eventType, dataschema string, data any) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.data.Reset()
	if err := w.enc.Encode(data); err != nil {
		return "", fmt.Errorf("write event %q to %s: encode data: %w", eventType, w.path, err)
	}
	return w.write(eventType, dataschema, bytes.TrimSuffix(w.data.Bytes(), []byte{'\n'}))
}

// WriteRaw is Write for data that is already JSON. data is validated and
// compacted onto one line; empty data gives null.
func (w *Writer) WriteRaw(eventType, dataschema string, data json.RawMessage) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.data.Reset()
	if len(bytes.TrimSpace(data)) == 0 {
		w.data.WriteString("null")
	} else if err := json.Compact(&w.data, data); err != nil {
		return "", fmt.Errorf("write event %q to %s: data: %w", eventType, w.path, err)
	}
	return w.write(eventType, dataschema, w.data.Bytes())
}

// write builds the line around the compact JSON data and appends it. w.mu
// is held.
func (w *Writer) write(eventType, dataschema string, data []byte) (string, error) {
	if err := w.checkEvent(eventType, dataschema, data); err != nil {
		return "", fmt.Errorf("write event %q to %s: %w", eventType, w.path, err)
	}
	line := append(w.line[:0], `{"id":"`...)
	idStart := len(line)
	line, err := w.ids.appendID(line)
	if err != nil {
		return "", fmt.Errorf("write event %q to %s: %w", eventType, w.path, err)
	}
	id := string(line[idStart:])
	line = append(line, w.afterID...)
	line = jsonpdata.AppendString(line, eventType)
	line = append(line, `,"dataschema":`...)
	line = jsonpdata.AppendString(line, dataschema)
	line = append(line, `,"time":"`...)
	line = w.now().UTC().AppendFormat(line, "2006-01-02T15:04:05.000000Z07:00")
	line = append(line, '"')
	line = append(line, w.sessionVal...)
	line = append(line, data...)
	line = append(line, w.afterData...)
	w.line = line
	if cap(w.line) > maxRetainedBuffer { // after an outsized event
		w.line = nil
	}
	if w.data.Cap() > maxRetainedBuffer {
		w.data = bytes.Buffer{} // w.enc keeps writing to w.data
	}
	if err := w.appendLine(line); err != nil {
		return "", fmt.Errorf("write event %q to %s: %w", eventType, w.path, err)
	}
	return id, nil
}

func (w *Writer) checkEvent(eventType, dataschema string, data []byte) error {
	switch {
	case w.closed:
		return os.ErrClosed
	case eventType == "":
		return errors.New("empty event type")
	case dataschema == "":
		return errors.New("empty dataschema")
	case len(data) == 0 || data[0] != '{' && string(data) != "null":
		return fmt.Errorf("data must be a JSON object or null, not %.40s", data)
	}
	return nil
}

// appendLine appends line to the current file, rotating first when the
// line would overflow it. w.mu is held.
func (w *Writer) appendLine(line []byte) error {
	for {
		size, err := w.acquire()
		if err != nil {
			return err
		}
		if size > w.hdrLen && size+int64(len(line)) > w.sizeLimit {
			err := w.rotate()
			// Closing the file drops the lock (and any unlock error with it).
			_ = w.f.Close()
			w.f = nil
			if err != nil {
				return err
			}
			continue
		}
		_, err = w.f.Write(line)
		if err != nil {
			// Do not leave a torn line for readers; best effort.
			_ = w.f.Truncate(size)
			err = fmt.Errorf("append: %w", err)
		}
		if uerr := w.unlock(); uerr != nil && err == nil {
			err = uerr
		}
		return err
	}
}

// acquire returns with w.f open, write-locked, verified to be the file at
// w.path and holding a header, and returns its size.
func (w *Writer) acquire() (int64, error) {
	// Each pass either returns or finds that another writer rotated the file
	// meanwhile, so the bound is only reached when something other than
	// writers keeps replacing it.
	for range 1000 {
		if w.f == nil {
			if err := w.openFile(); err != nil {
				return 0, err
			}
		}
		if err := lockRange(w.f, lockWrite, 0, 0); err != nil {
			return 0, fmt.Errorf("lock: %w", err)
		}
		var st unix.Stat_t
		err := unix.Stat(w.path, &st)
		if err != nil || (fileID{dev: uint64(st.Dev), ino: st.Ino}) != w.fileID {
			if err != nil && err != unix.ENOENT {
				_ = w.unlock()
				return 0, fmt.Errorf("stat: %w", err)
			}
			// Rotated or removed by someone else: move to the new file.
			_ = w.f.Close()
			w.f = nil
			continue
		}
		size := st.Size
		if size == 0 {
			// Whoever first locks an empty file writes its header, so it
			// does not matter which process created the file.
			w.hdrBuf = appendNewHeader(w.hdrBuf[:0], w.now())
			if _, err := w.f.Write(w.hdrBuf); err != nil {
				_ = w.f.Truncate(0) // best effort: an empty file, not a torn header
				_ = w.unlock()
				return 0, fmt.Errorf("write header: %w", err)
			}
			w.hdrLen, size = HeaderSize, HeaderSize
		} else if w.hdrLen == 0 {
			h, err := readHeader(w.f)
			if err != nil {
				_ = w.unlock()
				return 0, fmt.Errorf("refusing to append: %w", err)
			}
			w.hdrLen = int64(h.Len)
		}
		return size, nil
	}
	return 0, errors.New("the file keeps being replaced while opening it")
}

// openFile opens the file at w.path, creating it when missing.
func (w *Writer) openFile() error {
	for range 100 {
		f, err := os.OpenFile(w.path, os.O_RDWR|os.O_APPEND, 0)
		if errors.Is(err, os.ErrNotExist) {
			f, err = os.OpenFile(w.path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, os.ErrExist) {
				continue // another writer created it first: open theirs
			}
		}
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			_ = f.Close()
			return fmt.Errorf("stat: %w", err)
		}
		w.f, w.fileID, w.hdrLen = f, fileID{dev: uint64(st.Dev), ino: st.Ino}, 0
		return nil
	}
	return errors.New("the file keeps appearing and disappearing while opening it")
}

func (w *Writer) unlock() error {
	if err := lockRange(w.f, lockUnlock, 0, 0); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	return nil
}

// rotate renames the current file to X.1.log after shifting the rotated
// files up by one, dropping the one that would exceed the retention count.
// Only files up to the first gap in the numbering move, so a large retention
// count costs nothing until it is reached. The caller holds the lock on the
// current file; every rotating writer must, so renames do not race.
func (w *Writer) rotate() error {
	last := w.retention - 1 // highest rotated number kept
	if last == 0 {
		if err := os.Remove(w.path); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
		return nil
	}
	top := 1 // first free number, at most last
	for ; top < last; top++ {
		if _, err := os.Lstat(w.rotated(top)); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err := os.Remove(w.rotated(top)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rotate: %w", err)
	}
	for k := top - 1; k >= 1; k-- {
		if err := os.Rename(w.rotated(k), w.rotated(k+1)); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(w.path, w.rotated(1)); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	return nil
}

func (w *Writer) rotated(n int) string {
	return filepath.Join(w.dir, RotatedName(w.name, n))
}

// RotatedName returns the name of the n-th rotated file of name: the number
// goes before the extension ("omni.kit.sysinfo.log", 1 →
// "omni.kit.sysinfo.1.log"), or at the end for a name without one. n 0 is
// name itself.
func RotatedName(name string, n int) string {
	if n == 0 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name { // ".log": a hidden file, not an extension
		ext = ""
	}
	return strings.TrimSuffix(name, ext) + "." + strconv.Itoa(n) + ext
}

// Close closes the file; later writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", w.path, err)
	}
	return nil
}
