package schemavalidationprocessor

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/processor/schemavalidationprocessor/internal/metadata"
)

// batchSize is the events per ConsumeLogs call in the benchmarks (the
// pipeline's batches are larger; 100 keeps per-call overhead honest).
const batchSize = 100

// BenchmarkProcess validates batches of fixture events through the whole
// processor (registry lookup, consent, validation, metrics, processorhelper).
// Each op is one event.
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct {
		name  string
		lines [][]byte
	}{
		{"stats_700B", [][]byte{stats}},
		{"mixed", lines},
		{"invalid_dropped", [][]byte{invalidData}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			host := schemaregistrytest.NewHost(schemaregistrytest.Start(b))
			cfg := createDefaultConfig().(*Config)
			cfg.Registry = schemaregistrytest.ID
			cfg.Consent.PrivacyFile = ""
			cfg.Consent.Usage, cfg.Consent.Performance, cfg.Consent.Personalization = boolp(true), boolp(true), boolp(true)
			proc, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			if err := proc.Start(context.Background(), host); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = proc.Shutdown(context.Background()) }()

			src := plog.NewLogs()
			rs := src.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			size := 0
			for i := range batchSize {
				l := bc.lines[i%len(bc.lines)]
				size += len(l)
				schemaregistrytest.Event(b, l).CopyTo(rs.AppendEmpty())
			}
			// Valid events are not modified, so one batch serves every
			// iteration; dropped ones need a fresh copy.
			drops := bc.name == "invalid_dropped"
			ld := src
			b.SetBytes(int64(size / batchSize))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batchSize {
				if drops {
					b.StopTimer()
					ld = plog.NewLogs()
					src.CopyTo(ld)
					b.StartTimer()
				}
				if err := proc.ConsumeLogs(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
