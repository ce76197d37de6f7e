package oldeventsprocessor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"

	sr "github.com/courier-otel/courier/extension/schemaregistryextension"
)

var testNow = time.Date(2026, 7, 14, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(testNow.Add(-time.Duration(d * float64(day))))
}

// TestPrecedence covers every row of SPEC.md B.5: the threshold (smallest
// non-zero of processor, schema, event), then ignore (global) > ignore
// (schema/event flag) > pseudonymize (global or flag) > anonymize, and
// fSchemaFlagAnonymizeEvents always anonymizing.
func TestPrecedence(t *testing.T) {
	const (
		aSchema  = sr.FlagSchemaAnonymizeEvents
		iSchema  = sr.FlagSchemaIgnoreOldEvents
		pSchema  = sr.FlagSchemaPseudonymizeOldEvents
		iEvent   = sr.FlagEventIgnoreOldEvents
		pEvent   = sr.FlagEventPseudonymizeOldEvents
		noSchema = -1 // no registry, or an event it does not know
	)
	type row struct {
		name                         string
		threshold, schemaTh, eventTh int
		flags                        sr.Flags
		es                           int // noSchema, or 0 for a schema with flags and thresholds above
		ignore, pseudo               bool
		age                          float64 // days; < 0: no time
		want                         treatment
		cause                        cause
	}
	rows := []row{
		// Thresholds.
		{name: "off: no threshold anywhere", age: 10000, es: noSchema, want: pass},
		{name: "off: schema known, no thresholds", age: 10000, want: pass},
		{name: "processor threshold, young", threshold: 30, age: 29.9, es: noSchema, want: pass},
		{name: "processor threshold, exactly at it is not old", threshold: 30, age: 30, es: noSchema, want: pass},
		{name: "processor threshold, old", threshold: 30, age: 30.01, es: noSchema, want: anonymize, cause: causeOldEvent},
		{name: "schema threshold alone", schemaTh: 30, age: 31, want: anonymize, cause: causeOldEvent},
		{name: "event threshold alone", eventTh: 7, age: 8, want: anonymize, cause: causeOldEvent},
		{name: "event threshold smaller than processor", threshold: 30, eventTh: 7, age: 8, want: anonymize, cause: causeOldEvent},
		{name: "processor threshold smaller than schema", threshold: 7, schemaTh: 30, age: 8, want: anonymize, cause: causeOldEvent},
		{name: "schema threshold smaller than event", schemaTh: 5, eventTh: 30, age: 6, want: anonymize, cause: causeOldEvent},
		{name: "smallest non-zero: not old yet", threshold: 30, schemaTh: 0, eventTh: 10, age: 9, want: pass},
		{name: "no time is never old", threshold: 1, age: -1, es: noSchema, want: pass},
		{name: "future time is not old", threshold: 1, age: -3, es: noSchema, want: pass},

		// Not old: flags do nothing, except the anonymize schema flag.
		{name: "young, every ignore and pseudonymize", threshold: 30, age: 1, flags: iSchema | iEvent | pSchema | pEvent, ignore: true, pseudo: true, want: pass},
		{name: "young, anonymize schema", threshold: 30, age: 1, flags: aSchema, want: anonymize, cause: causeSchemaFlag},
		{name: "anonymize schema without any threshold", age: 0, flags: aSchema, want: anonymize, cause: causeSchemaFlag},

		// 1. ignore (global) beats everything.
		{name: "old, ignore global", threshold: 30, age: 31, es: noSchema, ignore: true, want: drop, cause: causeIgnoreOldEvents},
		{name: "old, ignore global over pseudonymize global", threshold: 30, age: 31, es: noSchema, ignore: true, pseudo: true, want: drop, cause: causeIgnoreOldEvents},
		{name: "old, ignore global over ignore flags", threshold: 30, age: 31, flags: iSchema | iEvent, ignore: true, want: drop, cause: causeIgnoreOldEvents},
		{name: "old, ignore global over pseudonymize flags", threshold: 30, age: 31, flags: pSchema | pEvent, ignore: true, want: drop, cause: causeIgnoreOldEvents},
		{name: "old, ignore global over anonymize schema", threshold: 30, age: 31, flags: aSchema, ignore: true, want: drop, cause: causeIgnoreOldEvents},

		// 2. ignore (schema or event flag).
		{name: "old, ignore schema flag", schemaTh: 30, age: 31, flags: iSchema, want: drop, cause: causeIgnoreFlag},
		{name: "old, ignore event flag", eventTh: 7, age: 8, flags: iEvent, want: drop, cause: causeIgnoreFlag},
		{name: "old, ignore schema flag over pseudonymize global", threshold: 30, age: 31, flags: iSchema, pseudo: true, want: drop, cause: causeIgnoreFlag},
		{name: "old, ignore event flag over pseudonymize flags", threshold: 30, age: 31, flags: iEvent | pSchema | pEvent, want: drop, cause: causeIgnoreFlag},
		{name: "old, ignore event flag over anonymize schema", threshold: 30, age: 31, flags: iEvent | aSchema, want: drop, cause: causeIgnoreFlag},

		// fSchemaFlagAnonymizeEvents: always anonymized, so never pseudonymized.
		{name: "old, anonymize schema over pseudonymize global", threshold: 30, age: 31, flags: aSchema, pseudo: true, want: anonymize, cause: causeSchemaFlag},
		{name: "old, anonymize schema over pseudonymize flags", threshold: 30, age: 31, flags: aSchema | pSchema | pEvent, want: anonymize, cause: causeSchemaFlag},

		// 3. pseudonymize (global or flag).
		{name: "old, pseudonymize global", threshold: 30, age: 31, es: noSchema, pseudo: true, want: pseudonymize, cause: causePseudonymize},
		{name: "old, pseudonymize schema flag", threshold: 30, age: 31, flags: pSchema, want: pseudonymize, cause: causePseudonymize},
		{name: "old, pseudonymize event flag", eventTh: 14, age: 15, flags: pEvent, want: pseudonymize, cause: causePseudonymize},

		// 4. anonymize by default.
		{name: "old, no flags", threshold: 30, age: 31, want: anonymize, cause: causeOldEvent},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			p := policy{thresholdDays: r.threshold, ignore: r.ignore, pseudonymize: r.pseudo}
			var es *sr.EventSchema
			if r.es != noSchema {
				es = &sr.EventSchema{Flags: r.flags, SchemaOldEventsThreshold: r.schemaTh, EventOldEventsThreshold: r.eventTh}
			}
			var ts pcommon.Timestamp
			switch {
			case r.age == -3:
				ts = pcommon.NewTimestampFromTime(testNow.Add(3 * day))
			case r.age >= 0:
				ts = daysAgo(r.age)
			}
			got, c := p.decide(es, ts, testNow)
			assert.Equal(t, r.want, got, "treatment")
			assert.Equal(t, r.cause, c, "cause")
		})
	}
}

