// Package changestream turns changelog entries into change events as
// MongoDB's change stream specification describes them, filters them with
// the pipeline stages that follow $changeStream, and serves the cursors.
package changestream

import (
	"encoding/hex"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Position is a place in the changelog: the entry with sequence Seq has
// been passed; (T, I) is its cluster time (or the cluster time when the
// position was taken, for a position without an event).
type Position struct {
	Seq  int64
	T, I uint32
}

// Tokens are the hex string `_data`, like MongoDB's KeyString tokens: a
// 0x82 byte and the cluster time first (so that tools reading the time
// out of a token, as Courier's receiver does, read it here too), then a
// version and the sequence number. Drivers treat tokens as opaque.
const tokenLen = 2 + 8 + 8 + 4 + 2 + 16 + 2

// Token is the resume token document of p.
func Token(p Position) bsoncore.Document {
	data := fmt.Sprintf("82%08X%08X2B02C8%016X04", p.T, p.I, uint64(p.Seq))
	return bsoncore.NewDocumentBuilder().AppendString("_data", data).Build()
}

// ParseToken reads a resume token document.
func ParseToken(doc bsoncore.Document) (Position, error) {
	v, err := doc.LookupErr("_data")
	if err != nil {
		return Position{}, fmt.Errorf("resume token has no _data")
	}
	s, ok := v.StringValueOK()
	if !ok || len(s) != tokenLen || !strings.HasPrefix(s, "82") || s[18:24] != "2B02C8" || !strings.HasSuffix(s, "04") {
		return Position{}, fmt.Errorf("resume token %q was not issued by this server", v.String())
	}
	b, err := hex.DecodeString(s[2:18] + s[24:40])
	if err != nil {
		return Position{}, fmt.Errorf("resume token %q: %w", s, err)
	}
	be32 := func(b []byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	var seq uint64
	for _, c := range b[8:16] {
		seq = seq<<8 | uint64(c)
	}
	return Position{T: be32(b[0:4]), I: be32(b[4:8]), Seq: int64(seq)}, nil
}
