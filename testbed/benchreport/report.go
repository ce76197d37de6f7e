package benchreport

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportFile is the report's file name in its directory.
const ReportFile = "REPORT.md"

// Options tell Render what the report cannot read from the results.
type Options struct {
	// Source is the results file, as the report names it.
	Source string
	// Machine describes the machine when the results do not (their
	// configuration lines take precedence): see Probe.
	Machine map[string]string
}

// Report is a rendered report: REPORT.md and its charts.
type Report struct {
	Markdown []byte
	// Charts maps a chart's file name, next to REPORT.md, to its SVG.
	Charts map[string][]byte
}

// Render renders the report of r.
func Render(r *Results, opts Options) *Report {
	rep := &Report{Charts: map[string][]byte{}}
	var md bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&md, format, args...) }

	p("# Courier benchmark report\n\n")
	p("Written by `make bench` (`cmd/courier-bench-report`) from `%s`. ", opts.Source)
	p("Each figure is the median over the runs, with the range (minimum – maximum) and the number of runs in brackets; ")
	p("a target is met when the median meets it. The machine is what the figures depend on most: compare runs made on the same one.\n\n")
	targets, met := countTargets(r)
	p("**%d of %d targets met.**", met, targets)
	if names := r.Failed; len(names) > 0 {
		p(" **Failed benchmarks:** %s (their figures are missing or partial).", codeList(names))
	}
	p("\n\n")

	writeMachine(&md, r, opts.Machine)
	writeTargets(&md, r)

	scenarios, e2eBenches, micro := splitBenchmarks(r)
	if len(scenarios) > 0 {
		p("## Scenarios\n\n")
		p("The testbed's performance scenarios (`testbed/scenario`). _nothing lost_ is met when no run lost an event.\n\n")
		writeTable(&md, scenarios, true)
	}

	writeCharts(&md, r, rep)

	if len(e2eBenches) > 0 {
		p("## End-to-end benchmarks\n\n")
		p("Every figure of the benchmarks that drive the built binary, beside the targets above.\n\n")
		writeByPackage(&md, r, e2eBenches)
	}
	if len(micro) > 0 {
		p("## Component micro-benchmarks\n\n")
		writeByPackage(&md, r, micro)
	}
	rep.Markdown = md.Bytes()
	return rep
}

// WriteDir writes the report and its charts into dir, after removing the
// charts a previous report left there.
func (rep *Report) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.svg"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if base := filepath.Base(f); strings.HasPrefix(base, throughputPrefix) || base == latencyChart {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for name, svg := range rep.Charts {
		if err := os.WriteFile(filepath.Join(dir, name), svg, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, ReportFile), rep.Markdown, 0o644)
}

// machineRows are the machine's configuration keys, as Probe writes them
// and the report shows them; go test's own keys fill in what is missing.
var machineRows = []struct{ key, label, fallback string }{
	{"date", "date", ""},
	{"commit", "commit", ""},
	{"cpu-model", "CPU", "cpu"},
	{"nproc", "CPUs (nproc)", ""},
	{"memory", "memory", ""},
	{"go", "Go", ""},
	{"kernel", "kernel", ""},
	{"os", "OS", "goos"},
	{"runs", "runs", ""},
}

func writeMachine(md *bytes.Buffer, r *Results, probed map[string]string) {
	fmt.Fprintf(md, "## Machine\n\n| | |\n|---|---|\n")
	for _, row := range machineRows {
		v := cmp.Or(r.Config[row.key], probed[row.key])
		if v == "" && row.fallback != "" {
			v = r.Config[row.fallback]
			if row.key == "os" && v != "" {
				v += "/" + r.Config["goarch"]
			}
		}
		if v != "" {
			fmt.Fprintf(md, "| %s | %s |\n", row.label, escapeCell(v))
		}
	}
	if len(r.Seconds) > 0 {
		total := 0.0
		for _, sec := range r.Seconds {
			total += sec
		}
		fmt.Fprintf(md, "| benchmark time | %s (go test's time per package, summed) |\n", time.Duration(total*float64(time.Second)).Round(time.Second))
	}
	md.WriteString("\n")
}

func writeTargets(md *bytes.Buffer, r *Results) {
	fmt.Fprintf(md, "## Targets (DESIGN.md §6, 2 vCPU, loopback)\n\n")
	for _, path := range Paths {
		fmt.Fprintf(md, "### %s\n\n", path.Name)
		md.WriteString("| figure | measured | target | met | DESIGN reference | from |\n|---|---|---|---|---|---|\n")
		for _, t := range path.Targets {
			s, ok, met := evalTarget(r, t)
			measured, from := "—", ""
			switch {
			case t.Figure == nil:
				measured = t.NotMeasured
			case ok:
				measured = formatSummary(s, t.Figure.Format)
			}
			if t.Figure != nil {
				from = t.Figure.Source()
			}
			target := cmp.Or(t.Bound.Text, "—")
			fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s |\n", t.What, measured, target, met, cmp.Or(t.Reference, "—"), from)
		}
		md.WriteString("\n")
	}
}

