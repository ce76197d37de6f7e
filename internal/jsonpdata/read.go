// Package jsonpdata converts between JSON text and pcommon values, fast and
// without losing information.
//
// It exists because the general JSON libraries either decode into Go
// interfaces first (two allocating passes, ~100 allocations for a 700-byte
// event) or tokenize too slowly for the structured-log hot path (jsontext:
// ~2.3 µs per 700-byte event just to tokenize). Parser validates the whole
// text into a flat tape of tokens, reused between calls, and then builds
// pcommon values from it with every map and slice allocated at its final
// size; strings are sliced out of one copy of the input.
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
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// MaxDepth bounds the nesting of arrays and objects (as encoding/json does).
const MaxDepth = 10000

// maxInput keeps token offsets in int32.
const maxInput = math.MaxInt32

// SyntaxError reports malformed JSON and where it was found.
type SyntaxError struct {
	Offset int // byte offset of the problem in the input
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// Kind is the JSON type of a Node.
type Kind byte

// Node kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Token kinds on the tape.
const (
	tokNull    byte = iota
	tokTrue         // true
	tokFalse        // false
	tokInt          // integer literal
	tokNumber       // number with a fraction or an exponent
	tokString       // string that can be sliced from the input as it is
	tokEscaped      // string with escapes or invalid UTF-8
	tokArray
	tokObject
)

// token is one value on the tape. Object members are a string token (the
// name) followed by the value's tokens.
type token struct {
	kind  byte
	start int32 // text offset (strings: after the opening quote)
	end   int32 // text end; for containers the index of the token after it
	count int32 // containers: number of members or elements
}

// Parser parses JSON texts. It keeps its tape between calls; use one per
// goroutine. Nodes it returns are valid until the next Parse.
type Parser struct {
	s     string // the input; strings are sliced from it
	toks  []token
	pos   int
	depth int
}

// Parse validates b as exactly one JSON value (surrounded by optional white
// space) and returns its root. The Parser copies b once, so values built
// from it never alias b.
func (p *Parser) Parse(b []byte) (Node, error) {
	return p.ParseString(string(b))
}

// ParseString is Parse without the copy: strings in values built from the
// result are slices of s. A caller that reads many texts out of one larger
// string (a read buffer's worth of lines) saves an allocation per text,
// at the price of the whole string staying alive while any value does.
func (p *Parser) ParseString(s string) (Node, error) {
	if len(s) > maxInput {
		return Node{}, &SyntaxError{Msg: "input too large"}
	}
	p.s, p.pos, p.depth = s, 0, 0
	p.toks = p.toks[:0]
	if err := p.value(); err != nil {
		return Node{}, err
	}
	p.skipSpace()
	if p.pos != len(s) {
		return Node{}, p.errorf("unexpected %q after top-level value", s[p.pos])
	}
	return Node{p: p, i: 0}, nil
}

func (p *Parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *Parser) unexpected(want string) error {
	if p.pos >= len(p.s) {
		return p.errorf("unexpected end of input, want %s", want)
	}
	return p.errorf("unexpected %q, want %s", p.s[p.pos], want)
}

func (p *Parser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *Parser) push(kind byte, start, end int) {
	p.toks = append(p.toks, token{kind: kind, start: int32(start), end: int32(end)})
}

func (p *Parser) value() error {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return p.unexpected("a JSON value")
	}
	switch c := p.s[p.pos]; c {
	case '"':
		return p.str()
	case '{':
		return p.object()
	case '[':
		return p.array()
	case 't':
		return p.literal("true", tokTrue)
	case 'f':
		return p.literal("false", tokFalse)
	case 'n':
		return p.literal("null", tokNull)
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			start := p.pos
			end, _, integer, msg := scanNumber(p.s, start)
			p.pos = end
			if msg != "" {
				return p.errorf("%s", msg)
			}
			kind := tokNumber
			if integer {
				kind = tokInt
			}
			p.push(kind, start, end)
			return nil
		}
		return p.unexpected("a JSON value")
	}
}

func (p *Parser) literal(lit string, kind byte) error {
	if len(p.s)-p.pos < len(lit) || p.s[p.pos:p.pos+len(lit)] != lit {
		return p.errorf("invalid literal, want %s", lit)
	}
	p.push(kind, p.pos, p.pos+len(lit))
	p.pos += len(lit)
	return nil
}

func (p *Parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf("exceeded max nesting depth %d", MaxDepth)
	}
	return nil
}

