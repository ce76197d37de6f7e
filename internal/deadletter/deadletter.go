// Package deadletter stores what a component could never deliver as JSON
// lines in a size-bounded directory, so that nothing is lost silently and an
// operator can inspect and replay it.
//
// Files: each Writer owns the files named <prefix>-<UTC time>-<seq>.jsonl in
// its directory (several writers can share a directory with different
// prefixes). Records go to the newest file; a new file is started when it
// reaches a tenth of MaxSize, and every time a Writer is opened, so a file is
// never appended to by two processes.
//
// Bound: the files of a Writer never hold more than MaxSize bytes. When a
// record does not fit, OnFull decides: DropOldest deletes the oldest files
// until it fits (the directory keeps the most recent failures), DropNew
// refuses the record (the directory keeps the first failures). Either way the
// loss is reported in the Result so the caller can count it.
//
// Durability: Write makes every record it accepted durable (fsync of the file,
// and of the directory when a file was created) before it returns, so a caller
// may forget records once Write has returned.
package deadletter // import "github.com/courier-otel/courier/internal/deadletter"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// OnFull is what a Writer does with a record that does not fit in MaxSize.
type OnFull string

const (
	// DropOldest deletes the oldest files to make room.
	DropOldest OnFull = "drop_oldest"
	// DropNew refuses the new record.
	DropNew OnFull = "drop_new"
)

// Record is one dead-lettered event, one JSON line.
type Record struct {
	Time     time.Time `json:"time"`
	Reason   string    `json:"reason"`
	Status   int       `json:"status,omitempty"`   // HTTP status, when there was an answer
	Endpoint string    `json:"endpoint,omitempty"` // where it was sent, when it was
	Error    string    `json:"error"`
	// Event is the event as a structured CloudEvent (JSON object).
	Event json.RawMessage `json:"event,omitempty"`
	// LogRecord holds the event as OTLP JSON (plog) when it cannot be
	// written as a CloudEvent (for example a required attribute is missing).
	LogRecord json.RawMessage `json:"log_record,omitempty"`
}

// Config says where and how much.
type Config struct {
	Directory string
	Prefix    string // file name prefix, unique per writer in Directory
	MaxSize   int64  // bytes, all files of this writer together
	OnFull    OnFull
}

// Result says what happened to the records of one Write.
type Result struct {
	Written int // records stored
	Refused int // records not stored: DropNew and full, or larger than MaxSize
	Evicted int // older records deleted to make room (DropOldest)
}

type segment struct {
	name  string
	size  int64
	lines int // -1: unknown (a file of an earlier run), counted when deleted
}

// Writer appends records to the files of one prefix. It is safe for
// concurrent use.
type Writer struct {
	cfg     Config
	segSize int64

	mu     sync.Mutex
	closed bool
	old    []segment // closed files, oldest first
	total  int64     // bytes in old and cur
	cur    *os.File
	curSeg segment
	seq    int
}

const fileExt = ".jsonl"

