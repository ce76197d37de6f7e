package celfilterprocessor

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/courier-otel/courier/internal/testutil"
	"github.com/courier-otel/courier/pkg/cloudevent"
	"github.com/courier-otel/courier/processor/celfilterprocessor/internal/metadata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfig(t *testing.T) {
	for _, tc := range []struct{ name, wantErr string }{
		{"", ""},
		{"full", ""},
		{"missing", "expression: must be set"},
		{"syntax", "expression: ERROR: <input>:1:28: Syntax error"},
		{"not_bool", "expression: the expression is of type int, want bool"},
		{"unknown_variable", "undeclared reference to 'foo'"},
		{"bad_on_error", `on_error: "ignore" is not one of "keep", "drop"`},
		{"zero_cost", "max_cost: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := testutil.LoadConfig(t, component.NewIDWithName(metadata.Type, tc.name), NewFactory())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.name == "full" {
					c := cfg.(*Config)
					if c.OnError != OnErrorDrop || c.MaxCost != 5000 {
						t.Fatalf("config %+v", c)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Expression = "true"
	testutil.ProcessorLifecycle(t, NewFactory(), cfg, nil)
}

func health(id, action string) string {
	return `{"specversion":"1.0","type":"com.nvidia.nvsentinel.health.v1","source":"nvsentinel://c/healthevents","id":"` + id +
		`","data":{"metadata":{"cluster":"c"},"healthEvent":{"agent":"gpu-health-monitor","isFatal":true,"recommendedAction":"` +
		action + `","errorCode":["79","48"],"entitiesImpacted":[{"entityType":"GPU","entityValue":"0"}],"version":1}}}`
}

// filterIDs runs the events through a cel_filter with expr and returns the
// ids that pass.
func filterIDs(t *testing.T, expr, onError string, events ...string) []string {
	t.Helper()
	cfg := &Config{Expression: expr, OnError: onError, MaxCost: 1_000_000}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := testutil.NewProcessorHarness(t, NewFactory(), cfg, nil)
	in := make([]plog.LogRecord, len(events))
	for i, e := range events {
		in[i] = testutil.Event(t, e)
	}
	var ids []string
	for _, lr := range h.Consume(t, in...) {
		v, _ := lr.Attributes().Get(cloudevent.AttrID)
		ids = append(ids, v.Str())
	}
	return ids
}

func TestFilter(t *testing.T) {
	events := []string{health("1", "NONE"), health("2", "RESTART_VM"), health("3", "NONE"), health("4", "CONTACT_SUPPORT"),
		`{"specversion":"1.0","type":"com.example.other","source":"s","id":"5","session":"42","data":{"n":7,"big":18446744073709551615,"list":[1,2,3]}}`,
		`{"specversion":"1.0","type":"com.example.other","source":"s","id":"6","data":null}`,
	}
	for _, tc := range []struct {
		expr, onError string
		want          string
	}{
		// The upstream NVSentinel filter works unchanged; events without a
		// recommendedAction fail to evaluate and are kept by default...
		{"event.recommendedAction != 'NONE'", OnErrorKeep, "2 4 5 6"},
		// ...or dropped when asked.
		{"event.recommendedAction != 'NONE'", OnErrorDrop, "2 4"},
		{"has(event.recommendedAction) && event.recommendedAction != 'NONE'", OnErrorDrop, "2 4"},
		{"ce.type == 'com.example.other'", OnErrorKeep, "5 6"},
		{"ce.id in ['1', '6']", OnErrorKeep, "1 6"},
		{"'session' in ce && ce.session == '42'", OnErrorKeep, "5"},
		{"has(data.n) && data.n > 5 && data.big > 18446744073709551614u && 2 in data.list && size(data.list) == 3", OnErrorDrop, "5"},
		{"data == null", OnErrorDrop, "6"},
		{"has(event.errorCode) && event.errorCode.exists(c, c == '48') && event.entitiesImpacted[0].entityType == 'GPU'", OnErrorDrop, "1 2 3 4"},
		{"data.metadata == {'cluster': 'c'}", OnErrorDrop, "1 2 3 4"},
		{"event.isFatal", OnErrorDrop, "1 2 3 4"},
		{"false", OnErrorKeep, ""},
		{"true", OnErrorKeep, "1 2 3 4 5 6"},
	} {
		if got := strings.Join(filterIDs(t, tc.expr, tc.onError, events...), " "); got != tc.want {
			t.Errorf("%s (on_error %s): kept %q, want %q", tc.expr, tc.onError, got, tc.want)
		}
	}
}

func TestCostLimit(t *testing.T) {
	cfg := &Config{Expression: "data.list.all(x, data.list.all(y, x + y > 0))", OnError: OnErrorDrop, MaxCost: 50}
	f, err := newFilter(processortest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lr := plog.NewLogRecord()
	var d cloudevent.Decoder
	if err := d.Decode([]byte(`{"specversion":"1.0","type":"t","source":"s","id":"1","data":{"list":[1,2,3,4,5,6,7,8,9,10]}}`), lr); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keep(lr); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Fatalf("evaluation over max_cost: %v, want a cost error", err)
	}
}

func BenchmarkFilter(b *testing.B) {
	f, err := newFilter(processortest.NewNopSettings(metadata.Type), &Config{Expression: "event.recommendedAction != 'NONE'", OnError: OnErrorKeep, MaxCost: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	lr := plog.NewLogRecord()
	var d cloudevent.Decoder
	if err := d.Decode([]byte(health("1", "RESTART_VM")), lr); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if keep, err := f.keep(lr); err != nil || !keep {
			b.Fatal(keep, err)
		}
	}
}
