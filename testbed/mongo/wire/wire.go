// Package wire reads and writes the MongoDB wire protocol messages the
// stand-in needs: OP_MSG (with document sequences and checksums), and the
// legacy OP_QUERY/OP_REPLY pair that drivers still use for their first
// handshake. Written from MongoDB's public wire protocol specification.
package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Opcodes.
const (
	OpReply      = 1
	OpQuery      = 2004
	OpCompressed = 2012
	OpMsg        = 2013
)

// OP_MSG flag bits.
const (
	FlagChecksumPresent = 1 << 0
	FlagMoreToCome      = 1 << 1
	FlagExhaustAllowed  = 1 << 16
)

// HeaderLen is the length of a message header.
const HeaderLen = 16

// MaxMessageSize is what the stand-in announces as maxMessageSizeBytes
// and refuses beyond.
const MaxMessageSize = 48_000_000

// Header is a message header.
type Header struct {
	Length, RequestID, ResponseTo, OpCode int32
}

// ReadMessage reads one whole message (header included) into buf's
// storage and returns its header and bytes.
func ReadMessage(r io.Reader, buf []byte) (Header, []byte, error) {
	var hb [HeaderLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return Header{}, nil, err
	}
	h := Header{
		Length:     int32(binary.LittleEndian.Uint32(hb[0:])),
		RequestID:  int32(binary.LittleEndian.Uint32(hb[4:])),
		ResponseTo: int32(binary.LittleEndian.Uint32(hb[8:])),
		OpCode:     int32(binary.LittleEndian.Uint32(hb[12:])),
	}
	if h.Length < HeaderLen || h.Length > MaxMessageSize {
		return h, nil, fmt.Errorf("message length %d out of range", h.Length)
	}
	if cap(buf) < int(h.Length) {
		buf = make([]byte, h.Length)
	}
	buf = buf[:h.Length]
	copy(buf, hb[:])
	if _, err := io.ReadFull(r, buf[HeaderLen:]); err != nil {
		return h, nil, err
	}
	return h, buf, nil
}

// Sequence is an OP_MSG kind 1 section.
type Sequence struct {
	Identifier string
	Docs       []bsoncore.Document
}

// Msg is a parsed OP_MSG. Its documents alias the message bytes.
type Msg struct {
	Flags     uint32
	Body      bsoncore.Document
	Sequences []Sequence
}

var errShort = errors.New("truncated message")

// ParseMsg parses a whole OP_MSG message (header included). A checksum,
// when present, is verified.
func ParseMsg(msg []byte) (Msg, error) {
	if len(msg) < HeaderLen+4 {
		return Msg{}, errShort
	}
	var m Msg
	m.Flags = binary.LittleEndian.Uint32(msg[HeaderLen:])
	end := len(msg)
	if m.Flags&FlagChecksumPresent != 0 {
		if end < HeaderLen+8 {
			return m, errShort
		}
		end -= 4
		want := binary.LittleEndian.Uint32(msg[end:])
		if got := crc32.Checksum(msg[:end], crc32.MakeTable(crc32.Castagnoli)); got != want {
			return m, fmt.Errorf("OP_MSG checksum mismatch")
		}
	}
	if m.Flags&^uint32(FlagChecksumPresent|FlagMoreToCome|FlagExhaustAllowed)&0xffff != 0 {
		return m, fmt.Errorf("OP_MSG: unknown required flag bits %#x", m.Flags)
	}
	b := msg[HeaderLen+4 : end]
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		switch kind {
		case 0:
			doc, rest, ok := bsoncore.ReadDocument(b)
			if !ok {
				return m, errShort
			}
			if m.Body != nil {
				return m, errors.New("OP_MSG with two body sections")
			}
			m.Body, b = doc, rest
		case 1:
			if len(b) < 4 {
				return m, errShort
			}
			size := int(binary.LittleEndian.Uint32(b))
			if size < 4 || size > len(b) {
				return m, errShort
			}
			sec := b[4:size]
			b = b[size:]
			id, rest, ok := readCString(sec)
			if !ok {
				return m, errShort
			}
			s := Sequence{Identifier: id}
			for len(rest) > 0 {
				doc, r, ok := bsoncore.ReadDocument(rest)
				if !ok {
					return m, errShort
				}
				s.Docs = append(s.Docs, doc)
				rest = r
			}
			m.Sequences = append(m.Sequences, s)
		default:
			return m, fmt.Errorf("OP_MSG: unknown section kind %d", kind)
		}
	}
	if m.Body == nil {
		return m, errors.New("OP_MSG without a body section")
	}
	return m, nil
}

// AppendMsg appends an OP_MSG with one body section.
func AppendMsg(dst []byte, requestID, responseTo int32, flags uint32, body []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, requestID, responseTo, OpMsg)
	dst = binary.LittleEndian.AppendUint32(dst, flags)
	dst = append(dst, 0)
	dst = append(dst, body...)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// Query is a parsed OP_QUERY.
type Query struct {
	Flags              int32
	FullCollectionName string
	Skip, Return       int32
	Query              bsoncore.Document
}

// ParseQuery parses a whole OP_QUERY message (header included).
func ParseQuery(msg []byte) (Query, error) {
	if len(msg) < HeaderLen+4 {
		return Query{}, errShort
	}
	var q Query
	q.Flags = int32(binary.LittleEndian.Uint32(msg[HeaderLen:]))
	name, rest, ok := readCString(msg[HeaderLen+4:])
	if !ok || len(rest) < 8 {
		return q, errShort
	}
	q.FullCollectionName = name
	q.Skip = int32(binary.LittleEndian.Uint32(rest))
	q.Return = int32(binary.LittleEndian.Uint32(rest[4:]))
	doc, _, ok := bsoncore.ReadDocument(rest[8:])
	if !ok {
		return q, errShort
	}
	q.Query = doc
	return q, nil
}

// AppendReply appends an OP_REPLY carrying one document.
func AppendReply(dst []byte, requestID, responseTo int32, doc []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, requestID, responseTo, OpReply)
	dst = binary.LittleEndian.AppendUint32(dst, 0) // responseFlags
	dst = binary.LittleEndian.AppendUint64(dst, 0) // cursorID
	dst = binary.LittleEndian.AppendUint32(dst, 0) // startingFrom
	dst = binary.LittleEndian.AppendUint32(dst, 1) // numberReturned
	dst = append(dst, doc...)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// AppendQuery appends an OP_QUERY (for tests that speak the legacy
// handshake themselves).
func AppendQuery(dst []byte, requestID int32, coll string, query []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, requestID, 0, OpQuery)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = append(dst, coll...)
	dst = append(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, 0xffffffff) // -1: one document
	dst = append(dst, query...)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// ParseReply returns the first document of a whole OP_REPLY message.
func ParseReply(msg []byte) (bsoncore.Document, error) {
	const skip = HeaderLen + 4 + 8 + 4 + 4
	if len(msg) < skip {
		return nil, errShort
	}
	doc, _, ok := bsoncore.ReadDocument(msg[skip:])
	if !ok {
		return nil, errShort
	}
	return doc, nil
}

func appendHeader(dst []byte, requestID, responseTo, op int32) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 0) // length, patched
	dst = binary.LittleEndian.AppendUint32(dst, uint32(requestID))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(responseTo))
	return binary.LittleEndian.AppendUint32(dst, uint32(op))
}

// RequestID reads a message's requestID.
func RequestID(msg []byte) int32 { return int32(binary.LittleEndian.Uint32(msg[4:])) }

func readCString(b []byte) (string, []byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", b, false
	}
	return string(b[:i]), b[i+1:], true
}
