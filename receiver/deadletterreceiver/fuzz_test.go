package deadletterreceiver

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecord: any dead-letter line is an event, a skip or a counted
// rejection, never a panic; the file reader returns exactly the complete
// lines.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-07T10:00:00Z","reason":"retries_exhausted","status":503,"error":"x","event":{"specversion":"1.0","id":"e1","source":"s","type":"t","data":{"a":1}}}`))
	f.Add([]byte(`{"reason":"rejected","log_record":{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}}`))
	f.Add([]byte(`{"reason":"too_large","event":null}`))
	f.Add([]byte("not json"))
	f.Add([]byte(`{"reason":"rejected","event":{"id":"x"}}` + "\n" + `{"reason":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBatch()
		_, _ = b.add(data, func(r string) bool { return r != "too_large" })
		if b.events != b.logs.LogRecordCount() {
			t.Fatalf("%d events counted, %d records", b.events, b.logs.LogRecordCount())
		}
		path := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = fh.Close() }()
		rd, err := newFileReader(fh, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, end, err := rd.next()
			if err != nil {
				break
			}
			if end > int64(len(data)) || data[end-1] != '\n' {
				t.Fatalf("a line ends at %d", end)
			}
		}
		if rest := int64(len(data)) - rd.pos; rest != 0 && (!rd.partial || int64(rd.partialLen) != rest) {
			t.Fatalf("pos %d, partial %v %d, size %d", rd.pos, rd.partial, rd.partialLen, len(data))
		}
	})
}
