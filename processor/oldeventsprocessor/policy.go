package oldeventsprocessor

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	sr "github.com/courier-otel/courier/extension/schemaregistryextension"
)

// treatment is what happens to one event.
type treatment uint8

const (
	pass         treatment = iota // unchanged
	drop                          // ignored: not passed on
	anonymize                     // source, session and identifying fields replaced or removed
	pseudonymize                  // source, session and identifying fields replaced by keyed hashes
)

func (t treatment) String() string {
	return [...]string{"pass", "drop", "anonymize", "pseudonymize"}[t]
}

// cause is why an event gets its treatment. The strings are stable: they
// label metrics.
type cause uint8

const (
	causeNone              cause = iota
	causeIgnoreOldEvents         // ignore_old_events (global)
	causeIgnoreFlag              // fSchemaFlagIgnoreOldEvents / fEventFlagIgnoreOldEvents
	causeSchemaFlag              // fSchemaFlagAnonymizeEvents
	causePseudonymize            // pseudonymize_old_events or a pseudonymize flag
	causeOldEvent                // an old event, default treatment
	causeNoPseudonymizeKey       // a flag asked for pseudonymization but there is no key
	numCauses
)

var causeNames = [numCauses]string{"", "ignore_old_events", "ignore_flag", "schema_flag", "pseudonymize", "old_event", "no_pseudonymize_key"}

func (c cause) String() string { return causeNames[c] }

// policy is the processor-level (the transmitter's "global") settings.
type policy struct {
	thresholdDays int
	ignore        bool
	pseudonymize  bool
}

const day = 24 * time.Hour

// decide applies SPEC.md B.5. An event is old when now - time exceeds the
// threshold, the smallest non-zero of the processor, schema and event
// thresholds (none set: never old; no time: never old). Old events are
// treated by the first rule that applies:
//
//  1. ignore_old_events (global)                 → drop
//  2. an ignore flag of the schema or the event  → drop
//  3. the schema's fSchemaFlagAnonymizeEvents    → anonymize (it always anonymizes)
//  4. pseudonymize_old_events or a pseudonymize flag of the schema or the event → pseudonymize
//  5. otherwise                                  → anonymize
//
// Events that are not old pass unchanged, except that events of a schema
// flagged fSchemaFlagAnonymizeEvents are always anonymized. es is nil when
// there is no registry or it does not know the event.
func (p policy) decide(es *sr.EventSchema, ts pcommon.Timestamp, now time.Time) (treatment, cause) {
	var flags sr.Flags
	threshold := p.thresholdDays
	if es != nil {
		flags = es.Flags
		threshold = sr.MinThreshold(threshold, es.SchemaOldEventsThreshold, es.EventOldEventsThreshold)
	}
	old := threshold > 0 && ts != 0 && now.Sub(ts.AsTime()) > time.Duration(threshold)*day
	switch {
	case old && p.ignore:
		return drop, causeIgnoreOldEvents
	case old && flags.Any(sr.FlagSchemaIgnoreOldEvents|sr.FlagEventIgnoreOldEvents):
		return drop, causeIgnoreFlag
	case flags.Has(sr.FlagSchemaAnonymizeEvents):
		return anonymize, causeSchemaFlag
	case old && (p.pseudonymize || flags.Any(sr.FlagSchemaPseudonymizeOldEvents|sr.FlagEventPseudonymizeOldEvents)):
		return pseudonymize, causePseudonymize
	case old:
		return anonymize, causeOldEvent
	}
	return pass, causeNone
}
