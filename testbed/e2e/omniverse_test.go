package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/structuredlog"
)

// TestOmniversePipeline runs the transmitter's pipeline in the built binary:
// events written by an application reach the sink when their schema approves
// them; invalid and unknown ones do not; an old one arrives anonymized.
func TestOmniversePipeline(t *testing.T) {
	var stats, startup fixtureEvent
	for _, line := range schemaregistrytest.EventLines() {
		var f fixtureEvent
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatal(err)
		}
		switch f.Type {
		case "com.nvidia.isaac.sim.simulation.stats":
			stats = f
		case "com.nvidia.isaac.sim.app.startup":
			startup = f
		}
	}
	if stats.Type == "" || startup.Type == "" {
		t.Fatal("the registry fixtures lack the simulation.stats or app.startup event")
	}

	logDir, sink := t.TempDir(), newLinesSink(t)
	now := time.Now()
	write := func(at time.Time, eventType, dataschema string, data json.RawMessage) string {
		t.Helper()
		w, err := structuredlog.Open(structuredlog.Options{Dir: logDir, Name: "isaac.log", Source: "jdoe@isaac.sim",
			Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.Close() }()
		id, err := w.WriteRaw(eventType, dataschema, data)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	fresh := write(now, stats.Type, stats.DataSchema, stats.Data)
	old := write(now.AddDate(0, 0, -200), stats.Type, stats.DataSchema, stats.Data) // schema threshold: 90 days
	started := write(now, startup.Type, startup.DataSchema, startup.Data)
	invalid := write(now, stats.Type, stats.DataSchema, json.RawMessage(`{"fps":-1}`))
	unknown := write(now, "com.example.unknown", "unknown.schema-1.0", json.RawMessage(`{}`))

	health := testutil.FreePorts(t, 1)[0]
	c := testutil.StartCollector(t, testutil.CollectorBinary(t), []string{
		"COURIER_E2E_LOG_DIR=" + logDir,
		"COURIER_E2E_SCHEMA_DIR=" + schemaregistrytest.WriteSchemas(t),
		"COURIER_E2E_SINK_URL=" + sink.URL,
		fmt.Sprintf("COURIER_E2E_HEALTH_PORT=%d", health),
	}, "--config=testdata/omniverse_pipeline.yaml")
	want := map[string]bool{fresh: true, old: true, started: true}
	c.WaitUntil(deliveryTimeout, "approved events delivered", func() error { return sink.check(want) })
	// The rejected events were written before the delivered ones' file was
	// read to its end; give the pipeline a moment anyway, then check again.
	time.Sleep(300 * time.Millisecond)
	if err := sink.check(want); err != nil {
		t.Fatalf("%v (invalid %s, unknown %s must not arrive)", err, invalid, unknown)
	}
	for id, wantSource := range map[string]string{fresh: "jdoe@isaac.sim", started: "jdoe@isaac.sim", old: "anonymous"} {
		var ev struct {
			Source  string `json:"source"`
			Session string `json:"session"`
		}
		if err := json.Unmarshal(sink.line(id), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source != wantSource {
			t.Errorf("event %s: source %q, want %q", id, ev.Source, wantSource)
		}
		if wantSource == "anonymous" && ev.Session != "0" {
			t.Errorf("anonymized event %s: session %q, want \"0\"", id, ev.Session)
		}
	}
	if err := c.Stop(testutil.DefaultShutdownTimeout); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
