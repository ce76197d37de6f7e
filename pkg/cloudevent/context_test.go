package cloudevent

import (
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// attrKeys lists the attribute keys of lr in order.
func attrKeys(lr plog.LogRecord) []string {
	var keys []string
	for k := range lr.Attributes().All() {
		keys = append(keys, k)
	}
	return keys
}

// TestSetContextMatchesDecode: a record built with SetContext is the record
// Decode makes of the same event's JSON, attribute order included, and
// encodes to that JSON.
func TestSetContextMatchesDecode(t *testing.T) {
	const text = `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel://c/healthevents",` +
		`"id":"66f1c2a4e4b0a1b2c3d4e5f6","time":"2026-07-14T10:30:00.12345678Z","data":null}`
	want := decode(t, text)

	got := plog.NewLogRecord()
	at := time.Date(2026, 7, 14, 12, 30, 0, 123456780, time.FixedZone("CEST", 2*3600))
	SetContext(got, "66f1c2a4e4b0a1b2c3d4e5f6", "nvsentinel://c/healthevents", "com.nvidia.nvsentinel.health.v1", at)

	if !got.Attributes().Equal(want.Attributes()) || !slices.Equal(attrKeys(got), attrKeys(want)) {
		t.Errorf("attributes = %v (%v), want %v (%v)", got.Attributes().AsRaw(), attrKeys(got),
			want.Attributes().AsRaw(), attrKeys(want))
	}
	if got.EventName() != want.EventName() || got.Timestamp() != want.Timestamp() {
		t.Errorf("EventName, Timestamp = %q, %v; want %q, %v", got.EventName(), got.Timestamp(), want.EventName(), want.Timestamp())
	}
	b, err := Structured{}.AppendEvent(nil, got)
	if err != nil || string(b) != text {
		t.Errorf("encoded %s (%v), want %s", b, err, text)
	}
}

func TestSetContextOptionalParts(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr(AttrID, "old")
	lr.Attributes().PutStr("db.system.name", "postgresql")
	SetContext(lr, "new", "", "t", time.Time{})

	if got, want := attrKeys(lr), []string{AttrID, "db.system.name", AttrSpecVersion, AttrType}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if v, _ := lr.Attributes().Get(AttrID); v.Str() != "new" {
		t.Errorf("id = %q, want it replaced", v.Str())
	}
	if lr.Timestamp() != 0 {
		t.Errorf("Timestamp = %v, want unset", lr.Timestamp())
	}
	// No source: not yet a valid event; a processor is expected to add it.
	if _, err := (Structured{}).AppendEvent(nil, lr); ReasonOf(err) != ReasonMissingAttribute {
		t.Errorf("encoding without a source: %v, want %s", err, ReasonMissingAttribute)
	}
}
