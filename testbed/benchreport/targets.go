package benchreport

import (
	"fmt"
	"math"
	"strings"
)

// Path is one row of DESIGN.md §6's table: a pipeline path and the targets
// the report checks for it.
type Path struct {
	Name    string
	Targets []Target
}

// Target is one figure of a path: how to compute it from the results, the
// bound it must meet (none for a figure shown for reference) and DESIGN's
// reference point beside it.
type Target struct {
	What      string
	Figure    Figure
	Bound     Bound
	Reference string
	// NotMeasured, when Figure is nil, says where the target is checked
	// instead (a test rather than a benchmark).
	NotMeasured string
}

// Bound is a target's limit on the median of its figure.
type Bound struct {
	// AtMost is false for "≥ Limit", true for "≤ Limit".
	AtMost bool
	Limit  float64
	// Text is the target as DESIGN.md words it.
	Text string
}

func (b Bound) isZero() bool { return b.Text == "" }

func (b Bound) met(v float64) bool {
	if b.AtMost {
		return v <= b.Limit
	}
	return v >= b.Limit
}

func atLeast(limit float64, text string) Bound { return Bound{Limit: limit, Text: text} }
func atMost(limit float64, text string) Bound  { return Bound{AtMost: true, Limit: limit, Text: text} }

// Figure is a number computed from the results.
type Figure interface {
	// Eval returns the figure's median and range over the runs; ok is
	// false when the results lack a benchmark or unit it needs.
	Eval(r *Results) (s Summary, ok bool)
	// Format formats one value of the figure with its unit.
	Format(v float64) string
	// Source names the benchmarks it is computed from.
	Source() string
}

// Metric is one unit of one benchmark, found by package (its import path
// or a suffix of it) and full name.
type Metric struct {
	Pkg, Bench, Unit string
}

func (m Metric) Eval(r *Results) (Summary, bool) {
	b := r.Lookup(m.Pkg, m.Bench)
	if b == nil {
		return Summary{}, false
	}
	return b.Summary(m.Unit)
}

func (m Metric) Format(v float64) string { return formatValue(v, m.Unit) }

func (m Metric) Source() string { return fmt.Sprintf("`%s` %s", m.Bench, m.Unit) }

func (m Metric) values(r *Results) []float64 {
	if b := r.Lookup(m.Pkg, m.Bench); b != nil {
		return b.Values[m.Unit]
	}
	return nil
}

// Ratio is one metric over another. When both have as many runs, as the
// sub-benchmarks of one benchmark run side by side do, the ratio is taken
// run by run (the first run of each, the second, ...), so that both sides
// of each ratio saw the same load; otherwise it is the ratio of the medians.
type Ratio struct {
	Num, Den Metric
}

func (q Ratio) Eval(r *Results) (Summary, bool) {
	num, den := q.Num.values(r), q.Den.values(r)
	if len(num) == 0 || len(den) == 0 {
		return Summary{}, false
	}
	if len(num) == len(den) {
		ratios := make([]float64, len(num))
		for i := range num {
			ratios[i] = num[i] / den[i]
		}
		return summarize(ratios)
	}
	n, _ := summarize(num)
	d, _ := summarize(den)
	v := n.Median / d.Median
	return Summary{Median: v, Min: v, Max: v, N: 1}, true
}

func (Ratio) Format(v float64) string { return formatRatio(v) }

func (q Ratio) Source() string {
	if q.Num.Bench == q.Den.Bench {
		return fmt.Sprintf("`%s` %s ÷ %s", q.Num.Bench, q.Num.Unit, q.Den.Unit)
	}
	return fmt.Sprintf("`%s` ÷ `%s` %s", q.Num.Bench, q.Den.Bench, q.Num.Unit)
}

// RatioToBest is a metric over the best of several others: the lowest of
// Dens when Lowest (times), else the highest. When all have as many runs,
// as sub-benchmarks run side by side do, it is taken run by run against
// the best of that run; otherwise against the best median.
type RatioToBest struct {
	Num    Metric
	Dens   []Metric
	Lowest bool
}

func (q RatioToBest) better(a, b float64) bool {
	if q.Lowest {
		return a < b
	}
	return a > b
}

