package schemaregistryextension

import (
	"testing"
)

// BenchmarkValidate validates fixture events (lookup included): the
// ~700-byte Isaac Sim simulation.stats event and the app.startup event.
// Each op is one event. "library" is jsonschema/v6 alone on the converted
// value, for comparison with the fast path.
func BenchmarkValidate(b *testing.B) {
	h := &registry{}
	set, skips := buildSet([]document{
		{name: isaacFile, data: fixture(b, isaacFile)},
	})
	if len(skips) > 0 {
		b.Fatal(skips[0].err)
	}
	h.current.Store(set)
	for _, line := range eventLines(b)[:2] {
		lr := event(b, line)
		es, res := h.Lookup(RecordKey(lr))
		if res != Found {
			b.Fatal(res)
		}
		b.Run(es.Type, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				es, _ := h.Lookup(RecordKey(lr))
				if err := es.Validate(lr.Body()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(es.Type+"/library", func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				es, _ := h.Lookup(RecordKey(lr))
				if err := es.validator.Validate(jsonValue(lr.Body())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
