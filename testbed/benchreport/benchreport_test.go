package benchreport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/report/ from testdata/results.txt")

func parseFile(t *testing.T, name string) *Results {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	r, err := Parse(f)
	require.NoError(t, err)
	return r
}

func TestParse(t *testing.T) {
	r := parseFile(t, filepath.Join("testdata", "results.txt"))

	assert.Equal(t, "AMD EPYC 7B13", r.Config["cpu-model"])
	assert.Equal(t, "AMD EPYC", r.Config["cpu"])
	assert.Equal(t, "2", r.Config["nproc"])
	assert.NotContains(t, r.Config, "pkg")

	b := r.Lookup("testbed/e2e", "BenchmarkOmniversePipeline/courier")
	require.NotNil(t, b, "found by a suffix of its import path, without the GOMAXPROCS suffix")
	assert.Equal(t, modulePath+"/testbed/e2e", b.Pkg)
	assert.Equal(t, 3, b.Runs)
	assert.Equal(t, []string{"ns/op", "cpu-µs/event", "events/s", "peak-RSS-MiB", "peak-anon-RSS-MiB", "B/op", "allocs/op"}, b.Units)
	assert.Equal(t, []float64{91329, 88100, 90200}, b.Values["events/s"])
	assert.Nil(t, r.Lookup("e2e/other", "BenchmarkOmniversePipeline/courier"))
	assert.Nil(t, r.Lookup("pkg/cloudevent", "BenchmarkOmniversePipeline/courier"))

	// A name ending in digits keeps them; only the GOMAXPROCS suffix goes.
	assert.NotNil(t, r.Lookup("testbed/scenario", "BenchmarkScenario/slow-sink/workers=200"))
	assert.Nil(t, r.Lookup("testbed/scenario", "BenchmarkScenario/kill-9"), "no result: kill-9 failed")

	// Results on the line after the name, the collector's log between.
	slow := r.Lookup("testbed/scenario", "BenchmarkScenario/slow-sink/workers=10")
	require.NotNil(t, slow)
	assert.Equal(t, []float64{3.3}, slow.Values["events/s"])

	assert.Equal(t, []string{"BenchmarkScenario/kill-9"}, r.Failed)
}

func TestParseIgnoresOtherOutput(t *testing.T) {
	r, err := Parse(strings.NewReader(strings.Join([]string{
		"=== RUN   TestSomething",
		"Benchmarking is fun 1 2 ns/op",
		"BenchmarkA-8   10   5 ns/op   7 widgets",
		"    a log line 3 4 ns/op",
		"BenchmarkB \t 1 2",
		"Benchmark-4   3   6 ns/op",
		"ok  \tpkg\t1s",
	}, "\n")))
	require.NoError(t, err)
	var names []string
	for _, b := range r.Benchmarks {
		names = append(names, b.Name)
	}
	assert.Equal(t, []string{"BenchmarkA", "Benchmark"}, names)
	assert.Equal(t, []float64{7}, r.Benchmarks[0].Values["widgets"])
}

func TestSummarize(t *testing.T) {
	s, ok := summarize([]float64{3, 1, 2})
	assert.True(t, ok)
	assert.Equal(t, Summary{Median: 2, Min: 1, Max: 3, N: 3}, s)
	s, _ = summarize([]float64{4, 1, 2, 10})
	assert.Equal(t, Summary{Median: 3, Min: 1, Max: 10, N: 4}, s)
	_, ok = summarize(nil)
	assert.False(t, ok)
}

