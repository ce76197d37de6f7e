package oldeventsprocessor

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

const testKey = "a deployment secret of 32 bytes!"

type harness struct{ *testutil.ProcessorHarness }

func newHarness(t *testing.T, host component.Host, mutate func(*Config)) *harness {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	mutate(cfg)
	require.NoError(t, cfg.Validate())
	return &harness{testutil.NewProcessorHarness(t, NewFactory(), cfg, host)}
}

// consume sends one batch and returns the events passed on, in order.
func (h *harness) consume(t *testing.T, events ...plog.LogRecord) []plog.LogRecord {
	t.Helper()
	return h.Consume(t, events...)
}

func (h *harness) counter(t *testing.T, name, reason string) int64 {
	t.Helper()
	if reason == "" {
		return h.Counter(t, name)
	}
	return h.Counter(t, name, attribute.String("reason", reason))
}

// event returns fixture line i with its time daysAgo days before now.
func event(t testing.TB, i int, daysAgo float64) plog.LogRecord {
	t.Helper()
	line := schemaregistrytest.EventLines()[i]
	when := time.Now().Add(-time.Duration(daysAgo * float64(24*time.Hour))).UTC().Format(time.RFC3339Nano)
	line = regexp.MustCompile(`"time":"[^"]*"`).ReplaceAll(line, []byte(`"time":"`+when+`"`))
	return schemaregistrytest.Event(t, line)
}

// The fixture lines.
const (
	evStats       = 0 // isaac simulation.stats: schema threshold 90
	evStartup     = 1 // isaac app.startup: extra member appname
	evExtension   = 2 // isaac extension.loaded: event threshold 7, fEventFlagIgnoreOldEvents, dev source
	evPreferences = 3 // isaac ui.preferences: event threshold 14, fEventFlagPseudonymizeOldEvents
	evExample     = 5 // example.app: fSchemaFlagAnonymizeEvents
)

func attr(lr plog.LogRecord, member string) (pcommon.Value, bool) {
	return lr.Attributes().Get(cloudevent.AttributeKey(member))
}

func str(t *testing.T, lr plog.LogRecord, member string) string {
	t.Helper()
	v, ok := attr(lr, member)
	require.True(t, ok, member)
	return v.AsString()
}