func countTargets(r *Results) (targets, met int) {
	for _, path := range Paths {
		for _, t := range path.Targets {
			if t.Figure == nil || t.Bound.isZero() {
				continue
			}
			targets++
			if _, _, m := evalTarget(r, t); m == "met" {
				met++
			}
		}
	}
	for _, b := range r.Benchmarks {
		if isScenario(b) {
			if _, ok := b.Values["lost"]; ok {
				targets++
				if nothingLost(b) {
					met++
				}
			}
		}
	}
	return targets, met
}

func isScenario(b *Benchmark) bool {
	return strings.HasPrefix(b.Name, "BenchmarkScenario/") || strings.HasSuffix(b.Pkg, "testbed/scenario")
}

func nothingLost(b *Benchmark) bool {
	lost := b.Values["lost"]
	return len(lost) > 0 && slices.Max(lost) == 0
}

// splitBenchmarks sorts the benchmarks into the scenarios, the other
// end-to-end benchmarks (the testbed's) and the component benchmarks.
func splitBenchmarks(r *Results) (scenarios, e2e, micro []*Benchmark) {
	for _, b := range r.Benchmarks {
		switch {
		case isScenario(b):
			scenarios = append(scenarios, b)
		case strings.Contains(b.Pkg+"/", "/testbed/"):
			e2e = append(e2e, b)
		default:
			micro = append(micro, b)
		}
	}
	return scenarios, e2e, micro
}

func writeByPackage(md *bytes.Buffer, r *Results, benches []*Benchmark) {
	var pkgs []string
	byPkg := map[string][]*Benchmark{}
	for _, b := range benches {
		if _, ok := byPkg[b.Pkg]; !ok {
			pkgs = append(pkgs, b.Pkg)
		}
		byPkg[b.Pkg] = append(byPkg[b.Pkg], b)
	}
	for _, pkg := range pkgs {
		fmt.Fprintf(md, "### `%s`", cmp.Or(strings.TrimPrefix(pkg, modulePath+"/"), "(no package)"))
		if sec, ok := r.Seconds[pkg]; ok {
			fmt.Fprintf(md, " (%s)", time.Duration(sec*float64(time.Second)).Round(time.Second/10))
		}
		md.WriteString("\n\n")
		writeTable(md, byPkg[pkg], false)
	}
}

const modulePath = "github.com/courier-otel/courier"

