package e2e

import (
	"fmt"
	"testing"

	"github.com/courier-otel/courier/internal/testutil"
)

// BenchmarkKafkaTier measures README "At fleet scale" on this machine:
// 300k Isaac Sim events from a structured log through a node agent →
// Kafka (testbed/kafka) → a gateway → a loopback JSON-lines sink
// ("agent-kafka-gateway", with the CPU time of agent and gateway per
// event), beside the direct structured_log → cloudevents path on the
// same events ("direct"). Both use the Kafka tier's end-to-end test
// configs with the jsonl encoding. The broker runs on the same two cores.
func BenchmarkKafkaTier(b *testing.B) {
	jsonl := "--set=exporters::cloudevents::encoding=jsonl"
	b.Run("direct", func(b *testing.B) {
		benchmarkPipeline(b, countLines, oneCollector("testdata/kafka_direct.yaml", jsonl))
	})
	b.Run("agent-kafka-gateway", func(b *testing.B) {
		broker := startKafkaBroker(b, kafkaBroker(b), testutil.FreePorts(b, 1)[0])
		run := 0
		benchmarkPipeline(b, countLines, func(b *testing.B, logDir, schemaDir, sinkURL string) []*testutil.Collector {
			run++ // a topic per run: nothing of an earlier run is read again
			env := []string{"COURIER_E2E_KAFKA_BROKER=" + broker, fmt.Sprintf("COURIER_E2E_KAFKA_TOPIC=bench-%d", run)}
			agent := startBenchCollector(b, "testdata/kafka_agent.yaml", logDir, schemaDir, sinkURL, env)
			gateway := startBenchCollector(b, "testdata/kafka_gateway.yaml", logDir, schemaDir, sinkURL,
				append(env, "COURIER_E2E_DEAD_LETTER_DIR="+b.TempDir()), jsonl)
			return []*testutil.Collector{agent, gateway}
		}, "agent", "gateway")
	})
}
