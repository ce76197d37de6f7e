package postgres

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// The hot queries ask for every result column in PostgreSQL's binary
// format and decode the raw values here: no reflection, no per-column
// allocation, only the copies handed to the caller (the document and the
// id string).
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// pgEpochUnix is 2000-01-01 UTC, where PostgreSQL's binary timestamps
// count from, in Unix seconds.
const pgEpochUnix = 946684800

func decodeInt8(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int8: %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// decodeTime decodes a binary timestamptz (microseconds since 2000-01-01
// UTC). NULL and ±infinity decode as the zero time.
func decodeTime(b []byte) (time.Time, error) {
	if b == nil {
		return time.Time{}, nil
	}
	if len(b) != 8 {
		return time.Time{}, fmt.Errorf("timestamptz: %d bytes", len(b))
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return time.Time{}, nil
	}
	secs, rem := us/1e6, us%1e6
	if rem < 0 {
		secs, rem = secs-1, rem+1e6
	}
	return time.Unix(pgEpochUnix+secs, rem*1e3).UTC(), nil
}

func decodeUUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("uuid: %d bytes", len(b))
	}
	return uuid.UUID(b).String(), nil
}

// decodeJSONB copies a binary jsonb value (a version byte, then the JSON
// text). NULL decodes as nil.
func decodeJSONB(b []byte) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) == 0 || b[0] != 1 {
		return nil, fmt.Errorf("jsonb: unknown binary version")
	}
	return append([]byte(nil), b[1:]...), nil
}
