package demo

import (
	"fmt"
	"io"
	"strings"
)

// Summary is what the demo saw, beside what it expected.
type Summary struct {
	Sections []Section
}

// Section is one pipeline.
type Section struct {
	Title string
	// Events is how many events (lines, rows) the demo wrote for it; the
	// outcome rows add up to it once all are accounted for.
	Events int64
	Rows   []Row
}

// Row is one number: Got from the collector's metrics, the sink or the
// dead-letter files (From says which), Want from what the demo wrote.
type Row struct {
	What      string
	Got, Want int64
	From      string
	kind      rowKind
}

type rowKind int

const (
	kindInfo         rowKind = iota
	kindRead                 // events the receiver read
	kindDropped              // an outcome: dropped on purpose
	kindDelivered            // an outcome: accepted by the sink
	kindDeadLettered         // an outcome: written to the dead-letter directory
)

func (k rowKind) outcome() bool { return k >= kindDropped }

// Row returns the row of section title (a prefix of it) named what.
func (s *Summary) Row(title, what string) (Row, bool) {
	for _, sec := range s.Sections {
		if !strings.HasPrefix(sec.Title, title) {
			continue
		}
		for _, r := range sec.Rows {
			if r.What == what {
				return r, true
			}
		}
	}
	return Row{}, false
}

// Complete reports whether every number is the expected one.
func (s *Summary) Complete() bool { return len(s.Mismatches()) == 0 }

// Accounted reports whether every event has reached an outcome (rightly
// or not): then the numbers will not change any more.
func (s *Summary) Accounted() bool {
	for _, sec := range s.Sections {
		var n int64
		for _, r := range sec.Rows {
			if r.kind.outcome() {
				n += r.Got
			}
		}
		if n < sec.Events {
			return false
		}
	}
	return true
}

// Mismatches lists the numbers that are not the expected ones.
func (s *Summary) Mismatches() []string {
	var out []string
	for _, sec := range s.Sections {
		for _, r := range sec.Rows {
			if r.Got != r.Want {
				out = append(out, fmt.Sprintf("%s: %s: got %d, expected %d", firstWord(sec.Title), r.What, r.Got, r.Want))
			}
		}
	}
	return out
}

func firstWord(s string) string {
	if i := strings.Index(s, ":"); i > 0 {
		return s[:i]
	}
	return s
}

// Print writes the summary as a table.
func (s *Summary) Print(w io.Writer) {
	width := 0
	for _, sec := range s.Sections {
		for _, r := range sec.Rows {
			width = max(width, len(r.What))
		}
	}
	for i, sec := range s.Sections {
		if i > 0 {
			_, _ = fmt.Fprintln(w)
		}
		_, _ = fmt.Fprintf(w, "%s\n  %-*s %8s %8s  %s\n", sec.Title, width, "", "got", "expected", "from (metrics: courier.…)")
		for _, r := range sec.Rows {
			mark := ""
			if r.Got != r.Want {
				mark = "  <- MISMATCH"
			}
			_, _ = fmt.Fprintf(w, "  %-*s %8d %8d  %s%s\n", width, r.What, r.Got, r.Want, strings.TrimPrefix(r.From, "courier."), mark)
		}
	}
	if m := s.Mismatches(); len(m) > 0 {
		_, _ = fmt.Fprintf(w, "\nFAIL: %d number(s) differ from what the demo wrote.\n", len(m))
	} else {
		_, _ = fmt.Fprintln(w, "\nOK: every number is the expected one.")
	}
}

