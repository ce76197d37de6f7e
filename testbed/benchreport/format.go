package benchreport

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// formatValue formats v of unit for a reader: times per op as durations,
// bytes per op in binary units, other values with three significant digits
// and a k or M suffix, followed by the unit as a reader would write it
// ("17 ms" for 17 p99-ms).
func formatValue(v float64, unit string) string {
	switch unit {
	case "ns/op":
		return formatDuration(v) + "/op"
	case "B/op":
		return formatBytes(v) + "/op"
	}
	if m := qualifiedUnit.FindStringSubmatch(unit); m != nil {
		unit = m[1]
	} else if m := cpuUnit.FindStringSubmatch(unit); m != nil {
		unit = m[1] + " CPU/" + m[2]
	} else if unit == "s/backfill" {
		unit = "s"
	}
	if strings.HasPrefix(unit, "MiB") {
		return sig3(v) + " " + unit
	}
	return si(v) + " " + unit
}

var (
	// A unit that says what it measures before the unit itself, as
	// p99-ms, peak-RSS-MiB, peak-anon-RSS-MiB or exporter-events/s.
	qualifiedUnit = regexp.MustCompile(`^(?:p\d+(?:\.\d+)?|max|min|mean|(?:agent-|gateway-)?peak-(?:anon-)?RSS|exporter|raw|second-half)-(.+)$`)
	// CPU time per something, as cpu-µs/event or gateway-cpu-µs/event.
	cpuUnit = regexp.MustCompile(`^(?:agent-|gateway-)?cpu-([^/]+)/(.+)$`)
)

// formatSummary is "median (min – max, n runs)", the unit written once when
// the three values have the same one.
func formatSummary(s Summary, format func(float64) string) string {
	runs := "1 run"
	if s.N != 1 {
		runs = fmt.Sprintf("%d runs", s.N)
	}
	median, lo, hi := format(s.Median), format(s.Min), format(s.Max)
	if lo == hi {
		return fmt.Sprintf("%s (%s)", median, runs)
	}
	_, unit, _ := strings.Cut(median, " ")
	if _, u, _ := strings.Cut(lo, " "); u == unit && unit != "" {
		if n, u, _ := strings.Cut(hi, " "); u == unit {
			lo, hi = strings.TrimSuffix(lo, " "+unit), n
		}
	}
	return fmt.Sprintf("%s (%s – %s, %s)", median, lo, hi, runs)
}

func formatRatio(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.1f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func formatDuration(ns float64) string {
	switch d := time.Duration(ns); {
	case ns < 1000:
		return sig3(ns) + " ns"
	case d < time.Millisecond:
		return sig3(ns/1e3) + " µs"
	case d < time.Second:
		return sig3(ns/1e6) + " ms"
	default:
		return sig3(ns/1e9) + " s"
	}
}

func formatBytes(b float64) string {
	switch {
	case b < 1<<10:
		return sig3(b) + " B"
	case b < 1<<20:
		return sig3(b/(1<<10)) + " KiB"
	case b < 1<<30:
		return sig3(b/(1<<20)) + " MiB"
	default:
		return sig3(b/(1<<30)) + " GiB"
	}
}

// si formats v with three significant digits, in thousands (k) or millions
// (M) from 10,000 up.
func si(v float64) string {
	switch a := math.Abs(v); {
	case a >= 10e6:
		return sig3(v/1e6) + "M"
	case a >= 10e3:
		return sig3(v/1e3) + "k"
	}
	return sig3(v)
}

// sig3 formats v with three significant digits, without trailing zeros
// after the point, and whole numbers up to 9,999 as they are.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case a == 0:
		return "0"
	}
	decimals := 2 - int(math.Floor(math.Log10(a)))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
