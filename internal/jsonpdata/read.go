// Package jsonpdata converts between JSON text and pcommon values, fast and
// without losing information.
//
// It exists because the general JSON libraries either decode into Go
// interfaces first (two passes, ~100 allocations for a 700-byte event) or
// tokenize too slowly for the structured-log hot path (jsontext: ~2.3 µs per
// 700-byte event just to tokenize). Reader builds pcommon values directly and
// slices strings out of one copy of the input, so an event costs one string
// allocation plus the pdata nodes themselves.
//
// Numbers: an integer that fits int64 becomes an Int, any other number a
// Double. An integer literal outside the int64 range (a uint64 id, say) or a
// number too large for float64 keeps its exact text as a Bytes value, which
// the writer emits again as a raw number: JSON has no bytes, so nested Bytes
// are free to carry this meaning. Doubles are always written with a '.' or an
// exponent so a value read back stays a Double.
//
// Semantics follow encoding/json where the RFC leaves room: invalid UTF-8 and
// lone surrogates become U+FFFD, duplicate object members keep the last value,
// nesting is limited to MaxDepth.
package jsonpdata

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// MaxDepth bounds the nesting of arrays and objects (as encoding/json does).
const MaxDepth = 10000

// SyntaxError reports malformed JSON and where it was found.
type SyntaxError struct {
	Offset int // byte offset of the problem in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// ErrDepth is returned (wrapped in a SyntaxError message) when nesting exceeds MaxDepth.
var ErrDepth = errors.New("exceeded max nesting depth")

// Reader reads JSON tokens and values from one input. The zero value is ready
// after Reset. A Reader is not safe for concurrent use; reuse one per goroutine.
type Reader struct {
	b     []byte // the input
	s     string // one copy of the input; unescaped strings are sliced from it
	pos   int
	depth int
}

// Reset starts reading b. The Reader copies b once into a string, so values it
// returns never alias b and b may be reused by the caller.
func (r *Reader) Reset(b []byte) {
	r.s = string(b)
	r.b = b
	r.pos = 0
	r.depth = 0
}

// Offset is the current byte offset in the input.
func (r *Reader) Offset() int { return r.pos }

func (r *Reader) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: r.pos, Msg: fmt.Sprintf(format, args...)}
}

func (r *Reader) skipSpace() {
	for r.pos < len(r.b) {
		switch r.b[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// Peek skips white space and returns the next byte, or 0 at the end of input.
func (r *Reader) Peek() byte {
	r.skipSpace()
	if r.pos < len(r.b) {
		return r.b[r.pos]
	}
	return 0
}

// Consume skips white space and consumes c, or fails.
func (r *Reader) Consume(c byte) error {
	if r.Peek() != c {
		if r.pos >= len(r.b) {
			return r.errorf("unexpected end of input, want %q", c)
		}
		return r.errorf("unexpected %q, want %q", r.b[r.pos], c)
	}
	r.pos++
	return nil
}

// End fails unless only white space is left.
func (r *Reader) End() error {
	r.skipSpace()
	if r.pos != len(r.b) {
		return r.errorf("unexpected %q after top-level value", r.b[r.pos])
	}
	return nil
}

// NextMember advances inside an object: first reports whether this is the
// first member (just after '{'). It consumes the ',' between members and the
// closing '}', returning more=false when the object ends.
func (r *Reader) NextMember(first bool) (more bool, err error) {
	c := r.Peek()
	if c == '}' {
		r.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, r.unexpected("',' or '}'")
		}
		r.pos++
	}
	return true, nil
}

// Key reads an object member name and the ':' after it.
func (r *Reader) Key() (string, error) {
	if r.Peek() != '"' {
		return "", r.unexpected("string (member name)")
	}
	k, err := r.readString()
	if err != nil {
		return "", err
	}
	return k, r.Consume(':')
}

// String reads a JSON string value.
func (r *Reader) String() (string, error) {
	if r.Peek() != '"' {
		return "", r.unexpected("string")
	}
	return r.readString()
}

func (r *Reader) unexpected(want string) error {
	if r.pos >= len(r.b) {
		return r.errorf("unexpected end of input, want %s", want)
	}
	return r.errorf("unexpected %q, want %s", r.b[r.pos], want)
}

// readString reads the string starting at r.b[r.pos] == '"'.
func (r *Reader) readString() (string, error) {
	start := r.pos + 1
	i := start
	for i < len(r.b) {
		c := r.b[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return r.s[start:i], nil
		case c == '\\' || c >= utf8.RuneSelf:
			return r.readStringSlow(start)
		case c < 0x20:
			r.pos = i
			return "", r.errorf("control character %#02x in string", c)
		}
		i++
	}
	r.pos = len(r.b)
	return "", r.errorf("unterminated string")
}

// readStringSlow handles escapes and non-ASCII text from start on. Valid UTF-8
// without escapes is still sliced; anything else is rebuilt.
func (r *Reader) readStringSlow(start int) (string, error) {
	var buf []byte // nil while the text can be sliced as it is
	i := start
	for i < len(r.b) {
		c := r.b[i]
		switch {
		case c == '"':
			r.pos = i + 1
			if buf == nil {
				return r.s[start:i], nil
			}
			return string(buf), nil
		case c < 0x20:
			r.pos = i
			return "", r.errorf("control character %#02x in string", c)
		case c < utf8.RuneSelf && c != '\\':
			if buf != nil {
				buf = append(buf, c)
			}
			i++
		case c >= utf8.RuneSelf:
			ru, size := utf8.DecodeRune(r.b[i:])
			if ru == utf8.RuneError && size == 1 {
				if buf == nil {
					buf = append(make([]byte, 0, len(r.b)-start), r.b[start:i]...)
				}
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else if buf != nil {
				buf = append(buf, r.b[i:i+size]...)
			}
			i += size
		default: // backslash
			if buf == nil {
				buf = append(make([]byte, 0, len(r.b)-start), r.b[start:i]...)
			}
			if i+1 >= len(r.b) {
				r.pos = len(r.b)
				return "", r.errorf("unterminated string")
			}
			esc := r.b[i+1]
			i += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r1, ok := hex4(r.b, i)
				if !ok {
					r.pos = i
					return "", r.errorf("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r1) {
					// A high surrogate followed by an escaped low one is one rune;
					// anything else is replaced, as encoding/json does.
					if r2, ok := hex4(r.b, i+2); ok && i+1 < len(r.b) && r.b[i] == '\\' && r.b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							i += 6
							continue
						}
					}
					r1 = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r1)
			default:
				r.pos = i - 1
				return "", r.errorf("invalid escape '\\%c'", esc)
			}
		}
	}
	r.pos = len(r.b)
	return "", r.errorf("unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// Value reads one JSON value into v, replacing what v held.
func (r *Reader) Value(v pcommon.Value) error {
	switch c := r.Peek(); c {
	case '"':
		s, err := r.readString()
		if err != nil {
			return err
		}
		v.SetStr(s)
	case '{':
		return r.object(v.SetEmptyMap())
	case '[':
		return r.array(v.SetEmptySlice())
	case 't':
		if err := r.literal("true"); err != nil {
			return err
		}
		v.SetBool(true)
	case 'f':
		if err := r.literal("false"); err != nil {
			return err
		}
		v.SetBool(false)
	case 'n':
		if err := r.literal("null"); err != nil {
			return err
		}
		_ = v.FromRaw(nil) // empties v without allocating
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return r.number(v)
		}
		return r.unexpected("a JSON value")
	}
	return nil
}

func (r *Reader) literal(lit string) error {
	if len(r.b)-r.pos < len(lit) || r.s[r.pos:r.pos+len(lit)] != lit {
		return r.errorf("invalid literal, want %s", lit)
	}
	r.pos += len(lit)
	return nil
}

func (r *Reader) enter() error {
	r.depth++
	if r.depth > MaxDepth {
		return r.errorf("%v", ErrDepth)
	}
	return nil
}

func (r *Reader) object(m pcommon.Map) error {
	if err := r.enter(); err != nil {
		return err
	}
	r.pos++ // '{'
	for first := true; ; first = false {
		more, err := r.NextMember(first)
		if err != nil {
			return err
		}
		if !more {
			r.depth--
			return nil
		}
		k, err := r.Key()
		if err != nil {
			return err
		}
		// PutEmpty keeps one entry per key: a repeated member overwrites.
		if err := r.Value(m.PutEmpty(k)); err != nil {
			return err
		}
	}
}

func (r *Reader) array(s pcommon.Slice) error {
	if err := r.enter(); err != nil {
		return err
	}
	r.pos++ // '['
	if r.Peek() == ']' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		if err := r.Value(s.AppendEmpty()); err != nil {
			return err
		}
		switch r.Peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return nil
		default:
			return r.unexpected("',' or ']'")
		}
	}
}