func TestTargets(t *testing.T) {
	r := parseFile(t, filepath.Join("testdata", "results.txt"))
	find := func(what string) Target {
		for _, p := range Paths {
			for _, t := range p.Targets {
				if t.What == what {
					return t
				}
			}
		}
		t.Fatalf("no target %q", what)
		return Target{}
	}

	// Run by run: 91329/13700, 88100/14600, 90200/13400.
	s, ok, met := evalTarget(r, find("Courier ÷ stock, events/s"))
	require.True(t, ok)
	assert.InDelta(t, 90200.0/13400, s.Max, 1e-9)
	assert.InDelta(t, 88100.0/14600, s.Min, 1e-9)
	assert.InDelta(t, 91329.0/13700, s.Median, 1e-9)
	assert.Equal(t, "met", met)

	s, _, met = evalTarget(r, find("Courier, peak RSS"))
	assert.Equal(t, 94.96, s.Median)
	assert.Equal(t, "met", met, "the median is within the bound though one run is not")

	_, _, met = evalTarget(r, find("Courier ÷ stock, idle CPU"))
	assert.Equal(t, "met", met)
	_, _, met = evalTarget(r, find("exporter ÷ raw loopback POST, same run"))
	assert.Equal(t, "met", met)
	_, _, met = evalTarget(r, find("one POST per event, events/s"))
	assert.Equal(t, "—", met)
	_, _, met = evalTarget(r, find("stock, events/s"))
	assert.Equal(t, "—", met, "no bound")
	_, _, met = evalTarget(r, find("rate limit held"))
	assert.Equal(t, "—", met, "not measured by a benchmark")

	r.Lookup("testbed/e2e", "BenchmarkNVSentinelPipeline/backfill").Name = "BenchmarkNVSentinelPipeline/renamed"
	_, _, met = evalTarget(r, find("1,000,000 events"))
	assert.Equal(t, "no data", met)

	r.Lookup("testbed/e2e", "BenchmarkNVSentinelPipeline/latency").Values["p99-ms"] = []float64{51, 80, 20}
	_, _, met = evalTarget(r, find("insert → sink p99 at 1,000 events/s"))
	assert.Equal(t, "**not met**", met)

	// Every target names a benchmark in the sample.
	r = parseFile(t, filepath.Join("testdata", "results.txt"))
	for _, p := range Paths {
		for _, tg := range p.Targets {
			if tg.Figure == nil {
				assert.NotEmpty(t, tg.NotMeasured, tg.What)
				continue
			}
			_, ok := tg.Figure.Eval(r)
			assert.True(t, ok, tg.What)
		}
	}
}

func TestRatioToBest(t *testing.T) {
	r, err := Parse(strings.NewReader("BenchmarkX/a 1 1 ns/op 10 drain-s\nBenchmarkX/b 1 1 ns/op 20 drain-s\nBenchmarkX/c 1 1 ns/op 5 drain-s\n" +
		"BenchmarkX/a 1 1 ns/op 12 drain-s\nBenchmarkX/b 1 1 ns/op 8 drain-s\nBenchmarkX/c 1 1 ns/op 40 drain-s\n"))
	require.NoError(t, err)
	q := RatioToBest{Num: Metric{"", "BenchmarkX/a", "drain-s"}, Lowest: true,
		Dens: []Metric{{"", "BenchmarkX/b", "drain-s"}, {"", "BenchmarkX/c", "drain-s"}}}
	s, ok := q.Eval(r)
	require.True(t, ok)
	// Run by run: 10 ÷ min(20, 5), 12 ÷ min(8, 40).
	assert.Equal(t, 1.5, s.Min)
	assert.Equal(t, 2.0, s.Max)
	q.Lowest = false // 10 ÷ 20, 12 ÷ 40
	s, _ = q.Eval(r)
	assert.Equal(t, 0.3, s.Min)
	assert.Equal(t, 0.5, s.Max)
}

func TestRatioOfMedians(t *testing.T) {
	r, err := Parse(strings.NewReader("BenchmarkX/a 1 1 ns/op 10 events/s\nBenchmarkX/a 1 1 ns/op 30 events/s\nBenchmarkX/b 1 1 ns/op 5 events/s\n"))
	require.NoError(t, err)
	s, ok := Ratio{Metric{"", "BenchmarkX/a", "events/s"}, Metric{"", "BenchmarkX/b", "events/s"}}.Eval(r)
	require.True(t, ok)
	assert.Equal(t, Summary{Median: 4, Min: 4, Max: 4, N: 1}, s)
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{59213, "events/s", "59.2k events/s"},
		{1490, "events/s", "1490 events/s"},
		{1503.5, "events/s", "1504 events/s"},
		{17.04, "p99-ms", "17 ms"},
		{36, "s/backfill", "36 s"},
		{18.8, "cpu-µs/event", "18.8 µs CPU/event"},
		{13800, "exporter-events/s", "13.8k events/s"},
		{0.9224, "ratio", "0.922 ratio"},
		{0.0234, "x", "0.0234 x"},
		{12_345_678, "rows/s", "12.3M rows/s"},
		{4123, "ns/op", "4.12 µs/op"},
		{36.1e9, "ns/op", "36.1 s/op"},
		{1994, "B/op", "1.95 KiB/op"},
		{94.96, "peak-RSS-MiB", "95 MiB"},
		{56.24, "peak-anon-RSS-MiB", "56.2 MiB"},
		{12_000, "peak-RSS-MiB", "12000 MiB"},
		{0, "cpu-ms/min", "0 ms CPU/min"},
	} {
		assert.Equal(t, tc.want, formatValue(tc.v, tc.unit), "%v %s", tc.v, tc.unit)
	}
	assert.Equal(t, "4.32×", formatRatio(4.321))
	assert.Equal(t, "59.2k (57.6k – 60.7k, 3 runs)", formatSummary(Summary{Median: 59200, Min: 57600, Max: 60700, N: 3}, si))
	events := func(v float64) string { return formatValue(v, "events/s") }
	assert.Equal(t, "59.2k events/s (57.6k – 60.7k, 3 runs)", formatSummary(Summary{Median: 59200, Min: 57600, Max: 60700, N: 3}, events))
	ns := func(v float64) string { return formatValue(v, "ns/op") }
	assert.Equal(t, "1.2 ms/op (950 µs/op – 1.3 ms/op, 3 runs)", formatSummary(Summary{Median: 1.2e6, Min: 0.95e6, Max: 1.3e6, N: 3}, ns))
	assert.Equal(t, "42 (1 run)", formatSummary(Summary{Median: 42, Min: 42, Max: 42, N: 1}, si))
}

