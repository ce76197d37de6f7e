package cloudeventsexporter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sort"
	"testing"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/courier-otel/courier/extension/schemaregistryextension/schemaregistrytest"
)

// fixtureData is the data member of a fixture event.
func fixtureData(t *testing.T, name string) string {
	var ev map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(fixtureNamed(t, name), &ev))
	return string(ev["data"])
}

// received collects what the sink got per event id, failing on duplicates.
type received map[string]map[string]any

func (r received) add(t *testing.T, id string, ev map[string]any) {
	t.Helper()
	if _, dup := r[id]; dup {
		t.Errorf("event %s delivered twice", id)
	}
	r[id] = ev
}

func (r received) ids() []string {
	out := make([]string, 0, len(r))
	for id := range r {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// TestEncodings sends events through the default sending queue in every
// encoding; the sink decodes the CloudEvents HTTP modes with the CloudEvents
// SDK's HTTP binding and the Omniverse protocols line by line.
func TestEncodings(t *testing.T) {
	// The CloudEvents HTTP modes carry NVSentinel health events, which the
	// SDK also validates; the Omniverse protocols carry Omniverse events
	// (whose dataschema is not a URI, so the SDK would not validate them).
	nvData, omniData := fixtureData(t, nvsentinelEvent), fixtureData(t, omniverseEvent)
	want := ids("evt", 40)
	tests := []struct {
		encoding    Encoding
		contentType string
		decode      func(t *testing.T, r sinkRequest, got received)
	}{
		{EncodingStructured, "application/cloudevents+json", func(t *testing.T, r sinkRequest, got received) {
			ev, err := cehttp.NewEventFromHTTPRequest(r.httpRequest())
			require.NoError(t, err)
			require.NoError(t, ev.Validate())
			assert.Equal(t, "com.nvidia.nvsentinel.health.v1", ev.Type())
			assert.Equal(t, "nvsentinel://prod-us-west-2/healthevents", ev.Source())
			assert.Equal(t, "2026-07-14T10:30:00.123456789Z", ev.Time().Format("2006-01-02T15:04:05.999999999Z07:00"))
			assert.JSONEq(t, nvData, string(ev.Data()))
			got.add(t, ev.ID(), nil)
		}},
		{EncodingBinary, "application/json", func(t *testing.T, r sinkRequest, got received) {
			assert.Equal(t, "1.0", r.header.Get("Ce-Specversion"), "binary mode carries ce- headers")
			ev, err := cehttp.NewEventFromHTTPRequest(r.httpRequest())
			require.NoError(t, err)
			require.NoError(t, ev.Validate())
			assert.Equal(t, "nvsentinel://prod-us-west-2/healthevents", ev.Source())
			assert.JSONEq(t, nvData, string(ev.Data()))
			got.add(t, ev.ID(), nil)
		}},
		{EncodingBatch, "application/cloudevents-batch+json", func(t *testing.T, r sinkRequest, got received) {
			evs, err := cehttp.NewEventsFromHTTPRequest(r.httpRequest())
			require.NoError(t, err)
			for _, ev := range evs {
				require.NoError(t, ev.Validate())
				assert.JSONEq(t, nvData, string(ev.Data()))
				got.add(t, ev.ID(), nil)
			}
		}},
		{EncodingJSONL, "application/json", func(t *testing.T, r sinkRequest, got received) {
			forLines(t, r.body, func(ev map[string]any) {
				b, _ := json.Marshal(ev["data"])
				assert.JSONEq(t, omniData, string(b))
				got.add(t, ev["id"].(string), ev)
			})
		}},
		{EncodingJSONLStringify, "application/json", func(t *testing.T, r sinkRequest, got received) {
			forLines(t, r.body, func(ev map[string]any) {
				s, ok := ev["data"].(string)
				require.True(t, ok, "data is a string")
				assert.JSONEq(t, omniData, s)
				got.add(t, ev["id"].(string), ev)
			})
		}},
		{EncodingJSONList, "application/json", func(t *testing.T, r sinkRequest, got received) {
			var evs []map[string]any
			require.NoError(t, json.Unmarshal(r.body, &evs), "body is a JSON array")
			for _, ev := range evs {
				b, _ := json.Marshal(ev["data"])
				assert.JSONEq(t, omniData, string(b))
				got.add(t, ev["id"].(string), ev)
			}
		}},
		{EncodingNVDF, "application/json", func(t *testing.T, r sinkRequest, got received) {
			forLines(t, r.body, func(ev map[string]any) {
				assert.Equal(t, "com.nvidia.omni.kit.internal.generic", ev["s_type"])
				assert.Equal(t, "extension.startup", ev["s_eventName"])
				assert.EqualValues(t, 42, ev["l_count"])
				assert.NotContains(t, ev, "data")
				got.add(t, ev["_id"].(string), ev)
			})
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.encoding), func(t *testing.T) {
			s := newSink(t, nil)
			cfg := withQueue(testConfig(s.URL))
			cfg.Encoding = tt.encoding
			exp := startExporter(t, cfg, nil)
			fixture := omniverseEvent
			if tt.encoding.perEvent() || tt.encoding == EncodingBatch {
				fixture = nvsentinelEvent
			}
			consume(t, exp, makeLogsFrom(t, fixture, want[:25]...))
			consume(t, exp, makeLogsFrom(t, fixture, want[25:]...))

			got := received{}
			seen := 0
			eventually(t, "every event", func() bool {
				reqs := s.requests()
				for _, r := range reqs[seen:] {
					assert.Equal(t, tt.contentType, r.header.Get("Content-Type"))
					tt.decode(t, r, got)
				}
				seen = len(reqs)
				return len(got) >= len(want)
			})
			assert.Equal(t, want, got.ids())
			// The sink records a request before it answers, the exporter
			// counts it after.
			eventually(t, "events.sent", func() bool { return exp.counter(t, "events.sent") == int64(len(want)) })
			if tt.encoding.perEvent() {
				assert.EqualValues(t, len(want), exp.counter(t, "requests", attribute.String("status_class", "2xx")))
			}
		})
	}
}

func forLines(t *testing.T, body []byte, f func(map[string]any)) {
	t.Helper()
	require.True(t, bytes.HasSuffix(body, []byte("\n")), "every line ends with a newline")
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), "line %q", sc.Text())
		f(ev)
	}
}