// writeTable writes one row per benchmark and one column per unit any of
// them reports, time per op first.
func writeTable(md *bytes.Buffer, benches []*Benchmark, lostColumn bool) {
	var units []string
	for _, b := range benches {
		for _, u := range b.Units {
			if !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
	}
	slices.SortStableFunc(units, func(a, b string) int { return cmp.Compare(unitRank(a), unitRank(b)) })
	lostColumn = lostColumn && slices.Contains(units, "lost")
	md.WriteString("| benchmark | runs |")
	for _, u := range units {
		fmt.Fprintf(md, " %s |", unitHeader(u))
	}
	if lostColumn {
		md.WriteString(" nothing lost |")
	}
	md.WriteString("\n|---|---:|" + strings.Repeat("---:|", len(units)))
	if lostColumn {
		md.WriteString("---|")
	}
	md.WriteString("\n")
	for _, b := range benches {
		fmt.Fprintf(md, "| `%s` | %d |", b.Name, b.Runs)
		for _, u := range units {
			cell := "—"
			if s, ok := b.Summary(u); ok {
				cell = formatCell(s, u)
			}
			fmt.Fprintf(md, " %s |", cell)
		}
		if lostColumn {
			switch {
			case b.Values["lost"] == nil:
				md.WriteString(" — |")
			case nothingLost(b):
				md.WriteString(" met |")
			default:
				md.WriteString(" **not met** |")
			}
		}
		md.WriteString("\n")
	}
	md.WriteString("\n")
}

// unitRank puts time, throughput and the testing package's memory figures
// in their usual places: ns/op first, B/op and allocs/op last.
func unitRank(u string) int {
	switch u {
	case "ns/op":
		return 0
	case "B/op":
		return 3
	case "allocs/op":
		return 4
	case "MB/s":
		return 2
	}
	return 1
}

func unitHeader(u string) string {
	switch u {
	case "ns/op":
		return "time/op"
	case "B/op":
		return "bytes/op"
	}
	return u
}

// formatCell is a table cell: the median and, when the runs differ, the
// range, without the unit (the column has it) but for times and sizes.
func formatCell(s Summary, unit string) string {
	format := si
	switch unit {
	case "ns/op":
		format = formatDuration
	case "B/op":
		format = formatBytes
	}
	if format(s.Min) == format(s.Max) {
		return format(s.Median)
	}
	return fmt.Sprintf("%s (%s – %s)", format(s.Median), format(s.Min), format(s.Max))
}

const (
	throughputPrefix = "throughput-"
	latencyChart     = "latency.svg"
)

// sweepParam is a name component giving a benchmark's concurrency: a
// benchmark run at several values of it is a sweep, charted as throughput
// against concurrency.
var sweepParam = regexp.MustCompile(`^(workers|in-flight|consumers|concurrency|cores)=(\d+)$`)

type sweep struct {
	name, param string // the name with the parameter's value as N, and the parameter
	points      []sweepPoint
}

type sweepPoint struct {
	n int
	b *Benchmark
}

func findSweeps(r *Results) []*sweep {
	var sweeps []*sweep
	index := map[string]*sweep{}
	for _, b := range r.Benchmarks {
		parts := strings.Split(b.Name, "/")
		for i, part := range parts {
			m := sweepParam.FindStringSubmatch(part)
			if m == nil {
				continue
			}
			n, _ := strconv.Atoi(m[2])
			key := slices.Clone(parts)
			key[i] = m[1] + "=N"
			name := strings.Join(key, "/")
			s := index[b.Pkg+"\x00"+name]
			if s == nil {
				s = &sweep{name: name, param: m[1]}
				index[b.Pkg+"\x00"+name] = s
				sweeps = append(sweeps, s)
			}
			s.points = append(s.points, sweepPoint{n, b})
			break
		}
	}
	return slices.DeleteFunc(sweeps, func(s *sweep) bool { return len(s.points) < 2 })
}

// throughputUnit picks the rate to chart: events, then rows, then any
// other unit per second, then MB/s.
func throughputUnit(b *Benchmark) string {
	best, rank := "", 99
	for _, u := range b.Units {
		r := 99
		switch {
		case u == "events/s":
			r = 0
		case u == "rows/s":
			r = 1
		case u == "MB/s":
			r = 3
		case strings.HasSuffix(u, "/s"):
			r = 2
		}
		if r < rank {
			best, rank = u, r
		}
	}
	return best
}

// percentileUnit matches latency percentiles such as p50-ms or p99.9-s.
var percentileUnit = regexp.MustCompile(`^p(\d+(?:\.\d+)?)-(ns|us|µs|ms|s)$`)

var toMillis = map[string]float64{"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3}

func writeCharts(md *bytes.Buffer, r *Results, rep *Report) {
	md.WriteString("## Charts\n\n")
	any := false
	for _, s := range findSweeps(r) {
		unit := throughputUnit(s.points[0].b)
		if unit == "" {
			continue
		}
		slices.SortStableFunc(s.points, func(a, b sweepPoint) int { return cmp.Compare(a.n, b.n) })
		var points []point
		for _, p := range s.points {
			if v, ok := p.b.Summary(unit); ok {
				points = append(points, point{x: strconv.Itoa(p.n), val: v})
			}
		}
		if len(points) < 2 {
			continue
		}
		file := throughputPrefix + slug(s.name) + ".svg"
		rep.Charts[file] = lineChart(fmt.Sprintf("%s: %s against %s", strings.TrimPrefix(s.name, "Benchmark"), unit, s.param), s.param, unit, points)
		fmt.Fprintf(md, "![%s against %s, `%s`](%s)\n\n", unit, s.param, s.name, file)
		any = true
	}

	var keys []string
	var groups []barGroup
	for _, b := range r.Benchmarks {
		g := barGroup{label: strings.TrimPrefix(b.Name, "Benchmark"), vals: map[string]Summary{}}
		for _, u := range b.Units {
			m := percentileUnit.FindStringSubmatch(u)
			if m == nil {
				continue
			}
			s, _ := b.Summary(u)
			scale := toMillis[m[2]]
			s.Median, s.Min, s.Max = s.Median*scale, s.Min*scale, s.Max*scale
			key := "p" + m[1]
			g.vals[key] = s
			if !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
		if len(g.vals) > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 {
		slices.SortFunc(keys, func(a, b string) int {
			x, _ := strconv.ParseFloat(a[1:], 64)
			y, _ := strconv.ParseFloat(b[1:], 64)
			return cmp.Compare(x, y)
		})
		rep.Charts[latencyChart] = barChart("Latency percentiles (medians over the runs)", "milliseconds", keys, groups)
		fmt.Fprintf(md, "![latency percentiles](%s)\n\n", latencyChart)
		any = true
	}
	if !any {
		md.WriteString("No benchmark swept its concurrency (`workers=N`, `in-flight=N`, `consumers=N`, `concurrency=N`, `cores=N`) or reported latency percentiles in this run.\n\n")
	}
}

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(name string) string {
	return strings.Trim(notSlug.ReplaceAllString(strings.ToLower(strings.TrimPrefix(name, "Benchmark")), "-"), "-")
}

func codeList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "`" + n + "`"
	}
	return strings.Join(quoted, ", ")
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