// scanNumber scans -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? from b[i:]. It
// returns the end offset, where the integer digits start, and whether the
// number has neither fraction nor exponent; msg is set when it is malformed.
func scanNumber(b []byte, i int) (end, digits int, integer bool, msg string) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits = i
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i == digits {
		return i, digits, false, "invalid number"
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		frac := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == frac {
			return i, digits, false, "invalid number: no digits after '.'"
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		exp := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == exp {
			return i, digits, false, "invalid number: no digits in exponent"
		}
	}
	return i, digits, integer, ""
}

// number reads a number into v (see the package doc for the mapping).
func (r *Reader) number(v pcommon.Value) error {
	start := r.pos
	end, digits, integer, msg := scanNumber(r.b, start)
	r.pos = end
	if msg != "" {
		return r.errorf("%s", msg)
	}
	text := r.s[start:end]
	if integer {
		// Up to 18 digits always fit int64: accumulate without strconv.
		if end-digits <= 18 {
			var n int64
			for _, c := range r.b[digits:end] {
				n = n*10 + int64(c-'0')
			}
			if digits > start {
				n = -n
			}
			v.SetInt(n)
			return nil
		}
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			v.SetInt(n)
			return nil
		}
	} else if f, err := strconv.ParseFloat(text, 64); err == nil {
		v.SetDouble(f)
		return nil
	} else if !math.IsInf(f, 0) {
		return r.errorf("invalid number %q", text)
	}
	// Beyond int64 or float64: keep the exact text (see package doc).
	v.SetEmptyBytes().FromRaw([]byte(text))
	return nil
}

// NumberText reads a number and returns its literal text.
func (r *Reader) NumberText() (string, error) {
	r.skipSpace()
	start := r.pos
	end, _, _, msg := scanNumber(r.b, start)
	r.pos = end
	if msg != "" {
		return "", r.errorf("%s", msg)
	}
	return r.s[start:end], nil
}

// IsNumber reports whether b is exactly one JSON number.
func IsNumber(b []byte) bool {
	end, _, _, msg := scanNumber(b, 0)
	return msg == "" && end == len(b)
}

// Skip reads and discards one value, checking its syntax.
func (r *Reader) Skip() error {
	return r.Value(pcommon.NewValueEmpty())
}

// Decode parses b, which must hold exactly one JSON value, into v.
func Decode(b []byte, v pcommon.Value) error {
	var r Reader
	r.Reset(b)
	if err := r.Value(v); err != nil {
		return err
	}
	return r.End()
}