// Open prepares a Writer: it creates the directory if needed and accounts the
// files an earlier run of the same prefix left there.
func Open(cfg Config) (*Writer, error) {
	if cfg.Directory == "" || cfg.Prefix == "" || cfg.MaxSize <= 0 {
		return nil, errors.New("dead letter: directory, prefix and a positive max size are required")
	}
	if cfg.OnFull == "" {
		cfg.OnFull = DropOldest
	}
	if err := os.MkdirAll(cfg.Directory, 0o750); err != nil {
		return nil, fmt.Errorf("dead letter: create %s: %w", cfg.Directory, err)
	}
	entries, err := os.ReadDir(cfg.Directory)
	if err != nil {
		return nil, fmt.Errorf("dead letter: read %s: %w", cfg.Directory, err)
	}
	w := &Writer{cfg: cfg, segSize: max(cfg.MaxSize/10, 1)}
	for _, e := range entries {
		if !e.Type().IsRegular() || !w.owns(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		w.old = append(w.old, segment{name: e.Name(), size: info.Size(), lines: -1})
		w.total += info.Size()
	}
	// Names sort in time order (fixed-width UTC time, then sequence).
	slices.SortFunc(w.old, func(a, b segment) int { return strings.Compare(a.name, b.name) })
	return w, nil
}

func (w *Writer) owns(name string) bool {
	return strings.HasPrefix(name, w.cfg.Prefix+"-") && strings.HasSuffix(name, fileExt)
}

// Write appends records, one JSON line each, and syncs them to disk. err
// reports a failure to store (disk full, directory removed); the records the
// Result does not count as written or refused were not stored either.
func (w *Writer) Write(records []Record) (Result, error) {
	var res Result
	if len(records) == 0 {
		return res, nil
	}
	var buf bytes.Buffer
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return res, errors.New("dead letter: writer is closed")
	}
	for i := range records {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&records[i]); err != nil { // Encode ends the line with \n
			return res, w.finish(res, fmt.Errorf("dead letter: encode record: %w", err))
		}
		line := buf.Bytes()
		n := int64(len(line))
		if n > w.cfg.MaxSize {
			res.Refused++
			continue
		}
		if w.total+n > w.cfg.MaxSize {
			if w.cfg.OnFull == DropNew {
				res.Refused++
				continue
			}
			evicted, err := w.makeRoom(n)
			res.Evicted += evicted
			if err != nil {
				return res, w.finish(res, err)
			}
		}
		if w.cur == nil || (w.curSeg.size > 0 && w.curSeg.size+n > w.segSize) {
			if err := w.rotate(); err != nil {
				return res, w.finish(res, err)
			}
		}
		if _, err := w.cur.Write(line); err != nil {
			return res, w.finish(res, fmt.Errorf("dead letter: write %s: %w", w.curSeg.name, err))
		}
		w.curSeg.size += n
		w.curSeg.lines++
		w.total += n
		res.Written++
	}
	return res, w.finish(res, nil)
}

// finish syncs the current file so that the records written are durable.
func (w *Writer) finish(res Result, err error) error {
	if w.cur != nil && res.Written > 0 {
		if serr := w.cur.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("dead letter: sync %s: %w", w.curSeg.name, serr)
		}
	}
	return err
}

// makeRoom deletes the oldest files until n more bytes fit, closing the
// current file too when it is all that is left.
func (w *Writer) makeRoom(n int64) (evicted int, err error) {
	for w.total+n > w.cfg.MaxSize {
		if len(w.old) == 0 {
			if w.cur == nil {
				return evicted, nil
			}
			if err := w.closeCurrent(); err != nil {
				return evicted, err
			}
			continue
		}
		s := w.old[0]
		path := filepath.Join(w.cfg.Directory, s.name)
		lines := s.lines
		if lines < 0 {
			lines = countLines(path) // 0 when it is gone
		}
		err := os.Remove(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return evicted, fmt.Errorf("dead letter: remove %s: %w", path, err)
		}
		w.old = w.old[1:]
		w.total -= s.size
		if err == nil { // gone already: replayed and moved by a dead_letter receiver
			evicted += lines
		}
	}
	return evicted, nil
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

// rotate closes the current file and creates the next one.
func (w *Writer) rotate() error {
	if err := w.closeCurrent(); err != nil {
		return err
	}
	w.seq++
	name := fmt.Sprintf("%s-%s-%06d%s", w.cfg.Prefix, time.Now().UTC().Format("20060102T150405.000000000Z"), w.seq, fileExt)
	path := filepath.Join(w.cfg.Directory, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dead letter: create %s: %w", path, err)
	}
	// Make the new name itself durable.
	if d, err := os.Open(w.cfg.Directory); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	w.cur = f
	w.curSeg = segment{name: name}
	return nil
}

func (w *Writer) closeCurrent() error {
	if w.cur == nil {
		return nil
	}
	name := w.curSeg.name
	err := w.cur.Sync()
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.old = append(w.old, w.curSeg)
	w.cur = nil
	w.curSeg = segment{}
	if err != nil {
		return fmt.Errorf("dead letter: close %s: %w", name, err)
	}
	return nil
}

// Size is the number of bytes the writer's files hold.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total
}

// Close closes the current file. Later Writes fail.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	return w.closeCurrent()
}
