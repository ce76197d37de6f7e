package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/internal/pgtest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// TestKafkaRecordTooLarge is issue 20's measurement on the built binary:
// an agent (structured_log → kafka, otlp_proto, max_message_bytes 65536,
// waiting for the result) with 4,000 events of ~700 bytes in 1,000-event
// batches, and one event of 80 KB among them. Kafka refuses the batches
// for good (MESSAGE_TOO_LARGE); before the fix 1 of 4,000 events reached
// the sink. Now the receiver splits each refused batch until its records
// fit: all 4,000 reach the sink through the gateway, the 80 KB event alone
// is dead-lettered as too_large, and the seek tag reaches the end of the
// file.
func TestKafkaRecordTooLarge(t *testing.T) {
	const events = 4000
	logDir, deadDir := t.TempDir(), t.TempDir()
	path := filepath.Join(logDir, "app.log")
	want := map[string]bool{}
	o := structuredlog.Options{Dir: logDir, Name: "app.log", Source: "e2e@kafka-limit"}
	writeEvents(t, o, "a", events/2, want)
	w, err := structuredlog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	bigID, err := w.WriteRaw("com.example.e2e.event", "example.e2e-1.0",
		json.RawMessage(fmt.Sprintf(`{"blob":%q}`, strings.Repeat("x", 80_000))))
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	writeEvents(t, o, "b", events/2, want)

	port := testutil.FreePorts(t, 1)[0]
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", port)
	startKafkaBroker(t, kafkaBroker(t), port)
	agent := startHealthy(t, deliveryTimeout, []string{
		"COURIER_E2E_LOG_DIR=" + logDir, "COURIER_E2E_KAFKA_BROKER=" + brokerAddr, "COURIER_E2E_DEAD_LETTER_DIR=" + deadDir,
	}, "--config=testdata/kafka_agent_limit.yaml")
	sink := newLinesSink(t)
	gateway := startHealthy(t, deliveryTimeout, []string{
		"COURIER_E2E_KAFKA_BROKER=" + brokerAddr, "COURIER_E2E_SINK_URL=" + sink.URL,
		"COURIER_E2E_DEAD_LETTER_DIR=" + t.TempDir(),
	}, "--config=testdata/kafka_gateway.yaml")

	gateway.WaitUntil(4*deliveryTimeout, "every event but the large one at the sink", func() error { return sink.check(want) })
	agent.WaitUntil(deliveryTimeout, "the seek tag at the end of the file", func() error {
		off, err := seekTag(path)
		if err != nil {
			return err
		}
		if st, err := os.Stat(path); err != nil || off != st.Size() {
			return fmt.Errorf("seek tag at %d", off)
		}
		return nil
	})
	recs := deadLetters(t, deadDir)
	if len(recs) != 1 || recs[0].Reason != "too_large" || recs[0].Event.ID != bigID ||
		!strings.Contains(recs[0].Error, "MESSAGE_TOO_LARGE") {
		t.Fatalf("dead letters %+v, want the large event %s alone as too_large", recs, bigID)
	}
	t.Logf("%d events through Kafka with a 64 KiB record limit (%d duplicates), the 80 KB event dead-lettered as %s",
		sink.distinct(), sink.duplicates(), recs[0].Reason)
	for _, c := range []*testutil.Collector{gateway, agent} {
		if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
}

// deadLetter is a record of a dead-letter file.
type deadLetter struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
	Event  struct {
		ID string `json:"id"`
	} `json:"event"`
}

// deadLetters reads every record of the *.jsonl files of dir.
func deadLetters(t testing.TB, dir string) []deadLetter {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLetter
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Read while the collector writes: a last line without its newline
		// is still being written, not a bad record.
		lines := bytes.Split(b, []byte("\n"))
		for _, line := range lines[:len(lines)-1] {
			var r deadLetter
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// TestNVSentinelKafkaTier: the NVSentinel pipeline through the Kafka tier
// into the seed's own Flask sink. The agent (datastore → event_metadata →
// cel_filter → kafka) and the gateway (kafka → cloudevents with the chart's
// gateway default, structured, and oidc_client) are the built binary; every
// health event that needs action arrives as exactly the CloudEvent of
// SPEC.md A.3, as the direct pipeline sends it, with a bearer token.
func TestNVSentinelKafkaTier(t *testing.T) {
	e := newNVEnv(t)
	sink := startFlaskSink(t)
	port := testutil.FreePorts(t, 1)[0]
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", port)
	startKafkaBroker(t, kafkaBroker(t), port)

	ids := e.insert(t, e.conn, 3, sample("node"))
	none := pgtest.SampleEvent("quiet-node")
	none.RecommendedAction = 0 // NONE: the agent's filter drops it
	none.IsFatal, none.IsHealthy = false, true
	e.insert(t, e.conn, 1, func(int) pgtest.HealthEvent { return none })

	env := []string{
		"COURIER_E2E_PG_DSN=" + e.dsn, "COURIER_E2E_KAFKA_BROKER=" + brokerAddr,
		"COURIER_E2E_SINK_URL=" + sink.url + "/api/v1/events", "COURIER_E2E_TOKEN_URL=" + e.tokens.url,
		"COURIER_E2E_SECRET_FILE=" + e.secretFile, "COURIER_E2E_DEAD_LETTER_DIR=" + e.deadLetter,
	}
	agent := startHealthy(t, deliveryTimeout, env, "--config=testdata/nvsentinel_kafka_agent.yaml")
	gateway := startHealthy(t, deliveryTimeout, env, "--config=testdata/nvsentinel_kafka_gateway.yaml")
	more := e.insert(t, e.conn, 2, func(i int) pgtest.HealthEvent { return pgtest.SampleEvent(fmt.Sprintf("node-%d", i+3)) })
	ids = append(ids, more...)

	var got []flaskReceived
	gateway.WaitUntil(2*deliveryTimeout, "5 events at the Flask sink", func() error {
		if got = sink.received(t); len(got) < len(ids) {
			return fmt.Errorf("%d events so far", len(got))
		}
		return nil
	})
	byID := map[string]flaskReceived{}
	for _, r := range got {
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r.Event, &ev); err != nil {
			t.Fatal(err)
		}
		byID[ev.ID] = r
		if r.ContentType != "application/cloudevents+json" || !strings.HasPrefix(r.Authorization, "Bearer ") {
			t.Errorf("headers: %+v", r)
		}
	}
	if len(byID) != len(ids) {
		t.Fatalf("%d distinct events at the sink, want %d (the NONE event filtered)", len(byID), len(ids))
	}
	for i, id := range ids {
		r, ok := byID[id]
		if !ok {
			t.Fatalf("event %s not received", id)
		}
		if ok, err := jsontest.Equal([]byte(nvWantEvent(id, i)), r.Event); err != nil || !ok {
			t.Errorf("event %s:\n got  %s\n want %s (%v)", id, r.Event, nvWantEvent(id, i), err)
		}
	}
	for _, c := range []*testutil.Collector{gateway, agent} {
		if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
}
