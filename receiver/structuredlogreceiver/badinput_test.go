package structuredlogreceiver

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/pkg/structuredlog"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/metadata"
	"github.com/courier-otel/courier/receiver/structuredlogreceiver/internal/reader"
)

const goodHeader = `{"source":"omni.structuredlog","version":"1.0","time":"2025-03-04T05:06:07.123456+00:00"}`

func pad(h string) string { return h + strings.Repeat(" ", structuredlog.HeaderSize-1-len(h)) + "\n" }

func good(id string) string {
	return `{"id":"` + id + `","source":"u@x","specversion":"1.0","type":"com.example.t","dataschema":"example-1.0","time":"2025-03-04T05:06:07.123456Z","session":"1","data":{"id":"` + id + `"}}` + "\n"
}

// TestBadInput: a corpus of bad lines and bad files mixed with good events.
// Every good event arrives, in order per file; every bad line is counted by
// reason and warned about (rate-limited); the receiver keeps going.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	const maxEvent = 2000
	huge := `{"id":"huge","source":"u","specversion":"1.0","type":"t","data":"` + strings.Repeat("x", maxEvent) + `"}` + "\n"
	hugeTorn := `{"id":"huge2","source":"u","specversion":"1.0","type":"t","data":"` + strings.Repeat("y", 3*maxEvent)
	bad := map[string]string{
		"not_json":                "this is not json\n",
		"not_object":              `["an","array"]` + "\n",
		"missing_attribute":       `{"id":"m1","specversion":"1.0","type":"t"}` + "\n",
		"unsupported_specversion": `{"id":"s1","source":"u","specversion":"0.3","type":"t"}` + "\n",
		"invalid_attribute":       `{"id":"i1","source":"u","specversion":"1.0","type":"t","time":"yesterday"}` + "\n",
		"data_and_data_base64":    `{"id":"d1","source":"u","specversion":"1.0","type":"t","data":1,"data_base64":"AA=="}` + "\n",
		"invalid_data_base64":     `{"id":"b1","source":"u","specversion":"1.0","type":"t","data_base64":"!!"}` + "\n",
		"too_large":               huge,
	}
	reasons := slices.Sorted(func(yield func(string) bool) {
		for r := range bad {
			if !yield(r) {
				return
			}
		}
	})

	// mixed.log: good and bad lines interleaved, blank lines, a long line
	// still being written at the end.
	var body strings.Builder
	var want []string
	for i, r := range reasons {
		id := "g" + string(rune('a'+i))
		body.WriteString(good(id))
		want = append(want, id)
		body.WriteString(bad[r])
		body.WriteString("\n   \n")
	}
	body.WriteString(good("last-complete"))
	want = append(want, "last-complete")
	mixed := filepath.Join(dir, "mixed.log")
	writeFile(t, mixed, []byte(pad(goodHeader)+body.String()+hugeTorn))

	// Files that are no structured log, or of a version we do not know.
	writeFile(t, filepath.Join(dir, "transmitter.log"), []byte("2025-03-04 INFO started\nanother line\n"))
	writeFile(t, filepath.Join(dir, "v2.log"), []byte(pad(`{"source":"omni.structuredlog","version":"2.0","time":"t"}`)+good("v2-event")))
	writeFile(t, filepath.Join(dir, "foreign.log"), []byte(pad(`{"source":"someone.else","version":"1.0","time":"t"}`)+good("foreign-event")))
	writeFile(t, filepath.Join(dir, "binary.log"), []byte{0, 1, 2, 0xff, '\n', '{', '\n'})
	// A file whose writer has not written the header yet.
	empty := filepath.Join(dir, "late.log")
	writeFile(t, empty, nil)
	// A torn good line that is completed later.
	torn := filepath.Join(dir, "torn.log")
	g := good("torn-event")
	writeFile(t, torn, []byte(pad(goodHeader)+good("before-torn")+g[:37]))

	cfg := testConfig(dir)
	cfg.MaxEventSize = maxEvent
	o := newObserved(t)
	s := &sink{}
	startWith(t, cfg, s, nil, o.set)

	waitFor(t, "the complete good events", func() bool { return s.count() >= len(want)+1 })
	appendRaw(t, torn, g[37:])
	appendRaw(t, empty, pad(goodHeader)+good("late-event"))
	appendRaw(t, mixed, "\n"+good("after-huge"))
	waitFor(t, "the late events", func() bool { return s.count() >= len(want)+4 })
	settle(s)

	byFile := map[string][]string{}
	for _, e := range s.snapshot() {
		byFile[e.Name] = append(byFile[e.Name], e.ID)
	}
	if got := byFile["mixed.log"]; !slices.Equal(got, append(want, "after-huge")) {
		t.Errorf("mixed.log: got %v, want %v", got, append(want, "after-huge"))
	}
	if got := byFile["torn.log"]; !slices.Equal(got, []string{"before-torn", "torn-event"}) {
		t.Errorf("torn.log: got %v", got)
	}
	if got := byFile["late.log"]; !slices.Equal(got, []string{"late-event"}) {
		t.Errorf("late.log: got %v", got)
	}
	if len(byFile) != 3 {
		t.Errorf("events from %v", slices.Collect(func(yield func(string) bool) {
			for k := range byFile {
				yield(k)
			}
		}))
	}
	for _, r := range reasons {
		want := int64(1)
		if r == reader.ReasonTooLarge {
			want = 2 // the torn huge line, once finished
		}
		if n := o.metric(metadata.MetricEventsRejected, r); n != want {
			t.Errorf("rejected %s = %d, want %d", r, n, want)
		}
	}
	if n := o.metric(metadata.MetricFilesRejected, reader.ReasonUnsupportedVersion); n != 1 {
		t.Errorf("files rejected for their version = %d, want 1", n)
	}
	if n := o.metric(metadata.MetricFilesRejected, reader.ReasonNotStructuredLog); n != 3 {
		t.Errorf("files that are no structured log = %d, want 3", n)
	}
	if n := o.logged(zapcore.WarnLevel, "Skipping event line"); n < 5 {
		t.Errorf("%d warnings about bad lines", n)
	}
	if n := o.logged(zapcore.WarnLevel, "Skipping file"); n != 1 {
		t.Errorf("%d warnings about the unsupported file, want 1", n)
	}
	// Progress moved past the bad lines: the seek tag is at the end.
	if off, ok := seekTag(t, mixed, "seek"); !ok || off != fileSize(t, mixed) {
		t.Errorf("seek tag of mixed.log = %d, %v; file has %d bytes", off, ok, fileSize(t, mixed))
	}
}

// TestWarningsRateLimited: a flood of bad lines gives a bounded number of
// warnings, yet every line is counted.
func TestWarningsRateLimited(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "flood.log"), []byte(pad(goodHeader)+strings.Repeat("garbage\n", 5000)+good("ok")))
	o := newObserved(t)
	s := &sink{}
	startWith(t, testConfig(dir), s, nil, o.set)
	waitFor(t, "the good event", func() bool { return s.count() == 1 })
	if n := o.metric(metadata.MetricEventsRejected, string(cloudevent.ReasonNotJSON)); n != 5000 {
		t.Fatalf("rejected = %d, want 5000", n)
	}
	if n := o.logged(zapcore.WarnLevel, "Skipping event line"); n > 100 {
		t.Fatalf("%d warnings for 5000 bad lines", n)
	}
}