func TestNiceStep(t *testing.T) {
	assert.Equal(t, 20.0, niceStep(13))
	assert.Equal(t, 2500.0, niceStep(2100))
	assert.Equal(t, 1.0, niceStep(0))
}

func TestMachine(t *testing.T) {
	assert.Equal(t, "AMD EPYC 7B13 64-Core Processor", cpuModel(strings.NewReader("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 64-Core Processor\n")))
	assert.Equal(t, "7.8 GiB", memTotal(strings.NewReader("MemTotal:        8148424 kB\nMemFree: 1 kB\n")))

	var buf bytes.Buffer
	require.NoError(t, WriteConfig(&buf, map[string]string{"nproc": "2", "date": "today", "other": "x"}))
	assert.Equal(t, "date: today\nnproc: 2\n", buf.String())
	r, err := Parse(&buf)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"date": "today", "nproc": "2"}, r.Config)

	m := Probe()
	assert.NotEmpty(t, m["date"])
	assert.NotEmpty(t, m["go"])
}

// TestReport renders testdata/results.txt and compares it with
// testdata/report/ (go test -update rewrites it).
func TestReport(t *testing.T) {
	r := parseFile(t, filepath.Join("testdata", "results.txt"))
	rep := Render(r, Options{Source: "bench/results.txt", Machine: map[string]string{"date": "not used: the results have one"}})

	assert.Contains(t, rep.Charts, latencyChart)
	assert.Contains(t, rep.Charts, "throughput-nvsentinelconsumers-consumers-n.svg")
	assert.Contains(t, rep.Charts, "throughput-omniverseinflight-in-flight-n.svg")
	assert.Contains(t, rep.Charts, "throughput-scenario-slow-sink-workers-n.svg")
	assert.Contains(t, rep.Charts, "throughput-receiver-cores-n.svg")
	for name, svg := range rep.Charts {
		assertWellFormed(t, name, svg)
		assert.Contains(t, string(rep.Markdown), "]("+name+")", "the report shows %s", name)
	}
	md := string(rep.Markdown)
	assert.Contains(t, md, "| date | 2026-12-02T14:05:00Z |")
	assert.Contains(t, md, "**Failed benchmarks:** `BenchmarkScenario/kill-9`")
	assert.Contains(t, md, "| `BenchmarkScenario/sink-restart` | 1 |")
	assert.Contains(t, md, "**not met** |\n", "sink-restart lost events")

	dir := filepath.Join("testdata", "report")
	if *update {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, rep.WriteDir(dir))
	}
	want, err := os.ReadFile(filepath.Join(dir, ReportFile))
	require.NoError(t, err)
	assert.Equal(t, string(want), md, "run go test -update to accept the new report")
	for name, svg := range rep.Charts {
		want, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(svg), name)
	}
}

func TestWriteDirRemovesStaleCharts(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"throughput-gone.svg", "latency.svg", "diagram.svg"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("<svg/>"), 0o644))
	}
	rep := &Report{Markdown: []byte("# report\n"), Charts: map[string][]byte{"throughput-x.svg": []byte("<svg/>")}}
	require.NoError(t, rep.WriteDir(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{ReportFile, "diagram.svg", "throughput-x.svg"}, names, "charts of others are left alone")
}

func assertWellFormed(t *testing.T, name string, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if !assert.NoError(t, err, name) {
			return
		}
	}
}
