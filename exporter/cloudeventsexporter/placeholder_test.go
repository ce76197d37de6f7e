package cloudeventsexporter

import (
	"testing"

	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/courier-otel/courier/exporter/cloudeventsexporter/internal/metadata"
	"github.com/courier-otel/courier/pkg/cloudevent"
)

// TestWarnPlaceholders: records still marked with a receiver's placeholder
// source are reported once per receiver, naming it and the source.
func TestWarnPlaceholders(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	e, err := newExporter(testConfig("http://127.0.0.1:1"), set)
	if err != nil {
		t.Fatal(err)
	}
	request := func(receivers ...string) plog.Logs {
		ld := plog.NewLogs()
		for _, id := range receivers {
			rl := ld.ResourceLogs().AppendEmpty()
			if id != "" {
				rl.Resource().Attributes().PutStr(cloudevent.ResourceAttrPlaceholderSource, id)
			}
			rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr(cloudevent.AttrSource, "nvsentinel://unknown/healthevents")
		}
		return ld
	}
	e.warnPlaceholders(request(""))
	if logs.Len() != 0 {
		t.Fatalf("warned about an unmarked source: %v", logs.All())
	}
	e.warnPlaceholders(request("datastore", "datastore/b"))
	e.warnPlaceholders(request("datastore"))
	got := logs.All()
	if len(got) != 2 {
		t.Fatalf("%d warnings, want one per receiver (2): %v", len(got), got)
	}
	for i, want := range []string{"datastore", "datastore/b"} {
		f := got[i].ContextMap()
		if f["receiver"] != want || f["source"] != "nvsentinel://unknown/healthevents" {
			t.Errorf("warning %d: %v", i, f)
		}
	}
}
