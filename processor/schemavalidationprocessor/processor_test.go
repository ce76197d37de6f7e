package schemavalidationprocessor

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

func boolp(b bool) *bool { return &b }

func writePrivacy(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "privacy.toml")
	tmp := p + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, p))
	return p
}

// harness runs the processor with the fixture registry and observable logs
// and metrics.
type harness struct{ *testutil.ProcessorHarness }

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	host := schemaregistrytest.NewHost(schemaregistrytest.Start(t))
	cfg := createDefaultConfig().(*Config)
	cfg.Registry = schemaregistrytest.ID
	cfg.Consent.PrivacyFile = ""
	cfg.Consent.Usage, cfg.Consent.Performance, cfg.Consent.Personalization = boolp(true), boolp(true), boolp(true)
	mutate(cfg)
	require.NoError(t, cfg.Validate())

	return &harness{testutil.NewProcessorHarness(t, NewFactory(), cfg, host)}
}

// consume sends one batch of events and returns the events passed on.
func (h *harness) consume(t *testing.T, lines ...[]byte) []plog.LogRecord {
	t.Helper()
	records := make([]plog.LogRecord, len(lines))
	for i, l := range lines {
		records[i] = schemaregistrytest.Event(t, l)
	}
	return h.Consume(t, records...)
}

// counter sums the data points of a counter, by reason ("" = any).
func (h *harness) counter(t *testing.T, name, reason string) int64 {
	t.Helper()
	if reason == "" {
		return h.Counter(t, name)
	}
	return h.Counter(t, name, attribute.String("reason", reason))
}

// The fixture events: stats (performance), startup (usage), extension
// (usage), preferences (personalization), crash (performance), example (usage).
var (
	lines       = schemaregistrytest.EventLines()
	stats       = lines[0]
	startup     = lines[1]
	preferences = lines[3]
	crash       = lines[4]
)

func edit(line []byte, old, new string) []byte {
	if !bytes.Contains(line, []byte(old)) {
		panic("fixture does not contain " + old)
	}
	return bytes.Replace(line, []byte(old), []byte(new), 1)
}

func TestValidEventsPass(t *testing.T) {
	h := newHarness(t, func(*Config) {})
	out := h.consume(t, lines...)
	require.Len(t, out, len(lines))
	for i, lr := range out {
		assert.Equal(t, schemaregistrytest.Event(t, lines[i]).EventName(), lr.EventName())
		_, marked := lr.Attributes().Get(AttrReason)
		assert.False(t, marked)
	}
	assert.EqualValues(t, len(lines), h.counter(t, "courier.schema_validation.validated", ""))
	assert.Zero(t, h.counter(t, "courier.schema_validation.dropped", ""))
}

var (
	invalidData   = edit(stats, `"fps":58.7`, `"fps":-1`)
	missingMember = edit(crash, `"signal":"SIGSEGV",`, ``)
	unknownSchema = edit(stats, `"dataschema":"omni.isaac.sim.telemetry-1.0"`, `"dataschema":"omni.isaac.sim.telemetry-9.9"`)
	noDataschema  = edit(stats, `"dataschema":"omni.isaac.sim.telemetry-1.0",`, ``)
	unknownType   = edit(stats, `"type":"com.nvidia.isaac.sim.simulation.stats"`, `"type":"com.nvidia.isaac.sim.simulation.unknown"`)
)

func TestDropsByReason(t *testing.T) {
	h := newHarness(t, func(*Config) {})
	out := h.consume(t, startup, invalidData, missingMember, unknownSchema, noDataschema, unknownType, invalidData)
	require.Len(t, out, 1)
	assert.Equal(t, "com.nvidia.isaac.sim.app.startup", out[0].EventName())

	assert.EqualValues(t, 3, h.counter(t, "courier.schema_validation.dropped", "invalid_data"))
	assert.EqualValues(t, 2, h.counter(t, "courier.schema_validation.dropped", "unknown_schema"))
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_validation.dropped", "unknown_event_type"))
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_validation.validated", ""))

	// One log line per reason, with the first validation error.
	warn := h.Logs.FilterMessage("event failed schema validation; further ones are only counted for a while").All()
	require.Len(t, warn, 3)
	byReason := map[string]map[string]any{}
	for _, e := range warn {
		byReason[e.ContextMap()["reason"].(string)] = e.ContextMap()
	}
	assert.Equal(t, "data at '/fps': minimum: got -1, want 0", byReason["invalid_data"]["error"])
	assert.Equal(t, "3f2b8a9e-6c1d-4e7a-9b5f-0d4c2e8a1b73", byReason["invalid_data"]["id"])
	assert.Equal(t, `dataschema "omni.isaac.sim.telemetry-9.9" is not an approved schema`, byReason["unknown_schema"]["error"])
	assert.Equal(t, `type "com.nvidia.isaac.sim.simulation.unknown" is not an event of schema omni.isaac.sim.telemetry-1.0`, byReason["unknown_event_type"]["error"])
	for _, e := range warn {
		assert.NotContains(t, e.ContextMap(), "source", "the source is the user id: never logged")
	}
}

func TestAllDroppedStopsTheBatch(t *testing.T) {
	h := newHarness(t, func(*Config) {})
	assert.Empty(t, h.consume(t, invalidData, unknownSchema))
	assert.Zero(t, h.Sink.LogRecordCount())
	assert.Empty(t, h.Sink.AllLogs(), "nothing is passed on")
}