// container closes the container token at index i holding n items.
func (p *Parser) container(i, n int) {
	p.toks[i].end = int32(len(p.toks))
	p.toks[i].count = int32(n)
	p.depth--
}

func (p *Parser) object() error {
	if err := p.enter(); err != nil {
		return err
	}
	i := len(p.toks)
	p.push(tokObject, p.pos, 0)
	p.pos++ // '{'
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		p.container(i, 0)
		return nil
	}
	for n := 1; ; n++ {
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return p.unexpected("string (member name)")
		}
		if err := p.str(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return p.unexpected("':'")
		}
		p.pos++
		if err := p.value(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos < len(p.s) {
			switch p.s[p.pos] {
			case ',':
				p.pos++
				continue
			case '}':
				p.pos++
				p.container(i, n)
				return nil
			}
		}
		return p.unexpected("',' or '}'")
	}
}

func (p *Parser) array() error {
	if err := p.enter(); err != nil {
		return err
	}
	i := len(p.toks)
	p.push(tokArray, p.pos, 0)
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		p.container(i, 0)
		return nil
	}
	for n := 1; ; n++ {
		if err := p.value(); err != nil {
			return err
		}
		p.skipSpace()
		if p.pos < len(p.s) {
			switch p.s[p.pos] {
			case ',':
				p.pos++
				continue
			case ']':
				p.pos++
				p.container(i, n)
				return nil
			}
		}
		return p.unexpected("',' or ']'")
	}
}

// str validates the string at p.s[p.pos] == '"' and records whether it can
// be sliced as it is (ASCII or valid UTF-8 without escapes).
func (p *Parser) str() error {
	start := p.pos + 1
	kind := tokString
	for i := start; i < len(p.s); {
		// Skip plain ASCII eight bytes at a time.
		for i+8 <= len(p.s) && !special8(load64(p.s, i)) {
			i += 8
		}
		if i >= len(p.s) {
			break
		}
		c := p.s[i]
		switch {
		case c == '"':
			p.push(kind, start, i)
			p.pos = i + 1
			return nil
		case c < 0x20:
			p.pos = i
			return p.errorf("control character %#02x in string", c)
		case c == '\\':
			kind = tokEscaped
			if i+1 >= len(p.s) {
				i++
				continue
			}
			switch p.s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(p.s, i+2); !ok {
					p.pos = i
					return p.errorf("invalid \\u escape")
				}
				i += 6
			default:
				p.pos = i
				return p.errorf("invalid escape '\\%c'", p.s[i+1])
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(p.s[i:])
			if r == utf8.RuneError && size == 1 {
				kind = tokEscaped
			}
			i += size
		default:
			i++
		}
	}
	p.pos = len(p.s)
	return p.errorf("unterminated string")
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in x is a quote, a
// backslash, a control character or not ASCII: the bytes str must look at.
// (x-ones*n) & ^x & high is non-zero exactly when some byte is below n.
func special8(x uint64) bool {
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&high != 0
}

// load64 reads s[i:i+8] as a little-endian word (one load once compiled).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// unescape decodes a validated string token's text (one allocation: the
// Builder's buffer becomes the string).
func unescape(b string) string {
	var buf strings.Builder
	buf.Grow(len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			esc := b[i+1]
			i += 2
			switch esc {
			case 'b':
				buf.WriteByte('\b')
			case 'f':
				buf.WriteByte('\f')
			case 'n':
				buf.WriteByte('\n')
			case 'r':
				buf.WriteByte('\r')
			case 't':
				buf.WriteByte('\t')
			case 'u':
				r1, _ := hex4(b, i)
				i += 4
				if utf16.IsSurrogate(r1) {
					// A high surrogate followed by an escaped low one is one rune;
					// anything else is replaced, as encoding/json does.
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2, ok := hex4(b, i+2); ok {
							if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
								buf.WriteRune(dec)
								i += 6
								continue
							}
						}
					}
					r1 = utf8.RuneError
				}
				buf.WriteRune(r1)
			default: // '"', '\\', '/'
				buf.WriteByte(esc)
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(b[i:])
			if r == utf8.RuneError && size == 1 {
				buf.WriteRune(utf8.RuneError)
			} else {
				buf.WriteString(b[i : i+size])
			}
			i += size
		default:
			buf.WriteByte(c)
			i++
		}
	}
	return buf.String()
}