// summary reads the run's numbers from a scrape of the collector's
// metrics, the sinks' counts and the dead-letter files.
func (d *demo) summary(m metrics) *Summary {
	const (
		sl  = "courier.structured_log."
		sv  = "courier.schema_validation."
		ce  = "courier.cloudevents_exporter."
		sel = "sink"
	)
	o := d.omni
	st := d.omniSink.Stats()
	omni := Section{
		Title:  "Omniverse: structured_log → schema_validation → old_events → cloudevents/omniverse",
		Events: int64(o.lines()),
		Rows: []Row{
			{What: "lines read", Got: m.sum(sl+"events_emitted") + m.sum(sl+"events_rejected"), Want: int64(o.lines()),
				From: sl + "events_emitted + events_rejected", kind: kindRead},
			{What: "rejected: not an event (torn line)", Got: m.sum(sl+"events_rejected", "reason", "not_json"), Want: int64(o.NotJSON),
				From: sl + "events_rejected{reason=not_json}", kind: kindDropped},
			{What: "rejected: unknown schema", Got: m.sum(sv+"dropped", "reason", "unknown_schema"), Want: int64(o.UnknownSchema),
				From: sv + "dropped{reason=unknown_schema}", kind: kindDropped},
			{What: "rejected: unknown event type", Got: m.sum(sv+"dropped", "reason", "unknown_event_type"), Want: int64(o.UnknownType),
				From: sv + "dropped{reason=unknown_event_type}", kind: kindDropped},
			{What: "rejected: invalid data", Got: m.sum(sv+"dropped", "reason", "invalid_data"), Want: int64(o.InvalidData),
				From: sv + "dropped{reason=invalid_data}", kind: kindDropped},
			{What: "rejected: no consent", Got: m.sum(sv+"dropped", "reason", "no_consent"), Want: int64(o.NoConsent),
				From: sv + "dropped{reason=no_consent}", kind: kindDropped},
			{What: "anonymized (older than 30 days)", Got: m.sum("courier.old_events.anonymized", "reason", "old_event"), Want: int64(o.Old),
				From: "courier.old_events.anonymized{reason=old_event}"},
			{What: "delivered", Got: m.sum(ce+"events.sent", "exporter", "cloudevents/omniverse"), Want: int64(o.Valid + o.Old),
				From: ce + "events.sent", kind: kindDelivered},
			{What: "dead-lettered: too large", Got: m.sum(ce+"events.dead_lettered", "exporter", "cloudevents/omniverse", "reason", "too_large"), Want: int64(o.TooLarge),
				From: ce + "events.dead_lettered{reason=too_large}", kind: kindDeadLettered},
			{What: "events at the sink", Got: st.Distinct, Want: int64(o.Valid + o.Old), From: sel},
			{What: "duplicates at the sink", Got: st.Duplicates, Want: 0, From: sel},
			{What: "anonymous events at the sink", Got: d.anonymousAtSink.Load(), Want: int64(o.Old), From: sel},
			{What: "events in dead-letter files", Got: d.deadLetterLines("cloudevents/omniverse"), Want: int64(o.TooLarge),
				From: "dead-letter/cloudevents_omniverse-*.jsonl"},
		},
	}
	s := &Summary{Sections: []Section{omni}}
	for _, p := range d.nv {
		s.Sections = append(s.Sections, p.section(m, d.deadLetterLines(p.exporter())))
	}
	return s
}

// section is the pipeline's part of the summary: metrics of its own
// receiver, filter and exporter (their component labels), its sink.
func (p *nvPipeline) section(m metrics, deadLetterLines int64) Section {
	const (
		ce  = "courier.cloudevents_exporter."
		ds  = "courier.datastore."
		sel = "sink"
	)
	n := p.mix
	nst := p.sink.Stats()
	want := int64(n.total() - n.filtered() - n.Poison)
	rcv, flt, exp := p.receiver(), p.filter(), p.exporter()
	return Section{
		Title:  fmt.Sprintf("NVSentinel on %s: %s → event_metadata → %s → %s", p.store.name(), rcv, flt, exp),
		Events: int64(n.total()),
		Rows: []Row{
			{What: "health events read", Got: m.sum(ds+"events_emitted", "receiver", rcv) + m.sum(ds+"events_rejected", "receiver", rcv), Want: int64(n.total()),
				From: ds + "events_emitted + events_rejected", kind: kindRead},
			{What: "backfilled (stored before the start)", Got: m.sum(ds+"backfill.events", "receiver", rcv), Want: int64(n.History),
				From: ds + "backfill.events"},
			{What: "live (" + p.store.live() + ")", Got: m.sum(ds+"events_emitted", "receiver", rcv) - m.sum(ds+"backfill.events", "receiver", rcv), Want: int64(n.Live),
				From: ds + "events_emitted - backfill.events"},
			{What: "filtered: recommended action NONE", Got: m.sum("courier.cel_filter.dropped", "processor", flt), Want: int64(n.filtered()),
				From: "courier.cel_filter.dropped", kind: kindDropped},
			{What: "delivered", Got: m.sum(ce+"events.sent", "exporter", exp), Want: want,
				From: ce + "events.sent", kind: kindDelivered},
			{What: "dead-lettered: refused by the sink (400)", Got: m.sum(ce+"events.dead_lettered", "exporter", exp, "reason", "rejected"), Want: int64(n.Poison),
				From: ce + "events.dead_lettered{reason=rejected}", kind: kindDeadLettered},
			{What: "events at the sink", Got: nst.Distinct, Want: want, From: sel},
			{What: "duplicates at the sink", Got: nst.Duplicates, Want: 0, From: sel},
			{What: "events in dead-letter files", Got: deadLetterLines, Want: int64(n.Poison),
				From: "dead-letter/" + strings.ReplaceAll(exp, "/", "_") + "-*.jsonl"},
		},
	}
}