// TestPrecedenceExhaustive checks the rules on every combination of the
// five flags and two settings, old and young.
func TestPrecedenceExhaustive(t *testing.T) {
	for bits := range 1 << 7 {
		flags := sr.Flags(bits & 0x1f)
		ignore, pseudo := bits&0x20 != 0, bits&0x40 != 0
		for _, old := range []bool{false, true} {
			p := policy{thresholdDays: 30, ignore: ignore, pseudonymize: pseudo}
			age := 1.0
			if old {
				age = 31
			}
			got, _ := p.decide(&sr.EventSchema{Flags: flags}, daysAgo(age), testNow)
			anyIgnoreFlag := flags.Any(sr.FlagSchemaIgnoreOldEvents | sr.FlagEventIgnoreOldEvents)
			anyPseudoFlag := flags.Any(sr.FlagSchemaPseudonymizeOldEvents | sr.FlagEventPseudonymizeOldEvents)
			anonSchema := flags.Has(sr.FlagSchemaAnonymizeEvents)
			name := fmt.Sprintf("flags=%05b ignore=%v pseudo=%v old=%v", flags, ignore, pseudo, old)
			switch {
			case old && (ignore || anyIgnoreFlag):
				assert.Equal(t, drop, got, name)
			case anonSchema:
				assert.Equal(t, anonymize, got, name)
			case old && (pseudo || anyPseudoFlag):
				assert.Equal(t, pseudonymize, got, name)
			case old:
				assert.Equal(t, anonymize, got, name)
			default:
				assert.Equal(t, pass, got, name)
			}
		}
	}
}