func hex4(b string, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var v rune
	for j := i; j < i+4; j++ {
		c := b[j]
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

// scanNumber scans -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? from b[i:]. It
// returns the end offset, where the integer digits start, and whether the
// number has neither fraction nor exponent; msg is set when it is malformed.
func scanNumber[T string | []byte](b T, i int) (end, digits int, integer bool, msg string) {
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

// IsNumber reports whether b is exactly one JSON number.
func IsNumber(b []byte) bool {
	end, _, _, msg := scanNumber(b, 0)
	return msg == "" && end == len(b)
}

// Node is one value of a parsed text.
type Node struct {
	p *Parser
	i int
}

func (n Node) tok() token { return n.p.toks[n.i] }

// Kind is the node's JSON type.
func (n Node) Kind() Kind {
	switch n.tok().kind {
	case tokTrue, tokFalse:
		return Bool
	case tokInt, tokNumber:
		return Number
	case tokString, tokEscaped:
		return String
	case tokArray:
		return Array
	case tokObject:
		return Object
	}
	return Null
}

// Str returns the value of a String node.
func (n Node) Str() string {
	t := n.tok()
	if t.kind == tokEscaped {
		return unescape(n.p.s[t.start:t.end])
	}
	return n.p.s[t.start:t.end]
}

// Text returns the literal text of a scalar node (a number's digits).
func (n Node) Text() string {
	t := n.tok()
	return n.p.s[t.start:t.end]
}

// IsInteger reports whether a Number node has neither fraction nor exponent.
func (n Node) IsInteger() bool { return n.tok().kind == tokInt }

// next is the index of the token after this node and its contents.
func (n Node) next() int {
	t := n.tok()
	if t.kind == tokArray || t.kind == tokObject {
		return int(t.end)
	}
	return n.i + 1
}

// Members yields the name and value of each member of an Object node.
func (n Node) Members() iter.Seq2[string, Node] {
	return func(yield func(string, Node) bool) {
		count := int(n.tok().count)
		j := n.i + 1
		for range count {
			name := Node{n.p, j}
			v := Node{n.p, j + 1}
			if !yield(name.Str(), v) {
				return
			}
			j = v.next()
		}
	}
}

// CopyTo stores the node's value in v, replacing what v held.
func (n Node) CopyTo(v pcommon.Value) {
	n.p.build(n.i, v)
}

// build stores token i and its contents in v and returns the next index.
func (p *Parser) build(i int, v pcommon.Value) int {
	t := p.toks[i]
	switch t.kind {
	case tokNull:
		_ = v.FromRaw(nil) // empties v without allocating
	case tokTrue:
		v.SetBool(true)
	case tokFalse:
		v.SetBool(false)
	case tokString:
		v.SetStr(p.s[t.start:t.end])
	case tokEscaped:
		v.SetStr(unescape(p.s[t.start:t.end]))
	case tokInt, tokNumber:
		p.number(t, v)
	case tokArray:
		s := v.SetEmptySlice()
		s.EnsureCapacity(int(t.count))
		j := i + 1
		for range t.count {
			j = p.build(j, s.AppendEmpty())
		}
		return j
	case tokObject:
		m := v.SetEmptyMap()
		m.EnsureCapacity(int(t.count))
		j := i + 1
		for range t.count {
			k := p.toks[j]
			name := p.s[k.start:k.end]
			if k.kind == tokEscaped {
				name = unescape(p.s[k.start:k.end])
			}
			// PutEmpty keeps one entry per name: a repeated member overwrites.
			j = p.build(j+1, m.PutEmpty(name))
		}
		return j
	}
	return i + 1
}

// number stores a number token in v (see the package doc for the mapping).
func (p *Parser) number(t token, v pcommon.Value) {
	text := p.s[t.start:t.end]
	if t.kind == tokInt {
		digits := text
		if digits[0] == '-' {
			digits = digits[1:]
		}
		// Up to 18 digits always fit int64: accumulate without strconv.
		if len(digits) <= 18 {
			var n int64
			for i := 0; i < len(digits); i++ {
				n = n*10 + int64(digits[i]-'0')
			}
			if len(digits) != len(text) {
				n = -n
			}
			v.SetInt(n)
			return
		}
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			v.SetInt(n)
			return
		}
	} else if f, err := strconv.ParseFloat(text, 64); err == nil {
		v.SetDouble(f)
		return
	}
	// Beyond int64 or float64: keep the exact text (see package doc).
	v.SetEmptyBytes().FromRaw([]byte(text))
}

// Decode parses b, which must hold exactly one JSON value, into v.
func Decode(b []byte, v pcommon.Value) error {
	var p Parser
	root, err := p.Parse(b)
	if err != nil {
		return err
	}
	root.CopyTo(v)
	return nil
}