func TestContentTypeForJSONLines(t *testing.T) {
	s := newSink(t, nil)
	cfg := testConfig(s.URL)
	cfg.Encoding = EncodingJSONL
	cfg.ContentType = "application/x-ndjson"
	exp := startExporter(t, cfg, nil)
	consume(t, exp, makeLogs(t, "a", "b"))
	reqs := s.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "application/x-ndjson", reqs[0].header.Get("Content-Type"))
	assert.Equal(t, 2, bytes.Count(reqs[0].body, []byte("\n")))
	assert.NotEmpty(t, reqs[0].header.Get("User-Agent"))
}

// TestTransmissionLimitSplitting: every body is at most transmission_limit
// bytes and every event is delivered exactly once.
func TestTransmissionLimitSplitting(t *testing.T) {
	for _, enc := range []Encoding{EncodingJSONL, EncodingBatch, EncodingNVDF} {
		t.Run(string(enc), func(t *testing.T) {
			s := newSink(t, nil)
			cfg := testConfig(s.URL)
			cfg.Encoding = enc
			cfg.TransmissionLimit = 5000 // about 6 events
			exp := startExporter(t, cfg, nil)
			want := ids("split", 100)
			consume(t, exp, makeLogs(t, want...))

			got := received{}
			reqs := s.requests()
			require.Greater(t, len(reqs), 100/7, "events were split over several requests")
			for _, r := range reqs {
				assert.LessOrEqual(t, len(r.body), cfg.TransmissionLimit)
				if enc == EncodingBatch {
					evs, err := cehttp.NewEventsFromHTTPRequest(r.httpRequest())
					require.NoError(t, err)
					for _, ev := range evs {
						got.add(t, ev.ID(), nil)
					}
					continue
				}
				forLines(t, r.body, func(ev map[string]any) {
					id, _ := ev["id"].(string)
					if enc == EncodingNVDF {
						id, _ = ev["_id"].(string)
					}
					got.add(t, id, ev)
				})
			}
			assert.Equal(t, want, got.ids())
		})
	}
}

// TestNVDFWithSchemaRegistry: with schema_registry the NVDF prefixes come
// from the event's schema: a date-time string becomes ts_ (epoch ms) and a
// number declared "number" stays d_ even when its value is integral.
func TestNVDFWithSchemaRegistry(t *testing.T) {
	reg := schemaregistrytest.Start(t, schemaregistrytest.WriteSchemas(t))
	s := newSink(t, nil)
	cfg := testConfig(s.URL)
	cfg.Encoding = EncodingNVDF
	cfg.SchemaRegistry = &schemaregistrytest.ID
	exp := startExporter(t, cfg, schemaregistrytest.NewHost(reg))

	line := schemaregistrytest.EventLines()[0] // simulation.stats
	ld := plog.NewLogs()
	schemaregistrytest.Event(t, line).CopyTo(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	consume(t, exp, ld)
	eventually(t, "the event reaches the sink", func() bool { return s.count() == 1 })
	forLines(t, s.requests()[0].body, func(ev map[string]any) {
		assert.EqualValues(t, 1784024999900, ev["ts_sampledAt"], "date-time member as epoch ms")
		assert.NotContains(t, ev, "s_sampledAt")
		assert.EqualValues(t, 77.0, ev["d_cpuLoad"].([]any)[2])
		assert.EqualValues(t, 184320, ev["l_frameCount"])
	})
}