func (q RatioToBest) Eval(r *Results) (Summary, bool) {
	num := q.Num.values(r)
	if len(num) == 0 || len(q.Dens) == 0 {
		return Summary{}, false
	}
	dens := make([][]float64, len(q.Dens))
	sameRuns := true
	for i, d := range q.Dens {
		if dens[i] = d.values(r); len(dens[i]) == 0 {
			return Summary{}, false
		}
		sameRuns = sameRuns && len(dens[i]) == len(num)
	}
	if sameRuns {
		ratios := make([]float64, len(num))
		for run := range num {
			best := dens[0][run]
			for _, d := range dens[1:] {
				if q.better(d[run], best) {
					best = d[run]
				}
			}
			ratios[run] = num[run] / best
		}
		return summarize(ratios)
	}
	n, _ := summarize(num)
	best := math.NaN()
	for _, d := range dens {
		s, _ := summarize(d)
		if math.IsNaN(best) || q.better(s.Median, best) {
			best = s.Median
		}
	}
	v := n.Median / best
	return Summary{Median: v, Min: v, Max: v, N: 1}, true
}

func (RatioToBest) Format(v float64) string { return formatRatio(v) }

func (q RatioToBest) Source() string {
	names := make([]string, len(q.Dens))
	for i, d := range q.Dens {
		names[i] = "`" + d.Bench + "`"
	}
	which := "highest"
	if q.Lowest {
		which = "lowest"
	}
	return fmt.Sprintf("`%s` ÷ the %s of %s, %s", q.Num.Bench, which, strings.Join(names, ", "), q.Num.Unit)
}

// Percent is a metric that is a fraction, shown as a percentage.
type Percent struct{ Metric }

func (Percent) Format(v float64) string { return fmt.Sprintf("%.0f %%", v*100) }

// idle CPU of a fraction of a core, as cpu-ms/min.
func cpuMsPerMin(fractionOfCore float64) float64 { return fractionOfCore * 60_000 }

const (
	e2e      = "testbed/e2e"
	exporter = "exporter/cloudeventsexporter"
	arc      = "BenchmarkAdaptiveConcurrency/"
)