func hmacHex(key, s string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func TestAnonymize(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.ThresholdDays = 30
		c.IdentifyingFields = []string{"appname", "hostname"}
	})
	old := event(t, evStartup, 31)
	old.Attributes().PutStr(cloudevent.AttributeKey("hostname"), "render-node-7")
	dev := event(t, evExtension, 31)
	intSession := event(t, evStats, 31)
	intSession.Attributes().PutInt(cloudevent.AttributeKey("session"), 42)
	young := event(t, evStartup, 29)
	out := h.consume(t, old, dev, intSession, young)
	require.Len(t, out, 4)

	assert.Equal(t, "anonymous", str(t, out[0], "source"))
	assert.Equal(t, "0", str(t, out[0], "session"))
	for _, m := range []string{"appname", "hostname"} {
		_, ok := attr(out[0], m)
		assert.False(t, ok, "identifying field %s removed", m)
	}
	// Everything else is untouched.
	assert.Equal(t, str(t, old, "id"), str(t, out[0], "id"))
	assert.Equal(t, str(t, old, "time"), str(t, out[0], "time"))
	assert.Equal(t, old.Body().AsRaw(), out[0].Body().AsRaw())
	assert.Equal(t, old.Timestamp(), out[0].Timestamp())

	assert.Equal(t, "anonymous (dev)", str(t, out[1], "source"), "the mode tag survives")
	v, _ := attr(out[2], "session")
	assert.Equal(t, pcommon.ValueTypeInt, v.Type())
	assert.EqualValues(t, 0, v.Int())

	assert.Equal(t, "jdoe@omni.isaac.sim", str(t, out[3], "source"), "young events pass unchanged")
	assert.Equal(t, "isaac-sim", str(t, out[3], "appname"))

	assert.EqualValues(t, 3, h.counter(t, "courier.old_events.anonymized", "old_event"))

	// The wire form of an anonymized event.
	b, err := cloudevent.Structured{}.AppendEvent(nil, out[1])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"source":"anonymous (dev)"`)
	assert.Contains(t, string(b), `"session":"0"`)
}

func TestPseudonymize(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "pseudonymize.key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600))
	h := newHarness(t, nil, func(c *Config) {
		c.ThresholdDays = 30
		c.PseudonymizeOldEvents = true
		c.PseudonymizeKeyFile = keyFile
		c.IdentifyingFields = []string{"appname"}
	})
	a := event(t, evStartup, 31)
	b := event(t, evStats, 40)
	dev := event(t, evExtension, 31)
	out := h.consume(t, a, b, dev)
	require.Len(t, out, 3)

	user := hmacHex(testKey, "jdoe@omni.isaac.sim")
	session := hmacHex(testKey, "8301452176349025811")
	assert.Equal(t, user, str(t, out[0], "source"))
	assert.Equal(t, session, str(t, out[0], "session"))
	assert.Equal(t, hmacHex(testKey, "isaac-sim"), str(t, out[0], "appname"))
	assert.Equal(t, user, str(t, out[1], "source"), "the same user links across events")
	assert.Equal(t, session, str(t, out[1], "session"))
	assert.Equal(t, user+" (dev)", str(t, out[2], "source"), "the user part is hashed, the mode tag kept")
	assert.Len(t, user, 64)
	assert.EqualValues(t, 3, h.counter(t, "courier.old_events.pseudonymized", ""))

	// Another key gives other pseudonyms.
	h2 := newHarness(t, nil, func(c *Config) {
		c.ThresholdDays = 30
		c.PseudonymizeOldEvents = true
		c.PseudonymizeKey = "another deployment secret, 32 b."
	})
	out = h2.consume(t, event(t, evStartup, 31))
	assert.NotEqual(t, user, str(t, out[0], "source"))
}

func TestIgnoreGlobal(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) {
		c.ThresholdDays = 30
		c.IgnoreOldEvents = true
		c.PseudonymizeOldEvents = true
		c.PseudonymizeKey = testKey
	})
	out := h.consume(t, event(t, evStartup, 31), event(t, evStartup, 1), event(t, evStats, 100))
	require.Len(t, out, 1)
	assert.Equal(t, "jdoe@omni.isaac.sim", str(t, out[0], "source"))
	assert.EqualValues(t, 2, h.counter(t, "courier.old_events.dropped", "ignore_old_events"))
	assert.Equal(t, 1, h.Logs.FilterMessage("dropping old events; further ones are only counted for a while").Len())

	// A batch of only old events is not passed on.
	assert.Empty(t, h.consume(t, event(t, evStartup, 31)))
	assert.Empty(t, h.Sink.AllLogs())
}

func TestRegistryFlagsAndThresholds(t *testing.T) {
	host := schemaregistrytest.NewHost(schemaregistrytest.Start(t))
	h := newHarness(t, host, func(c *Config) {
		c.Registry = schemaregistrytest.ID
		c.PseudonymizeKey = testKey
	})
	unknown := event(t, evStats, 1000)
	unknown.Attributes().PutStr(cloudevent.AttrDataSchema, "unknown-1.0")
	in := []plog.LogRecord{
		event(t, evStats, 91),       // schema threshold 90: anonymized
		event(t, evStats, 89),       // young: unchanged
		event(t, evExtension, 8),    // event threshold 7 + event ignore flag: dropped
		event(t, evExtension, 6),    // young: unchanged
		event(t, evPreferences, 15), // event threshold 14 (at the event root) + pseudonymize flag
		event(t, evPreferences, 13), // young: unchanged
		event(t, evExample, 0),      // fSchemaFlagAnonymizeEvents: always anonymized
		unknown,                     // unknown to the registry, no processor threshold: unchanged
	}
	out := h.consume(t, in...)
	require.Len(t, out, 7)
	assert.Equal(t, []string{
		"anonymous",
		"jdoe@omni.isaac.sim",
		"jdoe@omni.isaac.sim (dev)",
		hmacHex(testKey, "jdoe@omni.isaac.sim"),
		"jdoe@omni.isaac.sim",
		"anonymous",
		"jdoe@omni.isaac.sim",
	}, sources(t, out))
	assert.EqualValues(t, 1, h.counter(t, "courier.old_events.dropped", "ignore_flag"))
	assert.EqualValues(t, 1, h.counter(t, "courier.old_events.anonymized", "old_event"))
	assert.EqualValues(t, 1, h.counter(t, "courier.old_events.anonymized", "schema_flag"))
	assert.EqualValues(t, 1, h.counter(t, "courier.old_events.pseudonymized", ""))

	// The processor threshold applies too, when smaller.
	h = newHarness(t, host, func(c *Config) {
		c.Registry = schemaregistrytest.ID
		c.ThresholdDays = 10
	})
	assert.Equal(t, []string{"anonymous", "anonymous"}, sources(t, h.consume(t, event(t, evStats, 11), unknown)))

	// And the kit schema: threshold 30 at its root, fSchemaFlagIgnoreOldEvents.
	kitOld := schemaregistrytest.Event(t, []byte(`{"id":"7f0e8a52","source":"jdoe@omni.kit.app","specversion":"1.0",`+
		`"type":"com.nvidia.omni.kit.internal.generic","dataschema":"omni.kit.internal-1.0",`+
		`"time":"2025-03-04T05:06:07.123456Z","session":"1","data":{"eventName":"extension.startup"}}`))
	assert.Empty(t, h.consume(t, kitOld))
	assert.EqualValues(t, 1, h.counter(t, "courier.old_events.dropped", "ignore_flag"))
}

func TestFlagAsksToPseudonymizeWithoutKey(t *testing.T) {
	h := newHarness(t, schemaregistrytest.NewHost(schemaregistrytest.Start(t)), func(c *Config) {
		c.Registry = schemaregistrytest.ID
	})
	assert.Equal(t, 1, h.Logs.FilterMessage("no pseudonymize_key: events whose schema or event flags ask for pseudonymization are anonymized instead").Len())
	out := h.consume(t, event(t, evPreferences, 15), event(t, evPreferences, 16))
	assert.Equal(t, []string{"anonymous", "anonymous"}, sources(t, out))
	assert.EqualValues(t, 2, h.counter(t, "courier.old_events.anonymized", "no_pseudonymize_key"))
	assert.Equal(t, 1, h.Logs.FilterMessage("a schema or event flag asks to pseudonymize old events but no pseudonymize_key is set: anonymizing them instead").Len())
}

func sources(t *testing.T, lrs []plog.LogRecord) []string {
	var out []string
	for _, lr := range lrs {
		out = append(out, str(t, lr, "source"))
	}
	return out
}

func TestSplitMode(t *testing.T) {
	for in, want := range map[string][2]string{
		"jdoe@app":        {"jdoe@app", "prod"},
		"jdoe@app (dev)":  {"jdoe@app", "dev"},
		"jdoe@app(test)":  {"jdoe@app", "test"},
		"jdoe@app (test)": {"jdoe@app", "test"},
		"":                {"", "prod"},
	} {
		base, mode := splitMode(in)
		assert.Equal(t, want[0], base, in)
		assert.Equal(t, want[1], mode.String(), in)
	}
}
