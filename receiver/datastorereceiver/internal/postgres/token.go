package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token is a resume position, stored in NVSentinel's resume_tokens table
// in NVSentinel's format, so that either program can continue from the
// other's token:
//
//	{"timestamp": "<RFC3339Nano>", "eventID": <changelog id>, "backfill": {...}}
//
// EventID is the changelog id up to which everything has been delivered:
// a source resumed from it reads ids above it. Timestamp is the changed_at
// of the changelog row at EventID (or of the nearest row below it when
// EventID itself was rolled back): NVSentinel resumes from
// changed_at > Timestamp OR (changed_at = Timestamp AND id > EventID), and
// a Courier source ignores it. Backfill is set while a backfill is under
// way; NVSentinel ignores the member.
type Token struct {
	EventID   int64
	Timestamp time.Time
	Backfill  BackfillPosition
}

// BackfillPosition is how far a backfill has got: the last row delivered,
// in (created_at, id) order, and how many rows were delivered up to it.
// The zero value means no backfill is under way.
type BackfillPosition struct {
	CreatedAt time.Time
	ID        string
	Count     int64
}

// Active reports whether the position belongs to a running backfill.
func (p BackfillPosition) Active() bool { return p.ID != "" }

// tokenJSON is the stored form. NVSentinel decodes the document into a
// map and reads "timestamp" (RFC3339Nano string) and "eventID" (a JSON
// number) only, so the extra member is invisible to it.
type tokenJSON struct {
	Timestamp string        `json:"timestamp"`
	EventID   json.Number   `json:"eventID"`
	Backfill  *backfillJSON `json:"backfill,omitempty"`
}

type backfillJSON struct {
	CreatedAt string `json:"createdAt"`
	ID        string `json:"id"`
	Count     int64  `json:"count"`
}

// epoch stands in for an unknown changed_at: NVSentinel reading it
// re-reads from the start of the changelog (duplicates, never a skip).
var epoch = time.Unix(0, 0).UTC()

func encodeToken(t Token) ([]byte, error) {
	ts := t.Timestamp
	if ts.IsZero() {
		ts = epoch
	}
	j := tokenJSON{
		Timestamp: ts.UTC().Format(time.RFC3339Nano),
		EventID:   json.Number(fmt.Sprint(t.EventID)),
	}
	if t.Backfill.Active() {
		j.Backfill = &backfillJSON{
			CreatedAt: t.Backfill.CreatedAt.UTC().Format(time.RFC3339Nano),
			ID:        t.Backfill.ID,
			Count:     t.Backfill.Count,
		}
	}
	return json.Marshal(j)
}

// decodeToken reads a token written by Courier or by NVSentinel, including
// NVSentinel's older tokens without a timestamp (Timestamp is then zero).
func decodeToken(b []byte) (Token, error) {
	var j struct {
		Timestamp *string       `json:"timestamp"`
		EventID   *json.Number  `json:"eventID"`
		Backfill  *backfillJSON `json:"backfill"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return Token{}, fmt.Errorf("resume token %s: %w", b, err)
	}
	if j.EventID == nil {
		return Token{}, fmt.Errorf("resume token %s: no eventID", b)
	}
	var t Token
	id, err := j.EventID.Int64()
	if err != nil {
		// NVSentinel reads the number as a float64 and truncates it.
		f, ferr := j.EventID.Float64()
		if ferr != nil || f < 0 || f > math.MaxInt64 {
			return Token{}, fmt.Errorf("resume token %s: eventID is not a changelog id", b)
		}
		id = int64(f)
	}
	t.EventID = id
	if j.Timestamp != nil {
		// As NVSentinel: a timestamp that does not parse counts as absent.
		if ts, err := time.Parse(time.RFC3339Nano, *j.Timestamp); err == nil {
			t.Timestamp = ts
		}
	}
	if j.Backfill != nil && j.Backfill.ID != "" {
		ts, err := time.Parse(time.RFC3339Nano, j.Backfill.CreatedAt)
		if err != nil {
			return Token{}, fmt.Errorf("resume token %s: backfill.createdAt: %w", b, err)
		}
		t.Backfill = BackfillPosition{CreatedAt: ts, ID: j.Backfill.ID, Count: j.Backfill.Count}
	}
	return t, nil
}

// tokenSQL holds the token queries for the configured tables.
type tokenSQL struct {
	load, save, changedAt string
}

func newTokenSQL(c Config) tokenSQL {
	tokens, changelog := quoteName(c.ResumeTokensTable), quoteName(c.ChangelogTable)
	return tokenSQL{
		load: `SELECT resume_token FROM ` + tokens + ` WHERE client_name = $1`,
		// NVSentinel's own upsert (saveResumePosition).
		save: `INSERT INTO ` + tokens + ` (client_name, resume_token, last_updated)
VALUES ($1, $2, NOW())
ON CONFLICT (client_name)
DO UPDATE SET resume_token = EXCLUDED.resume_token, last_updated = NOW()`,
		changedAt: `SELECT changed_at FROM ` + changelog + ` WHERE id = $1`,
	}
}

// loadToken returns the stored token for client, or ok=false when there is
// none. A token without a timestamp gets the changed_at of its eventID, as
// NVSentinel does with its older tokens.
func (q tokenSQL) loadToken(ctx context.Context, conn *pgx.Conn, client string) (t Token, ok bool, err error) {
	var raw []byte
	err = conn.QueryRow(ctx, q.load, client).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("load resume token of %q: %w", client, err)
	}
	if t, err = decodeToken(raw); err != nil {
		return Token{}, false, fmt.Errorf("load resume token of %q: %w", client, err)
	}
	if t.Timestamp.IsZero() && t.EventID > 0 {
		var at *time.Time
		err := conn.QueryRow(ctx, q.changedAt, t.EventID).Scan(&at)
		switch {
		case err == nil && at != nil:
			t.Timestamp = at.UTC()
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return Token{}, false, fmt.Errorf("look up changed_at of resume token's eventID %d: %w", t.EventID, err)
		}
	}
	return t, true, nil
}

func (q tokenSQL) saveToken(ctx context.Context, conn *pgx.Conn, client string, t Token) error {
	b, err := encodeToken(t)
	if err != nil {
		return fmt.Errorf("encode resume token: %w", err)
	}
	// As text: the parameter's type is jsonb and pgx sends the JSON as is.
	if _, err := conn.Exec(ctx, q.save, client, string(b)); err != nil {
		return fmt.Errorf("save resume token of %q: %w", client, err)
	}
	return nil
}