// Paths is DESIGN.md §6's performance table (2 vCPU, loopback), one entry
// per row, as `make bench` checks it: each target names the benchmark and
// unit that measures it. This is the one place the targets are written
// down outside DESIGN.md; keep the two in step.
var Paths = []Path{
	{
		Name: "structured log → schema_validation → old_events → cloudevents (JSON lines), 700-byte events, default settings; beside the stock `file_log` + `json_parser` → `otlp_http` on the same events, in the same run",
		Targets: []Target{
			{What: "Courier, events/s", Figure: Metric{e2e, "BenchmarkOmniversePipeline/courier", "events/s"},
				Reference: "~230k/s measured before end-to-end acknowledgement"},
			{What: "stock, events/s", Figure: Metric{e2e, "BenchmarkOmniversePipeline/stock", "events/s"},
				Reference: "58k/s (no validation); Benthos with json_schema ≈ 9k/s"},
			{What: "Courier ÷ stock, events/s", Figure: Ratio{
				Metric{e2e, "BenchmarkOmniversePipeline/courier", "events/s"},
				Metric{e2e, "BenchmarkOmniversePipeline/stock", "events/s"},
			}, Bound: atLeast(3.5, "≥ 3.5×"), Reference: "measured 3.9–4.2×"},
			{What: "Courier, peak RSS", Figure: Metric{e2e, "BenchmarkOmniversePipeline/courier", "peak-RSS-MiB"},
				Bound: atMost(100, "≤ 100 MiB"), Reference: "measured 162 MiB"},
			{What: "stock, peak RSS", Figure: Metric{e2e, "BenchmarkOmniversePipeline/stock", "peak-RSS-MiB"},
				Reference: "758 MiB"},
			{What: "Courier, peak anonymous RSS (what it allocated: the peak RSS less the executable's file pages)",
				Figure: Metric{e2e, "BenchmarkOmniversePipeline/courier", "peak-anon-RSS-MiB"}},
			{What: "stock, peak anonymous RSS", Figure: Metric{e2e, "BenchmarkOmniversePipeline/stock", "peak-anon-RSS-MiB"}},
			{What: "Courier, CPU per event", Figure: Metric{e2e, "BenchmarkOmniversePipeline/courier", "cpu-µs/event"}},
			{What: "stock, CPU per event", Figure: Metric{e2e, "BenchmarkOmniversePipeline/stock", "cpu-µs/event"}},
			{What: "Courier, idle CPU", Figure: Metric{e2e, "BenchmarkIdleCPU/courier-omniverse", "cpu-ms/min"}},
			{What: "stock, idle CPU", Figure: Metric{e2e, "BenchmarkIdleCPU/stock", "cpu-ms/min"},
				Reference: fmt.Sprintf("0.23 %% of a core (%.0f cpu-ms/min)", cpuMsPerMin(0.0023))},
			{What: "Courier ÷ stock, idle CPU", Figure: Ratio{
				Metric{e2e, "BenchmarkIdleCPU/courier-omniverse", "cpu-ms/min"},
				Metric{e2e, "BenchmarkIdleCPU/stock", "cpu-ms/min"},
			}, Bound: atMost(1, "≤ stock (≤ 1×)")},
			{What: "`otlp → cloudevents`, idle CPU", Figure: Metric{e2e, "BenchmarkIdleCPU/courier-otlp-cloudevents", "cpu-ms/min"}},
		},
	},
	{
		Name: "`structured_log` alone, one core",
		Targets: []Target{
			{What: "one core, events/s", Figure: Metric{"receiver/structuredlogreceiver", "BenchmarkReceiver/cores=1", "events/s"},
				// DESIGN.md states no bound here: pdata's per-value cost bounds it.
				Reference: "~186k/s measured, accepted; stock `file_log` raw lines without parsing: 131k/s"},
			{What: "two cores, events/s", Figure: Metric{"receiver/structuredlogreceiver", "BenchmarkReceiver/cores=2", "events/s"}},
		},
	},
	{
		Name: "`cloudevents` structured mode, one event per POST",
		Targets: []Target{
			{What: "exporter ÷ raw loopback POST, same run", Figure: Percent{Metric{exporter, "BenchmarkStructuredVsRawPOST", "ratio"}},
				Bound: atLeast(0.80, "≥ 80 %")},
			{What: "exporter, events/s", Figure: Metric{exporter, "BenchmarkStructuredVsRawPOST", "exporter-events/s"}},
			{What: "raw loopback POST, events/s", Figure: Metric{exporter, "BenchmarkStructuredVsRawPOST", "raw-events/s"},
				Reference: "~25–33k/s; NVSentinel: 3.3 events/s per worker at 300 ms"},
		},
	},
	{
		Name: "sink answering after 300 ms, structured mode, default settings (adaptive concurrency), 20,000 events from a cold start; beside fixed 512 in the same run",
		Targets: []Target{
			{What: "events/s", Figure: Metric{exporter, arc + "sink-300ms/adaptive", "events/s"},
				Bound: atLeast(1000, "≥ 1,000 events/s (100k+ nodes)"), Reference: "NVSentinel default: 33 events/s (3,300 nodes)"},
			{What: "second half of the run (the limit has found the sink), events/s", Figure: Metric{exporter, arc + "sink-300ms/adaptive", "second-half-events/s"}},
			{What: "fixed 512, events/s", Figure: Metric{exporter, arc + "sink-300ms/fixed=512", "events/s"}},
		},
	},
	{
		Name: "adaptive concurrency (structured mode) beside fixed settings in the same run: `BenchmarkAdaptiveConcurrency`",
		Targets: []Target{
			{What: "fast loopback sink, adaptive ÷ fixed 512, events/s", Figure: Ratio{
				Metric{exporter, arc + "fast-sink/adaptive", "events/s"},
				Metric{exporter, arc + "fast-sink/fixed=512", "events/s"},
			}, Bound: atLeast(0.9, "≥ 90 % of fixed 512")},
			{What: "fast loopback sink, adaptive, events/s", Figure: Metric{exporter, arc + "fast-sink/adaptive", "events/s"}},
			{What: "fast loopback sink, fixed 512, events/s", Figure: Metric{exporter, arc + "fast-sink/fixed=512", "events/s"}},
			{What: "fast loopback sink, fixed 8, events/s", Figure: Metric{exporter, arc + "fast-sink/fixed=8", "events/s"}},
			{What: "sink slowing down (256 → 32 handlers of 200 ms): limit after ÷ limit before", Figure: Ratio{
				Metric{exporter, arc + "slowing-sink/adaptive", "limit-after"},
				Metric{exporter, arc + "slowing-sink/adaptive", "limit-before"},
			}, Bound: atMost(0.5, "the limit follows the sink down (≤ 0.5×)")},
			{What: "sink slowing down: mean wait for a handler afterwards, adaptive", Figure: Metric{exporter, arc + "slowing-sink/adaptive", "sink-wait-ms"}},
			{What: "sink slowing down: mean wait for a handler afterwards, fixed 512", Figure: Metric{exporter, arc + "slowing-sink/fixed=512", "sink-wait-ms"}},
			{What: "sink answering 503 to half the requests: lowest limit after ÷ highest before", Figure: Ratio{
				Metric{exporter, arc + "half-503/adaptive", "limit-min-after"},
				Metric{exporter, arc + "half-503/adaptive", "limit-max-before"},
			}, Bound: atMost(0.5, "the limit drops (≤ 0.5×)")},
			{What: "sink answering 503 to half the requests: events lost", Figure: Metric{exporter, arc + "half-503/adaptive", "lost"},
				Bound: atMost(0, "nothing lost")},
			{What: "the seed's Flask sink, 5,000 events: listen-queue overflows, adaptive", Figure: Metric{exporter, arc + "flask/adaptive", "listen-overflows"},
				Bound: atMost(0, "none"), Reference: "fixed 512: 1,159 overflows for 5,000 events, 40 s (fixed 10: 0, 38 s)"},
			{What: "the seed's Flask sink: network errors (timeouts, resets), adaptive", Figure: Metric{exporter, arc + "flask/adaptive", "network-errors"},
				Bound: atMost(0, "none")},
			{What: "the seed's Flask sink: drain time, adaptive ÷ best fixed (10, 512)", Figure: RatioToBest{
				Num: Metric{exporter, arc + "flask/adaptive", "drain-s"}, Lowest: true,
				Dens: []Metric{{exporter, arc + "flask/fixed=10", "drain-s"}, {exporter, arc + "flask/fixed=512", "drain-s"}},
			}, Bound: atMost(1, "no worse than the best fixed setting (≤ 1×)")},
			{What: "the seed's Flask sink: drain time, adaptive", Figure: Metric{exporter, arc + "flask/adaptive", "drain-s"}},
			{What: "the seed's Flask sink: drain time, fixed 10", Figure: Metric{exporter, arc + "flask/fixed=10", "drain-s"}},
			{What: "the seed's Flask sink: drain time, fixed 512", Figure: Metric{exporter, arc + "flask/fixed=512", "drain-s"}},
			{What: "the seed's Flask sink: listen-queue overflows, fixed 512", Figure: Metric{exporter, arc + "flask/fixed=512", "listen-overflows"}},
			{What: "`http.server`, backlog 5: listen-queue overflows, adaptive", Figure: Metric{exporter, arc + "http-server-backlog5/adaptive", "listen-overflows"},
				Bound: atMost(0, "none"), Reference: "fixed 512: events undelivered for more than 30 s"},
			{What: "`http.server`, backlog 5: network errors, adaptive", Figure: Metric{exporter, arc + "http-server-backlog5/adaptive", "network-errors"},
				Bound: atMost(0, "none")},
			{What: "`http.server`, backlog 5: drain time, adaptive ÷ best fixed (10, 512)", Figure: RatioToBest{
				Num: Metric{exporter, arc + "http-server-backlog5/adaptive", "drain-s"}, Lowest: true,
				Dens: []Metric{{exporter, arc + "http-server-backlog5/fixed=10", "drain-s"}, {exporter, arc + "http-server-backlog5/fixed=512", "drain-s"}},
			}, Bound: atMost(1, "no worse than the best fixed setting (≤ 1×)")},
			{What: "`http.server`, backlog 5: drain time, adaptive", Figure: Metric{exporter, arc + "http-server-backlog5/adaptive", "drain-s"}},
			{What: "`http.server`, backlog 5: drain time, fixed 10", Figure: Metric{exporter, arc + "http-server-backlog5/fixed=10", "drain-s"}},
			{What: "`http.server`, backlog 5: drain time, fixed 512", Figure: Metric{exporter, arc + "http-server-backlog5/fixed=512", "drain-s"}},
			{What: "`http.server`, backlog 5: listen-queue overflows, fixed 512", Figure: Metric{exporter, arc + "http-server-backlog5/fixed=512", "listen-overflows"}},
		},
	},
	{
		Name: "datastore (PostgreSQL) live stream, built binary, whole NVSentinel pipeline",
		Targets: []Target{
			{What: "CloudEvents batches, events/s", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/live/batch", "events/s"},
				Bound: atLeast(20_000, "≥ 20,000 events/s"), Reference: "NVSentinel's exporter on PostgreSQL: 235 events/s, 1.1 ms CPU per event; on MongoDB ~400 events/s"},
			{What: "one POST per event, events/s", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/live/structured", "events/s"},
				Reference: "bounded by the raw loopback POST rate"},
			{What: "one POST per event, CPU per event", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/live/structured", "cpu-µs/event"}},
			{What: "insert → sink p99 at 1,000 events/s", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/latency", "p99-ms"},
				Bound: atMost(50, "≤ 50 ms"), Reference: "NVSentinel on MongoDB: p99 2.4–3 s"},
			{What: "insert → sink p50 at 1,000 events/s", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/latency", "p50-ms"}},
		},
	},
	{
		Name: "datastore backfill, no rate limit",
		Targets: []Target{
			{What: "1,000,000 events", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/backfill", "s/backfill"},
				Bound: atMost(60, "≤ 60 s"), Reference: "NVSentinel: ~400 events/s"},
			{What: "events/s", Figure: Metric{e2e, "BenchmarkNVSentinelPipeline/backfill", "events/s"}},
			{What: "rate limit held", Bound: Bound{Text: "within ±5 %"},
				NotMeasured: "checked by `TestBackfillRateLimit` (`make test`)"},
		},
	},
	{
		Name: "datastore (MongoDB, through the courier-mongo stand-in, TLS + X.509), built binary, whole NVSentinel pipeline",
		Targets: []Target{
			{What: "CloudEvents batches, events/s", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/live/batch", "events/s"},
				Bound: atLeast(20_000, "≥ 20,000 events/s"), Reference: "NVSentinel on MongoDB ~400 events/s"},
			{What: "one POST per event, events/s", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/live/structured", "events/s"}},
			{What: "CloudEvents batches, collector CPU per event", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/live/batch", "cpu-µs/event"}},
			{What: "insert → sink p99 at 1,000 events/s", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/latency", "p99-ms"},
				Bound: atMost(50, "≤ 50 ms"), Reference: "NVSentinel on MongoDB: p99 2.4–3 s"},
			{What: "insert → sink p50 at 1,000 events/s", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/latency", "p50-ms"}},
			{What: "1,000,000-event backfill", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/backfill", "s/backfill"},
				Bound: atMost(60, "≤ 60 s"), Reference: "NVSentinel: ~400 events/s"},
			{What: "backfill events/s", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/backfill", "events/s"}},
			{What: "backfill, collector CPU per event", Figure: Metric{e2e, "BenchmarkNVSentinelMongoDB/backfill", "cpu-µs/event"}},
		},
	},
	{
		// Issue 13 asks for these figures; DESIGN.md §6 sets no bound.
		Name: "Kafka tier: structured log → agent → Kafka (loopback broker) → gateway → cloudevents (JSON lines), beside the direct path on the same events, in the same run",
		Targets: []Target{
			{What: "through Kafka, events/s", Figure: Metric{e2e, "BenchmarkKafkaTier/agent-kafka-gateway", "events/s"}},
			{What: "direct, events/s", Figure: Metric{e2e, "BenchmarkKafkaTier/direct", "events/s"}},
			{What: "through Kafka ÷ direct, events/s", Figure: Ratio{
				Metric{e2e, "BenchmarkKafkaTier/agent-kafka-gateway", "events/s"},
				Metric{e2e, "BenchmarkKafkaTier/direct", "events/s"},
			}},
			{What: "gateway, CPU per event", Figure: Metric{e2e, "BenchmarkKafkaTier/agent-kafka-gateway", "gateway-cpu-µs/event"}},
			{What: "agent, CPU per event", Figure: Metric{e2e, "BenchmarkKafkaTier/agent-kafka-gateway", "agent-cpu-µs/event"}},
			{What: "direct, CPU per event", Figure: Metric{e2e, "BenchmarkKafkaTier/direct", "cpu-µs/event"}},
			{What: "gateway, peak RSS", Figure: Metric{e2e, "BenchmarkKafkaTier/agent-kafka-gateway", "gateway-peak-RSS-MiB"}},
		},
	},
	{
		Name: "datastore failover",
		Targets: []Target{
			{What: "standby delivers after the leader's `kill -9`", Bound: Bound{Text: "within 15 s, nothing lost"},
				Reference: "NVSentinel: one replica only", NotMeasured: "checked by `TestNVSentinelFailover` (`make test`)"},
		},
	},
}

// evalTarget computes t's figure and whether its median meets the bound.
func evalTarget(r *Results, t Target) (s Summary, ok bool, met string) {
	if t.Figure == nil {
		return Summary{}, false, "—"
	}
	s, ok = t.Figure.Eval(r)
	switch {
	case !ok:
		return s, false, "no data"
	case t.Bound.isZero():
		return s, true, "—"
	case math.IsNaN(s.Median):
		return s, true, "**not met**"
	case t.Bound.met(s.Median):
		return s, true, "met"
	default:
		return s, true, "**not met**"
	}
}