func TestKeepMarksTheReason(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.OnInvalid = OnInvalidKeep
		c.Consent.Performance = boolp(false)
	})
	out := h.consume(t, startup, edit(startup, `"platform":"linux-x86_64"`, `"platform":"amiga"`), unknownSchema, unknownType, crash)
	require.Len(t, out, 4, "the crash event (performance) has no consent: dropped even in keep mode")
	want := []struct{ reason, err string }{
		{"", ""},
		{"invalid_data", "data at '/platform': value must be one of 'linux-x86_64', 'linux-aarch64', 'windows-x86_64'"},
		{"unknown_schema", `dataschema "omni.isaac.sim.telemetry-9.9" is not an approved schema`},
		{"unknown_event_type", `type "com.nvidia.isaac.sim.simulation.unknown" is not an event of schema omni.isaac.sim.telemetry-1.0`},
	}
	for i, w := range want {
		reason, ok := out[i].Attributes().Get(AttrReason)
		if w.reason == "" {
			assert.False(t, ok)
			continue
		}
		require.True(t, ok, i)
		assert.Equal(t, w.reason, reason.Str())
		msg, _ := out[i].Attributes().Get(AttrError)
		assert.Equal(t, w.err, msg.Str())
	}
	assert.EqualValues(t, 3, h.counter(t, "courier.schema_validation.marked", ""))
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_validation.dropped", "no_consent"))

	// The marks are Courier's own attributes: they are not encoded.
	b, err := cloudevent.Structured{}.AppendEvent(nil, out[1])
	require.NoError(t, err)
	assert.NotContains(t, string(b), "schema_validation")
}

func TestConsentFromExplicitSettings(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Consent.Usage, c.Consent.Performance, c.Consent.Personalization = boolp(true), boolp(false), nil
	})
	out := h.consume(t, stats, startup, preferences, crash)
	require.Len(t, out, 1)
	assert.Equal(t, "com.nvidia.isaac.sim.app.startup", out[0].EventName())
	assert.EqualValues(t, 3, h.counter(t, "courier.schema_validation.dropped", "no_consent"))
}

func TestConsentFromPrivacyFile(t *testing.T) {
	dir := t.TempDir()
	file := writePrivacy(t, dir, `
[privacy]
performance = true
personalization = false
usage = false
userId = "jdoe@example.com"
`)
	h := newHarness(t, func(c *Config) {
		c.Consent.PrivacyFile = file
		c.Consent.PollInterval = 100 * time.Millisecond
		c.Consent.Usage, c.Consent.Performance, c.Consent.Personalization = nil, nil, boolp(true) // explicit overrides the file
	})
	names := func(out []plog.LogRecord) []string {
		var s []string
		for _, lr := range out {
			s = append(s, lr.EventName())
		}
		return s
	}
	assert.Equal(t, []string{"com.nvidia.isaac.sim.simulation.stats", "com.nvidia.isaac.sim.ui.preferences", "com.nvidia.isaac.sim.crash"},
		names(h.consume(t, stats, startup, preferences, crash)))

	// The user changes their mind: the processor follows the file.
	writePrivacy(t, dir, "[privacy]\nusage = true\n")
	require.Eventually(t, func() bool {
		out := h.consume(t, stats, startup)
		return len(out) == 1 && out[0].EventName() == "com.nvidia.isaac.sim.app.startup"
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"com.nvidia.isaac.sim.app.startup", "com.nvidia.isaac.sim.ui.preferences"},
		names(h.consume(t, stats, startup, preferences)))

	// A broken file withdraws what it granted, with a warning.
	writePrivacy(t, dir, "[privacy\nusage = true\n")
	require.Eventually(t, func() bool {
		return len(h.consume(t, startup)) == 0
	}, 10*time.Second, 20*time.Millisecond)
	assert.NotZero(t, h.Logs.FilterMessage("privacy file unusable; categories it should grant get no consent").Len())
}

func TestMissingPrivacyFileMeansNoConsent(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Consent.PrivacyFile = filepath.Join(t.TempDir(), "privacy.toml")
		c.Consent.Usage, c.Consent.Performance, c.Consent.Personalization = nil, nil, nil
	})
	assert.Empty(t, h.consume(t, stats, startup, preferences))
	assert.EqualValues(t, 3, h.counter(t, "courier.schema_validation.dropped", "no_consent"))
	assert.Equal(t, 1, h.Logs.FilterMessage("privacy file unusable; categories it should grant get no consent").Len())
}

func TestNullData(t *testing.T) {
	h := newHarness(t, func(*Config) {})
	// data null validates as {}: the example event requires featureName.
	line := []byte(`{"id":"1","source":"s","specversion":"1.0","type":"com.example.app.featureUsed","dataschema":"example.app-1.0","time":"2026-07-14T10:00:00Z","data":null}`)
	assert.Empty(t, h.consume(t, line))
	assert.EqualValues(t, 1, h.counter(t, "courier.schema_validation.dropped", "invalid_data"))
}

func TestManyBatchesAndResources(t *testing.T) {
	h := newHarness(t, func(*Config) {})
	ld := plog.NewLogs()
	for range 3 {
		rl := ld.ResourceLogs().AppendEmpty()
		for range 2 {
			rs := rl.ScopeLogs().AppendEmpty().LogRecords()
			schemaregistrytest.Event(t, invalidData).CopyTo(rs.AppendEmpty())
		}
		schemaregistrytest.Event(t, startup).CopyTo(rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	}
	require.NoError(t, h.Proc.ConsumeLogs(context.Background(), ld))
	got := h.Sink.AllLogs()
	require.Len(t, got, 1)
	assert.Equal(t, 3, got[0].ResourceLogs().Len(), "empty scopes are removed, resources with events stay")
	for i := 0; i < 3; i++ {
		assert.Equal(t, 1, got[0].ResourceLogs().At(i).ScopeLogs().Len())
	}
}

var _ component.Host = schemaregistrytest.Host{}
