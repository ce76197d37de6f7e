package eventmetadataprocessor

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/jsontest"
	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/processor/eventmetadataprocessor/internal/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLifecycle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Metadata = map[string]string{"cluster": "c"}
	testutil.ProcessorLifecycle(t, NewFactory(), cfg, nil)
}

// run passes the events through a processor made from cfg and returns them
// encoded as structured CloudEvents.
func run(t *testing.T, cfg *Config, events ...string) []string {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := testutil.NewProcessorHarness(t, NewFactory(), cfg, nil)
	in := make([]plog.LogRecord, len(events))
	for i, e := range events {
		in[i] = testutil.Event(t, e)
	}
	var out []string
	for _, lr := range h.Consume(t, in...) {
		b, err := cloudevent.Structured{}.AppendEvent(nil, lr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	if eq, err := jsontest.Equal([]byte(got), []byte(want)); err != nil || !eq {
		t.Fatalf("got  %s\nwant %s (%v)", got, want, err)
	}
}

const healthEvent = `{"version":1,"agent":"gpu-health-monitor","componentClass":"GPU","checkName":"GpuXidError","isFatal":true,` +
	`"isHealthy":false,"message":"XID error occurred","recommendedAction":"RESTART_VM","errorCode":["79"],` +
	`"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],"generatedTimestamp":"2026-07-14T10:30:00.123456789Z",` +
	`"nodeName":"node-1","processingStrategy":"EXECUTE_REMEDIATION"}`

// TestNVSentinelShape: the seed's metadata block gives exactly the
// data.metadata and source of SPEC.md A.3.
func TestNVSentinelShape(t *testing.T) {
	cfg := &Config{
		Metadata: map[string]string{"cluster": "prod-us-west-2", "environment": "production", "region": "us-west-2",
			"datacenter": "dc01", "tenant": "acme-corp"},
		DataPath: "metadata", Source: "nvsentinel://{cluster}/healthevents",
	}
	in := `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel","id":"66f1c2a4e4b0a1b2c3d4e5f6",` +
		`"time":"2026-07-14T10:30:00.123456789Z","data":{"healthEvent":` + healthEvent + `}}`
	// With overwrite off an existing source wins; the receiver sets none in
	// practice, so check both.
	out := run(t, cfg, in, `{"specversion":"1.0","type":"t","id":"x","source":"keep","data":null}`)
	assertJSON(t, out[0], `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel","id":"66f1c2a4e4b0a1b2c3d4e5f6",`+
		`"time":"2026-07-14T10:30:00.123456789Z","data":{"metadata":{"cluster":"prod-us-west-2","environment":"production",`+
		`"region":"us-west-2","datacenter":"dc01","tenant":"acme-corp"},"healthEvent":`+healthEvent+`}}`)
	assertJSON(t, out[1], `{"specversion":"1.0","type":"t","id":"x","source":"keep","data":{"metadata":{"cluster":"prod-us-west-2",`+
		`"environment":"production","region":"us-west-2","datacenter":"dc01","tenant":"acme-corp"}}}`)

	cfg.Overwrite = true
	out = run(t, cfg, in)
	assertJSON(t, out[0], `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel://prod-us-west-2/healthevents",`+
		`"id":"66f1c2a4e4b0a1b2c3d4e5f6","time":"2026-07-14T10:30:00.123456789Z","data":{"metadata":{"cluster":"prod-us-west-2",`+
		`"environment":"production","region":"us-west-2","datacenter":"dc01","tenant":"acme-corp"},"healthEvent":`+healthEvent+`}}`)

	// A record with no source at all gets the rendered one.
	lr := plog.NewLogRecord()
	p, _ := newProcessor(processortest.NewNopSettings(metadata.Type), &Config{Metadata: cfg.Metadata, Source: cfg.Source})
	p.apply(lr)
	if v, _ := lr.Attributes().Get(cloudevent.AttrSource); v.Str() != "nvsentinel://prod-us-west-2/healthevents" {
		t.Fatalf("source = %q", v.Str())
	}
}

func TestMergeAndConflicts(t *testing.T) {
	cfg := &Config{Metadata: map[string]string{"cluster": "c", "env": "prod"}, DataPath: "metadata",
		ExtensionAttributes: map[string]string{"appname": "omni.create", "region": "eu"}}
	head := `{"specversion":"1.0","type":"t","id":"1","source":"s"`
	out := run(t, cfg,
		head+`,"region":"us","data":{"metadata":{"env":"dev","owner":"me"},"x":1}}`,
		head+`,"data":{"metadata":"not an object"}}`,
		head+`,"data":[1,2]}`,
	)
	assertJSON(t, out[0], head+`,"region":"us","appname":"omni.create","data":{"metadata":{"env":"dev","owner":"me","cluster":"c"},"x":1}}`)
	assertJSON(t, out[1], head+`,"appname":"omni.create","region":"eu","data":{"metadata":"not an object"}}`)
	assertJSON(t, out[2], head+`,"appname":"omni.create","region":"eu","data":[1,2]}`)

	cfg.Overwrite = true
	out = run(t, cfg,
		head+`,"region":"us","data":{"metadata":{"env":"dev","owner":"me"},"x":1}}`,
		head+`,"data":{"metadata":"not an object"}}`,
	)
	assertJSON(t, out[0], head+`,"region":"eu","appname":"omni.create","data":{"metadata":{"env":"prod","owner":"me","cluster":"c"},"x":1}}`)
	assertJSON(t, out[1], head+`,"appname":"omni.create","region":"eu","data":{"metadata":{"cluster":"c","env":"prod"}}}`)

	// data_path "" leaves data alone.
	out = run(t, &Config{Metadata: map[string]string{"cluster": "c"}, Source: "x://{cluster}", Overwrite: true},
		head+`,"data":{"a":1}}`)
	assertJSON(t, out[0], `{"specversion":"1.0","type":"t","id":"1","source":"x://c","data":{"a":1}}`)
}

func BenchmarkProcess(b *testing.B) {
	cfg := &Config{Metadata: map[string]string{"cluster": "prod-us-west-2", "environment": "production", "region": "us-west-2"},
		DataPath: "metadata", Source: "nvsentinel://{cluster}/healthevents"}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		b.Fatal(err)
	}
	in := `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","id":"66f1c2a4e4b0a1b2c3d4e5f6",` +
		`"source":"s","time":"2026-07-14T10:30:00.123456789Z","data":{"healthEvent":` + healthEvent + `}}`
	var d cloudevent.Decoder
	const batch = 100
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		lrs.RemoveIf(func(plog.LogRecord) bool { return true })
		for range batch {
			_ = d.Decode([]byte(in), lrs.AppendEmpty())
		}
		b.StartTimer()
		_, _ = p.processLogs(context.Background(), ld)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}

// TestPlaceholderSource: a source a receiver marked as its placeholder is
// replaced without overwrite, and the mark is removed; an unmarked source
// from the data still wins, in the same request.
func TestPlaceholderSource(t *testing.T) {
	cfg := &Config{Metadata: map[string]string{"cluster": "prod"}, Source: "nvsentinel://{cluster}/healthevents"}
	h := testutil.NewProcessorHarness(t, NewFactory(), cfg, nil)
	ld := plog.NewLogs()
	marked := ld.ResourceLogs().AppendEmpty()
	marked.Resource().Attributes().PutStr(cloudevent.ResourceAttrPlaceholderSource, "datastore")
	marked.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr(cloudevent.AttrSource, "nvsentinel://unknown/healthevents")
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr(cloudevent.AttrSource, "from-data")
	if err := h.Proc.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := h.Sink.AllLogs()[0].ResourceLogs()
	if _, ok := got.At(0).Resource().Attributes().Get(cloudevent.ResourceAttrPlaceholderSource); ok {
		t.Error("the placeholder mark is still there after the source was set")
	}
	for i, want := range []string{"nvsentinel://prod/healthevents", "from-data"} {
		src, _ := got.At(i).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(cloudevent.AttrSource)
		if src.Str() != want {
			t.Errorf("resource %d: source %q, want %q", i, src.Str(), want)
		}
	}
}
