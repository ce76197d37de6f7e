package structuredlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/courier-otel/courier/internal/jsonpdata"
)

const (
	// HeaderSize is the length of the header line this package writes,
	// including its trailing '\n'.
	HeaderSize = 256
	// MaxHeaderSize bounds how far ReadHeader looks for the end of the first
	// line; a file whose first line is longer is not a structured log.
	MaxHeaderSize = 64 << 10

	headerSource  = "omni.structuredlog"
	headerVersion = "1.0"
)

var (
	// ErrNotStructuredLog means the file or line has no valid structured log
	// header; such files are to be skipped.
	ErrNotStructuredLog = errors.New("not a structured log")
	// ErrIncompleteHeader means the file is too short to hold a whole header
	// line, for instance because its writer has created it but not yet
	// written the header. Errors carrying it also match ErrNotStructuredLog.
	ErrIncompleteHeader = errors.New("incomplete structured log header")
	// ErrUnsupportedVersion means the header is a structured log header of a
	// version this package does not understand.
	ErrUnsupportedVersion = errors.New("unsupported structured log version")
	// ErrHeaderFull means a seek tag does not fit in the header's padding.
	ErrHeaderFull = errors.New("structured log header full")
)

// Header is the parsed first line of a structured log file.
type Header struct {
	Source  string // always "omni.structuredlog"
	Version string // always "1.0"
	Time    string // creation time as written, e.g. 2025-03-04T05:06:07.123456+00:00
	// Tags holds every member other than source, version and time whose value
	// is a non-negative integer: the seek tags readers recorded.
	Tags map[string]int64
	// Len is the length of the header line in bytes, including its '\n'.
	Len int

	// members keeps every member, compacted, in file order so that
	// WriteSeekTag can re-serialize the object without reordering it.
	members []member
}

type member struct {
	name  string
	value []byte
}

// Seek returns the offset recorded under the tag name.
func (h Header) Seek(name string) (int64, bool) {
	off, ok := h.Tags[name]
	return off, ok
}

// appendNewHeader appends the header line of a file created at t.
func appendNewHeader(dst []byte, t time.Time) []byte {
	start := len(dst)
	dst = append(dst, `{"source":"`+headerSource+`","version":"`+headerVersion+`","time":"`...)
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000")
	dst = append(dst, `+00:00"}`...)
	for len(dst)-start < HeaderSize-1 {
		dst = append(dst, ' ')
	}
	return append(dst, '\n')
}

// ParseHeader parses a header line. line is the start of a file: only what
// precedes the first '\n' is considered, and Len counts up to and including
// that '\n'. Without a '\n', all of line is the header and Len is len(line)+1.
// The object may be followed by spaces, tabs or '\r' only.
func ParseHeader(line []byte) (Header, error) {
	h := Header{Len: len(line) + 1}
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, h.Len = line[:i], i+1
	}
	members, err := parseObject(line)
	if err != nil {
		return Header{}, fmt.Errorf("%w: header: %v", ErrNotStructuredLog, err)
	}
	h.members = members
	var version []byte
	for _, m := range members {
		switch m.name {
		case "source":
			if err := json.Unmarshal(m.value, &h.Source); err != nil || h.Source != headerSource {
				return Header{}, fmt.Errorf("%w: header source is %.60s, want %q", ErrNotStructuredLog, m.value, headerSource)
			}
		case "version":
			version = m.value
		case "time":
			if err := json.Unmarshal(m.value, &h.Time); err != nil {
				return Header{}, fmt.Errorf("%w: header time is %.60s, want a string", ErrNotStructuredLog, m.value)
			}
		default:
			if off, err := strconv.ParseInt(string(m.value), 10, 64); err == nil && off >= 0 {
				if h.Tags == nil {
					h.Tags = make(map[string]int64)
				}
				h.Tags[m.name] = off
			}
		}
	}
	if h.Source == "" {
		return Header{}, fmt.Errorf("%w: header has no source", ErrNotStructuredLog)
	}
	if version == nil {
		return Header{}, fmt.Errorf("%w: header has no version", ErrUnsupportedVersion)
	}
	if err := json.Unmarshal(version, &h.Version); err != nil || h.Version != headerVersion {
		return Header{}, fmt.Errorf("%w: %.60s, want %q", ErrUnsupportedVersion, version, headerVersion)
	}
	return h, nil
}

// parseObject parses one JSON object followed only by blanks and returns its
// members, compacted, in order. Duplicate names are rejected: which one a
// reader would honour is ambiguous.
func parseObject(b []byte) ([]member, error) {
	b = bytes.TrimRight(b, " \t\r")
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string) // the decoder only yields string keys
		for _, m := range members {
			if m.name == name {
				return nil, fmt.Errorf("duplicate member %q", name)
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, err
		}
		members = append(members, member{name: name, value: compact.Bytes()})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if dec.InputOffset() != int64(len(b)) {
		return nil, errors.New("data after the JSON object")
	}
	return members, nil
}

// CheckSeekTagName reports whether name can be a seek tag: a header member
// that is not one of the header's own ("source", "version", "time"), made
// of letters, digits, '_', '-' and '.' only, so that it can also be part of
// a lock file's name.
func CheckSeekTagName(name string) error {
	switch name {
	case "":
		return errors.New("must not be empty")
	case "source", "version", "time":
		return fmt.Errorf("%q is a header member, not a seek tag", name)
	}
	for _, r := range name {
		if !tagNameChar(r) {
			return fmt.Errorf("%q: use letters, digits, '_', '-' and '.' only", name)
		}
	}
	return nil
}

func tagNameChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return r == '_' || r == '-' || r == '.'
}

// withTag returns the header line with tag name set to off, of exactly h.Len
// bytes.
func (h Header) withTag(name string, off int64) ([]byte, error) {
	switch {
	case name == "":
		return nil, errors.New("empty seek tag name")
	case off < 0:
		return nil, fmt.Errorf("negative offset %d", off)
	}
	_, isTag := h.Tags[name]
	buf := make([]byte, 0, h.Len)
	buf = append(buf, '{')
	found := false
	for i, m := range h.members {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonpdata.AppendString(buf, m.name)
		buf = append(buf, ':')
		if m.name == name {
			if !isTag {
				return nil, fmt.Errorf("header member %q is not a seek tag", name)
			}
			buf = strconv.AppendInt(buf, off, 10)
			found = true
			continue
		}
		buf = append(buf, m.value...)
	}
	if !found {
		if len(h.members) > 0 {
			buf = append(buf, ',')
		}
		buf = jsonpdata.AppendString(buf, name)
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, off, 10)
	}
	buf = append(buf, '}')
	if len(buf)+1 > h.Len {
		return nil, fmt.Errorf("%w: tag %q needs %d bytes, line has %d", ErrHeaderFull, name, len(buf)+1, h.Len)
	}
	for len(buf) < h.Len-1 {
		buf = append(buf, ' ')
	}
	return append(buf, '\n'), nil
}

// ReadHeader reads and parses the header of f, which must be open for
// reading. It holds a shared lock on the header region while reading, so it
// never sees a header half-rewritten by WriteSeekTag; it reads with ReadAt and
// leaves f's offset alone. A file shorter than its first line yields an error
// matching both ErrNotStructuredLog and ErrIncompleteHeader.
//
// The read lock is taken and released through f, and fcntl locks taken
// through one descriptor merge: do not call ReadHeader while holding a lock on
// f's first MaxHeaderSize bytes through f yourself, or that lock is released.
func ReadHeader(f *os.File) (Header, error) {
	if err := lockRange(f, lockRead, 0, MaxHeaderSize); err != nil {
		return Header{}, fmt.Errorf("read header of %s: lock: %w", f.Name(), err)
	}
	h, err := readHeader(f)
	if uerr := lockRange(f, lockUnlock, 0, MaxHeaderSize); uerr != nil && err == nil {
		err = fmt.Errorf("read header of %s: unlock: %w", f.Name(), uerr)
	}
	return h, err
}

// readHeader is ReadHeader without locking, for callers that already hold a
// lock covering the header.
func readHeader(f *os.File) (Header, error) {
	buf := make([]byte, 512)
	for {
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return Header{}, fmt.Errorf("read header of %s: %w", f.Name(), err)
		}
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			h, err := ParseHeader(buf[:i+1])
			if err != nil {
				return Header{}, fmt.Errorf("%s: %w", f.Name(), err)
			}
			return h, nil
		}
		switch {
		case n > 0 && buf[0] != '{':
			return Header{}, fmt.Errorf("%s: %w: does not start with a JSON object", f.Name(), ErrNotStructuredLog)
		case n < len(buf):
			return Header{}, fmt.Errorf("%s: %w: %w: %d bytes and no end of line", f.Name(), ErrNotStructuredLog, ErrIncompleteHeader, n)
		case len(buf) == MaxHeaderSize:
			return Header{}, fmt.Errorf("%s: %w: first line longer than %d bytes", f.Name(), ErrNotStructuredLog, MaxHeaderSize)
		}
		buf = make([]byte, min(len(buf)*8, MaxHeaderSize))
	}
}

// WriteSeekTag sets the seek tag name to offset in f's header, in place (see
// the package documentation). f must be open for reading and writing and not
// in append mode. It holds an fcntl write lock on the header line only, so
// appenders locking the whole file merely wait for it, and it writes only the
// bytes before the header's '\n'. It returns ErrHeaderFull, leaving the file
// unchanged, when the tag does not fit.
func WriteSeekTag(f *os.File, name string, offset int64) error {
	if err := writeSeekTag(f, name, offset); err != nil {
		return fmt.Errorf("write seek tag %q to %s: %w", name, f.Name(), err)
	}
	return nil
}

func writeSeekTag(f *os.File, name string, offset int64) (err error) {
	// The header's length never changes, so learn it first and then lock just
	// that range; the header is read again under the lock because another
	// reader may have updated its own tag meanwhile.
	h, err := ReadHeader(f)
	if err != nil {
		return err
	}
	locked := int64(h.Len)
	if err := lockRange(f, lockWrite, 0, locked); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		if uerr := lockRange(f, lockUnlock, 0, locked); uerr != nil && err == nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
	}()
	if h, err = readHeader(f); err != nil {
		return err
	}
	if int64(h.Len) != locked {
		return fmt.Errorf("header length changed from %d to %d bytes", locked, h.Len)
	}
	line, err := h.withTag(name, offset)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(line[:len(line)-1], 0)
	return err
}
