package structuredlog

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"
)

// IDType is the kind of event id a Writer generates.
type IDType string

// The id types. The zero IDType is IDTypeUUID.
const (
	IDTypeUUID   IDType = "uuid"   // printed as 00000000-0000-0000-0000-000000000000
	IDTypeUint64 IDType = "uint64" // printed in decimal
)

// ParseIDType parses "uuid" or "uint64", ignoring case and surrounding spaces.
const hexDigits = "0123456789abcdef"

func ParseIDType(s string) (IDType, error) {
	switch t := IDType(strings.ToLower(strings.TrimSpace(s))); t {
	case IDTypeUUID, IDTypeUint64:
		return t, nil
	}
	return "", fmt.Errorf("unknown event id type %q: want uuid or uint64", s)
}

// IDMode is how one event id relates to the next.
type IDMode string

// The id modes. The zero IDMode is IDModeFastSequential.
const (
	// IDModeFastSequential: UUIDs count up from a random base as a
	// little-endian 128-bit number (ordered in memory order, not as text);
	// uint64 ids behave as in IDModeSequential.
	IDModeFastSequential IDMode = "fast-sequential"
	// IDModeSequential: each id sorts after the previous one (UUIDv7 with a
	// monotonic counter; an incrementing uint64).
	IDModeSequential IDMode = "sequential"
	// IDModeRandom: random UUIDv4 or random uint64.
	IDModeRandom IDMode = "random"
)

// ParseIDMode parses "fast-sequential", "sequential" or "random", ignoring
// case and surrounding spaces.
func ParseIDMode(s string) (IDMode, error) {
	switch m := IDMode(strings.ToLower(strings.TrimSpace(s))); m {
	case IDModeFastSequential, IDModeSequential, IDModeRandom:
		return m, nil
	}
	return "", fmt.Errorf("unknown event id mode %q: want fast-sequential, sequential or random", s)
}

type idKind int

const (
	idUUIDFast idKind = iota
	idUUIDSequential
	idUUIDRandom
	idUint64Counter
	idUint64Random
)

// idGenerator makes event ids; it is safe for concurrent use.
type idGenerator struct {
	kind   idKind
	hi, lo uint64        // idUUIDFast: the random base; idUint64Counter: lo is the first id
	n      atomic.Uint64 // ids handed out so far by the counting kinds
}

// newIDGenerator returns a generator for t and m (zero values mean the
// defaults). start is the first uint64 counter id; 0 picks a random one.
func newIDGenerator(t IDType, m IDMode, start uint64) (*idGenerator, error) {
	if t == "" {
		t = IDTypeUUID
	}
	if m == "" {
		m = IDModeFastSequential
	}
	t, err := ParseIDType(string(t))
	if err != nil {
		return nil, err
	}
	if m, err = ParseIDMode(string(m)); err != nil {
		return nil, err
	}
	g := &idGenerator{}
	switch {
	case t == IDTypeUUID && m == IDModeFastSequential:
		g.kind = idUUIDFast
		var base [16]byte
		cryptorand.Read(base[:])
		base[6] = base[6]&0x0f | 0x40 // look like a v4 UUID until the counter carries that far
		base[8] = base[8]&0x3f | 0x80
		g.lo = binary.LittleEndian.Uint64(base[0:8])
		g.hi = binary.LittleEndian.Uint64(base[8:16])
	case t == IDTypeUUID && m == IDModeSequential:
		g.kind = idUUIDSequential
	case t == IDTypeUUID:
		g.kind = idUUIDRandom
	case m == IDModeRandom:
		g.kind = idUint64Random
	default:
		g.kind = idUint64Counter
		g.lo = start
		if start == 0 {
			// Leave 2^62 ids of headroom so the counter never wraps around
			// and breaks the ordering.
			g.lo = 1 + rand.Uint64N(1<<62)
		}
	}
	return g, nil
}

// appendID appends a new id to dst.
func (g *idGenerator) appendID(dst []byte) ([]byte, error) {
	switch g.kind {
	case idUUIDFast:
		n := g.n.Add(1) - 1
		lo := g.lo + n
		hi := g.hi
		if lo < g.lo { // carry into the upper half
			hi++
		}
		var u [16]byte
		binary.LittleEndian.PutUint64(u[0:8], lo)
		binary.LittleEndian.PutUint64(u[8:16], hi)
		return appendUUID(dst, u), nil
	case idUUIDSequential:
		// google/uuid serializes the time+counter part of NewV7 under a
		// process-wide mutex and bumps it when the clock has not moved, so
		// successive ids compare greater as bytes and as text.
		u, err := uuid.NewV7()
		if err != nil {
			return dst, fmt.Errorf("new UUIDv7: %w", err)
		}
		return appendUUID(dst, u), nil
	case idUUIDRandom:
		u, err := uuid.NewRandom()
		if err != nil {
			return dst, fmt.Errorf("new UUIDv4: %w", err)
		}
		return appendUUID(dst, u), nil
	case idUint64Random:
		return strconv.AppendUint(dst, rand.Uint64(), 10), nil
	default:
		return strconv.AppendUint(dst, g.lo+g.n.Add(1)-1, 10), nil
	}
}

// appendUUID appends u in the canonical 8-4-4-4-12 lower-case hex form
// without the allocation uuid.UUID.String makes.
func appendUUID(dst []byte, u [16]byte) []byte {
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}
