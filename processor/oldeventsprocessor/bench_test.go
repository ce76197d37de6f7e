package oldeventsprocessor

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/processor/oldeventsprocessor/internal/metadata"
)

const batchSize = 100

// BenchmarkProcess runs batches of the ~700-byte simulation.stats event
// through the processor with the fixture registry. Each op is one event.
// young: the common case, nothing changes; anonymize and pseudonymize: old
// events rewritten (each iteration rewrites the same records again, which
// costs the same as fresh ones). Dropping (ignore) costs what young does
// plus the removal; it is left out because every iteration would need a
// fresh copy of the batch, which costs several times the processing.
func BenchmarkProcess(b *testing.B) {
	for _, bc := range []struct {
		name    string
		daysAgo float64
		mutate  func(*Config)
	}{
		{"young", 1, func(*Config) {}},
		{"anonymize", 100, func(*Config) {}},
		{"pseudonymize", 100, func(c *Config) { c.PseudonymizeOldEvents = true }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			host := schemaregistrytest.NewHost(schemaregistrytest.Start(b))
			cfg := createDefaultConfig().(*Config)
			cfg.ThresholdDays = 30
			cfg.Registry = schemaregistrytest.ID
			cfg.PseudonymizeKey = testKey
			cfg.IdentifyingFields = []string{"appname"}
			bc.mutate(cfg)
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
			ev := event(b, evStats, bc.daysAgo)
			for range batchSize {
				ev.CopyTo(rs.AppendEmpty())
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batchSize {
				if err := proc.ConsumeLogs(context.Background(), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
