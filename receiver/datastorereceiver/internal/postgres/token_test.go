package postgres

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	ts := time.Date(2026, 7, 14, 10, 30, 0, 123456000, time.UTC)
	for _, tok := range []Token{
		{EventID: 42, Timestamp: ts},
		{EventID: 7, Timestamp: ts, Backfill: BackfillPosition{CreatedAt: ts.Add(-time.Hour), ID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Count: 3}},
	} {
		b, err := encodeToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeToken(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.EventID != tok.EventID || !got.Timestamp.Equal(tok.Timestamp) || got.Backfill.ID != tok.Backfill.ID ||
			got.Backfill.Count != tok.Backfill.Count || !got.Backfill.CreatedAt.Equal(tok.Backfill.CreatedAt) {
			t.Errorf("round trip of %+v = %+v (%s)", tok, got, b)
		}
	}
}

// TestNVSentinelReadsOurToken decodes our token the way NVSentinel's
// loadResumePosition does: into a map, "eventID" asserted to float64,
// "timestamp" parsed with RFC3339Nano; the backfill member is ignored.
func TestNVSentinelReadsOurToken(t *testing.T) {
	ts := time.Date(2026, 7, 14, 10, 30, 0, 123456000, time.UTC)
	b, err := encodeToken(Token{EventID: 1234, Timestamp: ts, Backfill: BackfillPosition{CreatedAt: ts, ID: "x", Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	id, ok := m["eventID"].(float64)
	if !ok || int64(id) != 1234 {
		t.Errorf("eventID = %#v, want the number 1234", m["eventID"])
	}
	s, ok := m["timestamp"].(string)
	if !ok {
		t.Fatalf("timestamp = %#v, want a string", m["timestamp"])
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !parsed.Equal(ts) {
		t.Errorf("timestamp %q parses to %v, %v; want %v", s, parsed, err, ts)
	}
}

func TestDecodeNVSentinelTokens(t *testing.T) {
	for _, tc := range []struct {
		in      string
		id      int64
		hasTime bool
	}{
		// saveResumePosition's json.Marshal of map[string]interface{}.
		{`{"eventID":17,"timestamp":"2026-07-14T10:30:00.123456Z"}`, 17, true},
		// As PostgreSQL's jsonb gives it back.
		{`{"eventID": 17, "timestamp": "2026-07-14T10:30:00.123456+00:00"}`, 17, true},
		// Older, id-only token.
		{`{"eventID": 17}`, 17, false},
		// A float, as NVSentinel reads numbers.
		{`{"eventID": 17.0, "timestamp": "garbage"}`, 17, false},
	} {
		tok, err := decodeToken([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if tok.EventID != tc.id || tok.Timestamp.IsZero() == tc.hasTime || tok.Backfill.Active() {
			t.Errorf("%s → %+v", tc.in, tok)
		}
	}
	for _, bad := range []string{`{}`, `{"eventID": "x"}`, `{"eventID": -1.5}`, `nope`} {
		if _, err := decodeToken([]byte(bad)); err == nil {
			t.Errorf("%s: decoded without error", bad)
		}
	}
}

func TestEncodeUnknownTimestamp(t *testing.T) {
	b, err := encodeToken(Token{EventID: 0})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timestamp":"1970-01-01T00:00:00Z"`) {
		t.Errorf("token without a known changed_at = %s, want the Unix epoch (NVSentinel then re-reads, never skips)", b)
	}
}
