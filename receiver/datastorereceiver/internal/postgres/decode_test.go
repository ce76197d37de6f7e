package postgres

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

func be(v int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return b
}

func TestDecodeTime(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		want time.Time
	}{
		{0, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{-1, time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{837_000_123_456_789, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Add(837_000_123_456_789 * time.Microsecond)},
		{math.MaxInt64, time.Time{}},
		{math.MinInt64, time.Time{}},
	} {
		got, err := decodeTime(be(tc.us))
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("decodeTime(%d) = %v, %v; want %v", tc.us, got, err, tc.want)
		}
	}
	if got, err := decodeTime(nil); err != nil || !got.IsZero() {
		t.Errorf("NULL → %v, %v", got, err)
	}
	if _, err := decodeTime([]byte{1}); err == nil {
		t.Error("a short timestamp decoded")
	}
}

func TestDecodeJSONB(t *testing.T) {
	raw := []byte("\x01{\"a\": 1}")
	got, err := decodeJSONB(raw)
	if err != nil || string(got) != `{"a": 1}` {
		t.Fatalf("decodeJSONB = %q, %v", got, err)
	}
	raw[1] = 'X'
	if got[0] != '{' {
		t.Error("the result shares the connection's buffer")
	}
	if _, err := decodeJSONB([]byte("\x02{}")); err == nil {
		t.Error("unknown jsonb version accepted")
	}
}
