package demo

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/testbed/mongoproc"
)

// TestRun runs the demo as `make run` does, against the built binary, and
// checks the numbers of its summary: each kind of event reached its one
// outcome, by the collector's own metrics and by the sink, on each
// NVSentinel datastore (PostgreSQL, and MongoDB through courier-mongo over
// TLS with an X.509 client certificate).
func TestRun(t *testing.T) {
	bin := testutil.CollectorBinary(t)
	withPostgres := pgtest.Available() == nil
	mongoBin := ""
	if withPostgres {
		var err error
		if mongoBin, err = mongoproc.Binary(testutil.ModuleRoot(t), t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Collector: bin, Mongo: mongoBin, Out: &out, Timeout: 2 * time.Minute})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]map[string]int64{
		"Omniverse": {
			"lines read":                         548,
			"rejected: not an event (torn line)": 2,
			"rejected: unknown schema":           10,
			"rejected: unknown event type":       10,
			"rejected: invalid data":             15,
			"rejected: no consent":               20,
			"anonymized (older than 30 days)":    40,
			"delivered":                          490,
			"dead-lettered: too large":           1,
			"events at the sink":                 490,
			"duplicates at the sink":             0,
			"anonymous events at the sink":       40,
			"events in dead-letter files":        1,
		},
	}
	if withPostgres {
		for store, live := range map[string]string{"NVSentinel on PostgreSQL": "changelog", "NVSentinel on MongoDB": "change stream"} {
			want[store] = map[string]int64{
				"health events read":                       60,
				"backfilled (stored before the start)":     30,
				"live (" + live + ")":                      30,
				"filtered: recommended action NONE":        10,
				"delivered":                                49,
				"dead-lettered: refused by the sink (400)": 1,
				"events at the sink":                       49,
				"duplicates at the sink":                   0,
				"events in dead-letter files":              1,
			}
		}
		if !strings.Contains(out.String(), "courier-mongo, a one-member replica set over TLS with an X.509 client certificate") {
			t.Error("the demo does not say that MongoDB runs over TLS with a client certificate")
		}
	} else if !strings.Contains(out.String(), "apt-get install postgresql") || !strings.Contains(out.String(), "courier-mongo") {
		t.Error("without PostgreSQL the demo does not say in one line how to add both datastores")
	}
	if len(sum.Sections) != len(want) {
		t.Errorf("%d sections, want %d", len(sum.Sections), len(want))
	}
	for section, rows := range want {
		for what, n := range rows {
			r, ok := sum.Row(section, what)
			switch {
			case !ok:
				t.Errorf("%s: no row %q", section, what)
			case r.Want != n || r.Got != n:
				t.Errorf("%s: %s: got %d, expected %d by the demo, %d by the test", section, what, r.Got, r.Want, n)
			}
		}
	}
	if !strings.Contains(out.String(), "OK: every number is the expected one.") {
		t.Error("the summary does not end with OK")
	}

	// Nothing is left behind.
	m := regexp.MustCompile(`events in (\S+)/logs`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatal("the output does not name the work directory")
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("work directory %s still there (%v)", m[1], err)
	}
}

func TestRunCancelled(t *testing.T) {
	bin := testutil.CollectorBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	time.AfterFunc(200*time.Millisecond, cancel) // during the collector's start
	_, err := Run(ctx, Options{Collector: bin, Out: &out, NoPostgres: true})
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled; output:\n%s", err, out.String())
	}
	if m := regexp.MustCompile(`events in (\S+)/logs`).FindStringSubmatch(out.String()); m != nil {
		if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
			t.Errorf("work directory %s still there (%v)", m[1], err)
		}
	}
}

func TestSummary(t *testing.T) {
	s := &Summary{Sections: []Section{{Title: "X: a → b", Events: 10, Rows: []Row{
		{What: "read", Got: 10, Want: 10, kind: kindRead},
		{What: "dropped", Got: 3, Want: 2, kind: kindDropped},
		{What: "delivered", Got: 6, Want: 8, kind: kindDelivered},
	}}}}
	if s.Accounted() || s.Complete() {
		t.Error("9 of 10 events: neither accounted for nor complete")
	}
	s.Sections[0].Rows[2].Got = 7
	if !s.Accounted() || s.Complete() {
		t.Error("10 of 10 events, wrongly: accounted for but not complete")
	}
	if got := s.Mismatches(); len(got) != 2 || got[0] != "X: dropped: got 3, expected 2" {
		t.Errorf("Mismatches() = %q", got)
	}
	var out bytes.Buffer
	s.Print(&out)
	if !strings.Contains(out.String(), "<- MISMATCH") || !strings.Contains(out.String(), "FAIL:") {
		t.Errorf("Print does not show the mismatch:\n%s", out.String())
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(strings.NewReader(`# HELP x
# TYPE courier_schema_validation_dropped counter
courier_schema_validation_dropped{reason="no_consent"} 20
courier_schema_validation_dropped{reason="invalid_data"} 15
courier_cloudevents_exporter_events_sent{endpoint="http://127.0.0.1:1/v1/a\"b"} 7
courier_cel_filter_dropped_total 3
courier_structured_log_files_open 2.5e+00
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		match []string
		want  int64
	}{
		{"courier.schema_validation.dropped", nil, 35},
		{"courier.schema_validation.dropped", []string{"reason", "no_consent"}, 20},
		{"courier.cloudevents_exporter.events.sent", []string{"endpoint", `http://127.0.0.1:1/v1/a"b`}, 7},
		{"courier.cel_filter.dropped", nil, 3},
		{"courier.structured_log.files_open", nil, 2},
		{"courier.old_events.anonymized", nil, 0},
	} {
		if got := m.sum(c.name, c.match...); got != c.want {
			t.Errorf("sum(%s, %v) = %d, want %d", c.name, c.match, got, c.want)
		}
	}
}
