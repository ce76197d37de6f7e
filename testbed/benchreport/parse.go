// Package benchreport turns the output of `go test -bench` into
// bench/REPORT.md: DESIGN.md §6's targets beside the measured figures, the
// machine the benchmarks ran on, every benchmark's median and range over
// its runs, and SVG charts of throughput against concurrency and of latency
// percentiles. cmd/courier-bench-report is its command; `make bench` runs
// it.
package benchreport

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results is a parsed results file: the benchmarks in the order they first
// appear, each with its values over every run.
type Results struct {
	// Config holds the file's configuration lines ("key: value"): those go
	// test prints (goos, goarch, cpu) and those `make bench` writes at the
	// top (date, commit, kernel, ...). A key keeps its first value; pkg,
	// which changes with each package, is kept per benchmark instead.
	Config map[string]string
	// Benchmarks in the order they first appear.
	Benchmarks []*Benchmark
	// Failed lists the benchmarks go test reported as failed ("--- FAIL:").
	Failed []string
	// Seconds is the time go test reported for each package ("ok pkg
	// 41.2s"), summed over its lines.
	Seconds map[string]float64

	index map[string]*Benchmark // by pkg and name
}

// Benchmark is one benchmark's values over the runs of a results file.
type Benchmark struct {
	// Pkg is the import path of the benchmark's package ("" when the
	// output has no pkg line).
	Pkg string
	// Name is the full name without the GOMAXPROCS suffix, e.g.
	// "BenchmarkExport/jsonl".
	Name string
	// Units lists the benchmark's units in the order they first appear.
	Units []string
	// Values holds one value per run for each unit.
	Values map[string][]float64
	// Runs is the number of result lines.
	Runs int
}

// Summary is the median and range of a benchmark's values for one unit.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summary returns the median and range of unit's values; ok is false when
// the benchmark has none.
func (b *Benchmark) Summary(unit string) (Summary, bool) {
	return summarize(b.Values[unit])
}

// Lookup returns the benchmark called name in the package whose import path
// is pkg or ends in "/"+pkg.
func (r *Results) Lookup(pkg, name string) *Benchmark {
	for _, b := range r.Benchmarks {
		if b.Name == name && (b.Pkg == pkg || strings.HasSuffix(b.Pkg, "/"+pkg)) {
			return b
		}
	}
	return nil
}

var (
	// A config line: a key beginning with a lower-case letter, with no
	// space or upper-case letter in it, a colon, and the value.
	configLine = regexp.MustCompile(`^([a-z][^\sA-Z:]*):\s*(.*)$`)
	procs      = regexp.MustCompile(`-\d+$`)
	failed     = regexp.MustCompile(`--- FAIL: (Benchmark\S*)`)
	pkgDone    = regexp.MustCompile(`^(?:ok|FAIL)\s+(\S+)\s+(\d+(?:\.\d+)?)s\b`)
)

// Parse reads the standard Go benchmark format
// (https://go.googlesource.com/proposal/+/master/design/14313-benchmark-format.md)
// as `go test -bench` prints it, among any other output: lines that are
// neither configuration nor results are skipped. When a benchmark writes
// to the output while it runs, its name and its results land on different
// lines; a results line without a name is given to the name before it.
func Parse(in io.Reader) (*Results, error) {
	r := &Results{Config: map[string]string{}, Seconds: map[string]float64{}, index: map[string]*Benchmark{}}
	pkg, pending := "", ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := configLine.FindStringSubmatch(line); m != nil {
			if m[1] == "pkg" {
				pkg = strings.TrimSpace(m[2])
			} else if _, ok := r.Config[m[1]]; !ok {
				r.Config[m[1]] = strings.TrimSpace(m[2])
			}
			continue
		}
		if m := pkgDone.FindStringSubmatch(line); m != nil {
			sec, _ := strconv.ParseFloat(m[2], 64)
			r.Seconds[m[1]] += sec
			continue
		}
		if m := failed.FindStringSubmatch(line); m != nil {
			if name := procs.ReplaceAllString(m[1], ""); !slices.Contains(r.Failed, name) {
				r.Failed = append(r.Failed, name)
			}
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name := ""
		if isBenchmarkName(fields[0]) {
			name, fields = fields[0], fields[1:]
		} else if pending != "" && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			name = pending
		} else {
			continue
		}
		values, ok := parseValues(fields)
		if !ok {
			if len(fields) == 0 || fields[0] != "---" {
				pending = name // its results may follow on a later line
			}
			continue
		}
		pending = ""
		r.add(pkg, procs.ReplaceAllString(name, ""), values)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark results: %w", err)
	}
	return r, nil
}

type value struct {
	unit string
	v    float64
}

// parseValues parses "<iterations> <value> <unit> [<value> <unit>]...".
func parseValues(fields []string) ([]value, bool) {
	if len(fields) < 3 || len(fields)%2 != 1 {
		return nil, false
	}
	if _, err := strconv.ParseInt(fields[0], 10, 64); err != nil {
		return nil, false
	}
	var values []value
	for i := 1; i < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return nil, false
		}
		values = append(values, value{unit: fields[i+1], v: v})
	}
	return values, true
}

// isBenchmarkName tells whether s is "Benchmark" followed by nothing or
// by a character that is not a lower-case letter.
func isBenchmarkName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	return ok && (rest == "" || rest[0] < 'a' || rest[0] > 'z')
}

func (r *Results) add(pkg, name string, values []value) {
	key := pkg + "\x00" + name
	b := r.index[key]
	if b == nil {
		b = &Benchmark{Pkg: pkg, Name: name, Values: map[string][]float64{}}
		r.index[key] = b
		r.Benchmarks = append(r.Benchmarks, b)
	}
	b.Runs++
	for _, v := range values {
		if _, ok := b.Values[v.unit]; !ok {
			b.Units = append(b.Units, v.unit)
		}
		b.Values[v.unit] = append(b.Values[v.unit], v.v)
	}
}

func summarize(values []float64) (Summary, bool) {
	if len(values) == 0 {
		return Summary{}, false
	}
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{Median: median, Min: s[0], Max: s[n-1], N: n}, true
}
